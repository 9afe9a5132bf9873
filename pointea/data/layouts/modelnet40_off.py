"""ModelNet40 as Princeton distributes it: ``ModelNet40/<class>/{train,test}/<class>_NNNN.off``.

Layout (the official ``ModelNet40.zip``; ModelNet10 has the same shape)::

    ModelNet40/
        airplane/train/airplane_0001.off ... airplane/test/airplane_0627.off
        ...                              (9,843 train / 2,468 test meshes, 40 class folders)

Class names are the class folders in sorted order, which is the label order of the HDF5 archive
and of ``modelnet40_normal_resampled``. Some files have the ``OFF`` keyword glued to the counts
line (``OFF490 518 0``); :func:`pointea.io.read_points` reads them as they are.

Meshes are sampled once into the ModelNet40 HDF5 layout under the data root (see
:mod:`pointea.data.layouts.cache`): N = max(2048, num_points) points per mesh, uniform by area,
oversampled and reduced by FPS (pointea.io's mesh sampling), seeded per file from its path so a
shape's points do not depend on which other files are present. ``normal`` holds the sampled
triangles' normals.

Shape legend: M shapes, N points per shape.
"""

from __future__ import annotations

import functools
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pointea.data.layouts.cache import CACHE_FOLDER, ensure_cache, source_manifest
from pointea.data.layouts.convert import SplitWriter, read_all
from pointea.data.modelnet40 import ModelNet40
from pointea.errors import DataError

__all__ = ["PrincetonOFF", "OFFShape"]


@dataclass(frozen=True)
class OFFShape:
    """One mesh: its class label and file."""

    label: int
    path: Path


def sample_mesh(path: Path, num_points: int, seed: int) -> tuple[np.ndarray, np.ndarray | None]:
    """``num_points`` points (and normals, when the sampler gives them) on one mesh's surface.

    Shapes:
        returns points (N, 3) float32, normals (N, 3) float32 or None
    """
    from pointea.io import read_points  # lazy: open3d is imported only when meshes are sampled

    cloud = read_points(path, num_points=num_points, seed=seed)
    return cloud.points, cloud.normals


def _file_seed(relative: str, seed: int) -> int:
    return zlib.crc32(relative.encode()) ^ seed


class PrincetonOFF:
    """The Princeton ``ModelNet40/`` mesh release, and its sampling to the HDF5 layout.

    Args:
        folder: the release folder (holding one folder per class).
    """

    FOLDER = "ModelNet40"
    SPLITS = ("train", "test")
    FULL_SIZES = {"train": 9843, "test": 2468}

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @classmethod
    def _is_release(cls, folder: Path) -> bool:
        if not folder.is_dir():
            return False
        for child in folder.iterdir():
            if (child / "train").is_dir() or (child / "test").is_dir():
                return any((child / "train").glob("*.off")) or any((child / "test").glob("*.off"))
        return False

    @classmethod
    def find(cls, root: str | Path) -> PrincetonOFF | None:
        """The release under ``root``: ``root`` itself or ``root/ModelNet40`` with class folders
        that hold ``train/*.off`` or ``test/*.off``."""
        root = Path(root).expanduser()
        for candidate in (root, root / cls.FOLDER):
            if cls._is_release(candidate):
                return cls(candidate)
        return None

    def class_names(self) -> list[str]:
        """The class folders (those with ``train/`` or ``test/``), sorted: the label order."""
        names = sorted(
            child.name for child in self.folder.iterdir()
            if (child / "train").is_dir() or (child / "test").is_dir()
        )  # fmt: skip
        if not names:
            raise DataError(f"{self.folder}: no class folders with train/ or test/ sub-folders")
        return names

    def shapes(self, split: str) -> list[OFFShape]:
        """Every ``.off`` file of a split, by class then file name."""
        if split not in self.SPLITS:
            raise DataError(f"ModelNet40 .off: split must be one of {self.SPLITS}, got {split!r}")
        shapes = [
            OFFShape(label, path)
            for label, name in enumerate(self.class_names())
            for path in sorted((self.folder / name / split).glob("*.off"))
        ]
        if not shapes:
            raise DataError(f"{self.folder}: no {split} meshes (<class>/{split}/*.off)")
        return shapes

    def cache(
        self,
        cache_root: str | Path | None = None,
        num_points: int = 2048,
        seed: int = 0,
        workers: int | None = None,
    ) -> Path:
        """The sampled HDF5-layout conversion (built once; reused while the meshes are unchanged).

        Args:
            cache_root: the data root that receives ``pointea_cache/``; default: the folder
                holding the release.
            num_points: points sampled per mesh.
            seed: combined with each file's path into its sampling seed.
            workers: sampling processes (``None``: the available CPUs, at most 8).

        Returns:
            a folder in the ModelNet40 HDF5 layout, for :class:`~pointea.data.ModelNet40`.
        """
        if num_points < 1:
            raise DataError(f"ModelNet40 .off: num_points must be >= 1, got {num_points}")
        splits = {split: self.shapes(split) for split in self.SPLITS}
        files = [shape.path for shapes in splits.values() for shape in shapes]
        parameters = {"layout": "off", "points": num_points, "seed": seed}
        manifest = source_manifest(self.folder, files, parameters)
        root = Path(cache_root).expanduser() if cache_root is not None else self.folder.parent
        target = root / CACHE_FOLDER / f"modelnet40_off_{num_points}_seed{seed}"
        build = functools.partial(
            self._write, splits=splits, num_points=num_points, seed=seed, workers=workers
        )
        return ensure_cache(target, manifest, build, str(self.folder))

    def _write(
        self,
        folder: Path,
        splits: dict[str, list[OFFShape]],
        num_points: int,
        seed: int,
        workers: int | None,
    ) -> None:
        (folder / ModelNet40.NAMES_FILE).write_text("".join(f"{n}\n" for n in self.class_names()))
        for split, shapes in splits.items():
            relative = [shape.path.relative_to(self.folder).as_posix() for shape in shapes]
            jobs = [(shape.path, _file_seed(rel, seed)) for shape, rel in zip(shapes, relative)]
            reader = functools.partial(_sample_job, num_points=num_points)
            writer = SplitWriter(folder, split)
            results = read_all(reader, jobs, workers, f"ModelNet40 .off {split}")
            with_normals = None
            for shape, rel, (points, normals) in zip(shapes, relative, results, strict=True):
                with_normals = normals is not None if with_normals is None else with_normals
                arrays = {
                    "data": points,
                    "label": np.array([shape.label], dtype=np.uint8),
                }  # label (1,)
                if with_normals:
                    if normals is None:
                        raise DataError(
                            f"{shape.path}: the mesh sampler gave no normals for this mesh"
                        )
                    arrays["normal"] = normals
                writer.add(rel, arrays)
            names = writer.close()
            listed = [f"data/{ModelNet40.ARCHIVE_DIR}/{name}" for name in names]
            (folder / f"{split}_files.txt").write_text("".join(f"{line}\n" for line in listed))


def _sample_job(job: tuple[Path, int], num_points: int) -> tuple[np.ndarray, np.ndarray | None]:
    path, seed = job
    return sample_mesh(path, num_points, seed)
