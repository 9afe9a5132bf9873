"""One scene (a room, a lidar tile, a scan) and how its points are served: features, crops, samples.

A :class:`Scene` holds arrays that may be memory-mapped: coordinates in metres (relative to
``origin``), a label per point, and colour and intensity where the source has them. Each data set
module (:mod:`pointea.data.s3dis`, :mod:`pointea.data.lidar`, :mod:`pointea.data.semantickitti`)
reads its layouts into scenes; :func:`scene_sample` turns a scene's points (a crop, or the whole
scene) into what the network sees, the same way for training, evaluation and prediction;
:class:`SceneCrops` and :class:`WholeScenes` are the datasets :mod:`pointea.data.scenes` serves.
This module needs NumPy and torch only (no Lightning), so prediction can build its inputs with it.

Served coordinates: x and y relative to the crop's (or scene's) centre, z above the scene's lowest
point. Features, in the order asked, C channels in all (:func:`feature_channels`):

- ``"color"`` (3): RGB in [0, 1];
- ``"normalized"`` (3): PointNet's normalised room coordinates, (p - scene min) / scene extent;
- ``"height"`` (1): z above the lowest point of the crop (or scene), metres;
- ``"local_height"`` (1): z above the lowest point of the scene within the same
  :data:`LOCAL_HEIGHT_CELL` x :data:`LOCAL_HEIGHT_CELL` metre column (a coarse terrain model of the
  whole scene, so a crop and the whole scene give a point the same value even on sloping ground);
- ``"intensity"`` (1): lidar intensity or remission in [0, 1].

Shape legend: N points in a scene, K points served, C feature channels, L classes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from pointea.data.crops import Candidates
from pointea.data.dataset import torch_seeded_generator
from pointea.data.transforms import (
    ColorDrop,
    ColorJitter,
    Compose,
    Jitter,
    RotateUp,
    ScaleTranslate,
)
from pointea.errors import ConfigError, DataError
from pointea.io.bounds import MAX_COORDINATE, check_magnitude

__all__ = [
    "FEATURES",
    "LOCAL_HEIGHT_CELL",
    "Scene",
    "SceneCrops",
    "WholeScenes",
    "check_features",
    "default_augmentation",
    "feature_channels",
    "scene_sample",
]

#: Feature names and their channel counts.
FEATURES: dict[str, int] = {
    "color": 3,
    "normalized": 3,
    "height": 1,
    "local_height": 1,
    "intensity": 1,
}
#: Metres: the columns of the ``"local_height"`` feature's terrain model.
LOCAL_HEIGHT_CELL = 5.0


def feature_channels(features: Sequence[str]) -> int:
    """Channels of a feature list; an unknown name is a :class:`ConfigError` naming it."""
    for name in features:
        if name not in FEATURES:
            raise ConfigError(
                f"unknown scene feature {name!r}; expected some of {', '.join(FEATURES)}"
            )
    if len(set(features)) != len(features):
        raise ConfigError(f"scene features repeat a name: {list(features)}")
    return sum(FEATURES[name] for name in features)


class Scene:
    """One room or tile: arrays that may be memory-mapped, read only where a crop asks.

    Args:
        name: a name for reports (``Area_1/office_3``, a tile's file stem).
        path: the file or folder it came from (named in every error).
        points: coordinates in metres relative to ``origin``.
        labels: a label per point: class ids already, or raw codes mapped through ``lookup``;
            ``None`` for an unlabelled scene (every point ``ignore_index``).
        colors: RGB per point, integers up to ``color_scale`` (255 or 65535) or floats in [0, 1]
            (``color_scale=1``).
        intensity: per point, up to ``intensity_scale``.
        lookup: raw code -> class id (``ignore_index`` for ignored codes); codes past its end are
            ignored too.
        label_mask: keep only these bits of a raw label first (SemanticKITTI: ``0xFFFF``, the
            semantic id below the instance id).
        origin: the offset to add back for true coordinates (LAS's header offset), float64.
        bounds: the (lower, upper) corners when known (cached files store them), else computed.
        candidates: a spatial index for crops (:class:`~pointea.data.crops.Candidates`).

    Shapes:
        points (N, 3); labels (N,); colors (N, 3); intensity (N,); origin (3,)
    """

    def __init__(
        self,
        name: str,
        path: Path,
        points: np.ndarray,
        labels: np.ndarray | None,
        colors: np.ndarray | None = None,
        color_scale: float = 255.0,
        intensity: np.ndarray | None = None,
        intensity_scale: float = 1.0,
        lookup: np.ndarray | None = None,
        origin: np.ndarray | None = None,
        bounds: tuple[np.ndarray, np.ndarray] | None = None,
        candidates: Candidates | None = None,
        label_mask: int | None = None,
    ) -> None:
        count = points.shape[0]
        for what, array in (("labels", labels), ("colors", colors), ("intensity", intensity)):
            if array is not None and array.shape[0] != count:
                raise DataError(f"{path}: {array.shape[0]} {what} for {count} points")
        self.name, self.path = name, Path(path)
        self.points, self.labels, self.lookup = points, labels, lookup
        self.colors, self.color_scale = colors, float(color_scale)
        self.intensity, self.intensity_scale = intensity, float(intensity_scale)
        self.origin = np.zeros(3) if origin is None else np.asarray(origin, dtype=np.float64)
        self.candidates, self.label_mask = candidates, label_mask
        self._bounds = bounds
        self._lowest: tuple[float, np.ndarray] | None = None

    def __len__(self) -> int:
        return int(self.points.shape[0])

    def __repr__(self) -> str:
        return f"Scene({self.name!r}, {len(self)} points)"

    @property
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper corners, float32.  Shapes: (3,), (3,).

        The one pass over the coordinates that every scene gets, so it also refuses what no crop
        could serve: a NaN or infinite coordinate (it would spread to every served feature), or a
        magnitude beyond the encoder's limit; a :class:`DataError` naming the file and point.
        """
        if self._bounds is None:
            lower, upper = self.points.min(axis=0), self.points.max(axis=0)  # (3,), (3,); NaN spreads
            corners = np.stack([lower, upper]).astype(np.float64)  # (2, 3)
            if not np.isfinite(corners).all():
                first = int(np.flatnonzero(~np.isfinite(np.asarray(self.points)).all(axis=1))[0])
                raise DataError(
                    f"{self.path}: point {first} of {self.name} has coordinates "
                    f"{np.asarray(self.points[first]).tolist()}; expected finite numbers"
                )
            check_magnitude(self.path, corners, MAX_COORDINATE, what=f"{self.name}: a coordinate")
            self._bounds = (lower.astype(np.float32), upper.astype(np.float32))
        return self._bounds

    def lowest(self, cell: float = LOCAL_HEIGHT_CELL, chunk: int = 4_000_000) -> np.ndarray:
        """The lowest z of each ``cell``-metre column of the scene, computed once (in chunks).

        Shapes:
            returns (X, Y) float32, columns from the scene's lower corner
        """
        if self._lowest is None or self._lowest[0] != cell:
            lower, upper = self.bounds
            shape = (np.floor((upper[:2] - lower[:2]) / cell).astype(int) + 1).tolist()
            lowest = np.full(shape[0] * shape[1], np.inf, dtype=np.float32)
            for start in range(0, len(self), chunk):
                points = np.asarray(self.points[start : start + chunk], dtype=np.float32)
                np.minimum.at(lowest, self._columns(points, cell, shape), points[:, 2])
            self._lowest = (cell, lowest.reshape(shape))
        return self._lowest[1]

    def _columns(self, points: np.ndarray, cell: float, shape: list[int]) -> np.ndarray:
        """The column of each point, clipped into the grid.  Shapes: (K, 3) -> (K,) int64."""
        lower = self.bounds[0]
        ix = np.clip(((points[:, 0] - lower[0]) // cell).astype(np.int64), 0, shape[0] - 1)
        iy = np.clip(((points[:, 1] - lower[1]) // cell).astype(np.int64), 0, shape[1] - 1)
        return ix * shape[1] + iy

    def local_height(self, points: np.ndarray, cell: float = LOCAL_HEIGHT_CELL) -> np.ndarray:
        """z above the lowest scene point of each point's column.  Shapes: (K, 3) -> (K,)."""
        lowest = self.lowest(cell)
        return points[:, 2] - lowest.reshape(-1)[self._columns(points, cell, list(lowest.shape))]

    def class_labels(self, index: np.ndarray | slice, ignore_index: int) -> np.ndarray:
        """Class ids of the points at ``index`` (``ignore_index`` where unlabelled or ignored).

        Shapes:
            index (K,) -> (K,) int64
        """
        if self.labels is None:
            size = len(range(len(self))[index]) if isinstance(index, slice) else len(index)
            return np.full(size, ignore_index, dtype=np.int64)
        raw = np.asarray(self.labels[index]).astype(np.int64)
        if self.label_mask is not None:
            raw &= self.label_mask
        if self.lookup is None:
            return raw
        inside = (raw >= 0) & (raw < self.lookup.shape[0])
        return np.where(
            inside, self.lookup[np.clip(raw, 0, self.lookup.shape[0] - 1)], ignore_index
        )

    def class_counts(
        self, num_classes: int, ignore_index: int, chunk: int = 4_000_000
    ) -> np.ndarray:
        """Points per class, read in chunks (the labels may be memory-mapped).  Shapes: (L,)."""
        counts = np.zeros(num_classes, dtype=np.int64)
        for start in range(0, len(self), chunk):
            labels = self.class_labels(slice(start, start + chunk), ignore_index)
            labels = labels[(labels >= 0) & (labels < num_classes)]
            counts += np.bincount(labels, minlength=num_classes)[:num_classes]
        return counts

    def take(self, index: np.ndarray | slice, ignore_index: int) -> dict[str, np.ndarray]:
        """The points at ``index`` as a sample: ``points`` float32 (K, 3), ``labels`` int64 (K,),
        ``colors`` float32 (K, 3) in [0, 1] and ``intensity`` float32 (K,) where present."""
        sample = {
            "points": np.asarray(self.points[index], dtype=np.float32),
            "labels": self.class_labels(index, ignore_index),
        }
        if self.colors is not None:
            colors = np.asarray(self.colors[index], dtype=np.float32)
            sample["colors"] = np.clip(colors / np.float32(self.color_scale), 0.0, 1.0)
        if self.intensity is not None:
            intensity = np.asarray(self.intensity[index], dtype=np.float32)
            sample["intensity"] = np.clip(intensity / np.float32(self.intensity_scale), 0.0, 1.0)
        return sample


def check_features(scene: Scene, features: Sequence[str]) -> None:
    if "color" in features and scene.colors is None:
        raise DataError(f"{scene.path}: feature 'color' asked for, but {scene.name} has no colour")
    if "intensity" in features and scene.intensity is None:
        raise DataError(
            f"{scene.path}: feature 'intensity' asked for, but {scene.name} has no intensity"
        )


def scene_sample(
    scene: Scene,
    index: np.ndarray | slice,
    features: Sequence[str],
    ignore_index: int,
    augment: Callable[[dict, np.random.Generator], dict] | None = None,
    rng: np.random.Generator | None = None,
) -> dict[str, np.ndarray]:
    """The served form of ``scene``'s points at ``index``: centred coordinates, features, labels.

    ``index=slice(None)`` serves the whole scene in its own point order. The same function
    builds training crops (with ``augment``) and whole scenes, so both see the same features.

    Shapes:
        returns points (K, 3) float32, features (K, C) float32 (absent for no features),
        labels (K,) int64
    """
    sample = scene.take(index, ignore_index)
    points = sample["points"]
    lower, upper = scene.bounds
    extent = np.maximum(upper - lower, np.float32(1e-6))
    if "normalized" in features:  # from the scene's own coordinates, before any augmentation
        sample["normalized"] = ((points - lower) / extent).astype(np.float32)
    if "local_height" in features:
        sample["local_height"] = scene.local_height(points)[:, None].astype(np.float32)  # (K, 1)
    low, high = points.min(axis=0), points.max(axis=0)  # (3,), (3,)
    centre = np.array([(low[0] + high[0]) / 2, (low[1] + high[1]) / 2, lower[2]], np.float32)
    sample["points"] = points - centre
    if augment is not None:
        sample = augment(sample, rng if rng is not None else torch_seeded_generator())
    if "height" in features:
        z = sample["points"][:, 2]
        sample["height"] = (z - z.min())[:, None].astype(np.float32)  # (K, 1)
    if "intensity" in sample:
        sample["intensity"] = sample["intensity"][:, None]  # (K,) -> (K, 1)
    names = {
        "color": "colors",
        "normalized": "normalized",
        "height": "height",
        "local_height": "local_height",
        "intensity": "intensity",
    }
    served = {"points": sample["points"].astype(np.float32), "labels": sample["labels"]}
    if features:
        served["features"] = np.concatenate([sample[names[f]] for f in features], axis=1)  # (K, C)
    return served


def default_augmentation(
    rotate: bool = True,
    scale: tuple[float, float] = (0.9, 1.1),
    jitter: float = 0.005,
    color_jitter: float = 0.05,
    color_drop: float = 0.2,
) -> Compose:
    """z-rotation, isotropic scaling, clipped Gaussian jitter, colour jitter and colour drop."""
    steps: list = [RotateUp(axis=2)] if rotate else []
    steps.append(ScaleTranslate(scale[0], scale[1], shift=0.0, anisotropic=False))
    if jitter > 0:
        steps.append(Jitter(sigma=jitter, clip=4 * jitter))
    steps += [ColorJitter(color_jitter), ColorDrop(color_drop)]
    return Compose(steps)


class SceneCrops(Dataset):
    """``length`` random crops, each from a scene drawn in proportion to its point count (seeded:
    the same scenes every epoch, different crops: crop draws follow torch's RNG)."""

    def __init__(
        self,
        scenes: Sequence[Scene],
        crop: Callable,
        features: Sequence[str],
        ignore_index: int,
        length: int,
        augment: Callable | None = None,
        grid: float | None = None,
        seed: int = 0,
    ) -> None:
        sizes = np.array([len(scene) for scene in scenes], dtype=np.float64)
        self.scenes, self.crop, self.features = list(scenes), crop, tuple(features)
        self.ignore_index, self.augment, self.grid = ignore_index, augment, grid
        self.order = np.random.default_rng(seed).choice(
            len(scenes), size=length, p=sizes / sizes.sum()
        )

    def __len__(self) -> int:
        return int(self.order.shape[0])

    def __getitem__(self, item: int) -> dict[str, torch.Tensor]:
        scene = self.scenes[int(self.order[item])]
        rng = torch_seeded_generator()
        index = self.crop(scene.points, rng, grid=self.grid, candidates=scene.candidates)
        sample = scene_sample(scene, index, self.features, self.ignore_index, self.augment, rng)
        return _tensors(sample, item)


class WholeScenes(Dataset):
    """Every scene whole, at full resolution, in its own point order."""

    def __init__(self, scenes: Sequence[Scene], features: Sequence[str], ignore_index: int) -> None:
        self.scenes, self.features, self.ignore_index = list(scenes), tuple(features), ignore_index

    def __len__(self) -> int:
        return len(self.scenes)

    def __getitem__(self, item: int) -> dict[str, torch.Tensor]:
        sample = scene_sample(self.scenes[item], slice(None), self.features, self.ignore_index)
        return _tensors(sample, item)


def _tensors(sample: dict[str, np.ndarray], item: int) -> dict[str, torch.Tensor]:
    served = {key: torch.from_numpy(np.ascontiguousarray(value)) for key, value in sample.items()}
    served["index"] = torch.tensor(item, dtype=torch.long)
    return served
