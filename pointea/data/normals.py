"""Normal estimation data: clouds with their true normals, from every source that has them.

Sources (``layout``; ``"auto"`` tries them in this order):

``pcpnet``
    PCPNet's benchmark layout (Guerrero et al., 2018): ``pclouds/`` (or the root itself) holds
    ``<shape>.xyz`` (``x y z`` per line) and ``<shape>.normals`` (``nx ny nz`` per line, the same
    rows), beside lists of shape names such as ``trainingset_whitenoise.txt`` and
    ``testset_all.txt`` (``train_list`` / ``test_list``). ``.curv`` and ``.pidx`` files are not
    used: the network estimates every served point, and scores all of them.
``hdf5``
    ModelNet40's ``modelnet40_ply_hdf5_2048/`` layout with its optional ``normal`` dataset (as in
    ``../shared/data/modelnet40_real_subset``).
``normal_resampled``
    PointNet++'s ``modelnet40_normal_resampled/`` text release (``x,y,z,nx,ny,nz`` lines),
    converted once into the HDF5 layout with its normals (:mod:`pointea.data.modelnet40`).
``off``
    Princeton's ``ModelNet40/<class>/{train,test}/*.off`` meshes, sampled once into the HDF5 layout,
    each point with its triangle's normal (:mod:`pointea.data.modelnet40`).
``files``
    Your own files through :func:`pointea.io.read_points`: a class folder (any layout of
    :func:`~pointea.data.class_folder.list_class_folder`), or a single file (a test split only). Files must carry normals: PLY/PCD
    normals, ``nx ny nz`` text or NumPy columns, or a mesh (each sampled point takes its triangle's
    normal).
``synthetic``
    Analytic surfaces with exact normals (:mod:`pointea.data.synthetic.normals`), generated in
    memory from ``seed``; ``root`` is not read.

True normals are checked where they are read: NaN/Inf or zero-length normals are refused with one
:class:`~pointea.errors.DataError` line naming the file; finite normals that are not unit length
(text files rounded to a few digits, unnormalised exports) are **renormalised** to unit length.

Items: ``{"points": float32 (K, 3), "normals": float32 (K, 3), "index": int}`` plus ``"label"`` (int)
where the source has classes. Augmentations that rotate or scale points transform the normals
with them (:mod:`pointea.data.transforms`).

Shape legend: M clouds, P points stored per cloud, K points served.
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from torch.utils.data import Dataset

from pointea.data.arguments import MAX_POINTS, check_int
from pointea.data.class_folder import list_class_folder
from pointea.data.datamodule import PointCloudDataModule
from pointea.data.dataset import PointCloudDataset
from pointea.data.modelnet40 import ModelNet40, find_modelnet40_layout, modelnet40_archive
from pointea.data.synthetic.normals import NORMAL_CLASS_NAMES, generate_normals
from pointea.data.transforms import Transform
from pointea.errors import DataError

__all__ = [
    "NormalsLayout",
    "NORMALS_LAYOUTS",
    "NormalClouds",
    "checked_normals",
    "find_normals_layout",
    "read_normal_clouds",
    "normals_dataset",
    "NormalsDataModule",
]

log = logging.getLogger(__name__)

NormalsLayout = Literal["auto", "pcpnet", "hdf5", "normal_resampled", "off", "files", "synthetic"]
NORMALS_LAYOUTS: tuple[str, ...] = ("pcpnet", "hdf5", "normal_resampled", "off", "files", "synthetic")
#: True normals whose length is further than this from 1 are renormalised (and counted in the log).
UNIT_TOLERANCE = 1e-3
#: Shorter true normals are refused as zero vectors.
MIN_NORM = 1e-6


@dataclass(frozen=True)
class NormalClouds:
    """One split of a normals source, held in memory.

    Shapes:
        points, normals: (M, P, 3) float32 (normals unit); labels: (M,) int64 or None
    """

    points: np.ndarray
    normals: np.ndarray
    labels: np.ndarray | None
    names: tuple[str, ...]
    class_names: tuple[str, ...] | None
    source: str


def checked_normals(where: str | Path, normals: np.ndarray) -> np.ndarray:
    """``normals`` as unit float32 vectors: NaN/Inf or zero-length vectors are refused with one line
    naming ``where``; finite vectors that are not unit length are renormalised.

    Shapes:
        normals: (..., 3); returns (..., 3) float32
    """
    normals = np.asarray(normals)
    if normals.ndim < 1 or normals.shape[-1] != 3 or not np.issubdtype(normals.dtype, np.floating):
        raise DataError(f"{where}: normals have shape {normals.shape} {normals.dtype}, expected (..., 3) floats")
    flat = normals.reshape(-1, 3).astype(np.float64)  # (M * P, 3)
    bad = ~np.isfinite(flat).all(axis=1)
    if bad.any():
        raise DataError(
            f"{where}: {int(bad.sum())} normal(s) are NaN/Inf (first at row {int(np.flatnonzero(bad)[0])}); "
            "expected finite unit normals"
        )
    norm = np.linalg.norm(flat, axis=1)  # (M * P,)
    zero = norm < MIN_NORM
    if zero.any():
        raise DataError(
            f"{where}: {int(zero.sum())} normal(s) have zero length (first at row {int(np.flatnonzero(zero)[0])}); "
            "expected unit normals"
        )
    off_unit = np.abs(norm - 1.0) > UNIT_TOLERANCE
    if off_unit.any():
        log.info("%s: %d normal(s) not unit length were renormalised", where, int(off_unit.sum()))
    return (flat / norm[:, None]).astype(np.float32).reshape(normals.shape)


# Sources -----------------------------------------------------------------------------------------


def _pcpnet_folder(root: Path) -> Path | None:
    """The folder holding PCPNet's ``.xyz``/``.normals`` pairs and lists under ``root``, or None."""
    for folder in (root / "pclouds", root):
        if folder.is_dir() and any(folder.glob("*.normals")) and any(folder.glob("*set*.txt")):
            return folder
    return None


