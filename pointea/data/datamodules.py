"""LightningDataModules for ModelNet40 (classification) and ShapeNetPart (part segmentation).

Both read the published HDF5 layouts (or the synthetic stand-in written in the same layouts, or a
text or mesh release converted once into them: ``layout``, see :mod:`pointea.data.layouts`), serve
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

from pointea.data.layouts.listing import MissingPolicy
from pointea.data.layouts.resolve import (
    ModelNet40Layout,
    ShapeNetPartLayout,
    find_modelnet40_layout,
    find_shapenetpart_layout,
    modelnet40_archive,
    modelnet40_class_names,
    shapenetpart_archive,
)
from pointea.data.modelnet40 import ModelNet40
from pointea.data.presets import Augmentation, Sampling, build_transform
from pointea.data.ranges import (
    MAX_BATCH_SIZE,
    MAX_POINTS,
    MAX_SEED,
    MAX_SYNTHETIC_PER_LABEL,
    MAX_WORKERS,
    check_int,
)
from pointea.data.shapenetpart import ShapeNetPart
from pointea.data.synthetic import CLASS_NAMES as SYNTHETIC_CLASS_NAMES
from pointea.data.synthetic import write_synthetic_modelnet40, write_synthetic_shapenetpart
from pointea.errors import DataError

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
        owner = type(self).__name__
        self.root = root
        self.num_points = check_int(f"{owner}: num_points", num_points, 1, MAX_POINTS)
        self.batch_size = check_int(f"{owner}: batch_size", batch_size, 1, MAX_BATCH_SIZE)
        self.num_workers = check_int(f"{owner}: num_workers", num_workers, 0, MAX_WORKERS)
        self.synthetic = synthetic
        self.seed = check_int(f"{owner}: seed", seed, 0, MAX_SEED)
        self.sampling = sampling
        self.normalize = normalize
        # Built eagerly so a bad choice fails at construction, with the argument named.
        self.train_transform = build_transform(
            self.num_points, train=True, augment=augment, sampling=sampling, normalize=normalize
        )
        self.eval_transform = build_transform(
            self.num_points, train=False, sampling=sampling, normalize=normalize
        )
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None
        self.test_set: Dataset | None = None

    def _synthetic_size(self, name: str, value: int) -> int:
        """A synthetic set size, checked: shapes per class (or category) and split."""
        return check_int(f"{type(self).__name__}: {name}", value, 1, MAX_SYNTHETIC_PER_LABEL)

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
        size = len(self.train_set) if self.train_set is not None else 0
        if self.train_set is not None and size < max(self.batch_size, 2):
            # Training drops the last partial batch (a batch of 1 breaks BatchNorm), so a split
            # smaller than one batch would train nothing and still end "successfully".
            raise DataError(
                f"{type(self).__name__}: the train split of {self.root} has {size} shape(s), fewer than "
                f"batch_size={self.batch_size} (at least 2): nothing would be trained; lower "
                "data.init_args.batch_size or add shapes"
            )
        return self._loader(self.train_set, train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, train=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, train=False)

    def predict_dataloader(self) -> DataLoader:
        """The test split, unshuffled and unaugmented; ``index`` maps rows back to shapes."""
        return self._loader(self.test_set, train=False)


class ModelNet40DataModule(_PointCloudDataModule):
    """ModelNet40 shape classification from ``modelnet40_ply_hdf5_2048/`` (or, see ``layout``,
    ``modelnet40_normal_resampled/`` or Princeton's ``ModelNet40/`` meshes).

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
        seed: seed of the synthetic set and of the ``off`` layout's mesh sampling.
        synthetic_train_per_class: synthetic training shapes per class.
        synthetic_test_per_class: synthetic test shapes per class.
        layout: ``"auto"`` (the first found: hdf5, normal_resampled, off), ``"hdf5"``
            (``modelnet40_ply_hdf5_2048``), ``"normal_resampled"`` (PointNet++'s text release) or
            ``"off"`` (Princeton's meshes); text and mesh layouts are converted once into the HDF5
            layout under ``cache_root`` (see :mod:`pointea.data.layouts`).
        cache_root: where ``pointea_cache/`` goes; default: the folder holding the release.
        missing: listed shapes whose files are absent: ``"error"``, or ``"skip"`` them.

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
        layout: ModelNet40Layout = "auto",
        cache_root: str | None = None,
        missing: MissingPolicy = "error",
    ) -> None:
        super().__init__(
            root, num_points, batch_size, num_workers, augment, sampling, normalize, synthetic, seed
        )
        size = self._synthetic_size
        train, test = synthetic_train_per_class, synthetic_test_per_class
        self.synthetic_train_per_class = size("synthetic_train_per_class", train)
        self.synthetic_test_per_class = size("synthetic_test_per_class", test)
        self.layout, self.cache_root, self.missing = layout, cache_root, missing
        find_modelnet40_layout(root, layout)  # an unknown layout fails here, with the argument named
        self.save_hyperparameters()

    @property
    def class_names(self) -> list[str]:
        """Class names in label order: from ``shape_names.txt`` when the data is there, else
        the synthetic classes (``synthetic=True``), else the 40 standard ModelNet40 classes."""
        found = modelnet40_class_names(self.root, self.layout)
        if found is not None:
            return found
        return list(SYNTHETIC_CLASS_NAMES if self.synthetic else ModelNet40.CLASS_NAMES)

    @property
    def num_classes(self) -> int:
        """Number of classes (see :attr:`class_names`); available right after ``__init__``."""
        return len(self.class_names)

    def prepare_data(self) -> None:
        """Write the synthetic set when asked for and missing; otherwise check the data is there."""
        synthetic = self.synthetic and self.layout in ("auto", "hdf5")  # written in the HDF5 layout
        if synthetic and find_modelnet40_layout(self.root, self.layout) is None:
            write_synthetic_modelnet40(
                self.root, self.seed, self.synthetic_train_per_class, self.synthetic_test_per_class
            )
        self._archive()  # converts a text or mesh layout once (rank 0 only under DDP)

    def _archive(self) -> Path:
        return modelnet40_archive(
            self.root, self.layout, self.num_points, self.cache_root, self.missing, self.seed
        )

    def setup(self, stage: str | None = None) -> None:
        archive = self._archive()
        if stage in (None, "fit") and self.train_set is None:
            self.train_set = ModelNet40(archive, "train", self.train_transform)
        if self.test_set is None:
            self.test_set = ModelNet40(archive, "test", self.eval_transform)
        self.val_set = self.test_set


class ShapeNetPartDataModule(_PointCloudDataModule):
    """ShapeNetPart part segmentation from ``shapenet_part_seg_hdf5_data/`` (or ``hdf5_data/``; or,
    see ``layout``, the ``..._v0_normal/`` and ``..._v0/`` text releases).

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
        seed: seed of the synthetic set and of the text layouts' resampling to 2048 points.
        synthetic_train_per_category, synthetic_val_per_category, synthetic_test_per_category:
            synthetic shapes per category and split.
        layout: ``"auto"`` (the first found: hdf5, v0_normal, v0), ``"hdf5"``
            (``shapenet_part_seg_hdf5_data``), ``"v0_normal"`` or ``"v0"`` (the text releases,
            converted once into the HDF5 layout under ``cache_root``, see
            :mod:`pointea.data.layouts`).
        cache_root: where ``pointea_cache/`` goes; default: the folder holding the release.
        missing: listed shapes whose files are absent: ``"error"``, or ``"skip"`` them.

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
        layout: ShapeNetPartLayout = "auto",
        cache_root: str | None = None,
        missing: MissingPolicy = "error",
    ) -> None:
        super().__init__(
            root, num_points, batch_size, num_workers, augment, sampling, normalize, synthetic, seed
        )
        if train_split not in ("train", "trainval"):
            raise ValueError(f"train_split must be 'train' or 'trainval', got {train_split!r}")
        self.train_split = train_split
        self.synthetic_sizes = tuple(
            self._synthetic_size(name, value)
            for name, value in (
                ("synthetic_train_per_category", synthetic_train_per_category),
                ("synthetic_val_per_category", synthetic_val_per_category),
                ("synthetic_test_per_category", synthetic_test_per_category),
            )
        )
        self.layout, self.cache_root, self.missing = layout, cache_root, missing
        find_shapenetpart_layout(root, layout)  # an unknown layout fails here, with the argument named
        self.save_hyperparameters()

    num_parts: int = ShapeNetPart.NUM_PARTS
    num_categories: int = len(ShapeNetPart.CATEGORIES)
    category_names: tuple[str, ...] = ShapeNetPart.CATEGORIES
    parts_per_category: dict[str, tuple[int, ...]] = ShapeNetPart.PARTS_PER_CATEGORY

    def prepare_data(self) -> None:
        """Write the synthetic set when asked for and missing; otherwise check the data is there."""
        synthetic = self.synthetic and self.layout in ("auto", "hdf5")  # written in the HDF5 layout
        if synthetic and find_shapenetpart_layout(self.root, self.layout) is None:
            write_synthetic_shapenetpart(self.root, self.seed, *self.synthetic_sizes)
        self._archive()  # converts a text layout once (rank 0 only under DDP)

    def _archive(self) -> Path:
        return shapenetpart_archive(
            self.root, self.layout, self.num_points, self.cache_root, self.missing, self.seed
        )

    def setup(self, stage: str | None = None) -> None:
        archive = self._archive()
        if stage in (None, "fit") and self.train_set is None:
            train = ShapeNetPart(archive, "train", self.train_transform)
            if self.train_split == "trainval":
                train = ConcatDataset([train, ShapeNetPart(archive, "val", self.train_transform)])
            self.train_set = train
        if stage in (None, "fit", "validate") and self.val_set is None:
            self.val_set = ShapeNetPart(archive, "val", self.eval_transform)
        if stage in (None, "test", "predict") and self.test_set is None:
            self.test_set = ShapeNetPart(archive, "test", self.eval_transform)
