"""ShapeNetPart from the published HDF5 archive ``shapenet_part_seg_hdf5_data/``.

Layout (read exactly as published; the zip unpacks to ``hdf5_data/``, and both names work)::

    shapenet_part_seg_hdf5_data/
        all_object_categories.txt       16 lines "<Name> <synset id>", label order
        train_hdf5_file_list.txt        ply_data_train0.h5 ... (bare file names)
        val_hdf5_file_list.txt, test_hdf5_file_list.txt
        ply_data_{train0..5,val0,test0..1}.h5
            data (M, 2048, 3) float32, label (M, 1) uint8 category 0..15,
            pid (M, 2048) uint8 part 0..49

Part ids are global (0..49); each category owns a contiguous range
(:attr:`ShapeNetPart.PARTS_PER_CATEGORY`).

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
from pointea.data.validation import (
    check_parts_match_category,
    check_point_labels,
    check_points,
    check_shape_labels,
)
from pointea.errors import DataError

__all__ = ["ShapeNetPart", "SegmentationFile", "category_of_part"]


_CATEGORIES = (
    "Airplane", "Bag", "Cap", "Car", "Chair", "Earphone", "Guitar", "Knife",
    "Lamp", "Laptop", "Motorbike", "Mug", "Pistol", "Rocket", "Skateboard", "Table",
)  # fmt: skip
_PARTS_PER_CATEGORY: dict[str, tuple[int, ...]] = {
    "Airplane": (0, 1, 2, 3), "Bag": (4, 5), "Cap": (6, 7), "Car": (8, 9, 10, 11),
    "Chair": (12, 13, 14, 15), "Earphone": (16, 17, 18), "Guitar": (19, 20, 21),
    "Knife": (22, 23), "Lamp": (24, 25, 26, 27), "Laptop": (28, 29),
    "Motorbike": (30, 31, 32, 33, 34, 35), "Mug": (36, 37), "Pistol": (38, 39, 40),
    "Rocket": (41, 42, 43), "Skateboard": (44, 45, 46), "Table": (47, 48, 49),
}  # fmt: skip


@dataclass(frozen=True)
class SegmentationFile:
    """The validated arrays of one part-segmentation ``.h5`` file.

    Shapes:
        points: (M, N, 3) float32; categories: (M,) int64; parts: (M, N) int64
    """

    path: Path
    points: np.ndarray
    categories: np.ndarray
    parts: np.ndarray


class ShapeNetPart(PointCloudDataset):
    """One split of ShapeNetPart (or any folder in its layout, such as the synthetic set).

    Args:
        root: the archive folder, or a folder containing ``shapenet_part_seg_hdf5_data/`` or
            ``hdf5_data/``.
        split: ``"train"``, ``"val"`` or ``"test"``.
        transform: per-shape transform; part labels follow every permutation and resampling.

    Items: ``{"points": float32 (K, 3), "parts": int64 (K,), "category": int, "index": int}``.

    Raises:
        DataError: missing folder or files, corrupt files, wrong keys, shapes or values, part ids
            outside their category's range.
    """

    ARCHIVE_DIRS = ("shapenet_part_seg_hdf5_data", "hdf5_data")
    SPLITS = ("train", "val", "test")
    CATEGORIES_FILE = "all_object_categories.txt"
    CATEGORIES = _CATEGORIES
    NUM_PARTS = 50
    #: category name -> its global part ids (contiguous; the standard ShapeNetPart map).
    PARTS_PER_CATEGORY = _PARTS_PER_CATEGORY
    #: first and last part id of each category, in category order; shapes (16,) int64.
    FIRST_PART = np.array([parts[0] for parts in _PARTS_PER_CATEGORY.values()], dtype=np.int64)
    LAST_PART = np.array([parts[-1] for parts in _PARTS_PER_CATEGORY.values()], dtype=np.int64)
    #: category id of every global part id; shape (50,) int64.
    CATEGORY_OF_PART = np.repeat(np.arange(len(_CATEGORIES)), LAST_PART - FIRST_PART + 1)

    @classmethod
    def category_of_part(cls, part: int) -> int:
        """The category id (0..15) owning a global part id (0..49)."""
        if not 0 <= part < cls.NUM_PARTS:
            raise ValueError(f"part id must be in 0..{cls.NUM_PARTS - 1}, got {part}")
        return int(cls.CATEGORY_OF_PART[part])

    def __init__(
        self, root: str | Path, split: str = "train", transform: Transform | None = None
    ) -> None:
        if split not in self.SPLITS:
            raise DataError(f"ShapeNetPart: split must be one of {self.SPLITS}, got {split!r}")
        self.archive_dir = self.LAYOUT.locate(root)
        self.split = split
        self.read_categories(self.archive_dir)
        files = [self.read_file(path) for path in self.split_files(self.archive_dir, split)]
        super().__init__(
            points=np.concatenate([f.points for f in files]),  # (M, N, 3), M summed over files
            shape_labels={"category": np.concatenate([f.categories for f in files])},
            point_labels={"parts": np.concatenate([f.parts for f in files])},
            transform=transform,
        )
        self.files = tuple(f.path for f in files)

    LAYOUT = ArchiveLayout(
        dataset="ShapeNetPart",
        download_name="shapenetpart",
        folder_names=ARCHIVE_DIRS,
        marker=CATEGORIES_FILE,
        contents="train/val/test_hdf5_file_list.txt and ply_data_*.h5",
    )

    @classmethod
    def read_categories(cls, archive_dir: Path) -> list[str]:
        """Check ``all_object_categories.txt`` names the 16 standard categories in order."""
        path = archive_dir / cls.CATEGORIES_FILE
        names = [line.split()[0] for line in read_lines(path)]
        if [n.lower() for n in names] != [c.lower() for c in cls.CATEGORIES]:
            raise DataError(
                f"{path}: categories {names} differ from the standard 16 in order: "
                f"{', '.join(cls.CATEGORIES)}"
            )
        return names

    @classmethod
    def split_files(cls, archive_dir: Path, split: str) -> list[Path]:
        """The ``.h5`` files of a split, from ``{split}_hdf5_file_list.txt``."""
        return read_file_list(archive_dir / f"{split}_hdf5_file_list.txt")

    @classmethod
    def read_file(cls, path: Path) -> SegmentationFile:
        """Read and validate one file: keys, shapes, dtypes, ranges, part ids vs category, NaN/Inf."""
        arrays = read_h5(path, required=("data", "label", "pid"))
        points = check_points(path, arrays["data"])
        categories = check_shape_labels(
            path, arrays["label"], "label", points.shape[0], len(cls.CATEGORIES)
        )
        parts = check_point_labels(path, arrays["pid"], "pid", points.shape, cls.NUM_PARTS)
        check_parts_match_category(path, parts, categories, cls.FIRST_PART, cls.LAST_PART)
        return SegmentationFile(path=path, points=points, categories=categories, parts=parts)


category_of_part = ShapeNetPart.category_of_part
