"""ModelNet40: the published HDF5 archive, the two other common releases, the data module and
``pointea-data verify``'s checks of all three.

HDF5 archive (read exactly as published)::

    modelnet40_ply_hdf5_2048/
        shape_names.txt                 40 class names, one per line, label order
        train_files.txt, test_files.txt lines like data/modelnet40_ply_hdf5_2048/ply_data_train0.h5
        ply_data_train{0..4}.h5         data (M, 2048, 3) float32, label (M, 1) uint8, [normal]
        ply_data_test{0,1}.h5

The file lists carry the authors' relative prefix; files are resolved by base name. ``normal``
(unit normals) is optional; the loaders serve xyz only and ``pointea-data verify`` checks it.

PointNet++'s text release (Pointnet_Pointnet2_pytorch, PointMLP and others train on it)::

    modelnet40_normal_resampled/
        modelnet40_shape_names.txt      40 class names, label order
        modelnet40_train.txt            shape names, e.g. airplane_0001 (9,843 in the release)
        modelnet40_test.txt             (2,468)
        <class>/<class>_NNNN.txt        10,000 lines x,y,z,nx,ny,nz (unit normals)

Parsing 12,311 files of text on every start would be slow, so the first use converts the release
once into the HDF5 layout under the data root (see :mod:`pointea.data.cache`): ``data`` (M, N, 3)
float32, ``normal`` (M, N, 3) float32, ``label`` (M, 1) uint8 and the ``ply_data_*_id2file.json``
shape lists. Kept per shape: the **first** N = max(2048, num_points) of the 10,000 points. The
release's points are a random sample of the surface in random order, so the first N are a uniform
subset; this is what Pointnet_Pointnet2_pytorch's ``ModelNetDataLoader`` serves
(``point_set[0:npoints]``; FPS only with ``use_uniform_sample``), and 2048 matches the HDF5
archive, whose loaders then draw ``num_points`` from them.

Princeton's meshes (the official ``ModelNet40.zip``; ModelNet10 has the same shape)::

    ModelNet40/
        airplane/train/airplane_0001.off ... airplane/test/airplane_0627.off
        ...                              (9,843 train / 2,468 test meshes, 40 class folders)

Class names are the class folders in sorted order, which is the label order of the HDF5 archive
and of ``modelnet40_normal_resampled``. Some files have the ``OFF`` keyword glued to the counts
line (``OFF490 518 0``); :func:`pointea.io.read_points` reads them as they are. Meshes are sampled
once into the HDF5 layout under the data root: N = max(2048, num_points) points per mesh, uniform
by area, oversampled and reduced by FPS (pointea.io's mesh sampling), seeded per file from its path
so a shape's points do not depend on which other files are present. ``normal`` holds the sampled
triangles' normals.

The data module's ``layout`` option picks one (``"auto"``: the first found of hdf5,
normal_resampled, off).

Shape legend: M shapes, N points per shape.
"""

from __future__ import annotations

import functools
import logging
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np

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
from pointea.data.validation import check_points, check_shape_labels
from pointea.data.verify import (
    Verifier,
    VerifyReport,
    check_split,
    id_list_length,
    present_listed,
    read_checked,
)
from pointea.errors import DataError

if TYPE_CHECKING:
    from pointea.io import PointCloud

__all__ = [
    "MODELNET40_LAYOUTS",
    "VERIFIERS",
    "ClassificationFile",
    "ModelNet40",
    "ModelNet40DataModule",
    "ModelNet40Layout",
    "NormalResampled",
    "NormalResampledShape",
    "OFFShape",
    "PrincetonOFF",
    "find_modelnet40_layout",
    "modelnet40_archive",
    "modelnet40_class_names",
    "write_modelnet40_archive",
]

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# The HDF5 archive


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
    #: Shapes per split in the full published archive, reported by verify for comparison.
    FULL_SIZES = {"train": 9840, "test": 2468}
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
        check_choice("ModelNet40: split", split, self.SPLITS, DataError)
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
            source=self.archive_dir,
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

    @classmethod
    def write_split_list(cls, archive_dir: Path, split: str, names: list[str]) -> None:
        """Write ``{split}_files.txt`` naming the split's ``.h5`` files, with the authors' relative
        prefix as the published lists carry it (:meth:`split_files` resolves it by base name)."""
        listed = [f"data/{cls.ARCHIVE_DIR}/{name}" for name in names]
        write_lines(archive_dir / f"{split}_files.txt", listed)

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


