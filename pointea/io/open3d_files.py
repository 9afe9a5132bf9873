"""Files read through open3d: ``.pcd`` point clouds, and ``.obj``/``.stl`` meshes.

open3d is imported here, on first use, so ``import pointea`` does not pay for it. open3d reports
an unreadable file by printing a warning and returning an empty geometry; these readers turn that
into a :class:`DataError` (and silence open3d's own message while reading); any exception it
raises (``std::bad_alloc`` included) becomes one too.

open3d believes what headers declare, so the header is checked here first
(:mod:`pointea.io.bounds`): a PCD's ``POINTS`` against ``WIDTH x HEIGHT``, the bytes its ``DATA``
block needs (binary: points x row size; ascii: two bytes a value at the least;
``binary_compressed``: the LZF block's own sizes) and ``max_points``; a binary STL's triangle
count against its size. What open3d returns is checked too (as many points as declared, face
indices within the vertices, coordinates within ``MAX_COORDINATE``), since it reads a short file
partially without a word.

Shape legend: N points, V vertices, T triangles.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from pointea.errors import DataError
from pointea.io.bounds import (
    DEFAULT_MAX_COLUMNS,
    DEFAULT_MAX_POINTS,
    MAX_COORDINATE,
    PCD_LZF_MAX_RATIO,
    check_count,
    check_declared,
    check_magnitude,
    parser_errors,
)
from pointea.io.selection import KeepAll, KeepRandom, KeptRows

__all__ = ["read_pcd_rows", "read_open3d_mesh", "import_open3d", "check_pcd_header"]

_PCD_MAGIC = (b"#", b"VERSION", b"FIELDS")
_PCD_MAX_HEADER = 1 << 16
_PCD_KEYS = ("VERSION", "FIELDS", "SIZE", "TYPE", "COUNT", "WIDTH", "HEIGHT", "VIEWPOINT", "POINTS")


def import_open3d(path: Path) -> Any:
    """open3d, or a :class:`DataError` saying how to install it."""
    try:
        import open3d
    except ImportError as error:
        raise DataError(
            f"{path}: reading {path.suffix} files needs open3d ({error}); install it with "
            "`pip install open3d-cpu` (or pointea[viz])"
        ) from None
    return open3d


@contextmanager
def _quiet(o3d: Any) -> Iterator[None]:
    """open3d's own messages off while reading (its failures become DataErrors instead)."""
    level = o3d.utility.get_verbosity_level()
    o3d.utility.set_verbosity_level(o3d.utility.VerbosityLevel.Error)
    try:
        yield
    finally:
        o3d.utility.set_verbosity_level(level)


def _pcd_int(path: Path, key: str, words: list[str]) -> int:
    if len(words) != 1 or not words[0].isdigit():
        raise DataError(f"{path}: PCD header {key} {' '.join(words)!r}, expected one count")
    return int(words[0])


def check_pcd_header(
    path: Path, max_points: int = DEFAULT_MAX_POINTS, max_columns: int = DEFAULT_MAX_COLUMNS
) -> int:
    """The point count a PCD header declares, once it is consistent and fits the file.

    Raises:
        DataError: not a PCD header, inconsistent fields, or more data declared than the file
            holds or ``max_points`` allows.
    """
    with open(path, "rb") as stream:
        data = stream.read(_PCD_MAX_HEADER)
    if not data.lstrip().startswith(_PCD_MAGIC):
        raise DataError(f"{path}: not a PCD file (no '# .PCD', 'VERSION' or 'FIELDS' header)")
    fields: dict[str, list[str]] = {}
    offset, mode = 0, None
    while mode is None:
        end = data.find(b"\n", offset)
        if end < 0:
            raise DataError(
                f"{path}: no 'DATA' line in the first {_PCD_MAX_HEADER} bytes of the PCD header"
            )
        words = data[offset:end].decode("ascii", errors="replace").split()
        offset = end + 1
        if not words or words[0].startswith("#"):
            continue
        if words[0] == "DATA":
            mode = " ".join(words[1:]).lower()
        elif words[0] in _PCD_KEYS:
            fields[words[0]] = words[1:]
        else:
            raise DataError(f"{path}: PCD header line {words[0]!r} is not a PCD header key")
    names = fields.get("FIELDS", [])
    if not names or len(names) > max_columns:
        raise DataError(
            f"{path}: PCD header declares {len(names)} FIELDS, expected 1 to {max_columns}"
        )
    sizes = fields.get("SIZE", [])
    counts = fields.get("COUNT", ["1"] * len(names))
    if (
        len(sizes) != len(names)
        or len(counts) != len(names)
        or len(fields.get("TYPE", [])) != len(names)
        or any(size not in ("1", "2", "4", "8") for size in sizes)
        or any(not count.isdigit() or int(count) < 1 for count in counts)
    ):
        raise DataError(
            f"{path}: PCD header SIZE/TYPE/COUNT do not describe its {len(names)} FIELDS"
        )
    values = sum(int(count) for count in counts)
    check_count(path, "values a point (COUNT)", values, max_columns, " (max_columns)")
    row_bytes = sum(int(size) * int(count) for size, count in zip(sizes, counts))
    width = _pcd_int(path, "WIDTH", fields.get("WIDTH", ["0"]))
    height = _pcd_int(path, "HEIGHT", fields.get("HEIGHT", ["1"]))
    points = _pcd_int(path, "POINTS", fields.get("POINTS", [str(width * height)]))
    if points != width * height or points == 0:
        raise DataError(
            f"{path}: PCD header declares POINTS {points} for WIDTH {width} x HEIGHT {height}"
        )
    check_count(
        path, "points", points, max_points,
        "; raise max_points for a larger PCD file (open3d reads it whole)",
    )  # fmt: skip
    available = path.stat().st_size - offset
    if mode == "ascii":
        check_declared(path, f"{points:,} ascii points", points * 2 * values - 1, available)
    elif mode == "binary":
        check_declared(
            path, f"{points:,} points of {row_bytes} bytes", points * row_bytes, available
        )
    elif mode == "binary_compressed":
        check_declared(path, "a compressed block", 8, available)
        with open(path, "rb") as stream:
            stream.seek(offset)
            compressed, uncompressed = np.frombuffer(stream.read(8), "<u4").tolist()
        if uncompressed != points * row_bytes:
            raise DataError(
                f"{path}: PCD compressed block holds {uncompressed:,} bytes, the header's "
                f"{points:,} points of {row_bytes} bytes need {points * row_bytes:,}"
            )
        check_declared(
            path, f"a compressed block of {compressed:,} bytes", compressed, available - 8
        )
        check_declared(
            path, f"{uncompressed:,} bytes from LZF", uncompressed // PCD_LZF_MAX_RATIO, compressed
        )
    else:
        raise DataError(f"{path}: PCD DATA {mode!r}, expected ascii, binary or binary_compressed")
    return points


