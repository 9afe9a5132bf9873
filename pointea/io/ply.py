"""PLY files: the header, and point clouds (PLY without faces) read with NumPy.

A PLY point cloud is one ``vertex`` element whose scalar properties are columns: ``x y z``,
``nx ny nz``, ``red green blue`` and any label property (``label``, ``class``, ...; see
:mod:`pointea.io.columns`) are used, the rest is read past. Binary files (either byte order) are
memory-mapped and streamed in chunks, ASCII files go through the text reader, so both keep a random
subset of a huge scan in bounded memory and keep label properties (open3d's readers drop them).
PLY meshes (a ``face`` element with faces) are read here too (:func:`read_ply_mesh`), not by open3d,
whose reader believes the header (it crashes on an ASCII file with fewer vertex lines than declared).

Bounds (:mod:`pointea.io.bounds`): every element count is checked against the bytes it needs at
the least (binary: its rows' sizes, a face list at least three indices; ASCII: two bytes a value)
and against ``max_points`` before anything is read; a binary point cloud with more bytes after its
vertices than the header declares (more vertices than ``element vertex`` says) is refused rather
than read partially; a vertex element may have at most ``max_columns`` properties.

Shape legend: N vertices, R rows in a chunk, C used columns.
"""

from __future__ import annotations

import warnings
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
    check_magnitude,
)
from pointea.io.columns import check_columns, header_columns
from pointea.io.selection import KeepAll, KeepRandom, KeptRows
from pointea.io.text import DEFAULT_CHUNK_BYTES, stream_rows

__all__ = [
    "PlyHeader",
    "read_ply_header",
    "read_ply_rows",
    "read_ply_mesh",
    "check_ply_sizes",
    "PLY_TYPES",
]

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


def _split_list_element(
    path: Path, name: str, properties: tuple[tuple[str, str], ...]
) -> tuple[int, str, str]:
    """(index, count type, item type) of an element's one list property."""
    lists = [i for i, (_, kind) in enumerate(properties) if kind.startswith("list")]
    if len(lists) != 1:
        raise DataError(
            f"{path}: PLY element {name!r} has {len(lists)} list properties, expected one"
        )
    _, count_type, item_type = properties[lists[0]][1].split()
    return lists[0], count_type, item_type


def _binary_lists(
    path: Path,
    data: memoryview,
    offset: int,
    count: int,
    properties: tuple[tuple[str, str], ...],
    order: str,
    name: str,
) -> tuple[list[np.ndarray], int]:
    """The lists of ``count`` binary rows (scalars around one list), and the offset after them.

    Fast path: every row's list has the first row's length (all triangles), one NumPy view;
    otherwise row by row, which the file's size bounds.
    """
    where, count_type, item_type = _split_list_element(path, name, properties)
    before = [(f"s{i}", order + PLY_TYPES[k]) for i, (_, k) in enumerate(properties[:where])]
    after = [(f"t{i}", order + PLY_TYPES[k]) for i, (_, k) in enumerate(properties[where + 1 :])]
    counter = np.dtype(order + PLY_TYPES[count_type])
    item = np.dtype(order + PLY_TYPES[item_type])
    head = np.dtype(before).itemsize if before else 0
    if count == 0:
        return [], offset
    if offset + head + counter.itemsize > len(data):
        raise DataError(f"{path}: truncated: the file ends inside the first {name!r} row")
    first = int(np.frombuffer(data, counter, 1, offset + head)[0])
    row = np.dtype([*before, ("n", counter), ("items", item, (max(first, 0),)), *after])
    if count * row.itemsize <= len(data) - offset:
        rows = np.frombuffer(data, row, count, offset)
        if (rows["n"] == first).all():
            return [rows["items"].reshape(count, max(first, 0))], offset + count * row.itemsize
    tail = np.dtype(after).itemsize if after else 0
    lists = []
    for _ in range(count):  # polygons of mixed sizes: row by row
        if offset + head + counter.itemsize > len(data):
            raise DataError(f"{path}: truncated: the header declares {count:,} {name!r} rows")
        size = int(np.frombuffer(data, counter, 1, offset + head)[0])
        start = offset + head + counter.itemsize
        offset = start + size * item.itemsize + tail
        if size < 0 or offset > len(data):
            raise DataError(f"{path}: truncated: the header declares {count:,} {name!r} rows")
        lists.append(np.frombuffer(data, item, size, start)[None])
    return lists, offset


def _ascii_rows(
    path: Path,
    lines: list[bytes],
    first_line: int,
    properties: tuple[tuple[str, str], ...],
    name: str,
) -> tuple[np.ndarray | None, list[np.ndarray]]:
    """Scalar rows (R, P) of an ASCII element, or, for a list element, its lists."""
    lists = [kind.startswith("list") for _, kind in properties]
    if not any(lists):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # a bad token: read short, below
            values = np.fromstring(b" ".join(lines), dtype=np.float64, sep=" ")
        if values.size != len(lines) * len(properties):
            raise DataError(
                f"{path}: PLY {name!r} lines from line {first_line}: expected {len(properties)} "
                "numbers a line"
            )
        return values.reshape(len(lines), len(properties)), []  # (R * P,) -> (R, P)
    where, _, _ = _split_list_element(path, name, properties)
    out = []
    for number, line in enumerate(lines, start=first_line):
        try:
            tokens = [float(token) for token in line.split()]
        except ValueError:
            raise DataError(f"{path}: line {number}: not a list of numbers") from None
        size = tokens[where] if len(tokens) > where else -1
        if not float(size).is_integer() or size < 0 or len(tokens) != len(properties) + size:
            raise DataError(
                f"{path}: line {number}: a {name!r} row needs its list length and that many values"
            )
        out.append(np.asarray(tokens[where + 1 : where + 1 + int(size)])[None])
    return None, out