def find_normals_layout(root: str | Path, layout: str = "auto") -> str | None:
    """The normals source under ``root`` (``layout`` itself when it is there), or ``None``."""
    if layout != "auto" and layout not in NORMALS_LAYOUTS:
        raise DataError(f"normals: layout must be one of auto, {', '.join(NORMALS_LAYOUTS)}; got {layout!r}")
    path = Path(root).expanduser()
    found = {
        "pcpnet": lambda: path.is_dir() and _pcpnet_folder(path) is not None,
        "hdf5": lambda: find_modelnet40_layout(path, "hdf5") is not None,
        "normal_resampled": lambda: find_modelnet40_layout(path, "normal_resampled") is not None,
        "off": lambda: find_modelnet40_layout(path, "off") is not None,
        "files": lambda: path.exists(),
        "synthetic": lambda: True,
    }
    names = ("pcpnet", "hdf5", "normal_resampled", "off", "files") if layout == "auto" else (layout,)
    return next((name for name in names if found[name]()), None)


def _modelnet40(archive: Path, split: str) -> NormalClouds:
    """A split of a ModelNet40 HDF5 folder, with its ``normal`` dataset."""
    class_names = ModelNet40.read_class_names(archive)
    points, normals, labels = [], [], []
    for path in ModelNet40.split_files(archive, split):
        read = ModelNet40.read_file(path, len(class_names), normals=True)
        if read.normals is None:
            raise DataError(
                f"{path}: has no 'normal' dataset; normal estimation needs (M, N, 3) unit normals beside 'data'"
            )
        points.append(read.points)
        normals.append(checked_normals(path, read.normals))
        labels.append(read.labels)
    labels_all = np.concatenate(labels)
    return NormalClouds(
        points=np.concatenate(points),  # (M, N, 3), M summed over files
        normals=np.concatenate(normals),
        labels=labels_all,
        names=tuple(f"{split}_{i:04d}" for i in range(len(labels_all))),
        class_names=tuple(class_names),
        source=f"ModelNet40 at {archive}",
    )


def _read_table(path: Path, what: str) -> np.ndarray:
    """A whitespace-separated table of 3 floats per line.  Shapes: returns (R, 3) float64."""
    if not path.is_file():
        raise DataError(f"{path}: no such file; PCPNet stores {what} in <shape>.{path.suffix[1:]} beside <shape>.xyz")
    try:
        table = np.loadtxt(path, dtype=np.float64, ndmin=2)
    except ValueError as error:
        raise DataError(f"{path}: not a table of numbers ({str(error).splitlines()[0]}); expected 3 per line") from None
    if table.shape[1] != 3:
        raise DataError(f"{path}: {table.shape[1]} columns, expected 3 ({what})")
    return table


