"""Point files as the viewers draw them: read through :func:`pointea.io.read_points`, coloured by
the file's own per-point labels, else its colours, else z (viridis).

Shape legend: N points, U distinct labels.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from pointea.io import PointCloud, ResampledWarning, read_points
from visualize.cloud import Cloud
from visualize.colors import label_colors, scalar_colors

__all__ = ["read_file", "file_cloud", "file_title"]


def read_file(path: str | Path, max_points: int, seed: int = 0) -> PointCloud:
    """``max_points`` points of the file: a seeded subset of a point file, or samples of a mesh.
    A smaller file is shown whole (its repeated points fall on themselves)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResampledWarning)
        return read_points(path, max_points, seed=seed)


def file_cloud(cloud: PointCloud) -> Cloud:
    """The cloud coloured by its labels (any integers: one palette colour per distinct value),
    else its own colours, else its z coordinate."""
    points = cloud.points.astype(np.float64)
    if cloud.labels is not None:
        _, index = np.unique(cloud.labels, return_inverse=True)  # (N,) in [0, U)
        return Cloud(points, label_colors(index.reshape(-1), int(index.max()) + 1))
    if cloud.colours is not None:
        return Cloud(points, cloud.colours.astype(np.float64))
    return Cloud(points, scalar_colors(points[:, 2]))


def file_title(cloud: PointCloud) -> str:
    """``name: N points`` and what colours them."""
    name = cloud.path.name if cloud.path is not None else "points"
    kind = "mesh" if cloud.columns == ("mesh",) else f"{cloud.num_source_points:,} points"
    colour = "labels" if cloud.labels is not None else "rgb" if cloud.colours is not None else "z"
    return f"{name}: {kind}, {colour}"
