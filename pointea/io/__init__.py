"""Reading and writing point clouds: the files users have, not only the benchmark archives.

:func:`read_points` reads text tables (``.xyz .xyzn .xyzrgb .pts .txt .csv``), NumPy files
(``.npy .npz``), PLY/PCD point clouds (open3d), LAS/LAZ scans (laspy) and meshes (``.off .obj
.stl``, a ``.ply`` with faces; sampled by area and FPS) into a :class:`PointCloud`;
:func:`write_points` writes ``.ply`` (coloured by label or scalar) and ``.npz``.
open3d and laspy are imported only when a file needs them.

Every problem with a file is a one-line :class:`~pointea.errors.DataError` naming it.
"""

from pointea.io.cloud import PointCloud
from pointea.io.read import (
    DEFAULT_MESH_POINTS,
    MESH_EXTENSIONS,
    SUPPORTED_EXTENSIONS,
    ResampledWarning,
    read_points,
)
from pointea.io.write import WRITE_EXTENSIONS, write_points

__all__ = [
    "DEFAULT_MESH_POINTS",
    "MESH_EXTENSIONS",
    "PointCloud",
    "ResampledWarning",
    "SUPPORTED_EXTENSIONS",
    "WRITE_EXTENSIONS",
    "read_points",
    "write_points",
]
