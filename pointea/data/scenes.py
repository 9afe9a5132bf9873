"""The scene data module: crops of scenes for training, whole scenes for test.

Each data set module (:mod:`pointea.data.s3dis`, :mod:`pointea.data.lidar`,
:mod:`pointea.data.semantickitti`) reads its layouts into scenes (:class:`~pointea.data.scene.Scene`);
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

Coordinates and features served (``features``, in the order asked, C channels in all:
:attr:`in_channels`) are described in :mod:`pointea.data.scene`, which computes them.

Shape legend: B batch, N points, K crop points, C feature channels, L classes.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities.rank_zero import rank_zero_warn
from torch.utils.data import DataLoader

from pointea.data.arguments import MAX_BATCH_SIZE, MAX_SEED, MAX_WORKERS, check_int
from pointea.data.crops import CropPreset, build_crop
from pointea.data.scene import (
    FEATURES,
    LOCAL_HEIGHT_CELL,
    Scene,
    SceneCrops,
    WholeScenes,
    check_features,
    default_augmentation,
    feature_channels,
    scene_sample,
)
from pointea.data.transforms import CLASS_WEIGHTINGS, class_weights
from pointea.errors import ConfigError, DataError, SharedScenesWarning

__all__ = [
    "SceneDataModule",
    "Split",
    # the scene itself, from pointea.data.scene (imported from here by earlier code)
    "FEATURES",
    "LOCAL_HEIGHT_CELL",
    "Scene",
    "SceneCrops",
    "WholeScenes",
    "feature_channels",
    "scene_sample",
]

log = logging.getLogger(__name__)

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
        self._shared_warned: set[tuple[Path, ...]] = set()  # scored scene lists warned about (_warn_shared_scenes)
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

    def class_counts(self, split: Split = "train") -> np.ndarray:
        """Points per class over ``split``'s scenes (ignored points left out).  Shapes: (L,)."""
        counts = np.zeros(self.num_classes, dtype=np.int64)
        for scene in self._split(split):
            counts += scene.class_counts(self.num_classes, self.ignore_index)
        return counts

    @property
    def class_weights(self) -> torch.Tensor | None:
        """Cross-entropy weights from the train split's class counts (``class_weighting``), or None."""
        if self.class_weighting is None:
            return None
        return torch.from_numpy(class_weights(self.class_counts("train"), self.class_weighting))

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
            self.skipped = [entry for entry in self.skipped if entry[0] != split]  # a retry counts afresh
            for scene in self.load_scenes(split):
                reason = self._unusable(scene, split)
                if reason is None:
                    check_features(scene, self.features)
                    if self.check_labels:  # computed once here, before workers fork
                        scene.bounds  # noqa: B018
                        if "local_height" in self.features:
                            scene.lowest()
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
        self._warn_shared_scenes()

    def _warn_shared_scenes(self) -> None:
        """Warn, once per list of scored scenes, when a loaded validation or test split holds a scene
        of the loaded training split (the same file or folder): its scores would include points the
        network trained on. Validation on the test scenes (the usual fallback) warns once for both.
        A warning, not an error: training on a sample's one scene and scoring it is a smoke test."""
        if "train" not in self.scenes:
            return
        trained = {scene.path.resolve() for scene in self.scenes["train"]}
        for split in ("val", "test"):
            scored = tuple(scene.path.resolve() for scene in self.scenes.get(split, ()))
            names = [scene.name for scene, path in zip(self.scenes.get(split, ()), scored) if path in trained]
            if names and scored not in self._shared_warned:
                self._shared_warned.add(scored)
                listed = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
                rank_zero_warn(  # once, not once per DDP rank
                    f"{type(self).__name__}: {len(names)} of the {len(scored)} {split} scenes are training scenes "
                    f"too ({listed}; {self._where()}): their scores include points the network trained on; give the "
                    "splits disjoint files",
                    category=SharedScenesWarning,
                )

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
                f"{type(self).__name__}: {len(crops)} training crops per epoch, fewer than one batch of "
                f"max(2, batch_size={self.batch_size}) (the last partial batch is dropped, and a batch of 1 breaks "
                "BatchNorm): raise data.init_args.crops_per_epoch"
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
