"""Scenes (rooms, lidar tiles, scans) and what serves them: crops for training, whole scenes for test.

A :class:`Scene` is one room or tile whose arrays may be memory-mapped: coordinates in metres
(relative to ``origin``), a label per point, and colour and intensity where the source has them.
Each data set module (:mod:`pointea.data.s3dis`, :mod:`pointea.data.lidar`,
:mod:`pointea.data.semantickitti`, the synthetic rooms and tiles) reads its layouts into scenes;
:class:`SceneDataModule` serves them:

- training: random crops (:mod:`pointea.data.crops`) of ``num_points`` points, augmented by
  z-rotation, scaling, jitter, colour jitter and colour drop;
- validation: whole scenes (``val_mode="scenes"``, the default) or crops (``"crops"``, cheaper);
- test and predict: **one whole scene per batch, at full resolution, in the scene's point order**
  (B = 1), so predictions map back to the source file row by row.

Batches (the shared contract of the scene tasks):
    ``{"points": float32 (B, N, 3), "features": float32 (B, N, C), "labels": int64 (B, N),
    "index": int64 (B,)}``; ``labels`` hold ``ignore_index`` where a point is unlabelled or its
    class is ignored; ``features`` is absent when ``features=()``.

Coordinates served: x and y relative to the crop's (or scene's) centre, z above the scene's lowest
point. Features, in the order asked (``features``), C channels in all (:attr:`in_channels`):

- ``"color"`` (3): RGB in [0, 1];
- ``"normalized"`` (3): PointNet's normalised room coordinates, (p - scene min) / scene extent;
- ``"height"`` (1): z above the lowest point of the crop (or scene), metres;
- ``"intensity"`` (1): lidar intensity or remission in [0, 1].

Shape legend: B batch, N points, K crop points, C feature channels, L classes.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

from pointea.data.arguments import MAX_BATCH_SIZE, MAX_SEED, MAX_WORKERS, check_int
from pointea.data.crops import Candidates, CropPreset, build_crop
from pointea.data.scene_transforms import CLASS_WEIGHTINGS, ColorDrop, ColorJitter, class_weights
from pointea.data.dataset import torch_seeded_generator
from pointea.data.transforms import Compose, Jitter, RotateUp, ScaleTranslate
from pointea.errors import ConfigError, DataError

__all__ = [
    "FEATURES",
    "Scene",
    "SceneCrops",
    "WholeScenes",
    "SceneDataModule",
    "scene_sample",
    "feature_channels",
]

log = logging.getLogger(__name__)

#: Feature names and their channel counts.
FEATURES: dict[str, int] = {"color": 3, "normalized": 3, "height": 1, "intensity": 1}


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

    def __len__(self) -> int:
        return int(self.points.shape[0])

    def __repr__(self) -> str:
        return f"Scene({self.name!r}, {len(self)} points)"

    @property
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper corners, float32.  Shapes: (3,), (3,)."""
        if self._bounds is None:
            self._bounds = (
                np.asarray(self.points.min(axis=0), dtype=np.float32),
                np.asarray(self.points.max(axis=0), dtype=np.float32),
            )
        return self._bounds

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


def _check_features(scene: Scene, features: Sequence[str]) -> None:
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


Split = Literal["train", "val", "test"]