def read_pcd_rows(
    path: Path,
    keeper: KeepAll | KeepRandom,
    max_columns: int = DEFAULT_MAX_COLUMNS,
    max_points: int = DEFAULT_MAX_POINTS,
) -> tuple[KeptRows, tuple[str, ...]]:
    """Coordinates, normals and colours of a ``.pcd`` file (read whole by open3d, so
    ``max_points`` bounds it even when ``keeper`` keeps a subset)."""
    declared = check_pcd_header(path, max_points, max_columns)
    o3d = import_open3d(path)
    with parser_errors(path, "PCD file"), _quiet(o3d):
        cloud = o3d.io.read_point_cloud(
            str(path), format="pcd", remove_nan_points=False, remove_infinite_points=False
        )
        points = np.asarray(cloud.points, dtype=np.float64)  # (N, 3)
        if points.shape[0] == 0:
            raise DataError(f"{path}: open3d read no points from this PCD file (corrupt or empty)")
        if points.shape[0] != declared:
            raise DataError(
                f"{path}: the PCD header declares {declared:,} points, open3d read "
                f"{points.shape[0]:,} (truncated or corrupt)"
            )
        parts, names = [points], ["x", "y", "z"]
        if cloud.has_normals():
            parts.append(np.asarray(cloud.normals, dtype=np.float64))
            names += ["nx", "ny", "nz"]
        if cloud.has_colors():
            parts.append(np.asarray(cloud.colors, dtype=np.float64))  # open3d: already in [0, 1]
            names += ["r", "g", "b"]
    keeper.add(np.concatenate(parts, axis=1))  # (N, C)
    return keeper.finish(), tuple(names)


def _check_stl(path: Path, max_points: int) -> None:
    """A binary STL's declared triangle count must fit the file (ASCII STL starts with 'solid')."""
    size = path.stat().st_size
    with open(path, "rb") as stream:
        head = stream.read(84)
    if head.startswith(b"solid") or len(head) < 84:
        return  # ASCII: open3d reads it line by line, in memory proportional to the file
    (count,) = np.frombuffer(head[80:84], "<u4").tolist()
    check_count(path, "triangles", count, max_points, " (max_points)")
    check_declared(path, f"{count:,} binary STL triangles", 84 + 50 * count, size)


def read_open3d_mesh(
    path: Path, max_points: int = DEFAULT_MAX_POINTS, max_coordinate: float = MAX_COORDINATE
) -> tuple[np.ndarray, np.ndarray]:
    """Vertices and triangles of an ``.obj`` or ``.stl`` mesh.

    Shapes:
        returns vertices (V, 3) float64, triangles (T, 3) int64
    """
    if path.suffix.lower() == ".stl":
        _check_stl(path, max_points)
    o3d = import_open3d(path)
    with parser_errors(path, f"{path.suffix} mesh"), _quiet(o3d):
        mesh = o3d.io.read_triangle_mesh(str(path))
        vertices = np.asarray(mesh.vertices, dtype=np.float64)  # (V, 3)
        triangles = np.asarray(mesh.triangles, dtype=np.int64)  # (T, 3)
    if vertices.shape[0] == 0:
        raise DataError(
            f"{path}: open3d read no vertices from this {path.suffix} mesh (corrupt or empty)"
        )
    if not np.isfinite(vertices).all():
        raise DataError(f"{path}: the mesh has NaN/Inf vertices")
    check_magnitude(path, vertices, max_coordinate, what="a vertex coordinate")
    bad = ((triangles < 0) | (triangles >= vertices.shape[0])).any(axis=1)  # (T,)
    if bad.any():
        raise DataError(
            f"{path}: triangle {int(np.flatnonzero(bad)[0])} has a vertex index outside "
            f"0..{vertices.shape[0] - 1} (the mesh's vertices)"
        )
    return vertices, triangles
