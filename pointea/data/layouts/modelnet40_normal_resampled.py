"""ModelNet40 as PointNet++ distributes it: ``modelnet40_normal_resampled/`` text files.

Layout (read as distributed; Pointnet_Pointnet2_pytorch, PointMLP and others train on it)::

    modelnet40_normal_resampled/
        modelnet40_shape_names.txt      40 class names, label order
        modelnet40_train.txt            shape names, e.g. airplane_0001 (9,843 in the release)
        modelnet40_test.txt             (2,468)
        <class>/<class>_NNNN.txt        10,000 lines x,y,z,nx,ny,nz (unit normals)

Parsing 12,311 files of text on every start would be slow, so the first use converts the release
once into the ModelNet40 HDF5 layout under the data root (see :mod:`pointea.data.layouts.cache`):
``data`` (M, N, 3) float32, ``normal`` (M, N, 3) float32, ``label`` (M, 1) uint8 and the
``ply_data_*_id2file.json`` shape lists. Kept per shape: the **first** N = max(2048, num_points)
of the 10,000 points. The release's points are a random sample of the surface in random order,
so the first N are a uniform subset; this is what Pointnet_Pointnet2_pytorch's
``ModelNetDataLoader`` serves (``point_set[0:npoints]``; FPS only with ``use_uniform_sample``),
and 2048 matches the HDF5 archive, whose loaders then draw ``num_points`` from them.

Shape legend: M shapes, N points kept per shape.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pointea.data.layout import read_lines
from pointea.data.layouts.cache import CACHE_FOLDER, ensure_cache, source_manifest
from pointea.data.layouts.convert import SplitWriter, read_all
from pointea.data.layouts.listing import MissingPolicy, present_entries
from pointea.data.modelnet40 import ModelNet40
from pointea.errors import DataError

__all__ = ["NormalResampled", "NormalResampledShape"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NormalResampledShape:
    """One listed shape: its name (``airplane_0001``), class label and file."""

    name: str
    label: int
    path: Path


def read_shape(path: Path, num_points: int) -> tuple[np.ndarray, np.ndarray, int]:
    """The first ``num_points`` points and normals of one file, and the file's point count.

    Fewer points than asked for are repeated cyclically (the caller says so once).

    Shapes:
        returns points (K, 3) float32, normals (K, 3) float32, K = num_points
    """
    from pointea.io import read_points  # lazy: pointea.io imports open3d/laspy lazily too

    cloud = read_points(path)
    if cloud.normals is None:
        raise DataError(
            f"{path}: expected 6 columns x,y,z,nx,ny,nz, read {', '.join(cloud.columns)}"
        )
    count = len(cloud)
    keep = np.resize(np.arange(count), num_points) if count < num_points else slice(num_points)
    return cloud.points[keep], cloud.normals[keep], count


class NormalResampled:
    """The ``modelnet40_normal_resampled`` release, and its conversion to the HDF5 layout.

    Args:
        folder: the release folder (holding ``modelnet40_shape_names.txt``).
    """

    FOLDER = "modelnet40_normal_resampled"
    NAMES_FILE = "modelnet40_shape_names.txt"
    SPLITS = ("train", "test")
    #: Shapes listed by the full release, reported by verify for comparison.
    FULL_SIZES = {"train": 9843, "test": 2468}

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @classmethod
    def find(cls, root: str | Path) -> NormalResampled | None:
        """The release under ``root`` (``root`` itself or ``root/modelnet40_normal_resampled``)."""
        root = Path(root).expanduser()
        for candidate in (root, root / cls.FOLDER):
            if (candidate / cls.NAMES_FILE).is_file():
                return cls(candidate)
        return None

    def list_file(self, split: str) -> Path:
        return self.folder / f"modelnet40_{split}.txt"

    def class_names(self) -> list[str]:
        """Class names in label order, from ``modelnet40_shape_names.txt``."""
        path = self.folder / self.NAMES_FILE
        names = read_lines(path)
        if not names or len(set(names)) != len(names):
            raise DataError(f"{path}: expected distinct class names, one per line")
        return names

    def listed(self, split: str) -> list[NormalResampledShape]:
        """Every shape the split's list names, with its label and expected file."""
        if split not in self.SPLITS:
            raise DataError(
                f"ModelNet40 normal_resampled: split must be one of {self.SPLITS}, got {split!r}"
            )
        label_of = {name: i for i, name in enumerate(self.class_names())}
        list_file = self.list_file(split)
        shapes = []
        for number, name in enumerate(read_lines(list_file), start=1):
            class_name = name.rsplit("_", 1)[0]  # night_stand_0001 -> night_stand
            if class_name not in label_of:
                raise DataError(
                    f"{list_file}:{number}: {name!r} is not <class>_NNNN with a class of {self.NAMES_FILE}"
                )
            path = Path(f"{self.folder}/{class_name}/{name}.txt")  # one Path: 12k shapes are listed
            shapes.append(NormalResampledShape(name, label_of[class_name], path))
        if not shapes:
            raise DataError(f"{list_file}: the list is empty, expected one shape name per line")
        return shapes

    def present(self, split: str, missing: MissingPolicy = "error") -> list[NormalResampledShape]:
        """The listed shapes whose files exist (see :func:`present_entries` for ``missing``)."""
        shapes = self.listed(split)
        return present_entries(self.list_file(split), shapes, [[s.path] for s in shapes], missing)

    def cache(
        self,
        cache_root: str | Path | None = None,
        num_points: int = 2048,
        missing: MissingPolicy = "error",
        workers: int | None = None,
    ) -> Path:
        """The HDF5-layout conversion (built once; reused while the source is unchanged).

        Args:
            cache_root: the data root that receives ``pointea_cache/``; default: the folder
                holding the release.
            num_points: points kept per shape (the first ones of each file).
            missing: what to do with listed shapes whose files are absent.
            workers: reader processes (``None``: the available CPUs, at most 8).

        Returns:
            a folder in the ModelNet40 HDF5 layout, for :class:`~pointea.data.ModelNet40`.
        """
        if not 1 <= num_points <= 10_000:
            raise DataError(
                f"ModelNet40 normal_resampled: num_points must be in 1..10000, got {num_points}"
            )
        splits = {split: self.present(split, missing) for split in self.SPLITS}
        files = [self.folder / self.NAMES_FILE, *(self.list_file(s) for s in self.SPLITS)]
        files += [shape.path for shapes in splits.values() for shape in shapes]
        manifest = source_manifest(
            self.folder, files, {"layout": "normal_resampled", "points": num_points}
        )
        root = Path(cache_root).expanduser() if cache_root is not None else self.folder.parent
        target = root / CACHE_FOLDER / f"modelnet40_normal_resampled_{num_points}"
        build = functools.partial(
            self._write, splits=splits, num_points=num_points, workers=workers
        )
        return ensure_cache(target, manifest, build, str(self.folder))

    def _write(
        self,
        folder: Path,
        splits: dict[str, list[NormalResampledShape]],
        num_points: int,
        workers: int | None,
    ) -> None:
        (folder / ModelNet40.NAMES_FILE).write_text("".join(f"{n}\n" for n in self.class_names()))
        reader = functools.partial(read_shape, num_points=num_points)
        for split, shapes in splits.items():
            writer = SplitWriter(folder, split)
            short = []
            results = read_all(reader, [s.path for s in shapes], workers, f"ModelNet40 {split}")
            for shape, (points, normals, count) in zip(shapes, results, strict=True):
                if count < num_points:
                    short.append(shape.name)
                label = np.array([shape.label], dtype=np.uint8)  # (1,): one row of (M, 1)
                writer.add(
                    f"{shape.path.parent.name}/{shape.path.name}",
                    {"data": points, "normal": normals, "label": label},
                )
            if short:
                log.warning(
                    "ModelNet40 %s: %d shape(s) have fewer than %d points (first %s); their points "
                    "are repeated to fill", split, len(short), num_points, short[0],
                )  # fmt: skip
            names = writer.close()
            listed = [f"data/{ModelNet40.ARCHIVE_DIR}/{name}" for name in names]
            (folder / f"{split}_files.txt").write_text("".join(f"{line}\n" for line in listed))
