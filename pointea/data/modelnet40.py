"""ModelNet40 from the published HDF5 archive ``modelnet40_ply_hdf5_2048/``.

Layout (read exactly as published)::

    modelnet40_ply_hdf5_2048/
        shape_names.txt                 40 class names, one per line, label order
        train_files.txt, test_files.txt lines like data/modelnet40_ply_hdf5_2048/ply_data_train0.h5
        ply_data_train{0..4}.h5         data (M, 2048, 3) float32, label (M, 1) uint8, [normal]
        ply_data_test{0,1}.h5

The file lists carry the authors' relative prefix; files are resolved by base name. ``normal``
(unit normals) is optional; the loaders serve xyz only and ``pointea-data verify`` checks it.

Shape legend: M shapes, N points per shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pointea.data.dataset import PointCloudDataset
from pointea.data.h5 import read_h5
from pointea.data.layout import ArchiveLayout, read_file_list, read_lines
from pointea.data.transforms import Transform
from pointea.data.validation import check_points, check_shape_labels
from pointea.errors import DataError

__all__ = ["ModelNet40", "ClassificationFile"]


@dataclass(frozen=True)
class ClassificationFile:
    """The validated arrays of one classification ``.h5`` file.

    Shapes:
        points: (M, N, 3) float32; labels: (M,) int64; normals: (M, N, 3) float32 or None
    """

    path: Path
    points: np.ndarray
    labels: np.ndarray
    normals: np.ndarray | None


class ModelNet40(PointCloudDataset):
    """One split of ModelNet40 (or any folder in its layout, such as the synthetic set).

    Args:
        root: the archive folder, or a folder containing ``modelnet40_ply_hdf5_2048/``.
        split: ``"train"`` or ``"test"``.
        transform: per-shape transform (see :mod:`pointea.data.transforms`).

    Items: ``{"points": float32 (K, 3), "label": int, "index": int}``.

    Raises:
        DataError: missing folder or files, corrupt files, wrong keys, shapes or values.
    """

    ARCHIVE_DIR = "modelnet40_ply_hdf5_2048"
    SPLITS = ("train", "test")
    NAMES_FILE = "shape_names.txt"
    CLASS_NAMES = (
        "airplane", "bathtub", "bed", "bench", "bookshelf", "bottle", "bowl", "car", "chair",
        "cone", "cup", "curtain", "desk", "door", "dresser", "flower_pot", "glass_box", "guitar",
        "keyboard", "lamp", "laptop", "mantel", "monitor", "night_stand", "person", "piano",
        "plant", "radio", "range_hood", "sink", "sofa", "stairs", "stool", "table", "tent",
        "toilet", "tv_stand", "vase", "wardrobe", "xbox",
    )  # fmt: skip

    def __init__(
        self, root: str | Path, split: str = "train", transform: Transform | None = None
    ) -> None:
        if split not in self.SPLITS:
            raise DataError(f"ModelNet40: split must be one of {self.SPLITS}, got {split!r}")
        self.archive_dir = self.LAYOUT.locate(root)
        self.split = split
        self.class_names = self.read_class_names(self.archive_dir)
        num_classes = len(self.class_names)
        paths = self.split_files(self.archive_dir, split)
        files = [self.read_file(path, num_classes) for path in paths]
        super().__init__(
            points=np.concatenate([f.points for f in files]),  # (M, N, 3), M summed over files
            shape_labels={"label": np.concatenate([f.labels for f in files])},
            transform=transform,
        )
        self.files = tuple(f.path for f in files)

    LAYOUT = ArchiveLayout(
        dataset="ModelNet40",
        download_name="modelnet40",
        folder_names=(ARCHIVE_DIR,),
        marker=NAMES_FILE,
        contents="train_files.txt, test_files.txt and ply_data_*.h5",
    )

    @classmethod
    def read_class_names(cls, archive_dir: Path) -> list[str]:
        """Class names in label order from ``shape_names.txt`` (checked by
        :meth:`check_class_names`)."""
        path = archive_dir / cls.NAMES_FILE
        names = read_lines(path)
        if not names:
            raise DataError(f"{path}: no class names, expected one per line")
        if len(set(names)) != len(names):
            raise DataError(f"{path}: class names repeat")
        cls.check_class_names(path, names)
        return names

    @classmethod
    def check_class_names(cls, path: Path, names: list[str]) -> None:
        """A names file holding mostly ModelNet40 names must be ModelNet40's 40, in label order.

        A file with more than 20 of ModelNet40's names is taken to mean ModelNet40; then a
        missing, extra, swapped or misspelt line would shift or rename every class silently, so
        it is refused, naming the first mismatch. Other label spaces in this layout (the
        synthetic set, ModelNet10's 10 names, your own) pass unchanged.
        """
        known = set(cls.CLASS_NAMES)
        claims_modelnet40 = 2 * sum(name in known for name in names) > len(cls.CLASS_NAMES)
        if not claims_modelnet40 or names == list(cls.CLASS_NAMES):
            return
        raise DataError(
            f"{path}: holds {len(names)} names, mostly ModelNet40's, but differs from ModelNet40's "
            f"{len(cls.CLASS_NAMES)} classes: {cls._mismatch(names)}; restore the original file"
        )

    @classmethod
    def _mismatch(cls, names: list[str]) -> str:
        """The first position where ``names`` and :attr:`CLASS_NAMES` differ, in words."""
        standard = cls.CLASS_NAMES
        for label, (name, expected) in enumerate(zip(names, standard)):
            if name != expected:
                return f"name {label + 1} is {name!r}, ModelNet40's label {label} is {expected!r}"
        if len(names) < len(standard):
            return f"it ends after {standard[len(names) - 1]!r}, before {standard[len(names)]!r}"
        return f"name {len(standard) + 1} {names[len(standard)]!r} is one too many"

    @classmethod
    def split_files(cls, archive_dir: Path, split: str) -> list[Path]:
        """The ``.h5`` files of a split, from ``{split}_files.txt``."""
        return read_file_list(archive_dir / f"{split}_files.txt")

    @staticmethod
    def read_file(path: Path, num_classes: int, normals: bool = False) -> ClassificationFile:
        """Read and validate one classification file (keys, shapes, dtypes, ranges, NaN/Inf).

        ``normal`` is read and checked only when ``normals`` is True (the loaders serve xyz).
        """
        arrays = read_h5(path, required=("data", "label"), optional=("normal",) if normals else ())
        points = check_points(path, arrays["data"])
        names = f"one per class name in {path.parent / ModelNet40.NAMES_FILE}"
        labels = check_shape_labels(
            path, arrays["label"], "label", points.shape[0], num_classes, values_from=names
        )
        normal = arrays.get("normal")
        if normal is not None:
            if normal.shape != points.shape:
                raise DataError(
                    f"{path}: 'normal' has shape {normal.shape}, expected {points.shape} like 'data'"
                )
            if not np.issubdtype(normal.dtype, np.floating):
                raise DataError(f"{path}: 'normal' has dtype {normal.dtype}, expected float32")
            if not np.isfinite(normal).all():
                raise DataError(f"{path}: 'normal' has NaN/Inf values")
        return ClassificationFile(path=path, points=points, labels=labels, normals=normal)
