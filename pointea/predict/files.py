"""Which files ``pointea-predict`` reads: PATH arguments (files, folders, globs) expanded in order.

Until :mod:`pointea.io` lands, :func:`read_cloud` reads the three formats the prediction issue
asks for at least: ``.npy`` (an (N, >=3) array), ``.txt``/``.xyz`` (whitespace- or
comma-separated columns, xyz first, as ModelNet40's ``modelnet40_normal_resampled`` text files),
and ``.ply`` (ASCII or binary vertices with float x, y, z).

Shape legend: N points.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["POINT_SUFFIXES", "FileList", "expand_paths", "read_cloud"]

#: Suffixes a folder is searched for (files named explicitly are tried whatever their suffix).
POINT_SUFFIXES = (".npy", ".txt", ".xyz", ".ply")

_PLY_TYPES = {
    "char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1", "short": "i2", "int16": "i2",
    "ushort": "u2", "uint16": "u2", "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
    "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
}  # fmt: skip


@dataclass
class FileList:
    """Expanded PATH arguments: the files to read, and the arguments that named nothing readable."""

    files: list[Path] = field(default_factory=list)
    missing: list[tuple[str, str]] = field(default_factory=list)  # (argument, one-line reason)
    skipped: int = 0  # files in named folders with other suffixes


def expand_paths(arguments: list[str]) -> FileList:
    """Files, folders (searched recursively for :data:`POINT_SUFFIXES`, sorted) and globs (for
    shells that do not expand them), in argument order, each file once."""
    found = FileList()
    seen: set[Path] = set()

    def add(path: Path) -> None:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            found.files.append(path)

    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*") if p.is_file())
            matching = [p for p in inside if p.suffix.lower() in POINT_SUFFIXES]
            found.skipped += len(inside) - len(matching)
            if not matching:
                found.missing.append((argument, f"folder holds no point files ({', '.join(POINT_SUFFIXES)})"))
            for match in matching:
                add(match)
        elif path.is_file():
            add(path)
        elif glob.has_magic(argument):
            matches = sorted(Path(p) for p in glob.glob(argument, recursive=True) if Path(p).is_file())
            if not matches:
                found.missing.append((argument, "the pattern matches no file"))
            for match in matches:
                add(match)
        else:
            found.missing.append((argument, "no such file or folder"))
    return found


def read_cloud(path: Path) -> np.ndarray:
    """The xyz coordinates of a point file.

    Raises:
        ValueError: unknown suffix, unparsable content, fewer than 3 columns, no points, NaN/Inf.

    Shapes:
        returns (N, 3) float32
    """
    suffix = path.suffix.lower()
    if suffix == ".npy":
        data = np.load(path, allow_pickle=False)
    elif suffix in (".txt", ".xyz"):
        data = _read_text(path)
    elif suffix == ".ply":
        data = _read_ply(path)
    else:
        raise ValueError(f"unsupported file type {suffix or '(no suffix)'}: pointea-predict reads {', '.join(POINT_SUFFIXES)}")
    data = np.asarray(data)
    if data.ndim != 2 or data.shape[1] < 3 or not np.issubdtype(data.dtype, np.number):
        raise ValueError(f"expected an (N, 3+) numeric array of points, got shape {data.shape} {data.dtype}")
    points = np.ascontiguousarray(data[:, :3], dtype=np.float32)
    if points.shape[0] == 0:
        raise ValueError("the file holds no points")
    if not np.isfinite(points).all():
        raise ValueError("the file holds NaN or infinite coordinates")
    return points


def _read_text(path: Path) -> np.ndarray:
    with open(path, "rb") as file:
        head = file.read(4096)
    if b"\0" in head:
        raise ValueError("binary content in a text point file")
    delimiter = "," if b"," in head else None
    return np.loadtxt(path, dtype=np.float32, delimiter=delimiter, ndmin=2, comments="#")


def _read_ply(path: Path) -> np.ndarray:
    with open(path, "rb") as file:
        if file.readline().strip() != b"ply":
            raise ValueError("not a PLY file (no 'ply' magic line)")
        form, count, properties, element = None, 0, [], None
        while True:
            line = file.readline()
            if not line:
                raise ValueError("PLY header has no end_header")
            words = line.decode("ascii", "replace").split()
            if not words or words[0] in ("comment", "obj_info"):
                continue
            if words[0] == "format":
                form = words[1]
            elif words[0] == "element":
                element = words[1]
                if element == "vertex":
                    count = int(words[2])
            elif words[0] == "property" and element == "vertex":
                if words[1] == "list":
                    raise ValueError("PLY vertex list properties are not supported")
                properties.append((words[2], _PLY_TYPES[words[1]]))
            elif words[0] == "end_header":
                break
        names = [name for name, _ in properties]
        if not {"x", "y", "z"} <= set(names):
            raise ValueError("PLY vertices have no x, y, z properties")
        if form == "ascii":
            rows = np.loadtxt(file, dtype=np.float64, max_rows=count, ndmin=2)
            columns = [names.index(axis) for axis in "xyz"]
            return rows[:count, columns]
        if form not in ("binary_little_endian", "binary_big_endian"):
            raise ValueError(f"unknown PLY format {form!r}")
        order = "<" if form == "binary_little_endian" else ">"
        dtype = np.dtype([(name, order + code) for name, code in properties])
        vertices = np.fromfile(file, dtype=dtype, count=count)
    if vertices.shape[0] != count:
        raise ValueError(f"PLY file is truncated: {vertices.shape[0]} of {count} vertices")
    return np.stack([vertices[axis] for axis in "xyz"], axis=1)

