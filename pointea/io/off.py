"""Object File Format meshes (``.off``), as Princeton's ModelNet distributes them.

Layout: ``OFF``, then ``V F E`` (vertex, face and edge counts), V lines ``x y z``, F lines
``n i_1 ... i_n`` (0-based vertex indices, optionally followed by a colour). ``#`` starts a comment.
Some ModelNet files glue the header to the counts (``OFF490 518 0``); they are read as written.
Faces with more than three corners are split into a fan of triangles.

Bounds (:mod:`pointea.io.bounds`): the counts are checked against the lines that follow and
``max_points`` before any parsing; vertex indices must be exact integers within the vertices, and
vertex coordinates within ``max_coordinate`` (beyond it a mesh's areas overflow), each naming the line.

Shape legend: V vertices, F faces, T triangles.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from pointea.errors import DataError
from pointea.io.bounds import DEFAULT_MAX_POINTS, MAX_COORDINATE, check_count, check_magnitude

__all__ = ["read_off"]


def _content_lines(path: Path, data: bytes) -> list[tuple[int, bytes]]:
    """(line number, line) of every non-blank line, comments removed."""
    out = []
    for number, line in enumerate(data.split(b"\n"), start=1):
        line = line.split(b"#", 1)[0].strip()
        if line:
            out.append((number, line))
    return out


def _parse_block(lines: list[tuple[int, bytes]]) -> np.ndarray | None:
    """All numbers of a block of lines in one C call, or ``None`` when a token is not a number."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            return np.fromstring(b" ".join(line for _, line in lines), dtype=np.float64, sep=" ")
        except (ValueError, DeprecationWarning):
            return None


def _numbers(path: Path, number: int, line: bytes) -> list[float]:
    try:
        return [float(token) for token in line.split()]
    except ValueError:
        raise DataError(
            f"{path}: line {number}: {line[:40].decode(errors='replace')!r} is not "
            "a list of numbers"
        ) from None


def read_off(
    path: Path, max_points: int = DEFAULT_MAX_POINTS, max_coordinate: float = MAX_COORDINATE
) -> tuple[np.ndarray, np.ndarray]:
    """Vertices and triangles of an ``.off`` file.

    Raises:
        DataError: not an OFF file, counts that do not match the lines, bad numbers, NaN/Inf
            vertices, vertex indices out of range; each naming the line.

    Shapes:
        returns vertices (V, 3) float64, triangles (T, 3) int64
    """
    data = path.read_bytes()
    if not data.strip():
        raise DataError(f"{path}: empty file, expected an OFF mesh")
    if b"\x00" in data[:4096]:
        raise DataError(f"{path}: binary data, expected a text OFF mesh starting with 'OFF'")
    lines = _content_lines(path, data)
    number, first = lines[0]
    if not first.startswith(b"OFF"):
        raise DataError(
            f"{path}: line {number}: expected the header 'OFF', found "
            f"{first[:20].decode(errors='replace')!r}"
        )
    rest = first[3:].strip()  # "OFF490 518 0": counts glued to the header
    body = lines[1:]
    if not rest:
        if not body:
            raise DataError(f"{path}: header only, expected the counts line 'V F E' after 'OFF'")
        number, rest = body[0]
        body = body[1:]
    counts = _numbers(path, number, rest)
    if len(counts) < 2 or any(c < 0 or not float(c).is_integer() for c in counts):
        raise DataError(
            f"{path}: line {number}: expected the counts 'V F E', found "
            f"{rest.decode(errors='replace')!r}"
        )
    num_vertices, num_faces = int(counts[0]), int(counts[1])
    check_count(path, "vertices", num_vertices, max_points, " (max_points)")
    check_count(path, "faces", num_faces, max_points, " (max_points)")
    if len(body) < num_vertices + num_faces:
        raise DataError(
            f"{path}: {num_vertices} vertices and {num_faces} faces announced on line {number}, "
            f"but only {len(body)} lines follow"
        )
    vertices = _vertices(path, body[:num_vertices], max_coordinate)
    triangles = _triangles(path, body[num_vertices : num_vertices + num_faces], num_vertices)
    return vertices, triangles


def _vertices(path: Path, lines: list[tuple[int, bytes]], max_coordinate: float) -> np.ndarray:
    values = _parse_block(lines)
    if values is not None and values.size == 3 * len(lines):
        vertices = values.reshape(len(lines), 3)  # (V * 3,) -> (V, 3)
    else:  # extra columns (colours, normals) or a bad token: line by line
        rows = []
        for number, line in lines:
            row = _numbers(path, number, line)
            if len(row) < 3:
                raise DataError(
                    f"{path}: line {number}: a vertex needs x y z, found {len(row)} numbers"
                )
            rows.append(row[:3])
        vertices = np.asarray(rows, np.float64).reshape(-1, 3)
    finite = np.isfinite(vertices).all(axis=1)  # (V,)
    if not finite.all():
        raise DataError(f"{path}: line {lines[int(np.flatnonzero(~finite)[0])][0]}: NaN/Inf vertex")
    check_magnitude(path, vertices, max_coordinate, lambda row: f"line {lines[row][0]}", "vertex coordinate")
    return vertices


def _triangles(path: Path, lines: list[tuple[int, bytes]], num_vertices: int) -> np.ndarray:
    values = _parse_block(lines)
    if values is not None and values.size == 4 * len(lines):
        faces = values.reshape(len(lines), 4)  # (F * 4,) -> (F, 4): n i j k
        if (faces[:, 0] == 3).all() and (faces == np.round(faces)).all():
            triangles = faces[:, 1:].astype(np.int64)
            return _check_indices(path, triangles, [n for n, _ in lines], num_vertices)
    triangles, origin = [], []
    for number, line in lines:
        face = _numbers(path, number, line)
        size = int(face[0]) if face and face[0].is_integer() and face[0] < 2**31 else 0
        if size < 3 or len(face) < size + 1:
            raise DataError(f"{path}: line {number}: a face needs 'n i_1 .. i_n' with n >= 3")
        corners = face[1 : size + 1]
        if not all(corner.is_integer() and abs(corner) < 2**62 for corner in corners):
            raise DataError(
                f"{path}: line {number}: vertex indices must be whole numbers, found "
                f"{line[:40].decode(errors='replace')!r}"
            )
        for k in range(1, size - 1):  # fan: (0, k, k + 1)
            triangles.append((corners[0], corners[k], corners[k + 1]))
            origin.append(number)
    return _check_indices(
        path, np.asarray(triangles, np.int64).reshape(-1, 3), origin, num_vertices
    )


def _check_indices(
    path: Path, triangles: np.ndarray, line_numbers: list[int], num_vertices: int
) -> np.ndarray:
    bad = ((triangles < 0) | (triangles >= num_vertices)).any(axis=1)  # (T,)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{path}: line {line_numbers[first]}: vertex index out of range 0..{num_vertices - 1}"
        )
    return triangles