class SceneDataModule(pl.LightningDataModule):
    """What every scene data module shares: features, crops, augmentation and the loaders.

    Subclasses give :attr:`class_names` and :meth:`load_scenes` (one split's scenes). The label-space
    facts the CLI links into the model (``num_classes``, ``in_channels``, ``ignore_index``) are
    known right after ``__init__``, before any file is read.

    Args:
        features: per-point input channels, see the module docstring.
        crop: crop preset, ``"pointnet"`` (1 m / 4,096 points), ``"large"`` (4 m / 32,768) or
            ``"lidar"`` (20 m / 4,096).
        crop_shape: ``"block"`` or ``"sphere"`` (then ``crop_size`` is the radius).
        crop_size: block side or sphere radius in metres (default: the preset's).
        num_points: points per crop (default: the preset's).
        crops_per_epoch: training crops per epoch (default: the train split's points / num_points,
            at least ``batch_size``).
        batch_size: crops per training batch (test batches are one whole scene).
        num_workers: DataLoader worker processes.
        augment: augment training crops (z-rotation, scaling, jitter, colour jitter and drop).
        grid_size: thin training crops to one point per voxel of this many metres (lidar density).
        class_weighting: ``None`` or one of ``inverse``, ``inverse_sqrt``, ``log``: then
            :attr:`class_weights` holds cross-entropy weights from the train split's counts.
        val_mode: ``"scenes"`` (whole validation scenes, exact) or ``"crops"``.
        ignore_index: the label of unlabelled or ignored points.
        seed: seed of the crop schedule (and of synthetic data in subclasses).
    """

    def __init__(
        self,
        features: Sequence[str] = ("color", "normalized"),
        crop: CropPreset = "pointnet",
        crop_shape: Literal["block", "sphere"] = "block",
        crop_size: float | None = None,
        num_points: int | None = None,
        crops_per_epoch: int | None = None,
        batch_size: int = 16,
        num_workers: int = 0,
        augment: bool = True,
        grid_size: float | None = None,
        class_weighting: str | None = None,
        val_mode: Literal["scenes", "crops"] = "scenes",
        ignore_index: int = -1,
        seed: int = 0,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.features = tuple(features)
        self._in_channels = feature_channels(self.features)
        self.crop = build_crop(crop, crop_shape, crop_size, num_points)
        self.crop_preset, self.crop_shape = crop, crop_shape
        batch_size = check_int(f"{owner}: batch_size", batch_size, 1, MAX_BATCH_SIZE)
        num_workers = check_int(f"{owner}: num_workers", num_workers, 0, MAX_WORKERS)
        seed = check_int(f"{owner}: seed", seed, 0, MAX_SEED)
        if crops_per_epoch is not None and (
            not isinstance(crops_per_epoch, int) or crops_per_epoch < 1
        ):
            raise ConfigError(
                f"{owner}: crops_per_epoch must be a positive integer, got {crops_per_epoch!r}"
            )
        if grid_size is not None and not (isinstance(grid_size, (int, float)) and grid_size > 0):
            raise ConfigError(
                f"{owner}: grid_size must be a positive number of metres, got {grid_size!r}"
            )
        if class_weighting is not None and class_weighting not in CLASS_WEIGHTINGS:
            raise ConfigError(
                f"{owner}: class_weighting must be None or one of {', '.join(CLASS_WEIGHTINGS)}, "
                f"got {class_weighting!r}"
            )
        if val_mode not in ("scenes", "crops"):
            raise ConfigError(f"{owner}: val_mode must be 'scenes' or 'crops', got {val_mode!r}")
        if isinstance(ignore_index, bool) or not isinstance(ignore_index, int):
            raise ConfigError(f"{owner}: ignore_index must be an integer, got {ignore_index!r}")
        self.crops_per_epoch, self.batch_size, self.num_workers = (
            crops_per_epoch,
            batch_size,
            num_workers,
        )
        self.augment = default_augmentation() if augment else None
        self.grid_size, self.class_weighting, self.val_mode = grid_size, class_weighting, val_mode
        self.ignore_index, self.seed = ignore_index, seed
        self.scenes: dict[str, list[Scene]] = {}
        #: Scenes left out (no points; in training, no point of a mapped class), each logged as a
        #: warning: ``(split, name, reason)``.
        self.skipped: list[tuple[str, str, str]] = []

    #: Read every scene's labels and bounds at setup, to skip scenes with no mapped point and to
    #: share the bounds with DataLoader workers (a pass over the data; SemanticKITTI's 23,000
    #: scans turn it off and compute each scan's bounds where it is served).
    check_labels: bool = True

    # --- what a data set module gives -----------------------------------------------------------
    @property
    def class_names(self) -> list[str]:
        raise NotImplementedError

    def load_scenes(self, split: Split) -> list[Scene]:
        """The scenes of ``split`` (read or memory-mapped; converted once where needed)."""
        raise NotImplementedError

    # --- label-space facts ------------------------------------------------------------------------
    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def in_channels(self) -> int:
        """Feature channels per point (the model's ``in_channels``)."""
        return self._in_channels

    @property
    def class_weights(self) -> torch.Tensor | None:
        """Cross-entropy weights from the train split's class counts (``class_weighting``), or None."""
        if self.class_weighting is None:
            return None
        counts = sum(
            (
                scene.class_counts(self.num_classes, self.ignore_index)
                for scene in self._split("train")
            ),
            np.zeros(self.num_classes, dtype=np.int64),
        )
        return torch.from_numpy(class_weights(counts, self.class_weighting))

    def preprocessing_record(self) -> dict[str, Any]:
        """What a checkpoint records of how scenes were served, so prediction can repeat it."""
        return {
            "features": list(self.features),
            "ignore_index": self.ignore_index,
            "class_names": list(self.class_names),
            "crop": {
                "shape": self.crop_shape,
                "size": self.crop.reach * (2 if self.crop_shape == "block" else 1),
                "num_points": self.crop.num_points,
            },
            "grid_size": self.grid_size,
        }

    # --- splits -------------------------------------------------------------------------------------
    def _split(self, split: Split) -> list[Scene]:
        if split not in self.scenes:
            kept = []
            for scene in self.load_scenes(split):
                reason = self._unusable(scene, split)
                if reason is None:
                    _check_features(scene, self.features)
                    if self.check_labels:
                        scene.bounds  # noqa: B018 - computed once here, before workers fork
                    kept.append(scene)
                else:
                    self.skipped.append((split, scene.name, reason))
                    log.warning("%s: %s skipped from %s: %s", scene.path, scene.name, split, reason)
            if not kept:
                skipped = [name for where, name, _ in self.skipped if where == split]
                detail = f"; skipped: {', '.join(skipped)}" if skipped else ""
                reason = self._no_usable(split) if skipped else ""
                raise DataError(
                    f"{type(self).__name__}: the {split} split has no usable scene ({self._where()})"
                    f"{detail}{'; ' + reason if reason else ''}"
                )
            self.scenes[split] = kept
        return self.scenes[split]

    def _unusable(self, scene: Scene, split: Split) -> str | None:
        """Why ``scene`` cannot serve ``split`` (then it is skipped, logged and counted), or None.
        A scene whose every point is ignored would score nothing: skipped from every split."""
        if len(scene) == 0:
            return "no points"
        if (
            self.check_labels
            and scene.labels is not None
            and scene.class_counts(self.num_classes, self.ignore_index).sum() == 0
        ):
            return "no point of a class in the map (every point ignored)"
        return None

    def _no_usable(self, split: Split) -> str:
        """A hint for a split whose every scene was skipped (subclasses name the codes found)."""
        return ""

    def _where(self) -> str:
        return str(getattr(self, "root", "?"))

    def test_scenes(self) -> list[Scene]:
        """The test split's scenes, in test-batch order (``batch["index"]`` indexes this list)."""
        return self._split("test")

    def setup(self, stage: str | None = None) -> None:
        if stage in (None, "fit"):
            self._split("train")
        if stage in (None, "fit", "validate"):
            self._split("val")
        if stage in (None, "test", "predict"):
            self._split("test")

    def _crops(self, split: Split, length: int | None) -> SceneCrops:
        scenes = self._split(split)
        if length is None:
            total = sum(len(scene) for scene in scenes)
            length = max(self.batch_size, math.ceil(total / self.crop.num_points))
        augment = self.augment if split == "train" else None
        seed = self.seed if split == "train" else self.seed + 1
        return SceneCrops(
            scenes,
            self.crop,
            self.features,
            self.ignore_index,
            length,
            augment,
            self.grid_size,
            seed,
        )

    def train_dataloader(self) -> DataLoader:
        crops = self._crops("train", self.crops_per_epoch)
        if len(crops) < max(2, self.batch_size):
            raise DataError(
                f"{type(self).__name__}: {len(crops)} training crops per epoch, fewer than batch_size={self.batch_size}"
            )
        return DataLoader(
            crops,
            batch_size=self.batch_size,
            shuffle=True,
            drop_last=True,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def val_dataloader(self) -> DataLoader:
        if self.val_mode == "crops":
            return DataLoader(
                self._crops("val", None), batch_size=self.batch_size, num_workers=self.num_workers
            )
        return self._whole("val")

    def test_dataloader(self) -> DataLoader:
        return self._whole("test")

    def predict_dataloader(self) -> DataLoader:
        return self._whole("test")

    def _whole(self, split: Split) -> DataLoader:
        scenes = WholeScenes(self._split(split), self.features, self.ignore_index)
        return DataLoader(scenes, batch_size=1, shuffle=False, num_workers=self.num_workers)
