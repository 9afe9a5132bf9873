"""ShapeNetPart's text releases: ``..._v0_normal/`` and the older ``..._v0/``.

Layouts (read as distributed)::

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
ShapeNetPart HDF5 layout (see :mod:`pointea.data.layouts.cache`) resamples every shape to
N = max(2048, num_points) points, seeded per shape: a random subset without replacement when the
shape has enough points, otherwise all of its points plus random repeats; the order is random, as
in the HDF5 archive (whose "first points" evaluation subset relies on it). This is how the
published HDF5 archive was made (2048 points per shape) and what Pointnet_Pointnet2_pytorch's
``PartNormalDataset`` does per access (``np.random.choice(len(seg), npoints, replace=True)``).
``normal`` keeps v0_normal's normals.

Shape legend: N points per shape.
"""

from __future__ import annotations

import functools
import json
import logging
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pointea.data.layout import read_lines
from pointea.data.layouts.cache import CACHE_FOLDER, ensure_cache, source_manifest
from pointea.data.layouts.convert import SplitWriter, read_all
from pointea.data.layouts.listing import MissingPolicy, present_entries
from pointea.data.shapenetpart import ShapeNetPart
from pointea.errors import DataError

__all__ = ["ShapeNetPartRelease", "V0Normal", "V0", "TextShape", "resample_shape"]

log = logging.getLogger(__name__)


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
        if split not in self.SPLITS:
            raise DataError(
                f"ShapeNetPart {self.LAYOUT}: split must be one of {self.SPLITS}, got {split!r}"
            )
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
        root = Path(cache_root).expanduser() if cache_root is not None else self.folder.parent
        target = root / CACHE_FOLDER / f"shapenetpart_{self.LAYOUT}_{num_points}_seed{seed}"
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
            (folder / f"{split}_hdf5_file_list.txt").write_text("".join(f"{n}\n" for n in names))


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
