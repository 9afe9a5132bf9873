"""Synthetic clouds with exact analytic normals, for training and testing normal estimation.

Five smooth or piecewise-flat surfaces, each sampled directly from its parametrisation, so every
point's normal is the surface's true normal (not a triangle's): ellipsoids, boxes, capped
cylinders, capped cones and tori. Each shape then gets a random pose: an anisotropic scale
``D`` (x0.7..1.3 per axis) and a rotation ``R`` uniform on SO(3); points map as ``p -> R D p`` and
normals as ``n -> R D^-1 n``, renormalised (the inverse-transpose rule). Finally every cloud is
centred and scaled into the unit sphere (a translation and an isotropic scale leave normals as
they are). Points on a flat face are area-uniform; curved surfaces are sampled by rejection against
their area element, so density is uniform over the surface too.

Labels: the surface's family (0..4, :data:`NORMAL_CLASS_NAMES`). Seeded: the same seed, counts
and points give the same clouds.

Shape legend: S shapes, P points per shape.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["NORMAL_CLASS_NAMES", "generate_normals"]

NORMAL_CLASS_NAMES = ("ellipsoid", "box", "cylinder", "cone", "torus")


def _unit(vectors: np.ndarray) -> np.ndarray:
    """Shapes: (..., 3) -> (..., 3), each row scaled to unit length."""
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


def _ellipsoid(count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Semi-axes a in [0.5, 1]^3: p = a * u for u on the unit sphere, n ∝ u / a (the gradient of
    sum (p / a)^2). Area-uniform by rejection on the area element |u / a| * prod(a)."""
    axes = rng.uniform(0.5, 1.0, size=3)
    kept_points, kept_normals, total = [], [], 0
    scale = np.linalg.norm(1.0 / axes)  # the area element's upper bound, up to the common prod(a)
    while total < count:
        u = _unit(rng.standard_normal((2 * count, 3)))  # (2P, 3), uniform on the sphere
        gradient = u / axes
        keep = rng.random(len(u)) * scale < np.linalg.norm(gradient, axis=1)
        kept_points.append(u[keep] * axes)
        kept_normals.append(_unit(gradient[keep]))
        total += int(keep.sum())
    return np.concatenate(kept_points)[:count], np.concatenate(kept_normals)[:count]


