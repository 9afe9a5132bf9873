"""The LightningDataModule for ScanObjectNN classification (15 classes of real scans).

Batches as for ModelNet40 (B batch, K = ``num_points``):
    ``{"points": float32 (B, K, 3), "label": int64 (B,), "index": int64 (B,)}``
"""

from __future__ import annotations

from pointea.data.datamodules import _PointCloudDataModule
from pointea.data.presets import Augmentation, Sampling
from pointea.data.scanobjectnn import SCANOBJECTNN_VARIANTS, ScanObjectNN, ScanObjectNNVariant

__all__ = ["ScanObjectNNDataModule"]


class ScanObjectNNDataModule(_PointCloudDataModule):
    """ScanObjectNN from the authors' ``h5_files/`` (see :mod:`pointea.data.scanobjectnn`).

    ScanObjectNN has no validation split: as in PointMLP and PointNeXt, the validation loader
    serves the test split (so "best" checkpoints are chosen on it, as for ModelNet40).

    Args:
        root: ``h5_files/`` or a folder containing it.
        variant: ``PB_T50_RS`` (main_split, ``*_augmentedrot_scale75.h5``: the hardest variant,
            the one most papers report), ``PB_T50_R``, ``PB_T25_R``, ``PB_T25``, ``OBJ_BG``
            (main_split, ``*_objectdataset.h5``) or ``OBJ_ONLY`` (main_split_nobg).
        num_points: points per served cloud (of the 2048 stored).
        batch_size: shapes per batch.
        num_workers: DataLoader worker processes.
        augment: training augmentation, see :mod:`pointea.data.presets`.
        sampling: ``"random"`` or ``"fps"`` resampling to ``num_points``.
        normalize: centre and scale each cloud into the unit sphere first.

    Shapes:
        batch["points"]: (B, K, 3) float32; batch["label"]: (B,) int64; batch["index"]: (B,) int64
    """

    def __init__(
        self,
        root: str,
        variant: ScanObjectNNVariant = "PB_T50_RS",
        num_points: int = 1024,
        batch_size: int = 32,
        num_workers: int = 0,
        augment: Augmentation = "pct",
        sampling: Sampling = "random",
        normalize: bool = False,
    ) -> None:
        super().__init__(
            root, num_points, batch_size, num_workers, augment, sampling, normalize,
            synthetic=False, seed=0,
        )  # fmt: skip
        if variant not in SCANOBJECTNN_VARIANTS:
            raise ValueError(
                f"variant must be one of {', '.join(SCANOBJECTNN_VARIANTS)}; got {variant!r}"
            )
        self.variant = variant
        self.save_hyperparameters()

    @property
    def class_names(self) -> list[str]:
        """The 15 class names in label order (the published order)."""
        return list(ScanObjectNN.CLASS_NAMES)

    @property
    def num_classes(self) -> int:
        return len(ScanObjectNN.CLASS_NAMES)

    def prepare_data(self) -> None:
        """Check both files of the variant are there (nothing is downloaded: see the module)."""
        for split in ScanObjectNN.SPLITS:
            ScanObjectNN.locate(self.root, split, self.variant)

    def setup(self, stage: str | None = None) -> None:
        if stage in (None, "fit") and self.train_set is None:
            self.train_set = ScanObjectNN(self.root, "train", self.variant, self.train_transform)
        if self.test_set is None:
            self.test_set = ScanObjectNN(self.root, "test", self.variant, self.eval_transform)
        self.val_set = self.test_set
