"""Reading and writing point clouds: the files users have, not only the benchmark archives.

:func:`read_points` reads text tables (``.xyz .xyzn .xyzrgb .pts .txt .csv``), NumPy files
(``.npy .npz``), PLY/PCD point clouds (open3d), LAS/LAZ scans (laspy) and meshes (``.off .obj
.stl``, a ``.ply`` with faces; sampled by area and FPS) into a :class:`PointCloud`;
:func:`write_points` writes ``.ply`` (coloured by label or scalar) and ``.npz``.
open3d and laspy are imported only when a file needs them.

Every problem with a file is a one-line :class:`~pointea.errors.DataError` naming it, hostile
files included: what a header or a line declares is checked against the file's size and the caps
of :mod:`pointea.io.bounds` before anything is allocated, so a read costs time and memory in
proportion to the file. The caps are module constants and keywords of :func:`read_points`:
``max_points`` (:data:`DEFAULT_MAX_POINTS`, 20 million), ``max_columns``
(:data:`DEFAULT_MAX_COLUMNS`, 256) and ``max_coordinate`` (:data:`MAX_COORDINATE`, 1e18, the
encoder's float32 limit). Coordinates are parsed in float64 and centred before the cast to float32
when they lie far from zero (survey coordinates); :attr:`PointCloud.origin` keeps the offset and
:meth:`PointCloud.true_points` restores them. Files are written atomically
(:mod:`pointea.io.atomic`).
"""

from pointea.io.bounds import DEFAULT_MAX_COLUMNS, DEFAULT_MAX_POINTS, MAX_COORDINATE
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
    "DEFAULT_MAX_COLUMNS",
    "DEFAULT_MAX_POINTS",
    "DEFAULT_MESH_POINTS",
    "MAX_COORDINATE",
    "MESH_EXTENSIONS",
    "PointCloud",
    "ResampledWarning",
    "SUPPORTED_EXTENSIONS",
    "WRITE_EXTENSIONS",
    "read_points",
    "write_points",
]