def write_modelnet40_archive(
    dest: Path,
    splits: Mapping[str, tuple[np.ndarray, np.ndarray]],
    class_names: Sequence[str],
    shapes_per_file: int = DEFAULT_SHAPES_PER_FILE,
    extra_files: Mapping[str, str] | None = None,
) -> Path:
    """Write a ModelNet40-layout folder at ``dest`` (e.g. ``root/modelnet40_ply_hdf5_2048``).

    Args:
        dest: the folder to create; it must not exist.
        splits: ``"train"``/``"test"`` -> (points, labels).
        class_names: written to ``shape_names.txt`` in label order.
        shapes_per_file: shapes per ``ply_data_{split}{i}.h5``.
        extra_files: more text files to write (name -> content), e.g. provenance.

    Shapes:
        points: (M, N, 3) float, stored float32; labels: (M,) int, stored (M, 1) uint8
    """
    with staged(dest) as folder:
        write_lines(folder / ModelNet40.NAMES_FILE, class_names)
        for split, (points, labels) in splits.items():
            arrays = {
                "data": np.asarray(points, dtype=np.float32),
                "label": np.asarray(labels).astype(np.uint8).reshape(-1, 1),  # (M,) -> (M, 1)
            }
            names = write_split(folder, split, arrays, shapes_per_file)
            ModelNet40.write_split_list(folder, split, names)
        for name, content in (extra_files or {}).items():
            (folder / name).write_text(content)
    return dest


# ---------------------------------------------------------------------------------------------
# modelnet40_normal_resampled: PointNet++'s text release


@dataclass(frozen=True)
class NormalResampledShape:
    """One listed shape: its name (``airplane_0001``), class label and file."""

    name: str
    label: int
    path: Path


def _read_with_normals(path: Path) -> PointCloud:
    """One file of the release, which must hold x,y,z,nx,ny,nz."""
    from pointea.io import read_points  # lazy: pointea.io imports open3d/laspy lazily too

    cloud = read_points(path)
    if cloud.normals is None:
        raise DataError(
            f"{path}: expected 6 columns x,y,z,nx,ny,nz, read {', '.join(cloud.columns)}"
        )
    return cloud


def read_shape(path: Path, num_points: int) -> tuple[np.ndarray, np.ndarray, int]:
    """The first ``num_points`` points and normals of one file, and the file's point count.

    Fewer points than asked for are repeated cyclically (the caller says so once).

    Shapes:
        returns points (K, 3) float32, normals (K, 3) float32, K = num_points
    """
    cloud = _read_with_normals(path)
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
        check_choice("ModelNet40 normal_resampled: split", split, self.SPLITS, DataError)
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
        target = cache_folder(self.folder, cache_root, f"modelnet40_normal_resampled_{num_points}")
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
        write_lines(folder / ModelNet40.NAMES_FILE, self.class_names())
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
            ModelNet40.write_split_list(folder, split, writer.close())


# ---------------------------------------------------------------------------------------------
# ModelNet40/: Princeton's meshes


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
        check_choice("ModelNet40 .off: split", split, self.SPLITS, DataError)
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
        target = cache_folder(self.folder, cache_root, f"modelnet40_off_{num_points}_seed{seed}")
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
        write_lines(folder / ModelNet40.NAMES_FILE, self.class_names())
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
            ModelNet40.write_split_list(folder, split, writer.close())