def read_ply_mesh(
    path: Path,
    header: PlyHeader,
    max_points: int = DEFAULT_MAX_POINTS,
    max_coordinate: float = MAX_COORDINATE,
) -> tuple[np.ndarray, np.ndarray]:
    """Vertices and triangles of a PLY mesh (polygons split into fans), read and checked here.

    open3d's reader believes the header (an ASCII file with fewer vertex lines than declared
    crashes it with a segmentation fault), so PLY meshes are parsed with NumPy: every element
    exactly as declared, face indices whole numbers within the vertices, coordinates finite and
    within ``max_coordinate``.

    Shapes:
        returns vertices (V, 3) float64, triangles (T, 3) int64
    """
    check_ply_sizes(path, header, max_points)
    vertices: np.ndarray | None = None
    polygons: list[np.ndarray] = []
    if header.format == "ascii":
        with open(path, "rb") as stream:
            stream.seek(header.size)
            lines = [line for line in stream.read().split(b"\n") if line.strip()]
        start = 0
        for name, count, properties in header.elements:
            block = lines[start : start + count]
            if len(block) < count:
                raise DataError(
                    f"{path}: the header declares {count:,} {name!r} rows, {len(block):,} lines follow"
                )
            rows, lists = _ascii_rows(path, block, header.lines + 1 + start, properties, name)
            if name == "vertex":
                vertices = _vertex_xyz(path, rows, properties, max_coordinate)
            elif name == "face":
                polygons = lists
            start += count
        if start != len(lines):
            raise DataError(
                f"{path}: {len(lines) - start:,} lines after the elements the header declares"
            )
    else:
        order = _FORMATS[header.format]
        with open(path, "rb") as stream:
            data = memoryview(stream.read())
        offset = header.size
        for name, count, properties in header.elements:
            if any(kind.startswith("list") for _, kind in properties):
                lists, offset = _binary_lists(path, data, offset, count, properties, order, name)
                if name == "face":
                    polygons = lists
                continue
            dtype = np.dtype([(prop, order + PLY_TYPES[kind]) for prop, kind in properties])
            if offset + count * dtype.itemsize > len(data):
                raise DataError(f"{path}: truncated: the header declares {count:,} {name!r} rows")
            table = np.frombuffer(data, dtype, count, offset)
            offset += count * dtype.itemsize
            if name == "vertex":
                columns = [table[prop].astype(np.float64) for prop, _ in properties]
                rows = np.stack(columns, axis=1) if columns else np.empty((count, 0))  # (V, P)
                vertices = _vertex_xyz(path, rows, properties, max_coordinate)
        if len(data) - offset >= 4:
            raise DataError(
                f"{path}: {len(data) - offset:,} bytes after the elements the header declares"
            )
    if vertices is None or vertices.shape[0] == 0:
        raise DataError(f"{path}: the PLY mesh has no vertices")
    return vertices, _fans(path, polygons, vertices.shape[0])


def _vertex_xyz(
    path: Path,
    rows: np.ndarray | None,
    properties: tuple[tuple[str, str], ...],
    max_coordinate: float,
) -> np.ndarray:
    names = [name for name, _ in properties]
    if rows is None or not all(axis in names for axis in "xyz"):
        raise DataError(f"{path}: the PLY vertex element needs scalar x, y and z properties")
    vertices = rows[:, [names.index(axis) for axis in "xyz"]]  # (V, 3)
    if not np.isfinite(vertices).all():
        raise DataError(f"{path}: the mesh has NaN/Inf vertices")
    check_magnitude(path, vertices, max_coordinate, what="a vertex coordinate")
    return vertices


def _fans(path: Path, polygons: list[np.ndarray], num_vertices: int) -> np.ndarray:
    """Triangles (T, 3) int64 of polygons (blocks of (F, n) indices), each split into a fan."""
    triangles = []
    for block in polygons:  # (F, n)
        if block.shape[1] < 3:
            if block.shape[0]:
                raise DataError(f"{path}: a PLY face with {block.shape[1]} corners, expected >= 3")
            continue
        if not (block == np.round(block)).all():
            raise DataError(f"{path}: PLY face vertex indices must be whole numbers")
        if ((block < 0) | (block >= num_vertices)).any():
            raise DataError(
                f"{path}: a PLY face has a vertex index outside 0..{num_vertices - 1} (the mesh's "
                "vertices)"
            )
        fan = [[0, k, k + 1] for k in range(1, block.shape[1] - 1)]  # (n - 2, 3) corner picks
        triangles.append(
            block.astype(np.int64)[:, fan].reshape(-1, 3)
        )  # (F, n - 2, 3) -> (F (n - 2), 3)
    return np.concatenate(triangles) if triangles else np.empty((0, 3), np.int64)
