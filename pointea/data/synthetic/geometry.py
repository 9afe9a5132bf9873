"""Triangle meshes for the synthetic shapes: parametric surfaces, posing, sampling by area.

Every synthetic shape is a triangle soup, batched over S shapes of one kind: ``(S, T, 3, 3)``
(shape, triangle, corner, xyz). Surfaces of revolution (sphere, cylinder, cone, torus, capsule,
bowl, lamp shade, mug body) come from one :func:`revolve` of a per-shape profile; tubes along a
path (helix, mug handle) from :func:`tube`; boxes from :func:`box`. Canonical frame: y is up, as
in ModelNet40/ShapeNetPart. Points are drawn uniformly by area on the posed surface, so thin parts
get few points and large parts many, as on a scanned object. Everything is vectorised over
shapes; nothing loops per shape or per point in Python.

Shape legend: S shapes, T triangles, P points per shape, K x J grid of surface vertices (K profile
or path points, J segments around).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "arc_profile",
    "box",
    "grid_triangles",
    "polyhedron",
    "pose",
    "revolve",
    "rotation",
    "sample_surface",
    "tube",
]


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


_BOX_CORNERS = np.array(
    [[x, y, z] for x in (-1.0, 1.0) for y in (-1.0, 1.0) for z in (-1.0, 1.0)]
)  # (8, 3): corner index = 4 * (x > 0) + 2 * (y > 0) + (z > 0)
_BOX_FACES = np.array(
    [
        [0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5],  # x = -1, x = +1
        [0, 4, 5], [0, 5, 1], [2, 3, 7], [2, 7, 6],  # y = -1, y = +1
        [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3],  # z = -1, z = +1
    ]
)  # fmt: skip  (12, 3)


def revolve(radius: np.ndarray, height: np.ndarray, segments: int = 32) -> np.ndarray:
    """Revolve a profile curve (radius, height) about the y axis.

    A profile point with radius 0 closes the surface there (a cap centre or a pole).

    Shapes:
        radius, height: (S, K); returns (S, 2 * (K - 1) * segments, 3, 3)
    """
    angle = np.linspace(0.0, 2.0 * np.pi, segments + 1)  # (J + 1,), last equals first
    x = radius[:, :, None] * np.cos(angle)  # (S, K, J + 1)
    z = radius[:, :, None] * np.sin(angle)
    y = np.broadcast_to(height[:, :, None], x.shape)
    return grid_triangles(np.stack([x, y, z], axis=-1))  # grid (S, K, J + 1, 3)


def arc_profile(
    centre_radius: np.ndarray,
    centre_height: np.ndarray,
    size: np.ndarray,
    start: float,
    stop: float | np.ndarray,
    steps: int,
) -> tuple[np.ndarray, np.ndarray]:
    """A circular arc in the (radius, height) plane, as a profile for :func:`revolve`.

    Angles are measured from the -y direction towards +radius: 0 is straight down, pi/2 points
    outwards, pi straight up.

    Shapes:
        centre_radius, centre_height, size: (S,); stop: scalar or (S,);
        returns radius, height (S, steps)
    """
    fraction = np.linspace(0.0, 1.0, steps)  # (steps,)
    theta = start + (np.reshape(stop, (-1, 1)) - start) * fraction  # (S or 1, steps)
    radius = centre_radius[:, None] + size[:, None] * np.sin(theta)
    height = centre_height[:, None] - size[:, None] * np.cos(theta)
    return np.maximum(radius, 0.0), height


def tube(path: np.ndarray, radius: np.ndarray, reference: np.ndarray, sides: int = 12) -> np.ndarray:
    """An open tube of circular cross-section swept along a path.

    The cross-section frame is built from the path tangent and ``reference``, a direction never
    parallel to the path (e.g. the axis of a helix's coil plane normal, or z for a handle in xy).

    Shapes:
        path: (S, K, 3); radius: (S,); reference: (3,); returns (S, 2 * (K - 1) * sides, 3, 3)
    """
    tangent = np.gradient(path, axis=1)  # (S, K, 3)
    normal = np.cross(tangent, reference)
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
    binormal = np.cross(tangent, normal)
    binormal /= np.linalg.norm(binormal, axis=-1, keepdims=True)
    angle = np.linspace(0.0, 2.0 * np.pi, sides + 1)  # (J + 1,)
    ring = np.cos(angle)[:, None] * normal[:, :, None] + np.sin(angle)[:, None] * binormal[:, :, None]
    grid = path[:, :, None] + radius[:, None, None, None] * ring  # (S, K, J + 1, 3)
    return grid_triangles(grid)


def box(centre: np.ndarray, half_size: np.ndarray) -> np.ndarray:
    """Axis-aligned boxes (closed, 12 triangles each).

    Shapes:
        centre, half_size: (S, 3); returns (S, 12, 3, 3)
    """
    corners = centre[:, None] + half_size[:, None] * _BOX_CORNERS  # (S, 8, 3)
    return corners[:, _BOX_FACES]  # (S, 12, 3, 3)


def polyhedron(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Triangles of a polyhedron given its vertices per shape and triangular faces.

    Shapes:
        vertices: (S, V, 3); faces: (F, 3) int; returns (S, F, 3, 3)
    """
    return vertices[:, faces]