def _sample_job(job: tuple[Path, int], num_points: int) -> tuple[np.ndarray, np.ndarray | None]:
    path, seed = job
    return sample_mesh(path, num_points, seed)


# ---------------------------------------------------------------------------------------------
# Which layout a root holds

ModelNet40Layout = Literal["auto", "hdf5", "normal_resampled", "off"]
MODELNET40_LAYOUTS: tuple[str, ...] = get_args(ModelNet40Layout)

_FINDERS = {
    "hdf5": ModelNet40.LAYOUT.find,
    "normal_resampled": NormalResampled.find,
    "off": PrincetonOFF.find,
}
_EXPECTED = {
    "normal_resampled": "modelnet40_normal_resampled/ with modelnet40_shape_names.txt, "
    "modelnet40_{train,test}.txt and <class>/<class>_NNNN.txt",
    "off": "ModelNet40/<class>/{train,test}/<class>_NNNN.off",
}


def find_modelnet40_layout(root: str | Path, layout: str = "auto") -> str | None:
    """The ModelNet40 layout under ``root`` (``layout`` itself when it is there), or ``None``."""
    return find_layout(root, layout, _FINDERS, "ModelNet40")


def modelnet40_archive(
    root: str | Path,
    layout: str = "auto",
    num_points: int = 1024,
    cache_root: str | Path | None = None,
    missing: MissingPolicy = "error",
    seed: int = 0,
    workers: int | None = None,
) -> Path:
    """The ModelNet40 HDF5 folder to read for ``root``: itself, or the layout's conversion.

    Raises:
        DataError: no such layout under ``root`` (says what is expected), or a bad source file.
    """
    found = find_modelnet40_layout(root, layout)
    if found is None:
        raise layout_not_found("ModelNet40", root, layout, _EXPECTED, ModelNet40.LAYOUT.locate)
    points = cached_points(num_points)
    if found == "normal_resampled":
        return NormalResampled.find(root).cache(cache_root, points, missing, workers)
    if found == "off":
        return PrincetonOFF.find(root).cache(cache_root, points, seed, workers)
    return ModelNet40.LAYOUT.locate(root)


def modelnet40_class_names(root: str | Path, layout: str = "auto") -> list[str] | None:
    """Class names of the ModelNet40 layout under ``root`` without converting it, or ``None``."""
    found = find_modelnet40_layout(root, layout)
    if found == "hdf5":
        return ModelNet40.read_class_names(ModelNet40.LAYOUT.locate(root))
    if found == "normal_resampled":
        return NormalResampled.find(root).class_names()
    if found == "off":
        return PrincetonOFF.find(root).class_names()
    return None


# ---------------------------------------------------------------------------------------------
# The data module


