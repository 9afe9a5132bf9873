"""Which files ``pointea-predict`` reads: PATH arguments (files, folders, globs) expanded in order,
read by :func:`pointea.io.read_points` (every format it knows, :data:`POINT_SUFFIXES`).

Shape legend: N points.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pointea.io import SUPPORTED_EXTENSIONS, read_points

__all__ = ["POINT_SUFFIXES", "FileList", "expand_paths", "read_cloud", "read_normals"]

#: Suffixes a folder is searched for (files named explicitly are tried whatever their suffix).
POINT_SUFFIXES: tuple[str, ...] = SUPPORTED_EXTENSIONS


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
            matches = _glob(argument)
            if not matches:
                found.missing.append((argument, "the pattern matches no file"))
            for match in matches:
                add(match)
        else:
            found.missing.append((argument, "no such file or folder"))
    return found


def _glob(pattern: str) -> list[Path]:
    """The files a glob pattern matches, sorted. ``**`` does not descend into symlinked folders
    (pathlib's rule), so a link back up (``sub/up -> ..``) cannot make the walk endless, as
    ``glob.glob(recursive=True)``, which follows links, would."""
    parts = Path(pattern).parts
    first = next(i for i, part in enumerate(parts) if glob.has_magic(part))
    base = Path(*parts[:first]) if first else Path()
    return sorted(p for p in base.glob(str(Path(*parts[first:]))) if p.is_file())


def read_cloud(path: Path) -> np.ndarray:
    """Every point of a point file (or the points :func:`pointea.io.read_points` samples from a mesh).

    Raises:
        DataError: the file cannot be read as points (one line naming it).

    Shapes:
        returns (N, 3) float32
    """
    return read_points(path).points


def read_normals(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Every point of a point file and its normals when the file has them (meshes: the sampled
    points and their triangles' normals).

    Raises:
        DataError: the file cannot be read as points (one line naming it).

    Shapes:
        returns (N, 3) float32 and (N, 3) float32 or None
    """
    cloud = read_points(path)
    return cloud.points, cloud.normals
