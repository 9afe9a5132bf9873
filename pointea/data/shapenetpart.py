"""ShapeNetPart: the published HDF5 archive, the two text releases, the data module and
``pointea-data verify``'s checks of all three.

HDF5 archive (read exactly as published; the zip unpacks to ``hdf5_data/``, and both names work)::

    shapenet_part_seg_hdf5_data/
        all_object_categories.txt       16 lines "<Name> <synset id>", label order
        train_hdf5_file_list.txt        ply_data_train0.h5 ... (bare file names)
        val_hdf5_file_list.txt, test_hdf5_file_list.txt
        ply_data_{train0..5,val0,test0..1}.h5
            data (M, 2048, 3) float32, label (M, 1) uint8 category 0..15,
            pid (M, 2048) uint8 part 0..49

Part ids are global (0..49); each category owns a contiguous range
(:attr:`ShapeNetPart.PARTS_PER_CATEGORY`).

Text releases (read as distributed; converted once into the HDF5 layout, see
:mod:`pointea.data.cache`)::

    shapenetcore_partanno_segmentation_benchmark_v0_normal/   (Pointnet_Pointnet2_pytorch, PointNeXt)
        synsetoffset2category.txt                 16 lines Name<TAB>synset
        train_test_split/shuffled_{train,val,test}_file_list.json
                                                  ["shape_data/<synset>/<id>", ...] 12,137 / 1,870 / 2,874
        <synset>/<id>.txt                         x y z nx ny nz label, global part ids (0..49)

    shapenetcore_partanno_segmentation_benchmark_v0/
        synsetoffset2category.txt, train_test_split/ (the same)
        <synset>/points/<id>.pts                  x y z
        <synset>/points_label/<id>.seg            one label per line, local to the category: 1..k

v0's local labels map to the global 50 by the category's first part:
``global = ShapeNetPart.FIRST_PART[category] + local - 1``. A label outside the category's parts
is an error naming the file and line.

Shapes have different point counts (about 500 to 3,000), so the one-time conversion into the
ShapeNetPart HDF5 layout (see :mod:`pointea.data.cache`) resamples every shape to
N = max(2048, num_points) points, seeded per shape: a random subset without replacement when the
shape has enough points, otherwise all of its points plus random repeats; the order is random, as
in the HDF5 archive (whose "first points" evaluation subset relies on it). This is how the
published HDF5 archive was made (2048 points per shape) and what Pointnet_Pointnet2_pytorch's
``PartNormalDataset`` does per access (``np.random.choice(len(seg), npoints, replace=True)``).
``normal`` keeps v0_normal's normals.

The data module's ``layout`` option picks one (``"auto"``: the first found of hdf5, v0_normal, v0).

Shape legend: M shapes, N points per shape.
"""

from __future__ import annotations

import functools
import json
import logging
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
from torch.utils.data import ConcatDataset

from pointea.data.arguments import check_choice
from pointea.data.cache import (
    MissingPolicy,
    cache_folder,
    cached_points,
    ensure_cache,
    find_layout,
    layout_not_found,
    present_entries,
    read_all,
    source_manifest,
)
from pointea.data.datamodule import PointCloudDataModule
from pointea.data.dataset import PointCloudDataset
from pointea.data.storage import (
    DEFAULT_SHAPES_PER_FILE,
    ArchiveLayout,
    SplitWriter,
    read_file_list,
    read_h5,
    read_lines,
    staged,
    write_lines,
    write_split,
)
from pointea.data.transforms import Transform
from pointea.data.validation import check_point_labels, check_points, check_shape_labels
from pointea.data.verify import Verifier, VerifyReport, check_split, present_listed, read_checked
from pointea.errors import DataError