class ModelNet40DataModule(PointCloudDataModule):
    """ModelNet40 shape classification from ``modelnet40_ply_hdf5_2048/`` (or, see ``layout``,
    ``modelnet40_normal_resampled/`` or Princeton's ``ModelNet40/`` meshes).

    The validation loader serves the **test split**: ModelNet40 has no validation split and the
    customary protocol (PointNet, DGCNN, PCT) reports accuracy on the test split.

    Args:
        root: the archive folder or a folder containing ``modelnet40_ply_hdf5_2048/``.
        synthetic_train_per_class: synthetic training shapes per class (``synthetic=True`` writes
            the synthetic 12-class set when ``root`` holds no data).
        synthetic_test_per_class: synthetic test shapes per class.
        layout: ``"auto"`` (the first found: hdf5, normal_resampled, off), ``"hdf5"``
            (``modelnet40_ply_hdf5_2048``), ``"normal_resampled"`` (PointNet++'s text release) or
            ``"off"`` (Princeton's meshes); text and mesh layouts are converted once into the HDF5
            layout under ``cache_root`` (see :mod:`pointea.data.cache`).
        cache_root: where ``pointea_cache/`` goes; default: the folder holding the release.
        missing: listed shapes whose files are absent: ``"error"``, or ``"skip"`` them.
        **kwargs: the shared options of :class:`~pointea.data.datamodule.PointCloudDataModule`
            (``num_points``, ``batch_size``, ``num_workers``, ``augment``, ``sampling``,
            ``normalize``, ``synthetic``, ``seed``: of the synthetic set and of the ``off``
            layout's mesh sampling).

    Shapes:
        batch["points"]: (B, K, 3) float32; batch["label"]: (B,) int64; batch["index"]: (B,) int64
    """

    def __init__(
        self,
        root: str,
        synthetic_train_per_class: int = 64,
        synthetic_test_per_class: int = 16,
        layout: ModelNet40Layout = "auto",
        cache_root: str | None = None,
        missing: MissingPolicy = "error",
        **kwargs: Any,
    ) -> None:
        super().__init__(root, **kwargs)
        size = self._synthetic_size
        train, test = synthetic_train_per_class, synthetic_test_per_class
        self.synthetic_train_per_class = size("synthetic_train_per_class", train)
        self.synthetic_test_per_class = size("synthetic_test_per_class", test)
        self.layout, self.cache_root, self.missing = layout, cache_root, missing
        find_modelnet40_layout(root, layout)  # an unknown layout fails here, with the argument named
        self.save_hyperparameters()

    @property
    def class_names(self) -> list[str]:
        """Class names in label order: from ``shape_names.txt`` when the data is there, else
        the synthetic classes (``synthetic=True``), else the 40 standard ModelNet40 classes."""
        from pointea.data.synthetic import CLASS_NAMES as SYNTHETIC_CLASS_NAMES  # it imports this

        found = modelnet40_class_names(self.root, self.layout)
        if found is not None:
            return found
        return list(SYNTHETIC_CLASS_NAMES if self.synthetic else ModelNet40.CLASS_NAMES)

    @property
    def num_classes(self) -> int:
        """Number of classes (see :attr:`class_names`); available right after ``__init__``."""
        return len(self.class_names)

    def prepare_data(self) -> None:
        """Write the synthetic set when asked for and missing; otherwise check the data is there."""
        from pointea.data.synthetic import write_synthetic_modelnet40  # it imports this module

        synthetic = self.synthetic and self.layout in ("auto", "hdf5")  # written in the HDF5 layout
        if synthetic and find_modelnet40_layout(self.root, self.layout) is None:
            write_synthetic_modelnet40(
                self.root, self.seed, self.synthetic_train_per_class, self.synthetic_test_per_class
            )
        self._archive()  # converts a text or mesh layout once (rank 0 only under DDP)

    def _archive(self) -> Path:
        return modelnet40_archive(
            self.root, self.layout, self.num_points, self.cache_root, self.missing, self.seed
        )

    def setup(self, stage: str | None = None) -> None:
        archive = self._archive()
        if stage in (None, "fit") and self.train_set is None:
            self.train_set = ModelNet40(archive, "train", self.train_transform)
        if self.test_set is None:
            self.test_set = ModelNet40(archive, "test", self.eval_transform)
        self.val_set = self.test_set


# ---------------------------------------------------------------------------------------------
# pointea-data verify

#: Points sampled per mesh when verifying ``.off`` files (enough to exercise the sampler).
_VERIFY_MESH_POINTS = 256


