"""The one result type of :func:`pointea.io.read_points`: a point cloud and what was read.

Shape legend: N points.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["PointCloud"]


@dataclass(frozen=True)
class PointCloud:
    """Points read from one file, with the per-point attributes the file had.

    Args:
        points: coordinates (relative to ``origin`` when that is set).
        normals: unit normals, when the file has them (meshes: the sampled triangle's normal).
        colours: RGB in [0, 1], when the file has them (0..255 files are divided by 255).
        labels: one integer per point (a label column, a ``.seg`` file, a LAS classification).
        path: the file read.
        columns: what was read, in file order, e.g. ``("x", "y", "z", "nx", "ny", "nz")``; a column
            read but not used is ``"-"``; a mesh gives ``("mesh",)``.
        num_source_points: points in the file (meshes: vertices) before any resampling.
        resampled: ``True`` when the file had fewer points than asked for and points were drawn
            again with replacement to reach ``num_points``.
        origin: float64 offset to add to ``points`` for the true coordinates (LAS/LAZ files store
            georeferenced coordinates that float32 cannot hold to the millimetre, and any file
            whose coordinates lie far from zero compared with its extent is centred, see
            :mod:`pointea.io.columns`); ``None`` when ``points`` are the file's coordinates.

    Shapes:
        points: (N, 3) float32; normals, colours: (N, 3) float32; labels: (N,) int64; origin: (3,)
    """

    points: np.ndarray
    normals: np.ndarray | None = None
    colours: np.ndarray | None = None
    labels: np.ndarray | None = None
    path: Path | None = None
    columns: tuple[str, ...] = ()
    num_source_points: int = 0
    resampled: bool = False
    origin: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.points.shape[0])

    def true_points(self) -> np.ndarray:
        """The file's coordinates in float64: ``points + origin``.

        Shapes:
            returns (N, 3) float64
        """
        points = self.points.astype(np.float64)
        return points if self.origin is None else points + self.origin