def _box(count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Half sizes h in [0.3, 1]^3; each of the 6 faces drawn in proportion to its area."""
    half = rng.uniform(0.3, 1.0, size=3)
    axis = np.arange(3)
    face_area = np.array([half[(a + 1) % 3] * half[(a + 2) % 3] for a in axis])  # (3,)
    face = rng.choice(6, size=count, p=np.tile(face_area, 2) / (2 * face_area.sum()))  # (P,)
    normal_axis, sign = face % 3, np.where(face < 3, 1.0, -1.0)
    points = rng.uniform(-1.0, 1.0, size=(count, 3)) * half
    points[np.arange(count), normal_axis] = sign * half[normal_axis]
    normals = np.zeros((count, 3))
    normals[np.arange(count), normal_axis] = sign
    return points, normals


def _cylinder(count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Radius 1, half height h in [0.5, 1.5] about y, with both caps."""
    h = rng.uniform(0.5, 1.5)
    side_area, cap_area = 2 * np.pi * 2 * h, np.pi
    part = rng.choice(3, size=count, p=np.array([side_area, cap_area, cap_area]) / (side_area + 2 * cap_area))
    angle = rng.uniform(0, 2 * np.pi, size=count)
    radius = np.where(part == 0, 1.0, np.sqrt(rng.random(count)))  # caps: area-uniform discs
    y = np.where(part == 0, rng.uniform(-h, h, size=count), np.where(part == 1, h, -h))
    points = np.stack([radius * np.cos(angle), y, radius * np.sin(angle)], axis=1)
    side = np.stack([np.cos(angle), np.zeros(count), np.sin(angle)], axis=1)
    cap = np.stack([np.zeros(count), np.where(part == 1, 1.0, -1.0), np.zeros(count)], axis=1)
    return points, np.where((part == 0)[:, None], side, cap)


def _cone(count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Base radius 1 at y = -h, apex at y = +h (h in [0.6, 1.4]), with its base disc."""
    h = rng.uniform(0.6, 1.4)
    slant = np.hypot(1.0, 2 * h)
    side_area, base_area = np.pi * slant, np.pi
    side = rng.random(count) < side_area / (side_area + base_area)
    angle = rng.uniform(0, 2 * np.pi, size=count)
    # side: radius r = 1 - t with density ∝ r (area element), base: area-uniform disc
    radius = np.sqrt(rng.random(count))
    y = np.where(side, -h + 2 * h * (1 - radius), -h)
    points = np.stack([radius * np.cos(angle), y, radius * np.sin(angle)], axis=1)
    # the side's outward normal: (2h cos, 1, 2h sin) / slant (perpendicular to the slant line)
    side_normal = np.stack([2 * h * np.cos(angle), np.ones(count), 2 * h * np.sin(angle)], axis=1) / slant
    base_normal = np.tile([0.0, -1.0, 0.0], (count, 1))
    return points, np.where(side[:, None], side_normal, base_normal)


def _torus(count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Ring radius 1, tube radius r in [0.2, 0.5], about y; the tube angle by rejection on the
    area element (1 + r cos v)."""
    r = rng.uniform(0.2, 0.5)
    v = np.empty(0)
    while v.size < count:
        candidate = rng.uniform(0, 2 * np.pi, size=2 * count)
        keep = rng.random(2 * count) * (1 + r) < 1 + r * np.cos(candidate)
        v = np.concatenate([v, candidate[keep]])
    v = v[:count]
    u = rng.uniform(0, 2 * np.pi, size=count)
    ring = 1 + r * np.cos(v)
    points = np.stack([ring * np.cos(u), r * np.sin(v), ring * np.sin(u)], axis=1)
    normals = np.stack([np.cos(v) * np.cos(u), np.sin(v), np.cos(v) * np.sin(u)], axis=1)
    return points, normals


_SURFACES: tuple[Callable[[int, np.random.Generator], tuple[np.ndarray, np.ndarray]], ...] = (
    _ellipsoid, _box, _cylinder, _cone, _torus,
)  # fmt: skip


def _rotation(rng: np.random.Generator) -> np.ndarray:
    """A rotation uniform on SO(3) (QR of a Gaussian matrix, signs fixed).  Shapes: (3, 3)."""
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def generate_normals(
    per_class: int, rng: np.random.Generator, num_points: int = 2048, noise: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``per_class`` posed clouds of every surface family, in class order.

    Args:
        per_class: shapes per family.
        rng: the generator every draw comes from.
        num_points: points per cloud.
        noise: standard deviation of Gaussian noise added to the points after normalisation
            (normals stay the clean surface's); 0 keeps points exactly on the surface.

    Shapes:
        returns points (S, P, 3) float32, normals (S, P, 3) float32 unit, labels (S,) int64,
        S = 5 * per_class
    """
    points, normals, labels = [], [], []
    for label, surface in enumerate(_SURFACES):
        for _ in range(per_class):
            p, n = surface(num_points, rng)  # (P, 3) each
            scale = rng.uniform(0.7, 1.3, size=3)  # D, diagonal
            rotation = _rotation(rng)
            p = (p * scale) @ rotation.T  # p -> R D p, row vectors
            n = _unit((n / scale) @ rotation.T)  # n -> R D^-1 n, renormalised
            p = p - p.mean(axis=0)
            p = p / np.linalg.norm(p, axis=1).max()
            if noise > 0:
                p = p + noise * rng.standard_normal(p.shape)
            points.append(p)
            normals.append(n)
            labels.append(label)
    return (
        np.stack(points).astype(np.float32),
        np.stack(normals).astype(np.float32),
        np.asarray(labels, dtype=np.int64),
    )
