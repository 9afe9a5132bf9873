"""LightningDataModules for ModelNet40 (classification) and ShapeNetPart (part segmentation).

Both read the published HDF5 layouts (or the synthetic stand-in written in the same layouts), serve
channels-last batches of dicts, and expose the label-space facts the CLI links into the model
(``num_classes``; ``num_parts``, ``num_categories``) right after ``__init__``, before any data is
read.

Batches (default collate of the per-shape dicts; B batch, K = ``num_points``):
    classification: ``{"points": float32 (B, K, 3), "label": int64 (B,), "index": int64 (B,)}``
    segmentation:   ``{"points": float32 (B, K, 3), "category": int64 (B,), "parts": int64 (B, K),
                      "index": int64 (B,)}``
``index`` is each shape's position in its split, to write predictions back per shape.

Augmentation and sampling choices are described in :mod:`pointea.data.presets`. Random draws are
seeded from torch's RNG (see :mod:`pointea.data.seeding`), so ``seed_everything`` makes training
batches reproducible and DataLoader workers draw different augmentations.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import pytorch_lightning as pl
from torch.utils.data import ConcatDataset, DataLoader, Dataset

from pointea.data.modelnet40 import ModelNet40
from pointea.data.presets import Augmentation, Sampling, build_transform
from pointea.data.shapenetpart import ShapeNetPart
from pointea.data.synthetic import CLASS_NAMES as SYNTHETIC_CLASS_NAMES
from pointea.data.synthetic import write_synthetic_modelnet40, write_synthetic_shapenetpart

__all__ = ["ModelNet40DataModule", "ShapeNetPartDataModule"]


class _PointCloudDataModule(pl.LightningDataModule):
    """What both data modules share: settings, transforms and the four dataloaders."""

    def __init__(
        self,
        root: str,
        num_points: int,
        batch_size: int,
        num_workers: int,
        augment: str,
        sampling: str,
        normalize: bool,
        synthetic: bool,
        seed: int,
    ) -> None:
        super().__init__()
        if num_points < 1 or batch_size < 1 or num_workers < 0:
            raise ValueError(
                f"need num_points >= 1, batch_size >= 1, num_workers >= 0; got {num_points}, "
                f"{batch_size}, {num_workers}"
            )
        self.root = root
        self.num_points = num_points
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.synthetic = synthetic
        self.seed = seed
        self.sampling = sampling
        self.normalize = normalize
        # Built eagerly so a bad choice fails at construction, with the argument named.
        self.train_transform = build_transform(
            num_points, train=True, augment=augment, sampling=sampling, normalize=normalize
        )
        self.eval_transform = build_transform(
            num_points, train=False, sampling=sampling, normalize=normalize
        )
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None
        self.test_set: Dataset | None = None

    def preprocessing_record(self) -> dict[str, Any]:
        """What a checkpoint records of how clouds were served, so prediction can repeat it."""
        return {"num_points": self.num_points, "sampling": self.sampling, "normalize": self.normalize}

    def _loader(self, dataset: Dataset | None, train: bool) -> DataLoader:
        if dataset is None:
            raise RuntimeError(f"{type(self).__name__}: call setup() before asking for dataloaders")
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=train,
            drop_last=train,  # a last batch of 1 would break BatchNorm in training
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, train=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, train=False)

    def predict_dataloader(self) -> DataLoader:
        """The test split, unshuffled and unaugmented; ``index`` maps rows back to shapes."""
        return self._loader(self.test_set, train=False)


class ModelNet40DataModule(_PointCloudDataModule):
    """ModelNet40 shape classification from ``modelnet40_ply_hdf5_2048/``.

    The validation loader serves the **test split**: ModelNet40 has no validation split and the
    customary protocol (PointNet, DGCNN, PCT) reports accuracy on the test split.

    Args:
        root: the archive folder or a folder containing ``modelnet40_ply_hdf5_2048/``.
        num_points: points per served cloud (random subset for training, the first points, or
            FPS, for evaluation).
        batch_size: shapes per batch.
        num_workers: DataLoader worker processes.
        augment: training augmentation, see :mod:`pointea.data.presets`.
        sampling: ``"random"`` or ``"fps"`` resampling to ``num_points``.
        normalize: centre and scale each cloud into the unit sphere first.
        synthetic: when ``root`` holds no data, ``prepare_data`` writes the synthetic 12-class set
            there (deterministic from ``seed``).
        seed: seed of the synthetic set.
        synthetic_train_per_class: synthetic training shapes per class.
        synthetic_test_per_class: synthetic test shapes per class.

    Shapes:
        batch["points"]: (B, K, 3) float32; batch["label"]: (B,) int64; batch["index"]: (B,) int64
    """

    def __init__(
        self,
        root: str,
        num_points: int = 1024,
        batch_size: int = 32,
        num_workers: int = 0,
        augment: Augmentation = "pct",
        sampling: Sampling = "random",
        normalize: bool = False,
        synthetic: bool = False,
        seed: int = 0,
        synthetic_train_per_class: int = 64,
        synthetic_test_per_class: int = 16,
    ) -> None:
        super().__init__(
            root, num_points, batch_size, num_workers, augment, sampling, normalize, synthetic, seed
        )
        self.synthetic_train_per_class = synthetic_train_per_class
        self.synthetic_test_per_class = synthetic_test_per_class
        self.save_hyperparameters()

    @property
    def class_names(self) -> list[str]:
        """Class names in label order: from ``shape_names.txt`` when the data is there, else
        the synthetic classes (``synthetic=True``), else the 40 standard ModelNet40 classes."""
        found = ModelNet40.LAYOUT.find(self.root)
        if found is not None:
            return ModelNet40.read_class_names(found)
        return list(SYNTHETIC_CLASS_NAMES if self.synthetic else ModelNet40.CLASS_NAMES)

    @property
    def num_classes(self) -> int:
        """Number of classes (see :attr:`class_names`); available right after ``__init__``."""
        return len(self.class_names)

    def prepare_data(self) -> None:
        """Write the synthetic set when asked for and missing; otherwise check the data is there."""
        if ModelNet40.LAYOUT.find(self.root) is None and self.synthetic:
            write_synthetic_modelnet40(
                self.root, self.seed, self.synthetic_train_per_class, self.synthetic_test_per_class
            )
        ModelNet40.LAYOUT.locate(self.root)

    def setup(self, stage: str | None = None) -> None:
        if stage in (None, "fit") and self.train_set is None:
            self.train_set = ModelNet40(self.root, "train", self.train_transform)
        if self.test_set is None:
            self.test_set = ModelNet40(self.root, "test", self.eval_transform)
        self.val_set = self.test_set


class ShapeNetPartDataModule(_PointCloudDataModule):
    """ShapeNetPart part segmentation from ``shapenet_part_seg_hdf5_data/`` (or ``hdf5_data/``).

    The standard 16 categories and 50 parts are fixed, so ``num_parts``, ``num_categories`` and
    ``parts_per_category`` never depend on the files. The validation loader serves the real
    ``val`` split; with ``train_split="trainval"`` training also uses it (the PointNet/DGCNN
    protocol), and validation numbers are then optimistic.

    Args:
        root: the archive folder or a folder containing ``shapenet_part_seg_hdf5_data/`` or
            ``hdf5_data/``.
        num_points: points per served cloud (2048 keeps all of them).
        batch_size: shapes per batch.
        num_workers: DataLoader worker processes.
        augment: training augmentation, see :mod:`pointea.data.presets`.
        sampling: ``"random"`` or ``"fps"`` resampling to ``num_points``; part labels follow.
        normalize: centre and scale each cloud into the unit sphere first.
        train_split: ``"train"``, or ``"trainval"`` to train on train + val.
        synthetic: when ``root`` holds no data, ``prepare_data`` writes the synthetic 5-category
            set there (deterministic from ``seed``), labelled in the standard label space.
        seed: seed of the synthetic set.
        synthetic_train_per_category, synthetic_val_per_category, synthetic_test_per_category:
            synthetic shapes per category and split.

    Shapes:
        batch["points"]: (B, K, 3) float32; batch["parts"]: (B, K) int64;
        batch["category"]: (B,) int64; batch["index"]: (B,) int64
    """

    def __init__(
        self,
        root: str,
        num_points: int = 2048,
        batch_size: int = 32,
        num_workers: int = 0,
        augment: Augmentation = "pct",
        sampling: Sampling = "random",
        normalize: bool = False,
        train_split: Literal["train", "trainval"] = "train",
        synthetic: bool = False,
        seed: int = 0,
        synthetic_train_per_category: int = 100,
        synthetic_val_per_category: int = 20,
        synthetic_test_per_category: int = 20,
    ) -> None:
        super().__init__(
            root, num_points, batch_size, num_workers, augment, sampling, normalize, synthetic, seed
        )
        if train_split not in ("train", "trainval"):
            raise ValueError(f"train_split must be 'train' or 'trainval', got {train_split!r}")
        self.train_split = train_split
        self.synthetic_sizes = (
            synthetic_train_per_category,
            synthetic_val_per_category,
            synthetic_test_per_category,
        )
        self.save_hyperparameters()

    num_parts: int = ShapeNetPart.NUM_PARTS
    num_categories: int = len(ShapeNetPart.CATEGORIES)
    category_names: tuple[str, ...] = ShapeNetPart.CATEGORIES
    parts_per_category: dict[str, tuple[int, ...]] = ShapeNetPart.PARTS_PER_CATEGORY

    def prepare_data(self) -> None:
        """Write the synthetic set when asked for and missing; otherwise check the data is there."""
        if ShapeNetPart.LAYOUT.find(self.root) is None and self.synthetic:
            write_synthetic_shapenetpart(self.root, self.seed, *self.synthetic_sizes)
        ShapeNetPart.LAYOUT.locate(self.root)

    def setup(self, stage: str | None = None) -> None:
        if stage in (None, "fit") and self.train_set is None:
            train = ShapeNetPart(self.root, "train", self.train_transform)
            if self.train_split == "trainval":
                train = ConcatDataset([train, ShapeNetPart(self.root, "val", self.train_transform)])
            self.train_set = train
        if stage in (None, "fit", "validate") and self.val_set is None:
            self.val_set = ShapeNetPart(self.root, "val", self.eval_transform)
        if stage in (None, "test", "predict") and self.test_set is None:
            self.test_set = ShapeNetPart(self.root, "test", self.eval_transform)
