"""Synthetic classification set: 12 classes of procedural surfaces, ModelNet40-style.

Each class is a family of surfaces with its own random parameters (aspect ratios, radii, number of
turns, waist ...). Every shape then gets a random pose: mild anisotropic scaling (x0.85..1.15 per
axis), a full turn about the up axis plus a tilt of up to 15 degrees, centring and scaling into the
unit sphere, a random size in [0.75, 1] and Gaussian surface noise (sigma 0.003..0.012). Size is
drawn the same way for every class, so classes differ by shape, never by scale alone; several pairs
are close (sphere/capsule, cylinder/capsule, pyramid/octahedron, cone/hourglass) so the task is not
trivial.

Shape legend: S shapes of one class, P points per shape, T triangles.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pointea.data.synthetic.geometry import (
    arc_profile,
    box,
    polyhedron,
    pose,
    revolve,
    rotation,
    sample_surface,
    tube,
)

__all__ = ["CLASS_NAMES", "generate_classification", "normalize_clouds"]

_PYRAMID_FACES = np.array([[0, 1, 2], [0, 2, 3], [0, 1, 4], [1, 2, 4], [2, 3, 4], [3, 0, 4]])
_OCTAHEDRON_FACES = np.array(
    [[0, 2, 4], [2, 1, 4], [1, 3, 4], [3, 0, 4], [2, 0, 5], [1, 2, 5], [3, 1, 5], [0, 3, 5]]
)  # vertices: +x, -x, +z, -z, +y, -y


def _uniform(rng: np.random.Generator, low: float, high: float, count: int) -> np.ndarray:
    return rng.uniform(low, high, size=count)


def _sphere(count: int, rng: np.random.Generator) -> np.ndarray:
    one = np.ones(count)
    return revolve(*arc_profile(0 * one, 0 * one, one, 0.0, np.pi, 17))


def _box(count: int, rng: np.random.Generator) -> np.ndarray:
    half = rng.uniform(0.45, 1.0, size=(count, 3))
    return box(np.zeros((count, 3)), half)


def _cylinder(count: int, rng: np.random.Generator) -> np.ndarray:
    h = _uniform(rng, 0.6, 1.4, count)
    zero, one = np.zeros(count), np.ones(count)
    radius = np.stack([zero, one, one, zero], axis=1)  # (S, 4)
    height = np.stack([-h, -h, h, h], axis=1)
    return revolve(radius, height)


def _cone(count: int, rng: np.random.Generator) -> np.ndarray:
    h = _uniform(rng, 0.8, 1.5, count)
    zero, one = np.zeros(count), np.ones(count)
    return revolve(np.stack([zero, one, zero], axis=1), np.stack([-h, -h, h], axis=1))


def _torus(count: int, rng: np.random.Generator) -> np.ndarray:
    tube_radius = _uniform(rng, 0.25, 0.45, count)
    radius, height = arc_profile(np.ones(count), np.zeros(count), tube_radius, 0.0, 2 * np.pi, 17)
    return revolve(radius, height)


def _pyramid(count: int, rng: np.random.Generator) -> np.ndarray:
    h = _uniform(rng, 1.0, 2.0, count)
    vertices = np.zeros((count, 5, 3))
    vertices[:, :4, 0] = [1, 1, -1, -1]
    vertices[:, :4, 2] = [1, -1, -1, 1]
    vertices[:, :4, 1] = -h[:, None] / 2
    vertices[:, 4, 1] = h / 2
    return polyhedron(vertices, _PYRAMID_FACES)


def _capsule(count: int, rng: np.random.Generator) -> np.ndarray:
    half = _uniform(rng, 0.6, 1.4, count)
    zero, one = np.zeros(count), np.ones(count)
    low_r, low_h = arc_profile(zero, -half, one, 0.0, np.pi / 2, 9)
    high_r, high_h = arc_profile(zero, half, one, np.pi / 2, np.pi, 9)
    return revolve(np.concatenate([low_r, high_r], 1), np.concatenate([low_h, high_h], 1))


def _bowl(count: int, rng: np.random.Generator) -> np.ndarray:
    rim = _uniform(rng, 1.35, 1.75, count)  # opening angle from the bottom pole
    one = np.ones(count)
    return revolve(*arc_profile(0 * one, 0 * one, one, 0.0, rim, 13))


def _octahedron(count: int, rng: np.random.Generator) -> np.ndarray:
    extent = rng.uniform(0.7, 1.0, size=(count, 3))
    vertices = np.zeros((count, 6, 3))
    for slot, axis in enumerate((0, 2, 1)):  # vertex pairs (+x, -x), (+z, -z), (+y, -y)
        vertices[:, 2 * slot, axis] = extent[:, axis]
        vertices[:, 2 * slot + 1, axis] = -extent[:, axis]
    return polyhedron(vertices, _OCTAHEDRON_FACES)


def _helix(count: int, rng: np.random.Generator) -> np.ndarray:
    turns = _uniform(rng, 2.0, 4.0, count)
    half_height = _uniform(rng, 0.7, 1.2, count)
    step = np.linspace(0.0, 1.0, 97)  # (K,)
    angle = 2 * np.pi * turns[:, None] * step  # (S, K)
    path = np.stack(
        [np.cos(angle), half_height[:, None] * (2 * step - 1), np.sin(angle)], axis=-1
    )  # (S, K, 3)
    return tube(path, _uniform(rng, 0.12, 0.2, count), reference=np.array([0.0, 1.0, 0.0]))


def _cross(count: int, rng: np.random.Generator) -> np.ndarray:
    thickness = _uniform(rng, 0.15, 0.3, count)
    arms = []
    for axis in range(3):
        half = np.repeat(thickness[:, None], 3, axis=1)  # (S, 3)
        half[:, axis] = 1.0
        arms.append(box(np.zeros((count, 3)), half))
    return np.concatenate(arms, axis=1)  # (S, 36, 3, 3)


def _hourglass(count: int, rng: np.random.Generator) -> np.ndarray:
    h = _uniform(rng, 0.8, 1.4, count)
    waist = _uniform(rng, 0.15, 0.4, count)
    zero, one = np.zeros(count), np.ones(count)
    radius = np.stack([zero, one, waist, one, zero], axis=1)  # (S, 5)
    height = np.stack([-h, -h, 0 * h, h, h], axis=1)
    return revolve(radius, height)


_BUILDERS: dict[str, Callable[[int, np.random.Generator], np.ndarray]] = {
    "sphere": _sphere,
    "box": _box,
    "cylinder": _cylinder,
    "cone": _cone,
    "torus": _torus,
    "pyramid": _pyramid,
    "capsule": _capsule,
    "bowl": _bowl,
    "octahedron": _octahedron,
    "helix": _helix,
    "cross": _cross,
    "hourglass": _hourglass,
}
#: Class names in label order.
CLASS_NAMES: tuple[str, ...] = tuple(_BUILDERS)


def normalize_clouds(points: np.ndarray) -> np.ndarray:
    """Centre every cloud on its centroid and scale it so its farthest point has norm 1.

    Shapes:
        points: (S, P, 3); returns (S, P, 3)
    """
    centred = points - points.mean(axis=1, keepdims=True)
    radius = np.linalg.norm(centred, axis=-1).max(axis=1)  # (S,)
    return centred / radius[:, None, None]


def _random_pose(triangles: np.ndarray, rng: np.random.Generator, tilt: float) -> np.ndarray:
    """Mild anisotropic scale, a full yaw turn and a tilt of up to ``tilt`` radians.

    Shapes:
        triangles: (S, T, 3, 3); returns (S, T, 3, 3)
    """
    count = triangles.shape[0]
    scale = rng.uniform(0.85, 1.15, size=(count, 3))
    yaw = rotation(1, rng.uniform(0, 2 * np.pi, count))
    roll = rotation(0, rng.uniform(-tilt, tilt, count))
    pitch = rotation(2, rng.uniform(-tilt, tilt, count))
    return pose(triangles, scale=scale, rotate=pitch @ roll @ yaw)


def generate_classification(
    shapes_per_class: int, rng: np.random.Generator, num_points: int = 2048
) -> tuple[np.ndarray, np.ndarray]:
    """Generate ``shapes_per_class`` shapes of every class, shuffled.

    Returns:
        points within the unit sphere (float32) and labels (index into :data:`CLASS_NAMES`).

    Shapes:
        returns points (C * S, P, 3) float32, labels (C * S,) int64, C classes, S shapes_per_class
    """
    clouds, labels = [], []
    for label, build in enumerate(_BUILDERS.values()):
        triangles = _random_pose(build(shapes_per_class, rng), rng, tilt=np.radians(15))
        points, _ = sample_surface(triangles, num_points, rng)
        size = rng.uniform(0.75, 1.0, size=(shapes_per_class, 1, 1))
        points = normalize_clouds(points) * size
        noise = rng.uniform(0.003, 0.012, size=(shapes_per_class, 1, 1))
        points = points + noise * rng.standard_normal(points.shape)
        clouds.append(points)
        labels.append(np.full(shapes_per_class, label))
    order = rng.permutation(shapes_per_class * len(_BUILDERS))
    points = np.concatenate(clouds)[order].astype(np.float32)  # (C * S, P, 3)
    return points, np.concatenate(labels)[order].astype(np.int64)
