"""Points on a triangle mesh: uniform by area, oversampled, then spread out by FPS.

``oversample * num_points`` points are drawn uniformly over the surface (a triangle chosen with
probability proportional to its area, a uniform point in it), then farthest point sampling keeps
``num_points`` of them, so the result covers the surface evenly without the clumps of plain random
sampling (the recipe of PointNet++'s ``modelnet40_normal_resampled``). Each point carries its
triangle's unit normal. Seeded: the same mesh, count and seed give the same points.

FPS here is the network's own :func:`pointea.layers.sampling.fps` (its pure-torch loop on the CPU,
imported on the first mesh, so reading point files never imports torch for it); it decides how
long converting ModelNet40's 12,311 meshes takes (``docs/bench/sampling/notes.md``: as fast as the NumPy loop it replaced).

Shape legend: V vertices, T triangles, M drawn points, K kept points.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pointea.errors import DataError

__all__ = ["sample_mesh", "DEFAULT_OVERSAMPLE"]

DEFAULT_OVERSAMPLE = 4


def sample_mesh(
    path: Path,
    vertices: np.ndarray,
    triangles: np.ndarray,
    num_points: int,
    seed: int = 0,
    oversample: int = DEFAULT_OVERSAMPLE,
) -> tuple[np.ndarray, np.ndarray]:
    """Sample ``num_points`` surface points and their normals.

    Raises:
        DataError: no triangles, or every triangle has zero area.

    Shapes:
        vertices: (V, 3); triangles: (T, 3) int; returns points (K, 3), normals (K, 3) float32
    """
    if num_points < 1 or oversample < 1:
        raise DataError(
            f"{path}: need num_points >= 1 and oversample >= 1, got {num_points}, {oversample}"
        )
    if triangles.shape[0] == 0:
        raise DataError(f"{path}: the mesh has no faces, nothing to sample points from")
    corners = vertices[triangles]  # (T, 3 corners, 3)
    cross = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])  # (T, 3)
    doubled_area = np.linalg.norm(cross, axis=1)  # (T,)
    total = doubled_area.sum()
    if not total > 0:
        raise DataError(f"{path}: the mesh has zero surface area ({triangles.shape[0]} faces)")
    if not np.isfinite(total):
        raise DataError(f"{path}: the mesh's surface area overflows; centre and scale its vertices")
    rng = np.random.default_rng(seed)
    drawn = num_points * oversample
    chosen = rng.choice(triangles.shape[0], size=drawn, p=doubled_area / total)  # (M,)
    u, v = rng.random((2, drawn))
    flip = u + v > 1  # reflect into the triangle
    u[flip], v[flip] = 1 - u[flip], 1 - v[flip]
    a, b, c = corners[chosen, 0], corners[chosen, 1], corners[chosen, 2]  # (M, 3) each
    points = a + u[:, None] * (b - a) + v[:, None] * (c - a)  # (M, 3)
    normals = cross[chosen] / doubled_area[chosen, None]  # (M, 3), unit
    import torch  # here, not at the top: reading point files needs no torch

    from pointea.layers.sampling import fps

    keep = fps(torch.from_numpy(points.astype(np.float32)), num_points).numpy()  # (K,)
    return points[keep].astype(np.float32), normals[keep].astype(np.float32)
