"""Synthetic part-segmentation set: objects assembled from labelled parts, ShapeNetPart-style.

Five categories, each mapped onto its real ShapeNetPart category id and that category's standard
part ids, so models and metrics see the usual 16-category / 50-part label space:

    Airplane (0):  body 0, wing 1, tail 2 (stabiliser and fin), engine 3
    Lamp (8):      base 24, shade 25, bracket 26, stem 27
    Mug (11):      handle 36, body 37
    Rocket (13):   body 41, fin 42, nose 43
    Table (15):    top 47, leg 48, drawer 49 (present in about half of the tables)

Part names are this generator's own; only the ids follow the standard ranges. Proportions vary per
shape; the pose is mild (aspect x0.9..1.1 per axis, yaw within 15 degrees, upright as in
ShapeNetPart), then clouds are centred, scaled into the unit sphere with a size in [0.8, 1] and
given Gaussian noise (sigma 0.002..0.006). Points are drawn uniformly by area, and every point
takes the part label of the triangle it lies on.

Shape legend: S shapes of one category, P points per shape, T triangles.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pointea.data.shapenetpart import ShapeNetPart
from pointea.data.synthetic.classification import normalize_clouds
from pointea.data.synthetic.geometry import box, pose, revolve, rotation, sample_surface, tube

__all__ = ["PART_CATEGORIES", "generate_parts"]

Parts = list[tuple[np.ndarray, int]]  # (triangles (S, T_i, 3, 3), global part id) per part


def _uniform(rng: np.random.Generator, low: float, high: float, count: int) -> np.ndarray:
    return rng.uniform(low, high, size=count)


def _cylinder(
    radius: np.ndarray, bottom: np.ndarray, top: np.ndarray, segments: int = 24
) -> np.ndarray:
    """Closed vertical cylinders.  Shapes: all (S,); returns (S, T, 3, 3)."""
    zero = np.zeros_like(radius)
    return revolve(
        np.stack([zero, radius, radius, zero], axis=1),  # (S, 4)
        np.stack([bottom, bottom, top, top], axis=1),
        segments,
    )


def _along_x(triangles: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Turn y-axis solids to lie along x (y -> x), then shift.  Shapes: (S, T, 3, 3), (S, 3)."""
    turn = rotation(2, np.full(triangles.shape[0], -np.pi / 2))
    return pose(triangles, rotate=turn, shift=shift)


def _airplane(count: int, rng: np.random.Generator) -> Parts:
    length = _uniform(rng, 0.9, 1.1, count)
    radius = _uniform(rng, 0.09, 0.14, count)
    along = np.array([-1.0, -0.95, -0.8, -0.3, 0.6, 0.85, 1.0])  # (K,), tail to nose
    width = np.array([0.0, 0.45, 0.8, 1.0, 1.0, 0.6, 0.0])
    body = revolve(radius[:, None] * width, length[:, None] * along)  # (S, T, 3, 3) along y
    body = _along_x(body, np.zeros((count, 3)))

    wing_x = _uniform(rng, -0.15, 0.1, count)
    span = _uniform(rng, 0.8, 1.1, count)
    chord = _uniform(rng, 0.12, 0.2, count)
    zero = np.zeros(count)
    wings = box(
        np.stack([wing_x, zero, zero], 1), np.stack([chord, np.full(count, 0.015), span], 1)
    )

    tail_x = -0.85 * length
    fin_height = _uniform(rng, 0.1, 0.15, count)
    stabiliser = box(
        np.stack([tail_x, zero, zero], 1),
        np.stack([np.full(count, 0.07), np.full(count, 0.012), _uniform(rng, 0.25, 0.35, count)], 1),
    )
    fin = box(
        np.stack([tail_x, radius + fin_height, zero], 1),
        np.stack([np.full(count, 0.08), fin_height, np.full(count, 0.012)], 1),
    )

    engine_radius = _uniform(rng, 0.04, 0.06, count)
    engine = _cylinder(engine_radius, np.full(count, -0.12), np.full(count, 0.12), segments=16)
    engines = [
        _along_x(engine, np.stack([wing_x + 0.05, -0.03 - engine_radius, side * 0.45 * span], 1))
        for side in (-1.0, 1.0)
    ]
    return [(body, 0), (wings, 1), (stabiliser, 2), (fin, 2), (engines[0], 3), (engines[1], 3)]


def _lamp(count: int, rng: np.random.Generator) -> Parts:
    base_radius = _uniform(rng, 0.25, 0.4, count)
    base_height = _uniform(rng, 0.05, 0.1, count)
    height = _uniform(rng, 0.8, 1.2, count)
    stem_radius = _uniform(rng, 0.02, 0.035, count)
    shade_height = _uniform(rng, 0.25, 0.4, count)
    shade_bottom = _uniform(rng, 0.3, 0.45, count)
    shade_top = _uniform(rng, 0.1, 0.22, count)
    zero = np.zeros(count)
    base = _cylinder(base_radius, zero, base_height)
    stem = _cylinder(stem_radius, base_height, height, segments=12)
    bracket = _cylinder(2.5 * stem_radius, height - 0.03, height + 0.03, segments=12)
    shade = revolve(  # an open frustum around the top of the stem
        np.stack([shade_bottom, shade_top], 1),
        np.stack([height - 0.5 * shade_height, height + 0.5 * shade_height], 1),
    )
    return [(base, 24), (shade, 25), (bracket, 26), (stem, 27)]


