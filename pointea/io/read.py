"""``read_points``: any supported point or mesh file to a :class:`PointCloud`.

Point files (text, NumPy, PLY/PCD point clouds, LAS/LAZ) keep all their points, or a seeded
uniform random subset of ``num_points`` read in bounded memory (:mod:`pointea.io.selection`).
Meshes (``.off``, ``.obj``, ``.stl``, a ``.ply`` with faces) are sampled by area and reduced by
FPS to ``num_points`` (``DEFAULT_MESH_POINTS`` when not given, see :mod:`pointea.io.mesh_sampling`).

A point file with fewer than ``num_points`` points is topped up by drawing points again with
replacement: the result says so (``resampled=True``) and one :class:`ResampledWarning` is issued.
Every problem is one :class:`~pointea.errors.DataError` line naming the file, whatever the file
holds: each reader checks what a header or a line declares against the file's real size and the
caps of :mod:`pointea.io.bounds` (``max_points``, ``max_columns``, ``max_coordinate``) before it
allocates, so a read costs time and memory in proportion to the file's size.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from pointea.errors import DataError, ResampledWarning
from pointea.io.bounds import DEFAULT_MAX_COLUMNS, MAX_COORDINATE
from pointea.io.cloud import PointCloud
from pointea.io.columns import cloud_from_rows
from pointea.io.mesh_sampling import DEFAULT_OVERSAMPLE, sample_mesh
from pointea.io.numpy_files import NUMPY_EXTENSIONS, read_numpy_rows
from pointea.io.off import read_off
from pointea.io.ply import read_ply_header, read_ply_mesh, read_ply_rows
from pointea.io.selection import DEFAULT_MAX_POINTS, KeptRows, row_keeper
from pointea.io.text import DEFAULT_CHUNK_BYTES, TEXT_EXTENSIONS, read_label_file, read_text_rows

__all__ = [
    "read_points",
    "ResampledWarning",
    "SUPPORTED_EXTENSIONS",
    "MESH_EXTENSIONS",
    "DEFAULT_MESH_POINTS",
]

MESH_EXTENSIONS = (".off", ".obj", ".stl")
OPEN3D_POINT_EXTENSIONS = (".ply", ".pcd")
LAS_EXTENSIONS = (".las", ".laz")
SUPPORTED_EXTENSIONS = tuple(
    sorted(
        {
            *TEXT_EXTENSIONS,
            *NUMPY_EXTENSIONS,
            *MESH_EXTENSIONS,
            *OPEN3D_POINT_EXTENSIONS,
            *LAS_EXTENSIONS,
            ".e57",
        }
    )
)
DEFAULT_MESH_POINTS = 2048


def _check_path(path: Path) -> str:
    """The lower-case extension of an existing, supported file."""
    if path.is_dir():
        raise DataError(
            f"{path}: is a directory, expected a point file ({' '.join(SUPPORTED_EXTENSIONS)})"
        )
    if not path.exists():
        raise DataError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_EXTENSIONS:
        raise DataError(
            f"{path}: unknown extension {suffix or '(none)'!r}; supported: "
            f"{' '.join(SUPPORTED_EXTENSIONS)}"
        )
    if path.stat().st_size == 0:
        raise DataError(f"{path}: empty file")
    return suffix


def read_points(
    path: str | Path,
    num_points: int | None = None,
    seed: int = 0,
    *,
    columns: Sequence[str] | None = None,
    labels_path: str | Path | None = None,
    label_range: tuple[int, int] | None = None,
    max_points: int = DEFAULT_MAX_POINTS,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    oversample: int = DEFAULT_OVERSAMPLE,
    max_columns: int = DEFAULT_MAX_COLUMNS,
    max_coordinate: float = MAX_COORDINATE,
) -> PointCloud:
    """Read a point cloud from a file (see :data:`SUPPORTED_EXTENSIONS`).

    Args:
        path: the file.
        num_points: points to return: a seeded random subset of a point file (all points when
            ``None``), or the points sampled from a mesh (``DEFAULT_MESH_POINTS`` when ``None``).
        seed: seed of the subset or of the mesh sampling.
        columns: names of a table's columns (text, ``.npy``), e.g. ``("x", "y", "z", "label")``;
            by default from a header line or the number of columns (:mod:`pointea.io.columns`).
        labels_path: a file of one integer label per point (ShapeNetPart's ``.seg``).
        label_range: allowed label values, inclusive, e.g. ``(1, 4)``.
        max_points: refuse point files with more points than this (declared or read) when
            ``num_points`` is ``None``, and meshes (and files read whole: PCD) declaring more
            vertices, faces or points (:data:`pointea.io.bounds.DEFAULT_MAX_POINTS`).
        chunk_bytes: bytes read at a time from text and ``.npy`` files (the streaming bound);
            a text line may be at most this long.
        oversample: meshes: points drawn per kept point before FPS.
        max_columns: refuse tables (text lines, PLY vertices, PCD points, ``.npy`` rows) with
            more columns than this (:data:`pointea.io.bounds.DEFAULT_MAX_COLUMNS`).
        max_coordinate: refuse coordinates of a larger magnitude, naming the file and line or
            row (default :data:`pointea.io.bounds.MAX_COORDINATE`, the encoder's float32 limit).

    Raises:
        DataError: one line naming the file (and the line, for text) and what was expected.

    Shapes:
        returns points (N, 3) float32 and, when the file has them, normals (N, 3), colours (N, 3),
        labels (N,)
    """
    path = Path(path).expanduser()
    try:
        return _read(
            path, num_points, seed, columns, labels_path, label_range, max_points, chunk_bytes,
            oversample, max_columns, max_coordinate,
        )  # fmt: skip
    except MemoryError:
        raise DataError(
            f"{path}: out of memory reading it (num_points keeps a random subset while reading)"
        ) from None


def _read(
    path: Path,
    num_points: int | None,
    seed: int,
    columns: Sequence[str] | None,
    labels_path: str | Path | None,
    label_range: tuple[int, int] | None,
    max_points: int,
    chunk_bytes: int,
    oversample: int,
    max_columns: int,
    max_coordinate: float,
) -> PointCloud:
    """:func:`read_points` once ``path`` is resolved (its MemoryError becomes a DataError)."""
    suffix = _check_path(path)
    ply_header = read_ply_header(path) if suffix == ".ply" else None
    if suffix in MESH_EXTENSIONS or (ply_header is not None and ply_header.count("face")):
        if labels_path is not None:
            raise DataError(
                f"{path}: a mesh has no per-point labels; labels_path is for point files"
            )
        if suffix == ".off":
            vertices, triangles = read_off(path, max_points, max_coordinate)
        elif ply_header is not None:
            vertices, triangles = read_ply_mesh(path, ply_header, max_points, max_coordinate)
        else:
            from pointea.io.open3d_files import read_open3d_mesh

            vertices, triangles = read_open3d_mesh(path, max_points, max_coordinate)
        count = DEFAULT_MESH_POINTS if num_points is None else num_points
        points, normals = sample_mesh(path, vertices, triangles, count, seed, oversample)
        return PointCloud(
            points=points,
            normals=normals,
            path=path,
            columns=("mesh",),
            num_source_points=int(vertices.shape[0]),
        )
    keeper = row_keeper(path, num_points, seed, max_points)
    origin = None
    if suffix in TEXT_EXTENSIONS:
        kept, names = read_text_rows(
            path, keeper, columns=_names(columns), label_range=label_range,
            chunk_bytes=chunk_bytes, max_columns=max_columns, max_coordinate=max_coordinate,
        )  # fmt: skip
    elif suffix in NUMPY_EXTENSIONS:
        kept, names = read_numpy_rows(
            path, keeper, columns=_names(columns), chunk_bytes=chunk_bytes, max_columns=max_columns
        )
    elif suffix in LAS_EXTENSIONS:
        from pointea.io.las import read_las_rows

        kept, names, origin = read_las_rows(path, keeper)
    elif suffix == ".e57":
        from pointea.io.e57 import read_e57_rows

        kept, names, origin = read_e57_rows(path, keeper)
    elif ply_header is not None:
        kept, names = read_ply_rows(
            path, ply_header, keeper, label_range, chunk_bytes, max_columns, max_coordinate
        )
    else:
        from pointea.io.open3d_files import read_pcd_rows

        kept, names = read_pcd_rows(path, keeper, max_columns, max_points)
    cloud = cloud_from_rows(
        path, kept, names, label_range=label_range, origin=origin, max_coordinate=max_coordinate
    )
    return _announce(_attach_labels(cloud, kept, labels_path, label_range), num_points)


def _names(columns: Sequence[str] | None) -> tuple[str, ...] | None:
    return None if columns is None else tuple(columns)


def _attach_labels(
    cloud: PointCloud,
    kept: KeptRows,
    labels_path: str | Path | None,
    label_range: tuple[int, int] | None,
) -> PointCloud:
    """Add the labels of a ``.seg``-style file (one per point of the file) to the kept points."""
    if labels_path is None:
        return cloud
    labels_path = Path(labels_path).expanduser()
    if not labels_path.is_file():
        raise DataError(f"{labels_path}: no such labels file (for {cloud.path})")
    labels = read_label_file(labels_path, label_range)
    if labels.shape[0] != kept.num_rows:
        raise DataError(
            f"{labels_path}: {labels.shape[0]} labels for the {kept.num_rows} points of {cloud.path}"
        )
    return replace(cloud, labels=labels[kept.indices], columns=(*cloud.columns, "label"))


def _announce(cloud: PointCloud, num_points: int | None) -> PointCloud:
    """Say once that a file had fewer points than asked for."""
    if cloud.resampled:
        warnings.warn(
            f"{cloud.path}: {cloud.num_source_points} points, fewer than the {num_points} asked "
            f"for; {num_points - cloud.num_source_points} drawn again with replacement",
            ResampledWarning,
            stacklevel=4,  # _announce, _read, read_points, the caller
        )
    return cloud
