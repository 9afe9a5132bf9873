"""``ClassFolderDataModule``: train a classifier on a folder of your own point or mesh files.

The folder layouts are described in :mod:`pointea.data.class_folder`; batches, transforms and
augmentation options are those of :class:`~pointea.data.ModelNet40DataModule`. ``num_classes`` and
``class_names`` come from the folder names right after ``__init__``, so the CLI links them into the
model (``configs/custom_folder.yaml``).
"""

from __future__ import annotations

from pointea.data.class_folder import ClassFolder, ClassFolderListing, list_class_folder
from pointea.data.datamodules import _PointCloudDataModule
from pointea.data.presets import Augmentation, Sampling

__all__ = ["ClassFolderDataModule"]


class ClassFolderDataModule(_PointCloudDataModule):
    """Shape classification from ``root/<class>/<files>`` (``.ply``, ``.off``, ``.xyz``, ...).

    The validation loader serves the test split (as for ModelNet40).

    Args:
        root: the folder (see :mod:`pointea.data.class_folder` for the split layouts).
        num_points: points per served cloud (at most ``file_points``).
        batch_size: shapes per batch.
        num_workers: DataLoader worker processes.
        augment: training augmentation, see :mod:`pointea.data.presets`.
        sampling: ``"random"`` or ``"fps"`` resampling to ``num_points``.
        normalize: centre and scale each cloud into the unit sphere (on by default: your files
            come in any units and place).
        file_points: points read from each file once (meshes are sampled to this many).
        test_fraction: when the folder gives no split, the seeded share of each class held out.
        seed: seed of the hold-out split, the per-file subsets and the mesh sampling.

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
        normalize: bool = True,
        file_points: int = 2048,
        test_fraction: float = 0.2,
        seed: int = 0,
    ) -> None:
        super().__init__(
            root, num_points, batch_size, num_workers, augment, sampling, normalize, False, seed
        )
        if file_points < num_points:
            raise ValueError(f"file_points ({file_points}) must be >= num_points ({num_points})")
        self.file_points = file_points
        self.test_fraction = test_fraction
        self._listing: ClassFolderListing | None = None
        self.save_hyperparameters()

    @property
    def listing(self) -> ClassFolderListing:
        """The folder's layout, classes and files (listed once; reading comes in ``setup``)."""
        if self._listing is None:
            self._listing = list_class_folder(self.root, self.test_fraction, self.seed)
        return self._listing

    @property
    def class_names(self) -> list[str]:
        """The class folders' names, sorted: label ``i`` is ``class_names[i]``."""
        return list(self.listing.class_names)

    @property
    def num_classes(self) -> int:
        return len(self.listing.class_names)

    def prepare_data(self) -> None:
        """Check the folder (layout, classes, files) before any file is read."""
        list_class_folder(self.root, self.test_fraction, self.seed)

    def setup(self, stage: str | None = None) -> None:
        if stage in (None, "fit") and self.train_set is None:
            self.train_set = ClassFolder(self.listing, "train", self.file_points, self.train_transform, self.seed)
        if self.test_set is None:
            self.test_set = ClassFolder(self.listing, "test", self.file_points, self.eval_transform, self.seed)
        self.val_set = self.test_set
