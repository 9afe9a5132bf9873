"""Procedural scenes, written on first use in the layouts real data comes in, so one reader serves both.

- **Rooms** (:func:`write_synthetic_rooms`), in S3DIS's 13-class space and Pointcept's layout
  (``Area_N/<room>/coord.npy`` float32 (N, 3) metres, ``color.npy`` uint8 (N, 3),
  ``segment.npy`` int16 (N,)): a floor, a ceiling, four walls with a door, a window and a board on
  them, sometimes a beam and a column, a table with chairs around it, a bookcase, sometimes a sofa,
  and clutter on the table and the floor. Every surface is sampled at ``density`` points per
  square metre with a per-class colour and a little noise, as a scanner sees it (door, board and
  window lie a few centimetres off their wall, whose points behind them are cut away).
- **Lidar tiles** (:func:`write_synthetic_tiles`), as LAS 1.4 point format 6 with ASPRS codes in
  ``classification``: rolling terrain (2 ground), buildings (6: roofs and some facade), trees
  (5 high vegetation crowns, 4 medium trunks), bushes (3 low vegetation), cars (64, the first
  user-definable code: ASPRS has no car class) and a few noise points (7 low, 18 high) and
  unclassified ones (1), with intensity, returns and GPS time, georeferenced around a real-looking
  offset (as LAS files are).

Both are deterministic in ``seed`` (one generator per scene, from a SeedSequence), so rooms of the
same seed are the same on every machine; files are written atomically (to a temporary name, then
renamed), and a complete set is never written twice.

Shape legend: N points, P points of one surface.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pointea.data.s3dis import S3DIS_CLASSES

__all__ = [
    "ASPRS_CAR",
    "RoomSettings",
    "generate_room",
    "write_synthetic_rooms",
    "generate_tile",
    "write_synthetic_tiles",
    "SYNTHETIC_ROOMS_MARKER",
    "SYNTHETIC_TILES_MARKER",
]

_ID = {name: label for label, name in enumerate(S3DIS_CLASSES)}

#: The code synthetic tiles give cars: 64 is the first user-definable ASPRS class.
ASPRS_CAR = 64

SYNTHETIC_ROOMS_MARKER = "pointea_synthetic_rooms.txt"
SYNTHETIC_TILES_MARKER = "pointea_synthetic_tiles.txt"

#: Mean RGB per class (S3DIS-like materials) and the noise added per point.
_COLOURS = {
    "ceiling": (225, 222, 214), "floor": (128, 112, 96), "wall": (196, 186, 164),
    "beam": (210, 208, 200), "column": (188, 184, 176), "window": (140, 170, 200),
    "door": (122, 84, 50), "table": (150, 110, 70), "chair": (44, 44, 52),
    "sofa": (120, 40, 40), "bookcase": (100, 70, 45), "board": (236, 238, 236),
}  # fmt: skip
_COLOUR_NOISE = 12.0


@dataclass(frozen=True)
class RoomSettings:
    """How rooms are drawn: surface density (points per m^2) and the room size ranges (metres)."""

    density: float = 400.0
    width: tuple[float, float] = (4.0, 7.0)
    depth: tuple[float, float] = (4.0, 6.0)
    height: tuple[float, float] = (2.7, 3.2)
    noise: float = 0.005


class _Surfaces:
    """Points of a scene as they are drawn: lists of (points, class) pieces with colours."""

    def __init__(self, rng: np.random.Generator, density: float, noise: float) -> None:
        self.rng, self.density, self.noise = rng, density, noise
        self.points: list[np.ndarray] = []
        self.labels: list[np.ndarray] = []
        self.colours: list[np.ndarray] = []

    def rectangle(self, corner: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Points on the parallelogram corner + s u + t v, s, t in [0, 1].  Shapes: -> (P, 3)."""
        area = float(np.linalg.norm(np.cross(u, v)))
        count = max(1, int(self.rng.poisson(self.density * area)))
        st = self.rng.random((count, 2))  # (P, 2)
        return corner + st[:, :1] * u + st[:, 1:] * v  # (P, 3)

    def box(self, low: np.ndarray, high: np.ndarray, bottom: bool = False) -> np.ndarray:
        """Points on a box's faces (no bottom face unless asked: it rests on something)."""
        low, high = np.asarray(low, float), np.asarray(high, float)
        size = high - low
        ex, ey, ez = np.diag(size)  # the three edge vectors
        faces = [
            (high * [0, 0, 1] + low * [1, 1, 0], ex, ey),  # top
            (low, ex, ez), (low + ey, ex, ez),  # front, back
            (low, ey, ez), (low + ex, ey, ez),  # left, right
        ]  # fmt: skip
        if bottom:
            faces.append((low, ex, ey))
        return np.concatenate([self.rectangle(np.asarray(c), u, v) for c, u, v in faces])

    def add(
        self, points: np.ndarray, name: str, colour: tuple[float, float, float] | None = None
    ) -> None:
        colour = _COLOURS[name] if colour is None else colour
        jitter = self.rng.normal(0.0, self.noise, points.shape)
        self.points.append(points + jitter)
        self.labels.append(
            np.full(points.shape[0], _ID[name] if name in _ID else 0, dtype=np.int64)
        )
        shade = self.rng.normal(0.0, _COLOUR_NOISE, points.shape) + np.asarray(colour, float)
        self.colours.append(np.clip(shade, 0, 255))

    def finish(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (
            np.concatenate(self.points).astype(np.float32),
            np.concatenate(self.colours).astype(np.uint8),
            np.concatenate(self.labels).astype(np.int16),
        )


def _wall_frame(wall: int, width: float, depth: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Corner, unit direction along the wall, and inward normal of wall 0..3 (anticlockwise)."""
    corners = [(0, 0), (width, 0), (width, depth), (0, depth)]
    start, end = np.array([*corners[wall], 0.0]), np.array([*corners[(wall + 1) % 4], 0.0])
    along = (end - start) / np.linalg.norm(end - start)
    inward = np.array([-along[1], along[0], 0.0])
    return start, along, inward


def generate_room(
    seed: int | np.random.SeedSequence, settings: RoomSettings = RoomSettings()
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One procedural room, from ``seed``.

    Shapes:
        returns coord (N, 3) float32 metres (floor at z = 0, corner at the origin),
        color (N, 3) uint8, segment (N,) int16 in S3DIS's 13 classes
    """
    rng = np.random.default_rng(seed)
    width, depth, height = (
        rng.uniform(*r) for r in (settings.width, settings.depth, settings.height)
    )
    s = _Surfaces(rng, settings.density, settings.noise)
    ex, ey, ez = np.eye(3)
    s.add(s.rectangle(np.zeros(3), width * ex, depth * ey), "floor")
    s.add(s.rectangle(height * ez, width * ex, depth * ey), "ceiling")
    lengths = [width, depth, width, depth]
    door_wall, window_wall, board_wall = rng.permutation(4)[:3]
    openings: dict[int, list[tuple[float, float, float, float]]] = {w: [] for w in range(4)}
    # Door: 0.9 x 2.1 m; window: 1.2 x 1.1 m from 0.9 m up; board: 1.8 x 1.1 m from 0.9 m up.
    for wall, (w, h, bottom), name, offset in (
        (door_wall, (0.9, 2.1, 0.0), "door", 0.03),
        (window_wall, (1.2, 1.1, 0.9), "window", -0.04),
        (board_wall, (min(1.8, lengths[board_wall] - 1.0), 1.1, 0.9), "board", 0.015),
    ):
        start = rng.uniform(0.3, lengths[wall] - w - 0.3)
        openings[wall].append((start, start + w, bottom, bottom + h))
        corner, along, inward = _wall_frame(wall, width, depth)
        piece = s.rectangle(
            corner + start * along + bottom * ez + offset * inward, w * along, h * ez
        )
        s.add(piece, name)
    for wall in range(4):
        corner, along, _ = _wall_frame(wall, width, depth)
        points = s.rectangle(corner, lengths[wall] * along, height * ez)  # (P, 3)
        position, z = (points - corner) @ along, points[:, 2]
        keep = np.ones(points.shape[0], dtype=bool)
        for lo, hi, bottom, top in openings[wall]:  # the scanner sees no wall behind them
            keep &= ~((position > lo) & (position < hi) & (z > bottom) & (z < top))
        s.add(points[keep], "wall")
    if rng.random() < 0.6:  # a beam across the ceiling
        y = rng.uniform(1.0, depth - 1.0)
        s.add(s.box([0.0, y - 0.15, height - 0.35], [width, y + 0.15, height], bottom=True), "beam")
    if rng.random() < 0.5:  # a column in a corner
        x, y = (0.0, 0.0) if rng.random() < 0.5 else (width - 0.4, depth - 0.4)
        s.add(s.box([x, y, 0.0], [x + 0.4, y + 0.4, height]), "column")
    # Table in the middle, chairs around it.
    cx, cy = width / 2 + rng.uniform(-0.4, 0.4), depth / 2 + rng.uniform(-0.4, 0.4)
    tw, td = rng.uniform(1.2, 2.0), rng.uniform(0.7, 1.0)
    top = np.array([cx - tw / 2, cy - td / 2, 0.72]), np.array([cx + tw / 2, cy + td / 2, 0.76])
    table = [s.box(*top, bottom=True)]
    for dx in (-1, 1):
        for dy in (-1, 1):
            x, y = cx + dx * (tw / 2 - 0.08), cy + dy * (td / 2 - 0.08)
            table.append(s.box([x - 0.03, y - 0.03, 0.0], [x + 0.03, y + 0.03, 0.72]))
    s.add(np.concatenate(table), "table")
    for k in range(int(rng.integers(2, 6))):
        side = 1 if k % 2 else -1
        x = cx + rng.uniform(-tw / 2 + 0.3, tw / 2 - 0.3)
        y = cy + side * (td / 2 + 0.35)
        chair = [s.box([x - 0.22, y - 0.22, 0.42], [x + 0.22, y + 0.22, 0.46], bottom=True)]
        back_y = y + side * 0.2
        chair.append(s.box([x - 0.22, back_y - 0.02, 0.46], [x + 0.22, back_y + 0.02, 0.9]))
        chair.append(s.box([x - 0.03, y - 0.03, 0.0], [x + 0.03, y + 0.03, 0.42]))
        s.add(np.concatenate(chair), "chair")
    # Bookcase against the wall opposite the door (or the next), with shelves and books.
    wall = (door_wall + 2) % 4
    corner, along, inward = _wall_frame(wall, width, depth)
    start = rng.uniform(0.2, lengths[wall] - 1.2)
    base = corner + start * along
    shelf_points = [
        s.rectangle(base + 0.35 * inward, 0.9 * along, 1.9 * ez)
    ]  # the open front's frame
    for shelf in np.linspace(0.0, 1.9, 5):
        shelf_points.append(s.rectangle(base + shelf * ez, 0.9 * along, 0.35 * inward))
    shelf_points.append(s.rectangle(base, 0.02 * inward, 1.9 * ez))
    shelf_points.append(s.rectangle(base + 0.9 * along, 0.02 * inward, 1.9 * ez))
    front = shelf_points[0]
    shelf_points[0] = front[rng.random(front.shape[0]) < 0.15]  # a sparse front: mostly open
    s.add(np.concatenate(shelf_points), "bookcase")
    if rng.random() < 0.5:  # a sofa along the window wall
        corner, along, inward = _wall_frame(window_wall, width, depth)
        base = corner + rng.uniform(0.2, lengths[window_wall] - 2.2) * along + 0.1 * inward
        low = np.minimum(base, base + 1.8 * along + 0.8 * inward)
        high = np.maximum(base, base + 1.8 * along + 0.8 * inward)
        s.add(
            np.concatenate(
                [s.box(low, high + [0, 0, 0.45]), s.box(low, high * [1, 1, 0] + [0, 0, 0.85])]
            ),
            "sofa",
        )
    # Clutter: small boxes on the table and on the floor, each its own colour.
    for _ in range(int(rng.integers(4, 10))):
        on_table = rng.random() < 0.5
        size = rng.uniform(0.08, 0.3, 3)
        if on_table:
            x, y, z = (
                rng.uniform(top[0][0], top[1][0] - size[0]),
                rng.uniform(top[0][1], top[1][1] - size[1]),
                0.76,
            )
        else:
            x, y, z = rng.uniform(0.1, width - 0.5), rng.uniform(0.1, depth - 0.5), 0.0
        s.add(
            s.box([x, y, z], [x + size[0], y + size[1], z + size[2]]),
            "clutter",
            tuple(rng.uniform(30, 230, 3)),
        )
    return s.finish()


def _atomic_save(path: Path, array: np.ndarray) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "wb") as handle:
        np.save(handle, array)
    os.replace(temporary, path)


def _write_once(root: Path, marker: str, recipe: str, write: Callable[[Path], None]) -> Path:
    """``write(root)`` unless ``root`` already holds the set this ``recipe`` makes (its marker file
    says so); the marker is written last, so a set interrupted before it is written again."""
    if (root / marker).is_file() and (root / marker).read_text() == recipe:
        return root
    root.mkdir(parents=True, exist_ok=True)
    write(root)
    (root / marker).write_text(recipe)
    return root


def write_synthetic_rooms(
    root: str | Path,
    seed: int = 0,
    rooms_per_area: int = 2,
    areas: tuple[int, ...] = (1, 2, 3, 4, 5, 6),
    settings: RoomSettings = RoomSettings(),
) -> Path:
    """Write procedural rooms in Pointcept's S3DIS layout under ``root`` (``Area_N/room_K/``);
    a complete set already there (its marker file names the same settings) is kept as it is.

    Returns ``root``.
    """
    recipe = f"seed={seed} rooms_per_area={rooms_per_area} areas={list(areas)} {settings}\n"
    seeds = np.random.SeedSequence(seed).spawn(len(areas) * rooms_per_area)

    def write(root: Path) -> None:
        for position, area in enumerate(areas):
            for k in range(rooms_per_area):
                folder = root / f"Area_{area}" / f"room_{k + 1}"
                folder.mkdir(parents=True, exist_ok=True)
                coord, color, segment = generate_room(seeds[position * rooms_per_area + k], settings)
                for name, array in (("coord", coord), ("color", color), ("segment", segment)):
                    _atomic_save(folder / f"{name}.npy", array)

    return _write_once(Path(root), SYNTHETIC_ROOMS_MARKER, recipe, write)


def _terrain(x: np.ndarray, y: np.ndarray, phase: np.ndarray) -> np.ndarray:
    """Rolling ground height (metres) at x, y.  Shapes: x, y (P,), phase (4,) -> (P,)."""
    return (
        1.5 * np.sin(x / 17.0 + phase[0]) * np.cos(y / 23.0 + phase[1])
        + 0.6 * np.sin(x / 7.0 + phase[2] + y / 11.0)
        + 0.02 * (x + y) * np.cos(phase[3])
    )


def generate_tile(
    seed: int | np.random.SeedSequence, size: float = 60.0, density: float = 8.0
) -> dict[str, np.ndarray]:
    """One procedural lidar tile of ``size`` x ``size`` metres, ``density`` ground points per m^2.

    Shapes:
        returns x, y, z (N,) float64 metres (local), classification (N,) uint8 ASPRS,
        intensity (N,) uint16, return_number / number_of_returns (N,) uint8, gps_time (N,) float64
    """
    rng = np.random.default_rng(seed)
    phase = rng.uniform(0, 2 * np.pi, 4)
    pieces: list[tuple[np.ndarray, int, float]] = []  # (points (P, 3), ASPRS code, mean intensity)
    occupied: list[tuple[float, float, float]] = []  # (x, y, radius) of placed objects

    def free_spot(radius: float) -> tuple[float, float]:
        for _ in range(50):
            x, y = rng.uniform(radius, size - radius, 2)
            if all((x - ox) ** 2 + (y - oy) ** 2 > (radius + r) ** 2 for ox, oy, r in occupied):
                break
        occupied.append((x, y, radius))
        return x, y

    def ground_at(x: float, y: float) -> float:
        return float(_terrain(np.array([x]), np.array([y]), phase)[0])

    count = int(rng.poisson(density * size * size))
    gx, gy = rng.uniform(0, size, count), rng.uniform(0, size, count)
    ground = np.stack([gx, gy, _terrain(gx, gy, phase)], axis=1)  # (P, 3)
    footprints: list[tuple[float, float, float, float]] = []
    for _ in range(int(rng.integers(2, 5))):  # buildings: roof at full density, walls sparse
        w, d, h = rng.uniform(8, 16), rng.uniform(8, 14), rng.uniform(4, 12)
        x, y = free_spot(max(w, d) / 2 + 1)
        x0, y0, base = x - w / 2, y - d / 2, ground_at(x, y) - 0.5
        n_roof = int(rng.poisson(density * w * d))
        roof = np.stack([x0 + rng.uniform(0, w, n_roof), y0 + rng.uniform(0, d, n_roof),
                         np.full(n_roof, base + h) + rng.normal(0, 0.03, n_roof)], axis=1)  # fmt: skip
        n_wall = int(rng.poisson(density * 0.2 * 2 * (w + d) * h))
        side = rng.integers(0, 4, n_wall)
        t = rng.uniform(0, 1, n_wall)
        wx = np.where(side < 2, x0 + t * w, np.where(side == 2, x0, x0 + w))
        wy = np.where(side >= 2, y0 + t * d, np.where(side == 0, y0, y0 + d))
        wall = np.stack([wx, wy, base + rng.uniform(0.5, h, n_wall)], axis=1)
        pieces.append((np.concatenate([roof, wall]), 6, 90.0))
        footprints.append((x0, y0, x0 + w, y0 + d))
    for _ in range(int(rng.integers(6, 14))):  # trees: an ellipsoidal crown over a trunk
        radius, trunk = rng.uniform(1.5, 3.5), rng.uniform(2.0, 5.0)
        x, y = free_spot(radius)
        base = ground_at(x, y)
        n_crown = int(rng.poisson(density * 4 * np.pi * radius**2 * 0.6))
        direction = rng.normal(size=(n_crown, 3))
        direction /= np.linalg.norm(direction, axis=1, keepdims=True)
        shell = direction * (radius * rng.uniform(0.6, 1.0, (n_crown, 1))) * [1, 1, 1.3]
        pieces.append((shell + [x, y, base + trunk + 1.3 * radius], 5, 40.0))
        n_trunk = int(rng.poisson(density * 2 * trunk))
        angle = rng.uniform(0, 2 * np.pi, n_trunk)
        trunk_points = np.stack([x + 0.15 * np.cos(angle), y + 0.15 * np.sin(angle),
                                 base + rng.uniform(0, trunk, n_trunk)], axis=1)  # fmt: skip
        pieces.append((trunk_points, 4, 60.0))
    for _ in range(int(rng.integers(5, 12))):  # bushes
        radius = rng.uniform(0.4, 1.0)
        x, y = free_spot(radius)
        n = int(rng.poisson(density * 2 * np.pi * radius**2))
        offset = rng.normal(size=(n, 3)) * [radius / 2, radius / 2, radius / 3]
        pieces.append((offset + [x, y, ground_at(x, y) + radius / 2], 3, 50.0))
    for _ in range(int(rng.integers(3, 8))):  # cars: a body and a cabin
        x, y = free_spot(2.5)
        base, heading = ground_at(x, y), rng.uniform(0, np.pi)
        n = int(rng.poisson(density * 3 * 12))
        local = rng.uniform([-2.2, -0.9, 0.3], [2.2, 0.9, 1.0], (n, 3))
        cabin = rng.random(n) < 0.4
        local[cabin] = rng.uniform([-1.0, -0.8, 1.0], [1.2, 0.8, 1.5], (int(cabin.sum()), 3))
        c, s_ = np.cos(heading), np.sin(heading)
        rotated = np.stack(
            [c * local[:, 0] - s_ * local[:, 1], s_ * local[:, 0] + c * local[:, 1], local[:, 2]], 1
        )
        pieces.append((rotated + [x, y, base], ASPRS_CAR, 120.0))
    inside = np.zeros(ground.shape[0], dtype=bool)  # no ground measured under roofs
    for x0, y0, x1, y1 in footprints:
        inside |= (
            (ground[:, 0] > x0) & (ground[:, 0] < x1) & (ground[:, 1] > y0) & (ground[:, 1] < y1)
        )
    ground = ground[~inside]
    unclassified = rng.random(ground.shape[0]) < 0.01
    pieces += [(ground[~unclassified], 2, 70.0), (ground[unclassified], 1, 70.0)]
    n_noise = max(2, count // 2000)
    low_noise = ground[rng.integers(ground.shape[0], size=n_noise)] - [0, 0, 3.0]
    high_noise = rng.uniform([0, 0, 40], [size, size, 80], (n_noise, 3))
    pieces += [(low_noise, 7, 10.0), (high_noise, 18, 5.0)]
    points = np.concatenate([p for p, _, _ in pieces])  # (N, 3)
    codes = np.concatenate([np.full(p.shape[0], c, np.uint8) for p, c, _ in pieces])
    intensity = np.concatenate([rng.normal(m, 8.0, p.shape[0]) for p, _, m in pieces])
    order = np.argsort(points[:, 0] + 1e-3 * points[:, 1], kind="stable")  # scan-line-ish order
    total = points.shape[0]
    returns = np.ones(total, np.uint8)
    vegetation = np.isin(codes, (3, 4, 5))
    returns[vegetation] = rng.integers(1, 4, int(vegetation.sum()))
    return {
        "x": points[order, 0], "y": points[order, 1], "z": points[order, 2],
        "classification": codes[order],
        "intensity": (np.clip(intensity[order], 0, 255) * 256).astype(np.uint16),
        "return_number": returns[order],
        "number_of_returns": np.maximum(returns[order], 1 + (returns[order] > 1)),
        "gps_time": 1.0e8 + np.arange(total, dtype=np.float64) * 1e-5,
    }  # fmt: skip


#: Where synthetic tiles sit: a Lambert-93-like easting/northing, as real tiles do.
_TILE_ORIGIN = np.array([652_000.0, 6_862_000.0, 0.0])


def write_synthetic_tiles(
    root: str | Path, seed: int = 0, tiles: int = 6, size: float = 60.0, density: float = 8.0
) -> Path:
    """Write procedural lidar tiles as ``root/tile_K.las`` (LAS 1.4, point format 6, scale
    0.01 m), side by side on a georeferenced grid; a complete set already there is kept.

    Returns ``root``.
    """
    import laspy

    recipe = f"seed={seed} tiles={tiles} size={size} density={density}\n"

    def write(root: Path) -> None:
        for k, child in enumerate(np.random.SeedSequence(seed).spawn(tiles)):
            tile = generate_tile(child, size, density)
            corner = _TILE_ORIGIN + [k % 3 * size, k // 3 * size, 0.0]
            header = laspy.LasHeader(point_format=6, version="1.4")
            header.scales = np.array([0.01, 0.01, 0.01])
            header.offsets = corner
            las = laspy.LasData(header)
            las.x, las.y, las.z = tile["x"] + corner[0], tile["y"] + corner[1], tile["z"] + corner[2]
            for field in ("classification", "intensity", "return_number", "number_of_returns", "gps_time"):
                setattr(las, field, tile[field])
            path = root / f"tile_{k + 1}.las"
            temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            las.write(temporary)
            os.replace(temporary, path)

    return _write_once(Path(root), SYNTHETIC_TILES_MARKER, recipe, write)