def _pcpnet(root: Path, list_name: str, file_points: int, seed: int) -> NormalClouds:
    """The shapes a PCPNet list names, each a seeded subset of ``file_points`` points."""
    folder = _pcpnet_folder(root)
    if folder is None:
        raise DataError(f"{root}: no PCPNet layout; expected pclouds/<shape>.xyz + <shape>.normals and *set*.txt lists")
    list_path = folder / list_name
    if not list_path.is_file():
        lists = ", ".join(sorted(p.name for p in folder.glob("*set*.txt")))
        raise DataError(f"{list_path}: no such list; the lists here are {lists}")
    names = [line.strip() for line in list_path.read_text().splitlines() if line.strip()]
    if not names:
        raise DataError(f"{list_path}: names no shapes")
    points = np.empty((len(names), file_points, 3), dtype=np.float32)  # (M, P, 3)
    normals = np.empty_like(points)
    for index, name in enumerate(names):
        xyz = _read_table(folder / f"{name}.xyz", "points")
        normal_path = folder / f"{name}.normals"
        normal = _read_table(normal_path, "normals")
        if normal.shape[0] != xyz.shape[0]:
            raise DataError(f"{normal_path}: {normal.shape[0]} normals for the {xyz.shape[0]} points of {name}.xyz")
        if not np.isfinite(xyz).all():
            raise DataError(f"{folder / f'{name}.xyz'}: NaN/Inf coordinates")
        rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
        count = xyz.shape[0]
        keep = rng.permutation(count)[:file_points] if count >= file_points else rng.integers(count, size=file_points)
        points[index] = xyz[keep]
        normals[index] = checked_normals(normal_path, normal[keep])
    return NormalClouds(points, normals, None, tuple(names), None, f"PCPNet {list_path}")


def _files(root: Path, split: str, file_points: int, seed: int, test_fraction: float) -> NormalClouds:
    """A class folder (or one file, as a test split) read through :func:`pointea.io.read_points`."""
    from pointea.io import read_points

    if root.is_file():
        if split != "test":
            raise DataError(f"{root}: a single file is a test split only; train on a folder of files")
        entries, class_names = [(root, 0)], None
    else:
        listing = list_class_folder(root, test_fraction, seed)
        entries, class_names = list(listing.files[split]), listing.class_names
    points = np.empty((len(entries), file_points, 3), dtype=np.float32)  # (M, P, 3)
    normals = np.empty_like(points)
    for index, (path, _) in enumerate(entries):
        cloud = read_points(path, file_points, seed=seed + zlib.crc32(path.name.encode()))
        if cloud.normals is None:
            raise DataError(
                f"{path}: has no normals; normal estimation needs nx ny nz (PLY/PCD normals, text or NumPy "
                "columns) or a mesh"
            )
        points[index] = cloud.points
        normals[index] = checked_normals(path, cloud.normals)
    labels = np.array([label for _, label in entries], dtype=np.int64)
    names = tuple(path.stem for path, _ in entries)
    return NormalClouds(points, normals, labels if class_names else None, names, class_names, f"files at {root}")


def _synthetic(split: str, seed: int, per_class: int, points: int) -> NormalClouds:
    rng = np.random.default_rng([seed, ("train", "test").index(split)])
    cloud_points, normals, labels = generate_normals(per_class, rng, points)
    names = tuple(f"{NORMAL_CLASS_NAMES[label]}_{i:04d}" for i, label in enumerate(labels))
    return NormalClouds(cloud_points, normals, labels, names, NORMAL_CLASS_NAMES, "synthetic analytic surfaces")


def read_normal_clouds(
    root: str | Path,
    split: str,
    layout: str = "auto",
    *,
    num_points: int = 2048,
    file_points: int = 10_000,
    seed: int = 0,
    cache_root: str | None = None,
    missing: str = "error",
    train_list: str = "trainingset_whitenoise.txt",
    test_list: str = "testset_all.txt",
    test_fraction: float = 0.2,
    synthetic_per_class: int = 32,
) -> NormalClouds:
    """Read one split (``"train"`` or ``"test"``) of the normals source under ``root`` (see the module
    notes for the layouts and the arguments' meaning in :class:`NormalsDataModule`).

    Raises:
        DataError: no such source, missing normals, bad files or values (one line naming the file).
    """
    if split not in ("train", "test"):
        raise DataError(f"normals: split must be 'train' or 'test', got {split!r}")
    found = find_normals_layout(root, layout)
    if found is None:
        where = "nothing there" if not Path(root).expanduser().exists() else f"no {layout} layout"
        raise DataError(
            f"{root}: {where}; expected a PCPNet folder, a ModelNet40 HDF5 folder with normals, "
            "modelnet40_normal_resampled/, a class folder or a file with normals (or layout: synthetic)"
        )
    path = Path(root).expanduser()
    if found == "pcpnet":
        return _pcpnet(path, train_list if split == "train" else test_list, file_points, seed)
    if found in ("hdf5", "normal_resampled", "off"):
        return _modelnet40(modelnet40_archive(path, found, num_points, cache_root, missing, seed), split)  # type: ignore[arg-type]
    if found == "files":
        return _files(path, split, file_points, seed, test_fraction)
    return _synthetic(split, seed, synthetic_per_class, max(num_points, 2048))


