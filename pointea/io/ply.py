"""PLY files: the header, and point clouds (PLY without faces) read with NumPy.

A PLY point cloud is one ``vertex`` element whose scalar properties are columns: ``x y z``,
``nx ny nz``, ``red green blue`` and any label property (``label``, ``class``, ...; see
:mod:`pointea.io.columns`) are used, the rest is read past. Binary files (either byte order) are
memory-mapped and streamed in chunks, ASCII files go through the text reader, so both keep a random
subset of a huge scan in bounded memory and keep label properties (open3d's readers drop them).
PLY meshes (a ``face`` element with faces) are read by open3d (:mod:`pointea.io.open3d_files`).

Shape legend: N vertices, R rows in a chunk, C used columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pointea.errors import DataError
from pointea.io.columns import check_columns, header_columns
from pointea.io.selection import KeepAll, KeepRandom, KeptRows
from pointea.io.text import DEFAULT_CHUNK_BYTES, stream_rows

__all__ = ["PlyHeader", "read_ply_header", "read_ply_rows", "PLY_TYPES"]

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
            property's type is ``"list"``.
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
        elif words[0] == "property" and elements and len(words) == 5 and words[1] == "list":
            elements[-1][2].append((words[4], "list"))
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


def read_ply_rows(
    path: Path,
    header: PlyHeader,
    keeper: KeepAll | KeepRandom,
    label_range: tuple[int, int] | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> tuple[KeptRows, tuple[str, ...]]:
    """The vertex rows of a PLY point cloud (its first element must be ``vertex``)."""
    if not header.elements or header.elements[0][0] != "vertex":
        raise DataError(f"{path}: the first PLY element is not 'vertex'; cannot read its points")
    _, count, properties = header.elements[0]
    if count == 0:
        raise DataError(f"{path}: the PLY file declares 0 vertices")
    if any(kind == "list" for _, kind in properties):
        raise DataError(f"{path}: the PLY vertex element has a list property; expected scalars")
    names = check_columns(path, header_columns([name for name, _ in properties]), len(properties))
    if header.format == "ascii":
        with open(path, "rb") as stream:
            stream.seek(header.size)
            stream_rows(
                path, stream, b"", header.lines + 1, names, keeper, label_range, chunk_bytes
            )
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
    vertices = np.memmap(path, dtype=dtype, mode="r", offset=header.size, shape=(count,))
    used = [name for (name, _), column in zip(properties, names) if column != "-"]
    rows_per_chunk = max(1, chunk_bytes // dtype.itemsize)
    for start in range(0, count, rows_per_chunk):
        block = vertices[start : start + rows_per_chunk]
        keeper.add(np.stack([block[name].astype(np.float32) for name in used], axis=1))  # (R, C)
    del vertices
    return keeper.finish(), tuple(column for column in names if column != "-")