__all__ = [
    "SHAPENETPART_LAYOUTS",
    "VERIFIERS",
    "SegmentationFile",
    "ShapeNetPart",
    "ShapeNetPartDataModule",
    "ShapeNetPartLayout",
    "ShapeNetPartRelease",
    "TextShape",
    "V0",
    "V0Normal",
    "category_of_part",
    "check_parts_match_category",
    "find_shapenetpart_layout",
    "resample_shape",
    "shapenetpart_archive",
    "write_shapenetpart_archive",
]

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# The HDF5 archive


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
    #: Shapes per split in the full published archive, reported by verify for comparison.
    FULL_SIZES = {"train": 12137, "val": 1870, "test": 2874}
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
        check_choice("ShapeNetPart: split", split, self.SPLITS, DataError)
        self.archive_dir = self.LAYOUT.locate(root)
        self.split = split
        self.read_categories(self.archive_dir)
        files = [self.read_file(path) for path in self.split_files(self.archive_dir, split)]
        super().__init__(
            points=np.concatenate([f.points for f in files]),  # (M, N, 3), M summed over files
            shape_labels={"category": np.concatenate([f.categories for f in files])},
            point_labels={"parts": np.concatenate([f.parts for f in files])},
            transform=transform,
            source=self.archive_dir,
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
    def write_split_list(cls, archive_dir: Path, split: str, names: list[str]) -> None:
        """Write ``{split}_hdf5_file_list.txt`` naming the split's ``.h5`` files (bare names)."""
        write_lines(archive_dir / f"{split}_hdf5_file_list.txt", names)

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


def check_parts_match_category(
    path: Path,
    parts: np.ndarray,
    categories: np.ndarray,
    first_part: np.ndarray,
    last_part: np.ndarray,
) -> None:
    """Every point's part id must lie in its shape's category range ``first..last``.

    Shapes:
        parts: (M, N) int64; categories: (M,) int64; first_part, last_part: (C,) int64
    """
    low = first_part[categories][:, None]  # (M, 1)
    high = last_part[categories][:, None]  # (M, 1)
    wrong = ((parts < low) | (parts > high)).any(axis=1)  # (M,)
    if wrong.any():
        shape = int(np.flatnonzero(wrong)[0])
        category = int(categories[shape])
        row = parts[shape]
        bad = int(row[(row < first_part[category]) | (row > last_part[category])][0])
        raise DataError(
            f"{path}: 'pid' of shape {shape} holds part {bad}, but its category {category} owns "
            f"parts {first_part[category]}..{last_part[category]}"
        )


def write_shapenetpart_archive(
    dest: Path,
    splits: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
    shapes_per_file: int = DEFAULT_SHAPES_PER_FILE,
    extra_files: Mapping[str, str] | None = None,
) -> Path:
    """Write a ShapeNetPart-layout folder at ``dest`` (e.g. ``root/shapenet_part_seg_hdf5_data``).

    Args:
        dest: the folder to create; it must not exist.
        splits: ``"train"``/``"val"``/``"test"`` -> (points, categories, parts).
        shapes_per_file: shapes per ``ply_data_{split}{i}.h5``.
        extra_files: more text files to write (name -> content).

    Shapes:
        points: (M, N, 3) float, stored float32; categories: (M,) int, stored (M, 1) uint8;
        parts: (M, N) int, stored uint8
    """
    with staged(dest) as folder:
        # The published file pairs each name with its ShapeNet synset id; synthetic sets have none.
        write_lines(
            folder / ShapeNetPart.CATEGORIES_FILE,
            [f"{name}\t{i:08d}" for i, name in enumerate(ShapeNetPart.CATEGORIES)],
        )
        for split, (points, categories, parts) in splits.items():
            arrays = {
                "data": np.asarray(points, dtype=np.float32),
                "label": np.asarray(categories).astype(np.uint8).reshape(-1, 1),  # (M,) -> (M, 1)
                "pid": np.asarray(parts).astype(np.uint8),
            }
            names = write_split(folder, split, arrays, shapes_per_file)
            ShapeNetPart.write_split_list(folder, split, names)
        for name, content in (extra_files or {}).items():
            (folder / name).write_text(content)
    return dest


# ---------------------------------------------------------------------------------------------
# The text releases: ..._v0_normal/ and ..._v0/


@dataclass(frozen=True)
class TextShape:
    """One listed shape: ``synset/id``, its category (0..15) and the files it needs."""

    key: str
    category: int
    files: tuple[Path, ...]


def resample_shape(count: int, num_points: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``num_points`` of ``count`` points: a random subset, or all plus random repeats.

    Shapes:
        returns (num_points,) int64, in random order
    """
    if count >= num_points:
        return rng.permutation(count)[:num_points]
    extra = rng.integers(count, size=num_points - count)
    return rng.permutation(np.concatenate([np.arange(count), extra]))


def _parts_of(shape: TextShape) -> tuple[int, int, str]:
    first = int(ShapeNetPart.FIRST_PART[shape.category])
    last = int(ShapeNetPart.LAST_PART[shape.category])
    return first, last, ShapeNetPart.CATEGORIES[shape.category]


def _read_v0_normal(shape: TextShape) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    from pointea.io import read_points  # lazy, as pointea.io's own heavy imports

    (path,) = shape.files
    first, last, name = _parts_of(shape)
    try:
        cloud = read_points(path, label_range=(first, last))
    except DataError as exc:  # name the category whose part range a label left
        raise DataError(
            f"{exc} ({name}'s global part ids)" if "is outside" in str(exc) else str(exc)
        ) from None
    if cloud.labels is None or cloud.normals is None:
        raise DataError(
            f"{path}: expected 7 columns x y z nx ny nz label, read {' '.join(cloud.columns)}"
        )
    return cloud.points, cloud.normals, cloud.labels


def _read_v0(shape: TextShape) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    from pointea.io import read_points

    points_file, labels_file = shape.files
    first, last, name = _parts_of(shape)
    try:
        cloud = read_points(points_file, labels_path=labels_file, label_range=(1, last - first + 1))
    except DataError as exc:
        raise DataError(
            f"{exc} ({name}'s local part ids)" if "is outside" in str(exc) else str(exc)
        ) from None
    return cloud.points, None, cloud.labels - 1 + first


def _read_resampled(
    shape: TextShape, layout: str, num_points: int, seed: int
) -> tuple[dict[str, np.ndarray], int]:
    """One shape read, checked and resampled to ``num_points``; also its source point count."""
    points, normals, parts = (_read_v0_normal if layout == "v0_normal" else _read_v0)(shape)
    rng = np.random.default_rng([seed, zlib.crc32(shape.key.encode())])
    index = resample_shape(points.shape[0], num_points, rng)
    arrays = {
        "data": points[index],
        "label": np.array([shape.category], dtype=np.uint8),  # (1,): one row of (M, 1)
        "pid": parts[index].astype(np.uint8),
    }
    if normals is not None:
        arrays["normal"] = normals[index]
    return arrays, points.shape[0]


class ShapeNetPartRelease:
    """What both text releases share: categories, split lists, finding, caching.

    Args:
        folder: the release folder (holding ``synsetoffset2category.txt``).
    """

    LAYOUT = ""
    FOLDER = ""
    CATEGORY_FILE = "synsetoffset2category.txt"
    SPLITS = ("train", "val", "test")
    FULL_SIZES = {"train": 12137, "val": 1870, "test": 2874}

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @classmethod
    def _matches(cls, folder: Path) -> bool:
        raise NotImplementedError

    @classmethod
    def find(cls, root: str | Path) -> ShapeNetPartRelease | None:
        """The release under ``root``: ``root`` itself or ``root/<release folder>``."""
        root = Path(root).expanduser()
        for candidate in (root / cls.FOLDER, root):
            if (candidate / cls.CATEGORY_FILE).is_file() and cls._matches(candidate):
                return cls(candidate)
        return None

    def synsets(self) -> dict[str, int]:
        """synset id -> category (0..15, the standard order), from ``synsetoffset2category.txt``."""
        path = self.folder / self.CATEGORY_FILE
        standard = {name.lower(): i for i, name in enumerate(ShapeNetPart.CATEGORIES)}
        synsets = {}
        for number, line in enumerate(read_lines(path), start=1):
            words = line.split()
            if len(words) != 2 or words[0].lower() not in standard:
                raise DataError(
                    f"{path}:{number}: expected '<Category><TAB><synset>' with one of the 16 "
                    f"ShapeNetPart categories, got {line!r}"
                )
            synsets[words[1]] = standard[words[0].lower()]
        if sorted(synsets.values()) != list(range(len(ShapeNetPart.CATEGORIES))):
            raise DataError(f"{path}: expected the 16 ShapeNetPart categories once each")
        return synsets

    def list_file(self, split: str) -> Path:
        return self.folder / "train_test_split" / f"shuffled_{split}_file_list.json"

    def shape_files(self, synset: str, shape_id: str) -> tuple[Path, ...]:
        raise NotImplementedError

    def listed(self, split: str) -> list[TextShape]:
        """Every shape the split's list names (``shape_data/<synset>/<id>``)."""
        check_choice(f"ShapeNetPart {self.LAYOUT}: split", split, self.SPLITS, DataError)
        path = self.list_file(split)
        if not path.is_file():
            raise DataError(f"{path}: file not found (the release's split list)")
        try:
            entries = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise DataError(f"{path}: not a JSON list of shape paths ({exc})") from exc
        if not isinstance(entries, list) or not entries:
            raise DataError(f"{path}: expected a non-empty JSON list of 'shape_data/<synset>/<id>'")
        synsets = self.synsets()
        shapes = []
        for entry in entries:
            parts = str(entry).split("/")
            if len(parts) < 2 or parts[-2] not in synsets:
                raise DataError(
                    f"{path}: entry {entry!r} is not 'shape_data/<synset>/<id>' with a known synset"
                )
            synset, shape_id = parts[-2], parts[-1]
            shapes.append(
                TextShape(
                    f"{synset}/{shape_id}", synsets[synset], self.shape_files(synset, shape_id)
                )
            )
        return shapes

    def present(self, split: str, missing: MissingPolicy = "error") -> list[TextShape]:
        """The listed shapes whose files exist (see :func:`present_entries` for ``missing``)."""
        shapes = self.listed(split)
        return present_entries(self.list_file(split), shapes, [s.files for s in shapes], missing)

    def read(self, shape: TextShape) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """One shape's points, normals (v0_normal) and global part ids, checked.

        Shapes:
            returns points (N, 3) float32, normals (N, 3) float32 or None, parts (N,) int64
        """
        return (_read_v0_normal if self.LAYOUT == "v0_normal" else _read_v0)(shape)

    def cache(
        self,
        cache_root: str | Path | None = None,
        num_points: int = 2048,
        missing: MissingPolicy = "error",
        seed: int = 0,
        workers: int | None = None,
    ) -> Path:
        """The HDF5-layout conversion (built once; reused while the source is unchanged).

        Args:
            cache_root: the data root that receives ``pointea_cache/``; default: the folder
                holding the release.
            num_points: points per shape after the seeded resampling.
            missing: what to do with listed shapes whose files are absent.
            seed: the resampling seed (combined with each shape's id).
            workers: reader processes (``None``: the available CPUs, at most 8).

        Returns:
            a folder in the ShapeNetPart HDF5 layout, for :class:`~pointea.data.ShapeNetPart`.
        """
        if num_points < 1:
            raise DataError(
                f"ShapeNetPart {self.LAYOUT}: num_points must be >= 1, got {num_points}"
            )
        splits = {split: self.present(split, missing) for split in self.SPLITS}
        files = [self.folder / self.CATEGORY_FILE, *(self.list_file(s) for s in self.SPLITS)]
        files += [path for shapes in splits.values() for shape in shapes for path in shape.files]
        parameters = {"layout": self.LAYOUT, "points": num_points, "seed": seed}
        manifest = source_manifest(self.folder, files, parameters)
        target = cache_folder(self.folder, cache_root, f"shapenetpart_{self.LAYOUT}_{num_points}_seed{seed}")
        build = functools.partial(
            self._write, splits=splits, num_points=num_points, seed=seed, workers=workers
        )
        return ensure_cache(target, manifest, build, str(self.folder))

    def _write(
        self,
        folder: Path,
        splits: dict[str, list[TextShape]],
        num_points: int,
        seed: int,
        workers: int | None,
    ) -> None:
        by_category = {category: synset for synset, category in self.synsets().items()}
        lines = [f"{name}\t{by_category[i]}\n" for i, name in enumerate(ShapeNetPart.CATEGORIES)]
        (folder / ShapeNetPart.CATEGORIES_FILE).write_text("".join(lines))
        reader = functools.partial(
            _read_resampled, layout=self.LAYOUT, num_points=num_points, seed=seed
        )
        for split, shapes in splits.items():
            writer = SplitWriter(folder, split)
            short = []
            for shape, (arrays, count) in zip(
                shapes, read_all(reader, shapes, workers, f"ShapeNetPart {split}"), strict=True
            ):
                if count < num_points:
                    short.append(shape.key)
                writer.add(shape.key, arrays)
            if short:
                log.warning(
                    "ShapeNetPart %s: %d shape(s) have fewer than %d points (first %s); all their "
                    "points are kept and some repeated", split, len(short), num_points, short[0],
                )  # fmt: skip
            names = writer.close()
            ShapeNetPart.write_split_list(folder, split, names)


class V0Normal(ShapeNetPartRelease):
    """``shapenetcore_partanno_segmentation_benchmark_v0_normal``: ``<synset>/<id>.txt``."""

    LAYOUT = "v0_normal"
    FOLDER = "shapenetcore_partanno_segmentation_benchmark_v0_normal"

    @classmethod
    def _matches(cls, folder: Path) -> bool:
        return folder.name == cls.FOLDER or not any(folder.glob("*/points"))

    def shape_files(self, synset: str, shape_id: str) -> tuple[Path, ...]:
        return (Path(f"{self.folder}/{synset}/{shape_id}.txt"),)  # one Path: 17k shapes are listed


class V0(ShapeNetPartRelease):
    """``shapenetcore_partanno_segmentation_benchmark_v0``: ``<synset>/points/<id>.pts`` and
    ``<synset>/points_label/<id>.seg``."""

    LAYOUT = "v0"
    FOLDER = "shapenetcore_partanno_segmentation_benchmark_v0"

    @classmethod
    def _matches(cls, folder: Path) -> bool:
        return folder.name == cls.FOLDER or any(folder.glob("*/points"))

    def shape_files(self, synset: str, shape_id: str) -> tuple[Path, ...]:
        return (
            Path(f"{self.folder}/{synset}/points/{shape_id}.pts"),
            Path(f"{self.folder}/{synset}/points_label/{shape_id}.seg"),
        )


# ---------------------------------------------------------------------------------------------
# Which layout a root holds

ShapeNetPartLayout = Literal["auto", "hdf5", "v0_normal", "v0"]
SHAPENETPART_LAYOUTS: tuple[str, ...] = get_args(ShapeNetPartLayout)

_FINDERS = {
    "hdf5": ShapeNetPart.LAYOUT.find,
    "v0_normal": V0Normal.find,
    "v0": V0.find,
}
_EXPECTED = {
    "v0_normal": f"{V0Normal.FOLDER}/ with synsetoffset2category.txt, train_test_split/ and "
    "<synset>/<id>.txt",
    "v0": f"{V0.FOLDER}/ with synsetoffset2category.txt, train_test_split/ and "
    "<synset>/points/<id>.pts + points_label/<id>.seg",
}


def find_shapenetpart_layout(root: str | Path, layout: str = "auto") -> str | None:
    """The ShapeNetPart layout under ``root`` (``layout`` itself when it is there), or ``None``."""
    return find_layout(root, layout, _FINDERS, "ShapeNetPart")


def shapenetpart_archive(
    root: str | Path,
    layout: str = "auto",
    num_points: int = 2048,
    cache_root: str | Path | None = None,
    missing: MissingPolicy = "error",
    seed: int = 0,
    workers: int | None = None,
) -> Path:
    """The ShapeNetPart HDF5 folder to read for ``root``: itself, or the layout's conversion.

    Raises:
        DataError: no such layout under ``root`` (says what is expected), or a bad source file.
    """
    found = find_shapenetpart_layout(root, layout)
    if found is None:
        raise layout_not_found(
            "ShapeNetPart", root, layout, _EXPECTED, ShapeNetPart.LAYOUT.locate
        )
    if found == "hdf5":
        return ShapeNetPart.LAYOUT.locate(root)
    release = (V0Normal if found == "v0_normal" else V0).find(root)
    return release.cache(cache_root, cached_points(num_points), missing, seed, workers)


# ---------------------------------------------------------------------------------------------
# The data module

class ShapeNetPartDataModule(PointCloudDataModule):
    """ShapeNetPart part segmentation from ``shapenet_part_seg_hdf5_data/`` (or ``hdf5_data/``; or,
    see ``layout``, the ``..._v0_normal/`` and ``..._v0/`` text releases).

    The standard 16 categories and 50 parts are fixed, so ``num_parts``, ``num_categories`` and
    ``parts_per_category`` never depend on the files. The validation loader serves the real
    ``val`` split; with ``train_split="trainval"`` training also uses it (the PointNet/DGCNN
    protocol), and validation numbers are then optimistic.

    Args:
        root: the archive folder or a folder containing ``shapenet_part_seg_hdf5_data/`` or
            ``hdf5_data/``.
        num_points: points per served cloud (2048 keeps all of them); part labels follow their
            points through resampling.
        train_split: ``"train"``, or ``"trainval"`` to train on train + val.
        synthetic_train_per_category, synthetic_val_per_category, synthetic_test_per_category:
            synthetic shapes per category and split (``synthetic=True`` writes the synthetic
            5-category set, labelled in the standard label space, when ``root`` holds no data).
        layout: ``"auto"`` (the first found: hdf5, v0_normal, v0), ``"hdf5"``
            (``shapenet_part_seg_hdf5_data``), ``"v0_normal"`` or ``"v0"`` (the text releases,
            converted once into the HDF5 layout under ``cache_root``, see
            :mod:`pointea.data.cache`).
        cache_root: where ``pointea_cache/`` goes; default: the folder holding the release.
        missing: listed shapes whose files are absent: ``"error"``, or ``"skip"`` them.
        **kwargs: the shared options of :class:`~pointea.data.datamodule.PointCloudDataModule`
            (``batch_size``, ``num_workers``, ``augment``, ``sampling``, ``normalize``,
            ``synthetic``, ``seed``: of the synthetic set and of the text layouts' resampling to
            2048 points).

    Shapes:
        batch["points"]: (B, K, 3) float32; batch["parts"]: (B, K) int64;
        batch["category"]: (B,) int64; batch["index"]: (B,) int64
    """

    def __init__(
        self,
        root: str,
        num_points: int = 2048,
        train_split: Literal["train", "trainval"] = "train",
        synthetic_train_per_category: int = 100,
        synthetic_val_per_category: int = 20,
        synthetic_test_per_category: int = 20,
        layout: ShapeNetPartLayout = "auto",
        cache_root: str | None = None,
        missing: MissingPolicy = "error",
        **kwargs: Any,
    ) -> None:
        super().__init__(root, num_points=num_points, **kwargs)
        self.train_split = check_choice("train_split", train_split, ("train", "trainval"))
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
        from pointea.data.synthetic import write_synthetic_shapenetpart  # it imports this module

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


# ---------------------------------------------------------------------------------------------
# pointea-data verify

def _verify_hdf5(report: VerifyReport, folder: Path, missing: str) -> None:
    report.lines.append(f"ShapeNetPart layout: {folder}")
    try:
        ShapeNetPart.read_categories(folder)
    except DataError as exc:
        report.problem(str(exc))
        return
    report.lines.append(f"  categories: {len(ShapeNetPart.CATEGORIES)} standard, parts 0..49")

    def read(path: Path) -> tuple[int, str]:
        content = ShapeNetPart.read_file(path)
        count, points = content.points.shape[:2]
        present = [ShapeNetPart.CATEGORIES[c] for c in np.unique(content.categories)]
        return count, (
            f"{count} shapes x {points} points, {len(present)} categories "
            f"({', '.join(present[:5])}{', ...' if len(present) > 5 else ''}), "
            f"{np.unique(content.parts).size} parts used, all within their category"
        )

    for split in ShapeNetPart.SPLITS:
        files = functools.partial(ShapeNetPart.split_files, folder, split)
        check_split(report, ShapeNetPart.FULL_SIZES[split], split, files, read)


def _check_text_shape(release: ShapeNetPartRelease, shape: TextShape) -> tuple[int, np.ndarray]:
    points, _, parts = release.read(shape)
    return points.shape[0], np.unique(parts)


def _verify_text(report: VerifyReport, release: ShapeNetPartRelease, missing: str) -> None:
    report.lines.append(f"ShapeNetPart {release.LAYOUT} layout: {release.folder}")
    try:
        release.synsets()
    except DataError as exc:
        report.problem(str(exc))
        return
    local = " (local ids 1..k mapped to the global 50)" if release.LAYOUT == "v0" else ""
    report.lines.append(f"  categories: 16 standard, parts 0..49{local}")
    for split in release.SPLITS:
        try:
            listed = release.listed(split)
        except DataError as exc:
            report.problem(str(exc))
            continue
        shapes = present_listed(
            report, release.list_file(split), listed, [s.files for s in listed], missing
        )
        if shapes is None:
            continue
        check = functools.partial(_check_text_shape, release)
        results = read_checked(report, check, shapes, split)
        counts = [count for count, _ in results]
        parts = {int(part) for _, used in results for part in used}
        categories = sorted({ShapeNetPart.CATEGORIES[s.category] for s in shapes})
        if not counts:
            report.lines.append(f"  {split}: none of the {len(listed)} listed shapes present")
            continue
        span = f"{min(counts)}..{max(counts)} points"
        report.lines.append(
            f"  {split}: {len(counts)} of {len(listed)} listed shapes read, {span}, "
            f"{len(categories)} categories, {len(parts)} parts used, all within their category "
            f"(full release: {release.FULL_SIZES[split]})"
        )


#: ``pointea-data verify``'s ShapeNetPart layouts: name -> (find, verify).
VERIFIERS: dict[str, Verifier] = {
    "shapenetpart_hdf5": (ShapeNetPart.LAYOUT.find, _verify_hdf5),
    "shapenetpart_v0_normal": (V0Normal.find, _verify_text),
    "shapenetpart_v0": (V0.find, _verify_text),
}
