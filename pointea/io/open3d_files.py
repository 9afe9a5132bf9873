"""Files read through open3d: ``.pcd`` point clouds, and ``.obj``/``.stl``/``.ply`` meshes.

open3d is imported here, on first use, so ``import pointea`` does not pay for it. open3d reports
an unreadable file by printing a warning and returning an empty geometry; these readers turn that
into a :class:`DataError` (and silence open3d's own message while reading).

Shape legend: N points, V vertices, T triangles.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from pointea.errors import DataError
from pointea.io.selection import KeepAll, KeepRandom, KeptRows

__all__ = ["read_pcd_rows", "read_open3d_mesh", "import_open3d"]

_PCD_MAGIC = (b"#", b"VERSION", b"FIELDS")


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


def read_pcd_rows(path: Path, keeper: KeepAll | KeepRandom) -> tuple[KeptRows, tuple[str, ...]]:
    """Coordinates, normals and colours of a ``.pcd`` file (read whole by open3d)."""
    with open(path, "rb") as stream:
        head = stream.read(64).lstrip()
    if not head.startswith(_PCD_MAGIC):
        raise DataError(f"{path}: not a PCD file (no '# .PCD', 'VERSION' or 'FIELDS' header)")
    o3d = import_open3d(path)
    with _quiet(o3d):
        cloud = o3d.io.read_point_cloud(
            str(path), format="pcd", remove_nan_points=False, remove_infinite_points=False
        )
    points = np.asarray(cloud.points, dtype=np.float32)  # (N, 3)
    if points.shape[0] == 0:
        raise DataError(f"{path}: open3d read no points from this PCD file (corrupt or empty)")
    parts, names = [points], ["x", "y", "z"]
    if cloud.has_normals():
        parts.append(np.asarray(cloud.normals, dtype=np.float32))
        names += ["nx", "ny", "nz"]
    if cloud.has_colors():
        parts.append(np.asarray(cloud.colors, dtype=np.float32))  # open3d: already in [0, 1]
        names += ["r", "g", "b"]
    keeper.add(np.concatenate(parts, axis=1))  # (N, C)
    return keeper.finish(), tuple(names)


def read_open3d_mesh(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Vertices and triangles of an ``.obj``, ``.stl`` or ``.ply`` mesh.

    Shapes:
        returns vertices (V, 3) float64, triangles (T, 3) int64
    """
    o3d = import_open3d(path)
    with _quiet(o3d):
        mesh = o3d.io.read_triangle_mesh(str(path))
    vertices = np.asarray(mesh.vertices, dtype=np.float64)
    triangles = np.asarray(mesh.triangles, dtype=np.int64)
    if vertices.shape[0] == 0:
        raise DataError(
            f"{path}: open3d read no vertices from this {path.suffix} mesh (corrupt or empty)"
        )
    if not np.isfinite(vertices).all():
        raise DataError(f"{path}: the mesh has NaN/Inf vertices")
    return vertices, triangles
