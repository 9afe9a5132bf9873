"""PLY files: the header, and point clouds (PLY without faces) read with NumPy.

A PLY point cloud is one ``vertex`` element whose scalar properties are columns: ``x y z``,
``nx ny nz``, ``red green blue`` and any label property (``label``, ``class``, ...; see
:mod:`pointea.io.columns`) are used, the rest is read past. Binary files (either byte order) are
memory-mapped and streamed in chunks, ASCII files go through the text reader, so both keep a random
subset of a huge scan in bounded memory and keep label properties (open3d's readers drop them).
PLY meshes (a ``face`` element with faces) are read by open3d (:mod:`pointea.io.open3d_files`).

Bounds (:mod:`pointea.io.bounds`): every element count is checked against the bytes it needs at
the least (binary: its rows' sizes, a face list at least three indices; ASCII: two bytes a value)
and against ``max_points`` before anything is read; a binary point cloud with more bytes after its
vertices than the header declares (more vertices than ``element vertex`` says) is refused rather
than read partially; a vertex element may have at most ``max_columns`` properties.

Shape legend: N vertices, R rows in a chunk, C used columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pointea.errors import DataError
from pointea.io.bounds import (
    DEFAULT_MAX_COLUMNS,
    DEFAULT_MAX_POINTS,
    MAX_COORDINATE,
    check_count,
    check_declared,
)
from pointea.io.columns import check_columns, header_columns
from pointea.io.selection import KeepAll, KeepRandom, KeptRows
from pointea.io.text import DEFAULT_CHUNK_BYTES, stream_rows

__all__ = ["PlyHeader", "read_ply_header", "read_ply_rows", "check_ply_sizes", "PLY_TYPES"]

PLY_TYPES = {
    "char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1", "short": "i2", "int16": "i2",
    "ushort": "u2", "uint16": "u2", "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
    "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
}  # fmt: skip
_FORMATS = {"ascii": "", "binary_little_endian": "<", "binary_big_endian": ">"}
_MAX_HEADER = 1 << 16


@dataclass(frozen=True)
class PlyHeader:
    """What a PLY header declares.

    Args:
        format: ``ascii``, ``binary_little_endian`` or ``binary_big_endian``.
        elements: (name, count, properties) in file order; a property is (name, type), a list
            property's type is ``"list <count type> <item type>"``.
        size: bytes up to and including the ``end_header`` line.
        lines: lines up to and including ``end_header``.
    """

    format: str
    elements: tuple[tuple[str, int, tuple[tuple[str, str], ...]], ...]
    size: int
    lines: int

    def count(self, name: str) -> int:
        return sum(count for element, count, _ in self.elements if element == name)


def read_ply_header(path: Path) -> PlyHeader:
    """Parse the header; a :class:`DataError` naming the line when it is not a valid PLY header."""
    with open(path, "rb") as stream:
        data = stream.read(_MAX_HEADER)
    if not data.startswith(b"ply"):
        raise DataError(f"{path}: not a PLY file (it does not start with 'ply')")
    end = data.find(b"end_header")
    if end < 0:
        raise DataError(
            f"{path}: no 'end_header' in the first {_MAX_HEADER} bytes, not a PLY header"
        )
    size = data.index(b"\n", end) + 1 if b"\n" in data[end:] else len(data)
    text = data[:size].decode("ascii", errors="replace").splitlines()
    fmt = None
    elements: list[tuple[str, int, list[tuple[str, str]]]] = []
    for number, line in enumerate(text, start=1):
        words = line.split()
        if not words or words[0] in ("ply", "comment", "obj_info", "end_header"):
            continue
        if words[0] == "format" and len(words) >= 2 and words[1] in _FORMATS:
            fmt = words[1]
        elif words[0] == "element" and len(words) == 3 and words[2].isdigit():
            elements.append((words[1], int(words[2]), []))
        elif words[0] == "property" and elements and len(words) == 3 and words[1] in PLY_TYPES:
            elements[-1][2].append((words[2], words[1]))
        elif (
            words[0] == "property"
            and elements
            and len(words) == 5
            and words[1] == "list"
            and words[2] in PLY_TYPES
            and words[3] in PLY_TYPES
        ):
            elements[-1][2].append((words[4], f"list {words[2]} {words[3]}"))
        else:
            raise DataError(f"{path}: PLY header line {number}: cannot read {line.strip()!r}")
    if fmt is None:
        raise DataError(
            f"{path}: PLY header has no 'format ascii|binary_little_endian|binary_big_endian'"
        )
    return PlyHeader(
        format=fmt,
        elements=tuple((name, count, tuple(props)) for name, count, props in elements),
        size=size,
        lines=len(text),
    )


def _least_row_bytes(fmt: str, element: str, properties: tuple[tuple[str, str], ...]) -> int:
    """The fewest bytes one row of an element can take (a face: a list of at least 3 indices)."""
    least = 0
    for _, kind in properties:
        if kind.startswith("list"):
            _, count_type, item_type = kind.split()
            items = 3 if element == "face" else 0
            if fmt == "ascii":
                least += 2 * (1 + items)
            else:
                least += np.dtype(PLY_TYPES[count_type]).itemsize
                least += items * np.dtype(PLY_TYPES[item_type]).itemsize
        else:
            least += 2 if fmt == "ascii" else np.dtype(PLY_TYPES[kind]).itemsize
    return least


def check_ply_sizes(path: Path, header: PlyHeader, max_points: int = DEFAULT_MAX_POINTS) -> None:
    """Refuse element counts beyond ``max_points`` or beyond the bytes the file has."""
    available = path.stat().st_size - header.size + (header.format == "ascii")  # last newline
    needed = 0
    for name, count, properties in header.elements:
        check_count(path, f"{name} elements", count, max_points, " (max_points)")
        needed += count * _least_row_bytes(header.format, name, properties)
    declared = ", ".join(f"{count:,} {name}" for name, count, _ in header.elements)
    check_declared(path, declared, needed, available)


def read_ply_rows(
    path: Path,
    header: PlyHeader,
    keeper: KeepAll | KeepRandom,
    label_range: tuple[int, int] | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    max_columns: int = DEFAULT_MAX_COLUMNS,
    max_coordinate: float = MAX_COORDINATE,
) -> tuple[KeptRows, tuple[str, ...]]:
    """The vertex rows of a PLY point cloud (its first element must be ``vertex``)."""
    if not header.elements or header.elements[0][0] != "vertex":
        raise DataError(f"{path}: the first PLY element is not 'vertex'; cannot read its points")
    _, count, properties = header.elements[0]
    if count == 0:
        raise DataError(f"{path}: the PLY file declares 0 vertices")
    if any(kind.startswith("list") for _, kind in properties):
        raise DataError(f"{path}: the PLY vertex element has a list property; expected scalars")
    check_count(path, "vertex properties", len(properties), max_columns, " (max_columns)")
    keeper.expect(count, "vertices")
    if header.format == "ascii":
        check_ply_sizes(path, header, max_points=2**62)  # the keeper bounds the vertices
    names = check_columns(path, header_columns([name for name, _ in properties]), len(properties))
    if header.format == "ascii":
        with open(path, "rb") as stream:
            stream.seek(header.size)
            stream_rows(
                path, stream, b"", header.lines + 1, names, keeper, label_range, chunk_bytes,
                max_coordinate=max_coordinate,
            )  # fmt: skip
        if keeper.num_rows != count:
            raise DataError(
                f"{path}: the header declares {count} vertices, the file has {keeper.num_rows}"
            )
        return keeper.finish(), names
    order = _FORMATS[header.format]
    dtype = np.dtype([(name, order + PLY_TYPES[kind]) for name, kind in properties])
    available = path.stat().st_size - header.size
    if available < count * dtype.itemsize:
        raise DataError(
            f"{path}: truncated: {count} vertices of {dtype.itemsize} bytes need "
            f"{count * dtype.itemsize} bytes after the header, the file has {available}"
        )
    extra = available - count * dtype.itemsize
    if all(other == 0 for _, other, _ in header.elements[1:]) and extra >= dtype.itemsize:
        raise DataError(
            f"{path}: {extra:,} bytes follow the {count:,} vertices the header declares "
            f"({extra // dtype.itemsize:,} more vertices than 'element vertex {count}'?)"
        )
    vertices = np.memmap(path, dtype=dtype, mode="r", offset=header.size, shape=(count,))
    used = [name for (name, _), column in zip(properties, names) if column != "-"]
    rows_per_chunk = max(1, chunk_bytes // dtype.itemsize)
    for start in range(0, count, rows_per_chunk):
        block = vertices[start : start + rows_per_chunk]
        keeper.add(np.stack([block[name].astype(np.float64) for name in used], axis=1))  # (R, C)
    del vertices
    return keeper.finish(), tuple(column for column in names if column != "-")
