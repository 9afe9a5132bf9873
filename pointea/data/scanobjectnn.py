"""ScanObjectNN (Uy et al., ICCV 2019): real scanned objects, 15 classes, as distributed.

Layout (``h5_files.zip``, obtained from the authors after accepting the terms of use)::

    h5_files/
        main_split/{training,test}_objectdataset.h5                          OBJ_BG
        main_split_nobg/{training,test}_objectdataset.h5                     OBJ_ONLY
        main_split/{training,test}_objectdataset_augmented25_norot.h5        PB_T25
        main_split/{training,test}_objectdataset_augmented25rot.h5           PB_T25_R
        main_split/{training,test}_objectdataset_augmentedrot.h5             PB_T50_R
        main_split/{training,test}_objectdataset_augmentedrot_scale75.h5     PB_T50_RS (the hardest)

Each file: ``data`` (M, 2048, 3) float32, ``label`` (M,) class 0..14, ``mask`` (M, 2048) with -1
on background points (hkust-vgd/scanobjectnn ``data_utils.convert_to_binary_mask``). PB_T50_RS,
the variant most papers report, has 11,416 training and 2,882 test shapes.

Class names in label order, as in PointNeXt's ``ScanObjectNNHardest.classes``
(``openpoints/dataset/scanobjectnn/scanobjectnn.py``) and consistent with the authors'
ModelNet-to-ScanObjectNN map (hkust-vgd/scanobjectnn ``mapping2.py``: ModelNet's bed (2) -> 10,
chair (8) -> 4, sofa (30) -> 13, toilet (35) -> 14, ...).

Shape legend: M shapes, N points per shape.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np

from pointea.data.arguments import check_choice
from pointea.data.datamodule import PointCloudDataModule
from pointea.data.dataset import PointCloudDataset
from pointea.data.storage import read_h5
from pointea.data.transforms import Transform
from pointea.data.validation import check_points, check_shape_labels
from pointea.data.verify import Verifier, VerifyReport
from pointea.errors import DataError

__all__ = [
    "SCANOBJECTNN_VARIANTS",
    "VERIFIERS",
    "ScanObjectNN",
    "ScanObjectNNDataModule",
    "ScanObjectNNVariant",
    "find_scanobjectnn_variants",
]

ScanObjectNNVariant = Literal["PB_T50_RS", "PB_T50_R", "PB_T25_R", "PB_T25", "OBJ_BG", "OBJ_ONLY"]
SCANOBJECTNN_VARIANTS: tuple[str, ...] = get_args(ScanObjectNNVariant)

# variant -> (split folder, file name suffix after "<split>_objectdataset")
_FILES = {
    "OBJ_BG": ("main_split", ""),
    "OBJ_ONLY": ("main_split_nobg", ""),
    "PB_T25": ("main_split", "_augmented25_norot"),
    "PB_T25_R": ("main_split", "_augmented25rot"),
    "PB_T50_R": ("main_split", "_augmentedrot"),
    "PB_T50_RS": ("main_split", "_augmentedrot_scale75"),
}


class ScanObjectNN(PointCloudDataset):
    """One split of one ScanObjectNN variant.

    Args:
        root: ``h5_files/``, a folder containing it (or ``ScanObjectNN/h5_files/``), or the split
            folder itself (``main_split/``).
        split: ``"train"`` (the ``training_*`` file) or ``"test"``.
        variant: see :data:`SCANOBJECTNN_VARIANTS`; ``PB_T50_RS`` by default.
        transform: per-shape transform (see :mod:`pointea.data.transforms`).

    Items: ``{"points": float32 (K, 3), "label": int, "index": int}``. The background mask is
    kept as :attr:`foreground` (M, N) bool (all True when the file has no ``mask``).

    Raises:
        DataError: missing folder or file, corrupt file, wrong keys, shapes or values.
    """

    SPLITS = ("train", "test")
    CLASS_NAMES = (
        "bag", "bin", "box", "cabinet", "chair", "desk", "display", "door", "shelf", "table",
        "bed", "pillow", "sink", "sofa", "toilet",
    )  # fmt: skip
    #: Shapes per split of the published files, reported by verify.
    FULL_SIZES = {
        "PB_T50_RS": {"train": 11416, "test": 2882},
        "PB_T50_R": {"train": 11416, "test": 2882},
        "PB_T25_R": {"train": 11416, "test": 2882},
        "PB_T25": {"train": 11416, "test": 2882},
        "OBJ_BG": {"train": 2309, "test": 581},
        "OBJ_ONLY": {"train": 2309, "test": 581},
    }

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        variant: ScanObjectNNVariant = "PB_T50_RS",
        transform: Transform | None = None,
    ) -> None:
        check_choice("ScanObjectNN: split", split, self.SPLITS, DataError)
        self.path = self.locate(root, split, variant)
        self.split, self.variant = split, variant
        points, labels, foreground = self.read_file(self.path)
        super().__init__(points=points, shape_labels={"label": labels}, transform=transform, source=self.path)
        self.foreground = foreground

    @staticmethod
    def file_name(split: str, variant: str) -> tuple[str, str]:
        """(split folder, file name) of one split of a variant."""
        check_choice("ScanObjectNN: variant", variant, SCANOBJECTNN_VARIANTS, DataError)
        folder, suffix = _FILES[variant]
        prefix = "training" if split == "train" else "test"
        return folder, f"{prefix}_objectdataset{suffix}.h5"

    @classmethod
    def find(
        cls, root: str | Path, split: str = "train", variant: str = "PB_T50_RS"
    ) -> Path | None:
        """The file of ``split`` and ``variant`` under ``root``, or ``None``."""
        root = Path(root).expanduser()
        folder, name = cls.file_name(split, variant)
        places = (
            root / folder,
            root / "h5_files" / folder,
            root / "ScanObjectNN" / "h5_files" / folder,
        )
        # ``root`` itself only when it is the variant's split folder (main_split vs main_split_nobg
        # hold files of the same names).
        for place in (*places, *((root,) if root.name == folder else ())):
            if (place / name).is_file():
                return place / name
        return None

    @classmethod
    def locate(cls, root: str | Path, split: str = "train", variant: str = "PB_T50_RS") -> Path:
        """Like :meth:`find`, but a :class:`DataError` saying where the file is expected."""
        found = cls.find(root, split, variant)
        if found is not None:
            return found
        root = Path(root).expanduser()
        folder, name = cls.file_name(split, variant)
        state = "does not exist" if not root.exists() else f"has no {folder}/{name}"
        raise DataError(
            f"ScanObjectNN {variant} not found: {root} {state}. Expected "
            f"{root / 'h5_files' / folder / name} (or {root / folder / name}). The authors share "
            "h5_files.zip after you accept their terms of use: "
            "https://hkust-vgd.github.io/scanobjectnn/ ; unzip it into the root."
        )

    @classmethod
    def read_file(cls, path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Read and validate one file: keys, shapes, dtypes, labels 0..14, NaN/Inf, mask shape.

        Shapes:
            returns points (M, N, 3) float32, labels (M,) int64, foreground (M, N) bool
        """
        arrays = read_h5(path, required=("data", "label"), optional=("mask",))
        points = check_points(path, arrays["data"])
        labels = check_shape_labels(
            path, arrays["label"], "label", points.shape[0], len(cls.CLASS_NAMES)
        )
        mask = arrays.get("mask")
        if mask is None:
            return points, labels, np.ones(points.shape[:2], dtype=bool)
        if mask.shape != points.shape[:2] or not np.issubdtype(mask.dtype, np.number):
            raise DataError(
                f"{path}: 'mask' has shape {mask.shape} and dtype {mask.dtype}, expected "
                f"{points.shape[:2]} numbers (-1 on background points)"
            )
        return points, labels, mask != -1