def _mug(count: int, rng: np.random.Generator) -> Parts:
    radius = _uniform(rng, 0.4, 0.55, count)
    half_height = _uniform(rng, 0.45, 0.7, count)
    zero = np.zeros(count)
    body = revolve(  # bottom disc and wall, open at the top
        np.stack([zero, radius, radius], 1), np.stack([-half_height, -half_height, half_height], 1)
    )
    reach = _uniform(rng, 0.2, 0.3, count)
    drop = half_height * _uniform(rng, 0.45, 0.7, count)
    angle = np.linspace(0.0, np.pi, 25)  # (K,)
    path = np.stack(
        [radius[:, None] + reach[:, None] * np.sin(angle), drop[:, None] * np.cos(angle),
         np.zeros((count, angle.size))],
        axis=-1,
    )  # fmt: skip  (S, K, 3)
    handle = tube(path, _uniform(rng, 0.04, 0.06, count), reference=np.array([0.0, 0.0, 1.0]))
    return [(handle, 36), (body, 37)]


def _rocket(count: int, rng: np.random.Generator) -> Parts:
    radius = _uniform(rng, 0.14, 0.2, count)
    half_length = _uniform(rng, 0.7, 0.9, count)
    nose_height = _uniform(rng, 0.25, 0.45, count)
    zero = np.zeros(count)
    body = revolve(
        np.stack([zero, radius, radius], 1), np.stack([-half_length, -half_length, half_length], 1)
    )
    nose = revolve(np.stack([radius, zero], 1), np.stack([half_length, half_length + nose_height], 1))
    reach = _uniform(rng, 0.1, 0.18, count)
    fin_half_height = _uniform(rng, 0.12, 0.2, count)
    fin_y = -half_length + fin_half_height
    thin = np.full(count, 0.012)
    fins = []
    for sign in (-1.0, 1.0):
        out = sign * (radius + reach)
        fins.append(box(np.stack([out, fin_y, zero], 1), np.stack([reach, fin_half_height, thin], 1)))
        fins.append(box(np.stack([zero, fin_y, out], 1), np.stack([thin, fin_half_height, reach], 1)))
    return [(body, 41), *[(fin, 42) for fin in fins], (nose, 43)]


def _table(count: int, rng: np.random.Generator) -> Parts:
    width = _uniform(rng, 0.7, 1.1, count)
    depth = _uniform(rng, 0.45, 0.8, count)
    thickness = _uniform(rng, 0.025, 0.05, count)
    height = _uniform(rng, 0.55, 0.9, count)
    leg = _uniform(rng, 0.03, 0.06, count)
    zero = np.zeros(count)
    top = box(np.stack([zero, height, zero], 1), np.stack([width, thickness, depth], 1))
    legs = []
    for sx in (-1.0, 1.0):
        for sz in (-1.0, 1.0):
            centre = np.stack([sx * (width - leg - 0.04), height / 2, sz * (depth - leg - 0.04)], 1)
            legs.append(box(centre, np.stack([leg, height / 2, leg], 1)))
    drawer_height = _uniform(rng, 0.06, 0.1, count)
    present = (rng.random(count) < 0.5).astype(float)  # absent drawers get zero area
    drawer = box(
        np.stack([zero, height - thickness - drawer_height, zero], 1),
        present[:, None] * np.stack([0.6 * width, drawer_height, 0.8 * depth], 1),
    )
    return [(top, 47), *[(one_leg, 48) for one_leg in legs], (drawer, 49)]


_BUILDERS: dict[str, Callable[[int, np.random.Generator], Parts]] = {
    "Airplane": _airplane,
    "Lamp": _lamp,
    "Mug": _mug,
    "Rocket": _rocket,
    "Table": _table,
}
#: Synthetic categories (ShapeNetPart names, so their ids and part ranges are the standard ones).
PART_CATEGORIES: tuple[str, ...] = tuple(_BUILDERS)


def generate_parts(
    shapes_per_category: int, rng: np.random.Generator, num_points: int = 2048
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Generate ``shapes_per_category`` objects of every synthetic category, shuffled.

    Returns:
        points within the unit sphere (float32), ShapeNetPart category ids and global part ids.

    Shapes:
        returns points (C * S, P, 3) float32, categories (C * S,) int64, parts (C * S, P) int64
    """
    clouds, categories, labels = [], [], []
    for name, build in _BUILDERS.items():
        parts = build(shapes_per_category, rng)
        triangles = np.concatenate([t for t, _ in parts], axis=1)  # (S, T, 3, 3)
        part_of_triangle = np.concatenate([np.full(t.shape[1], p) for t, p in parts])  # (T,)
        count = shapes_per_category
        triangles = pose(
            triangles,
            scale=rng.uniform(0.9, 1.1, size=(count, 3)),
            rotate=rotation(1, rng.uniform(-np.pi / 12, np.pi / 12, count)),
        )
        points, triangle = sample_surface(triangles, num_points, rng)
        points = normalize_clouds(points) * rng.uniform(0.8, 1.0, size=(count, 1, 1))
        noise = rng.uniform(0.002, 0.006, size=(count, 1, 1))
        points = points + noise * rng.standard_normal(points.shape)
        clouds.append(points)
        categories.append(np.full(count, ShapeNetPart.CATEGORIES.index(name)))
        labels.append(part_of_triangle[triangle])  # (S, P)
    order = rng.permutation(shapes_per_category * len(_BUILDERS))
    return (
        np.concatenate(clouds)[order].astype(np.float32),
        np.concatenate(categories)[order].astype(np.int64),
        np.concatenate(labels)[order].astype(np.int64),
    )
