"""Triangle meshes for the synthetic shapes: building them from grids, posing and sampling them.

Every synthetic shape is a triangle soup, batched over S shapes of one kind: ``(S, T, 3, 3)``
(shape, triangle, corner, xyz). Points are drawn uniformly by area on the posed surface, so
thin parts get few points and large parts many, as on a scanned object. Everything is vectorised
over shapes; nothing loops per shape or per point in Python.

Shape legend: S shapes, T triangles, P points per shape, K x J grid of surface vertices.
"""

from __future__ import annotations

import numpy as np

__all__ = ["grid_triangles", "pose", "sample_surface", "rotation"]


def grid_triangles(grid: np.ndarray) -> np.ndarray:
    """Triangulate a (K, J) grid of vertices per shape, two triangles per grid cell.

    Shapes:
        grid: (S, K, J, 3); returns (S, 2 * (K - 1) * (J - 1), 3, 3)
    """
    a = grid[:, :-1, :-1]  # (S, K-1, J-1, 3)
    b = grid[:, 1:, :-1]
    c = grid[:, 1:, 1:]
    d = grid[:, :-1, 1:]
    cells = np.stack([np.stack([a, b, c], axis=-2), np.stack([a, c, d], axis=-2)], axis=3)
    return cells.reshape(grid.shape[0], -1, 3, 3)  # (S, K-1, J-1, 2, 3, 3) -> (S, T, 3, 3)


def rotation(axis: int, angle: np.ndarray) -> np.ndarray:
    """Rotations by ``angle`` (radians) about coordinate ``axis``, one per shape.

    Shapes:
        angle: (S,); returns (S, 3, 3)
    """
    cos, sin = np.cos(angle), np.sin(angle)
    i, j = [a for a in range(3) if a != axis]
    matrices = np.zeros((angle.shape[0], 3, 3))
    matrices[:, axis, axis] = 1.0
    matrices[:, i, i], matrices[:, i, j] = cos, -sin
    matrices[:, j, i], matrices[:, j, j] = sin, cos
    return matrices


def pose(
    triangles: np.ndarray,
    scale: np.ndarray | None = None,
    rotate: np.ndarray | None = None,
    shift: np.ndarray | None = None,
) -> np.ndarray:
    """Scale per axis, then rotate, then shift every vertex, per shape.

    Shapes:
        triangles: (S, T, 3, 3); scale: (S, 3); rotate: (S, 3, 3); shift: (S, 3);
        returns (S, T, 3, 3)
    """
    out = triangles
    if scale is not None:
        out = out * scale[:, None, None, :]
    if rotate is not None:
        out = np.einsum("stcj,sij->stci", out, rotate)
    if shift is not None:
        out = out + shift[:, None, None, :]
    return out


def sample_surface(
    triangles: np.ndarray, num_points: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Draw points uniformly by area on each shape's triangles.

    Triangles of zero area (degenerate, or parts scaled to zero to switch them off) are never hit.

    Returns:
        points, and the index of the triangle each point lies on (to look up part labels).

    Shapes:
        triangles: (S, T, 3, 3); returns points (S, P, 3), triangle index (S, P) int64
    """
    shapes, count = triangles.shape[:2]
    a, b, c = triangles[:, :, 0], triangles[:, :, 1], triangles[:, :, 2]  # (S, T, 3) each
    areas = 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=-1)  # (S, T)
    cdf = np.cumsum(areas, axis=1)
    cdf /= cdf[:, -1:]
    # One sorted search for all shapes: shape s owns the interval (s, s + 1] of the offset CDF.
    offsets = np.arange(shapes)[:, None]  # (S, 1)
    draws = rng.random((shapes, num_points)) + offsets  # (S, P)
    flat = np.searchsorted((cdf + offsets).ravel(), draws.ravel(), side="right")  # (S * P,)
    index = np.clip(flat.reshape(shapes, num_points) - offsets * count, 0, count - 1)  # (S, P)
    rows = np.arange(shapes)[:, None]
    corner_a, corner_b, corner_c = a[rows, index], b[rows, index], c[rows, index]  # (S, P, 3)
    root = np.sqrt(rng.random((shapes, num_points, 1)))
    mix = rng.random((shapes, num_points, 1))
    points = (1 - root) * corner_a + root * (1 - mix) * corner_b + root * mix * corner_c
    return points, index