def _verify_hdf5(report: VerifyReport, folder: Path, missing: str) -> None:
    report.lines.append(f"ModelNet40 layout: {folder}")
    try:
        names = ModelNet40.read_class_names(folder)
    except DataError as exc:
        report.problem(str(exc))
        return
    report.lines.append(f"  classes: {len(names)} ({', '.join(names[:4])}, ...)")

    def read(path: Path) -> tuple[int, str]:
        content = ModelNet40.read_file(path, len(names), normals=True)
        count, points = content.points.shape[:2]
        ids = id_list_length(path)
        if ids is not None and ids[1] != count:
            raise DataError(f"{ids[0]}: lists {ids[1]} shapes, but {path.name} holds {count}")
        extras = ""
        if content.normals is not None:
            # Informational: the published normals include a handful of non-unit vectors.
            off = _not_unit(content.normals)
            extras = f", normals ({off} of {content.normals.shape[0] * points} not unit length)"
        labels = content.labels
        extras += f", {ids[0].name} consistent" if ids is not None else ""
        return count, (
            f"{count} shapes x {points} points, labels {labels.min()}..{labels.max()} "
            f"({np.unique(labels).size} classes){extras}"
        )

    for split in ModelNet40.SPLITS:
        files = functools.partial(ModelNet40.split_files, folder, split)
        check_split(report, ModelNet40.FULL_SIZES[split], split, files, read)


def _not_unit(normals: np.ndarray) -> int:
    """How many of (..., 3) normals are off unit length by more than 1 %."""
    return int((np.abs(np.linalg.norm(normals, axis=-1) - 1) > 1e-2).sum())


def _check_normal_resampled(path: Path) -> tuple[int, int]:
    cloud = _read_with_normals(path)
    return len(cloud), _not_unit(cloud.normals)


def _verify_normal_resampled(report: VerifyReport, release: NormalResampled, missing: str) -> None:
    report.lines.append(f"ModelNet40 normal_resampled layout: {release.folder}")
    try:
        names = release.class_names()
    except DataError as exc:
        report.problem(str(exc))
        return
    report.lines.append(f"  classes: {len(names)} ({', '.join(names[:4])}, ...)")
    for split in release.SPLITS:
        try:
            listed = release.listed(split)
        except DataError as exc:
            report.problem(str(exc))
            continue
        shapes = present_listed(
            report, release.list_file(split), listed, [[s.path] for s in listed], missing
        )
        if shapes is None:
            continue
        results = read_checked(report, _check_normal_resampled, [s.path for s in shapes], split)
        counts = [count for count, _ in results]
        off_unit = sum(off for _, off in results)
        labels = sorted({s.label for s in shapes})
        span = f"{min(counts)}..{max(counts)}" if counts else "-"
        report.lines.append(
            f"  {split}: {len(counts)} of {len(listed)} listed shapes read, {span} points each, "
            f"labels {labels[0]}..{labels[-1]} ({len(labels)} classes), normals ({off_unit} of "
            f"{sum(counts)} not unit length) (full release: {release.FULL_SIZES[split]})"
        )


def _check_mesh(path: Path) -> int:
    from pointea.io import read_points

    return len(read_points(path, num_points=_VERIFY_MESH_POINTS))


def _verify_off(report: VerifyReport, release: PrincetonOFF, missing: str) -> None:
    report.lines.append(f"ModelNet40 .off layout: {release.folder}")
    try:
        names = release.class_names()
    except DataError as exc:
        report.problem(str(exc))
        return
    report.lines.append(
        f"  classes: {len(names)} ({', '.join(names[:4])}, ...), label order = sorted folders"
    )
    for split in release.SPLITS:
        try:
            shapes = release.shapes(split)
        except DataError as exc:
            report.problem(str(exc))
            continue
        read = len(read_checked(report, _check_mesh, [s.path for s in shapes], split))
        classes = len({s.label for s in shapes})
        report.lines.append(
            f"  {split}: {read} of {len(shapes)} meshes read and sampled ({classes} classes) "
            f"(full release: {release.FULL_SIZES[split]})"
        )


#: ``pointea-data verify``'s ModelNet40 layouts: name -> (find, verify).
VERIFIERS: dict[str, Verifier] = {
    "modelnet40_hdf5": (ModelNet40.LAYOUT.find, _verify_hdf5),
    "modelnet40_normal_resampled": (NormalResampled.find, _verify_normal_resampled),
    "modelnet40_off": (PrincetonOFF.find, _verify_off),
}