def normals_dataset(clouds: NormalClouds, transform: Transform | None) -> PointCloudDataset:
    """The served dataset: normals ride along as a per-point entry, so every resampling and
    augmentation moves them with their points."""
    labels = {"label": clouds.labels} if clouds.labels is not None else {}
    return PointCloudDataset(clouds.points, labels, {"normals": clouds.normals}, transform)


# The data module ---------------------------------------------------------------------------------


class NormalsDataModule(PointCloudDataModule):
    """Normal estimation: clouds and their true normals from any source in the module notes.

    The validation loader serves the **test split** (ModelNet40 and PCPNet have no validation split).

    Args:
        root: the source folder or file (ignored with ``layout="synthetic"``).
        layout: ``"auto"``, ``"pcpnet"``, ``"hdf5"``, ``"normal_resampled"``, ``"off"``, ``"files"``
            or ``"synthetic"`` (see the module notes).
        batch_size: clouds per batch.
        file_points: points kept per PCPNet shape or file (a seeded subset; PCPNet shapes hold 100k).
        train_list, test_list: PCPNet's list files of the two splits.
        test_fraction: class folders without a split: the share of each class held out for test.
        synthetic_per_class: synthetic clouds per surface family and split (5 families).
        cache_root, missing: of the ``normal_resampled`` and ``off`` conversions (see
            ``ModelNet40DataModule``).
        **kwargs: the shared options of :class:`~pointea.data.datamodule.PointCloudDataModule`
            (``num_points``, ``num_workers``, ``augment``: rotations and scalings transform the
            normals too, ``sampling``, ``normalize``: normals unchanged, ``seed``: of the
            synthetic set, of the per-file subsets and of the hold-out split).

    Shapes:
        batch["points"], batch["normals"]: (B, K, 3) float32; batch["index"]: (B,) int64;
        batch["label"]: (B,) int64 where the source has classes
    """

    def __init__(
        self,
        root: str = "data/normals",
        layout: NormalsLayout = "auto",
        batch_size: int = 16,
        file_points: int = 10_000,
        train_list: str = "trainingset_whitenoise.txt",
        test_list: str = "testset_all.txt",
        test_fraction: float = 0.2,
        synthetic_per_class: int = 32,
        cache_root: str | None = None,
        missing: Literal["error", "skip"] = "error",
        **kwargs: Any,
    ) -> None:
        super().__init__(root, batch_size=batch_size, synthetic=layout == "synthetic", **kwargs)
        num_points, seed = self.num_points, self.seed
        find_normals_layout(root, layout)  # an unknown layout fails here, with the argument named
        self.layout = layout
        self.file_points = check_int("NormalsDataModule: file_points", file_points, 1, MAX_POINTS)
        self.synthetic_per_class = self._synthetic_size("synthetic_per_class", synthetic_per_class)
        self.read_options = dict(
            num_points=num_points, file_points=self.file_points, seed=seed, cache_root=cache_root,
            missing=missing, train_list=train_list, test_list=test_list, test_fraction=test_fraction,
            synthetic_per_class=self.synthetic_per_class,
        )  # fmt: skip
        self.source: str | None = None
        self.save_hyperparameters()

    def prepare_data(self) -> None:
        """Convert a ``normal_resampled`` or ``off`` release once (rank 0 only under DDP)."""
        found = find_normals_layout(self.root, self.layout)
        if found in ("normal_resampled", "off"):
            modelnet40_archive(self.root, found, self.num_points, self.read_options["cache_root"],
                               self.read_options["missing"], self.seed)  # fmt: skip

    def _read(self, split: str, transform: Transform) -> Dataset:
        clouds = read_normal_clouds(self.root, split, self.layout, **self.read_options)
        self.source = clouds.source
        return normals_dataset(clouds, transform)

    def setup(self, stage: str | None = None) -> None:
        if stage in (None, "fit") and self.train_set is None:
            self.train_set = self._read("train", self.train_transform)
        if self.test_set is None:
            self.test_set = self._read("test", self.eval_transform)
        self.val_set = self.test_set
