"""Training crops of a scene: a random block (PointNet) or sphere (Pointcept) of a fixed point count.

A room or lidar tile holds 10^5 to 10^7 points; training serves crops of it. A crop picks a centre
at a random point of the scene, keeps the points around it and brings them to exactly
``num_points`` (a random subset, or every point plus repeats when there are fewer), so crops
batch with the default collate:

- :class:`BlockCrop`: an axis-aligned ``size`` x ``size`` column in x, y, every z (PointNet's
  blocks; :data:`CROP_PRESETS` ``"pointnet"`` is its 1 m x 1 m / 4,096 points);
- :class:`SphereCrop`: the ``num_points`` points nearest the centre within ``radius``
  (Pointcept's sphere crop).

``"large"`` (4 m x 4 m / 32,768 points) is a crop that only linear attention affords: offset
(self-)attention would build a 32,768^2 map per layer. ``"lidar"`` (20 m x 20 m / 4,096 points)
suits tiles and scans of about 10 points per square metre.

A crop returns *indices* into the scene (the scene's arrays stay memory-mapped; only the kept
rows are read; a scene with a spatial index, :class:`Candidates`, passes only the points of the
cells near the centre). ``grid``: thin the crop to one point per ``grid``-metre voxel first
(lidar density, :func:`~pointea.data.scene_transforms.grid_subsample`). ``min_points``: a centre whose neighbourhood holds fewer points is drawn again
(up to ``tries`` times, then the last one is used), so crops from a scene's sparse edge do not
become mostly repeats.

Shape legend: N points in the scene, M points near the centre, K = ``num_points``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from pointea.data.scene_transforms import grid_subsample
from pointea.errors import ConfigError

__all__ = [
    "Candidates",
    "BlockCrop",
    "SphereCrop",
    "CROP_PRESETS",
    "CropPreset",
    "build_crop",
    "to_count",
]

CropPreset = Literal["pointnet", "large", "lidar"]


def to_count(index: np.ndarray, num_points: int, rng: np.random.Generator) -> np.ndarray:
    """``index`` brought to exactly ``num_points`` entries, in random order: a random subset, or
    all of them plus random repeats.  Shapes: index (M,) -> (K,)."""
    count = index.shape[0]
    if count >= num_points:
        return index[rng.permutation(count)[:num_points]]
    extra = rng.integers(count, size=num_points - count)
    return index[rng.permutation(np.concatenate([np.arange(count), extra]))]


def _check(owner: str, size: float, num_points: int, min_points: int, tries: int) -> None:
    if not (isinstance(size, (int, float)) and np.isfinite(size) and size > 0):
        raise ConfigError(f"{owner}: the size must be a positive number of metres, got {size!r}")
    if (
        isinstance(num_points, bool)
        or not isinstance(num_points, int)
        or not 1 <= num_points <= 10**7
    ):
        raise ConfigError(
            f"{owner}: num_points must be an integer in 1..10000000, got {num_points!r}"
        )
    if isinstance(min_points, bool) or not isinstance(min_points, int) or min_points < 1:
        raise ConfigError(f"{owner}: min_points must be a positive integer, got {min_points!r}")
    if isinstance(tries, bool) or not isinstance(tries, int) or tries < 1:
        raise ConfigError(f"{owner}: tries must be a positive integer, got {tries!r}")


class _Crop:
    """The draw both crops share: a centre at a random scene point, the points near it (optionally
    one per grid cell), retried while fewer than ``min_points``, brought to ``num_points``."""

    num_points: int
    min_points: int
    tries: int

    @property
    def reach(self) -> float:
        """Half the crop's extent in x and y (metres): every kept point lies within it."""
        raise NotImplementedError

    def near(self, points: np.ndarray, centre: np.ndarray) -> np.ndarray:
        """Indices of the points of ``points`` inside the crop around ``centre``.  Shapes: -> (M,)."""
        raise NotImplementedError

    def select(
        self, points: np.ndarray, centre: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """``num_points`` positions into ``points`` (the crop's points).  Shapes: (M, 3) -> (K,)."""
        return to_count(np.arange(points.shape[0]), self.num_points, rng)

    def __call__(
        self,
        points: np.ndarray,
        rng: np.random.Generator,
        grid: float | None = None,
        candidates: Candidates | None = None,
    ) -> np.ndarray:
        """Indices of one crop of ``points`` (e.g. a memory-mapped scene: only the rows near the
        centre are read when ``candidates`` narrows the search; see :class:`Candidates`).

        Shapes:
            points (N, 3) -> indices (K,) int64
        """
        index = np.empty(0, dtype=np.int64)
        centre = np.zeros(3, dtype=np.float32)
        for _ in range(self.tries):
            centre = np.asarray(points[rng.integers(points.shape[0])], dtype=np.float32)  # (3,)
            pool = None if candidates is None else candidates(centre, self.reach)  # (M0,)
            index = self.near(points if pool is None else points[pool], centre)
            if pool is not None:
                index = pool[index]
            if grid is not None and index.shape[0] > 0:
                index = index[grid_subsample(np.asarray(points[index]), grid, rng)]
            if index.shape[0] >= self.min_points:
                break
        if (
            index.shape[0] == 0
        ):  # cannot happen (the centre is a scene point) unless NaN coordinates
            raise ValueError("crop: no point near the drawn centre (NaN coordinates?)")
        return index[self.select(np.asarray(points[index]), centre, rng)]


class Candidates(Protocol):
    """A spatial index of a scene: a superset of the indices of the points within ``reach``
    metres of ``centre`` in x and y.  Shapes: centre (3,) -> (M0,) int64."""

    def __call__(self, centre: np.ndarray, reach: float) -> np.ndarray: ...


@dataclass(frozen=True)
class BlockCrop(_Crop):
    """A ``size`` x ``size`` column (metres in x and y, all z) around a random scene point; a random
    ``num_points`` of its points.

    Shapes:
        points (N, 3) -> indices (K,) int64, K = num_points
    """

    size: float = 1.0
    num_points: int = 4096
    min_points: int = 1024
    tries: int = 10

    def __post_init__(self) -> None:
        _check("BlockCrop", self.size, self.num_points, self.min_points, self.tries)

    @property
    def reach(self) -> float:
        return self.size / 2

    def near(self, points: np.ndarray, centre: np.ndarray) -> np.ndarray:
        half = np.float32(self.size / 2)
        offset = np.abs(points[:, :2] - centre[:2])  # (N, 2)
        return np.flatnonzero((offset[:, 0] <= half) & (offset[:, 1] <= half))


@dataclass(frozen=True)
class SphereCrop(_Crop):
    """The ``num_points`` points nearest a random scene point, within ``radius`` metres.

    Shapes:
        points (N, 3) -> indices (K,) int64, K = num_points
    """

    radius: float = 2.0
    num_points: int = 32768
    min_points: int = 1024
    tries: int = 10

    def __post_init__(self) -> None:
        _check("SphereCrop", self.radius, self.num_points, self.min_points, self.tries)

    @property
    def reach(self) -> float:
        return self.radius

    def near(self, points: np.ndarray, centre: np.ndarray) -> np.ndarray:
        squared = ((points - centre) ** 2).sum(axis=1)  # (N,)
        return np.flatnonzero(squared <= np.float32(self.radius**2))

    def select(
        self, points: np.ndarray, centre: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        if points.shape[0] <= self.num_points:
            return to_count(np.arange(points.shape[0]), self.num_points, rng)
        squared = ((points - centre) ** 2).sum(axis=1)  # (M,)
        nearest = np.argpartition(squared, self.num_points - 1)[: self.num_points]  # (K,)
        return nearest[rng.permutation(self.num_points)]


#: Named crops: PointNet's 1 m blocks of 4,096 points; a 4 m block of 32,768 (linear attention
#: only); a 20 m block of 4,096 for lidar tiles and scans (about 10 points per square metre).
CROP_PRESETS: dict[str, BlockCrop] = {
    "pointnet": BlockCrop(size=1.0, num_points=4096, min_points=1024),
    "large": BlockCrop(size=4.0, num_points=32768, min_points=4096),
    "lidar": BlockCrop(size=20.0, num_points=4096, min_points=1024),
}


def build_crop(
    preset: str | None = "pointnet",
    shape: Literal["block", "sphere"] | None = None,
    size: float | None = None,
    num_points: int | None = None,
) -> BlockCrop | SphereCrop:
    """A crop from a preset, with any of its shape (``"block"``/``"sphere"``), size (block side or
    sphere radius, metres) and point count overridden."""
    if preset is not None and preset not in CROP_PRESETS:
        raise ConfigError(
            f"crop preset must be one of {', '.join(CROP_PRESETS)} (or None), got {preset!r}"
        )
    if shape not in (None, "block", "sphere"):
        raise ConfigError(f"crop shape must be 'block' or 'sphere', got {shape!r}")
    base = CROP_PRESETS[preset or "pointnet"]
    size = base.size if size is None else size
    num_points = base.num_points if num_points is None else num_points
    min_points = min(base.min_points, max(1, num_points // 4)) if isinstance(num_points, int) else 1
    if shape == "sphere":
        return SphereCrop(radius=size, num_points=num_points, min_points=min_points)
    return BlockCrop(size=size, num_points=num_points, min_points=min_points)
