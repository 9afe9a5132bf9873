"""What every data module shares: settings checked at the door, transforms, the four dataloaders.

Each data set module defines its own LightningDataModule on this base (``ModelNet40DataModule`` in
:mod:`pointea.data.modelnet40`, ...). They serve channels-last batches of dicts and expose the
label-space facts the CLI links into the model (``num_classes``; ``num_parts``,
``num_categories``) right after ``__init__``, before any data is read.

Batches (default collate of the per-shape dicts; B batch, K = ``num_points``):
    classification: ``{"points": float32 (B, K, 3), "label": int64 (B,), "index": int64 (B,)}``
    segmentation:   ``{"points": float32 (B, K, 3), "category": int64 (B,), "parts": int64 (B, K),
                      "index": int64 (B,)}``
``index`` is each shape's position in its split, to write predictions back per shape.

Augmentation and sampling choices are described in :mod:`pointea.data.transforms`. Random draws
are seeded from torch's RNG (see :mod:`pointea.data.dataset`), so ``seed_everything`` makes
training batches reproducible and DataLoader workers draw different augmentations.
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
from torch.utils.data import DataLoader, Dataset

from pointea.data.arguments import (
    MAX_BATCH_SIZE,
    MAX_POINTS,
    MAX_SEED,
    MAX_SYNTHETIC_PER_LABEL,
    MAX_WORKERS,
    check_int,
)
from pointea.data.transforms import Augmentation, Sampling, build_transform
from pointea.errors import DataError

__all__ = ["PointCloudDataModule"]


class PointCloudDataModule(pl.LightningDataModule):
    """What every shape data module shares: settings, transforms and the four dataloaders.

    Each data set's module takes its own options and passes these on (``**kwargs``), so each of
    them is declared and documented once, here; the CLI reads them from this signature
    (``--data.init_args.batch_size``, ...), and a data set that needs another default declares
    that one again.

    Args:
        root: where the data set is (each data set says what it expects there).
        num_points: points per served cloud (random subset for training, the first points, or
            FPS, for evaluation).
        batch_size: shapes per batch.
        num_workers: DataLoader worker processes.
        augment: training augmentation, see :mod:`pointea.data.transforms`.
        sampling: ``"random"`` or ``"fps"`` resampling to ``num_points``; per-point labels and
            normals follow their points.
        normalize: centre and scale each cloud into the unit sphere first.
        synthetic: when ``root`` holds no data, write the data set's synthetic stand-in there
            (deterministic from ``seed``) where it has one.
        seed: seed of what the data set draws once: its synthetic set, the resampling of text
            and mesh layouts, a seeded hold-out split.
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