class ScanObjectNNDataModule(PointCloudDataModule):
    """ScanObjectNN from the authors' ``h5_files/`` (see :mod:`pointea.data.scanobjectnn`).

    ScanObjectNN has no validation split: as in PointMLP and PointNeXt, the validation loader
    serves the test split (so "best" checkpoints are chosen on it, as for ModelNet40).

    Args:
        root: ``h5_files/`` or a folder containing it.
        variant: ``PB_T50_RS`` (main_split, ``*_augmentedrot_scale75.h5``: the hardest variant,
            the one most papers report), ``PB_T50_R``, ``PB_T25_R``, ``PB_T25``, ``OBJ_BG``
            (main_split, ``*_objectdataset.h5``) or ``OBJ_ONLY`` (main_split_nobg).
        **kwargs: the shared options of :class:`~pointea.data.datamodule.PointCloudDataModule`
            (``num_points``: of the 2048 stored, ``batch_size``, ``num_workers``, ``augment``,
            ``sampling``, ``normalize``).

    Shapes:
        batch["points"]: (B, K, 3) float32; batch["label"]: (B,) int64; batch["index"]: (B,) int64
    """

    def __init__(self, root: str, variant: ScanObjectNNVariant = "PB_T50_RS", **kwargs: Any) -> None:
        super().__init__(root, synthetic=False, seed=0, **kwargs)
        self.variant = check_choice("variant", variant, SCANOBJECTNN_VARIANTS)
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


def find_scanobjectnn_variants(root: str | Path) -> list[str]:
    """The ScanObjectNN variants with at least one file under ``root``."""
    return [
        variant for variant in SCANOBJECTNN_VARIANTS
        if any(ScanObjectNN.find(root, split, variant) for split in ScanObjectNN.SPLITS)
    ]  # fmt: skip


def _verify_scanobjectnn(report: VerifyReport, root: Path, missing: str) -> None:
    report.lines.append(f"ScanObjectNN layout: {root}")
    report.lines.append(
        f"  classes: {len(ScanObjectNN.CLASS_NAMES)} ({', '.join(ScanObjectNN.CLASS_NAMES[:4])}, ...)"
    )
    for variant in find_scanobjectnn_variants(root):
        for split in ScanObjectNN.SPLITS:
            try:
                path = ScanObjectNN.locate(root, split, variant)
                points, labels, foreground = ScanObjectNN.read_file(path)
            except DataError as exc:
                report.problem(str(exc))
                continue
            full = ScanObjectNN.FULL_SIZES[variant][split]
            report.lines.append(
                f"  {variant} {split}: {path.name}: {points.shape[0]} shapes x {points.shape[1]} points, "
                f"labels {labels.min()}..{labels.max()} ({np.unique(labels).size} classes), "
                f"{1 - foreground.mean():.1%} background points (full file: {full})"
            )


def _find_any_variant(root: Path) -> Path | None:
    return Path(root) if find_scanobjectnn_variants(root) else None


#: ``pointea-data verify``'s ScanObjectNN layout: name -> (find, verify).
VERIFIERS: dict[str, Verifier] = {"scanobjectnn": (_find_any_variant, _verify_scanobjectnn)}
