"""A classification data set in a folder of the user's own files: one sub-folder per class.

Three layouts, tried in this order::

    root/train/<class>/<file>, root/test/<class>/<file>      split folders
    root/<class>/train/<file>, root/<class>/test/<file>      Princeton ModelNet style
    root/<class>/<file> + root/train.txt, root/test.txt      split lists: paths relative to root
    root/<class>/<file>                                      no split given: a seeded, per-class
                                                             hold-out of ``test_fraction``

``<file>`` is any file :func:`pointea.io.read_points` reads (``.ply``, ``.off``, ``.xyz``, ``.las``,
...; files with other extensions and hidden files are ignored). Class names are the folder names,
sorted, and labels their positions. Each file is read once, through pointea.io, to
``file_points`` points (meshes sampled by area and FPS, point files a seeded random subset, topped
up when smaller) and held in memory.

The data module (:class:`ClassFolderDataModule`) serves batches, transforms and augmentation
options as :class:`~pointea.data.ModelNet40DataModule` does. ``num_classes`` and ``class_names``
come from the folder names right after ``__init__``, so the CLI links them into the model
(``configs/custom_folder.yaml``).

Shape legend: M files, P points per file (``file_points``).
"""

from __future__ import annotations

import logging
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pointea.data.arguments import check_choice
from pointea.data.datamodule import PointCloudDataModule
from pointea.data.dataset import PointCloudDataset
from pointea.data.transforms import Transform
from pointea.errors import DataError

__all__ = ["ClassFolder", "ClassFolderDataModule", "ClassFolderListing", "SPLITS", "list_class_folder"]

SPLITS = ("train", "test")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClassFolderListing:
    """What a class folder holds: class names and, per split, (file, label) pairs.

    Args:
        layout: ``"split_folders"``, ``"class_split_folders"``, ``"split_lists"`` or ``"holdout"``.
    """

    root: Path
    layout: str
    class_names: tuple[str, ...]
    files: dict[str, tuple[tuple[Path, int], ...]]


def _readable(folder: Path) -> list[Path]:
    from pointea.io import SUPPORTED_EXTENSIONS

    return sorted(
        path
        for path in folder.iterdir()
        if path.is_file()
        and not path.name.startswith(".")
        and path.suffix.lower() in SUPPORTED_EXTENSIONS
    )


def _class_dirs(folder: Path) -> list[Path]:
    return sorted(
        path for path in folder.iterdir() if path.is_dir() and not path.name.startswith(".")
    )


def _read_list(root: Path, list_file: Path, names: tuple[str, ...]) -> tuple[tuple[Path, int], ...]:
    entries = []
    for number, line in enumerate(list_file.read_text().splitlines(), start=1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        if Path(entry).is_absolute() or ".." in Path(entry).parts:  # lexical: symlinked folders stay usable
            raise DataError(f"{list_file}: line {number}: {entry} leads outside {root}; list paths relative to it")
        path = root / entry
        if not path.is_file():
            raise DataError(f"{list_file}: line {number}: {entry} is not a file under {root}")
        relative = path.relative_to(root).parts
        if len(relative) < 2 or relative[0] not in names:
            raise DataError(
                f"{list_file}: line {number}: {entry} is not inside a class folder <class>/<file>"
            )
        entries.append((path, names.index(relative[0])))
    if not entries:
        raise DataError(f"{list_file}: lists no files, expected lines like <class>/<file>")
    return tuple(entries)


def list_class_folder(
    root: str | Path, test_fraction: float = 0.2, seed: int = 0
) -> ClassFolderListing:
    """Find the layout, the classes and each split's files (see the module notes).

    Raises:
        DataError: no such folder, no class folders, a class without readable files, a split list
            naming a missing file.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(
            f"{root}: no such folder; expected <root>/<class>/<files> (see ClassFolderDataModule)"
        )
    if all((root / split).is_dir() for split in SPLITS):
        names = tuple(sorted({d.name for split in SPLITS for d in _class_dirs(root / split)}))
        layout = "split_folders"
        files = {
            split: tuple(
                (path, names.index(d.name))
                for d in _class_dirs(root / split)
                for path in _readable(d)
            )
            for split in SPLITS
        }
    else:
        classes = _class_dirs(root)
        names = tuple(d.name for d in classes)
        if not names:
            raise DataError(
                f"{root}: no class folders; expected <root>/<class>/<files>, or <root>/train/<class>/ "
                "and <root>/test/<class>/"
            )
        if all((d / split).is_dir() for d in classes for split in SPLITS):
            layout = "class_split_folders"
            files = {
                split: tuple((p, i) for i, d in enumerate(classes) for p in _readable(d / split))
                for split in SPLITS
            }
        elif all((root / f"{split}.txt").is_file() for split in SPLITS):
            layout = "split_lists"
            files = {split: _read_list(root, root / f"{split}.txt", names) for split in SPLITS}
        else:
            if not 0 < test_fraction < 1:
                raise DataError(
                    f"{root}: no train/test split given, and test_fraction={test_fraction} "
                    "is not in (0, 1)"
                )
            layout = "holdout"
            files = _holdout([_readable(d) for d in classes], test_fraction, seed)
    for split in SPLITS:
        counts = np.bincount([label for _, label in files[split]], minlength=len(names))
        if split == "train" and (counts == 0).any():
            empty = names[int(np.flatnonzero(counts == 0)[0])]
            raise DataError(
                f"{root}: class {empty!r} has no readable files in the train split "
                f"({layout} layout)"
            )
        if not files[split]:
            raise DataError(f"{root}: the {split} split holds no readable files ({layout} layout)")
    return ClassFolderListing(root=root, layout=layout, class_names=names, files=files)


def _holdout(per_class: list[list[Path]], fraction: float, seed: int) -> dict[str, tuple]:
    """A seeded per-class split: ``fraction`` of each class (at least one file when it has two)."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label, paths in enumerate(per_class):
        order = rng.permutation(len(paths))
        held = min(len(paths) - 1, max(1, round(fraction * len(paths)))) if len(paths) > 1 else 0
        test += [(paths[i], label) for i in sorted(order[:held])]
        train += [(paths[i], label) for i in sorted(order[held:])]
    return {"train": tuple(train), "test": tuple(test)}


class ClassFolder(PointCloudDataset):
    """One split of a class folder, every file read once and held in memory.

    Args:
        listing: from :func:`list_class_folder`.
        split: ``"train"`` or ``"test"``.
        file_points: points read from every file (see the module notes).
        transform: per-shape transform.
        seed: seed of the per-file subsets and mesh sampling; each file adds the CRC-32 of its path
            relative to the root, so adding a file changes no other file's points.

    Items: ``{"points": float32 (K, 3), "label": int, "index": int}``.

    Shapes:
        self.points: (M, P, 3) float32
    """

    def __init__(
        self,
        listing: ClassFolderListing,
        split: str,
        file_points: int = 2048,
        transform: Transform | None = None,
        seed: int = 0,
    ) -> None:
        from pointea.io import ResampledWarning, read_points

        check_choice("ClassFolder: split", split, SPLITS, DataError)
        entries = listing.files[split]
        clouds = np.empty((len(entries), file_points, 3), dtype=np.float32)  # (M, P, 3)
        topped_up = 0
        for index, (path, _) in enumerate(entries):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ResampledWarning)
                relative = path.relative_to(listing.root).as_posix().encode()
                cloud = read_points(path, file_points, seed=seed + zlib.crc32(relative))
            topped_up += cloud.resampled
            for other in caught:
                if not issubclass(other.category, ResampledWarning):
                    warnings.warn_explicit(
                        other.message, other.category, other.filename, other.lineno
                    )
            clouds[index] = cloud.points
        if topped_up:
            warnings.warn(
                f"{listing.root} ({split}): {topped_up} of {len(entries)} files had fewer than "
                f"{file_points} points; their points were drawn again with replacement to fill up",
                ResampledWarning,
                stacklevel=2,
            )
        log.info("read %d %s files of %s", len(entries), split, listing.root)
        super().__init__(
            points=clouds,
            shape_labels={"label": np.array([label for _, label in entries], dtype=np.int64)},
            transform=transform,
        )
        self.files = tuple(path for path, _ in entries)
        self.class_names = listing.class_names


class ClassFolderDataModule(PointCloudDataModule):
    """Shape classification from ``root/<class>/<files>`` (``.ply``, ``.off``, ``.xyz``, ...).

    The validation loader serves the test split (as for ModelNet40).

    Args:
        root: the folder (see the module notes for the split layouts).
        normalize: centre and scale each cloud into the unit sphere (on by default: your files
            come in any units and place).
        file_points: points read from each file once (meshes are sampled to this many); at least
            ``num_points``.
        test_fraction: when the folder gives no split, the seeded share of each class held out.
        **kwargs: the shared options of :class:`~pointea.data.datamodule.PointCloudDataModule`
            (``num_points``, ``batch_size``, ``num_workers``, ``augment``, ``sampling``,
            ``seed``: of the hold-out split, the per-file subsets and the mesh sampling).

    Shapes:
        batch["points"]: (B, K, 3) float32; batch["label"]: (B,) int64; batch["index"]: (B,) int64
    """

    def __init__(
        self,
        root: str,
        normalize: bool = True,
        file_points: int = 2048,
        test_fraction: float = 0.2,
        **kwargs: Any,
    ) -> None:
        super().__init__(root, normalize=normalize, synthetic=False, **kwargs)
        num_points = self.num_points
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
            self.train_set = ClassFolder(
                self.listing, "train", self.file_points, self.train_transform, self.seed
            )
        if self.test_set is None:
            self.test_set = ClassFolder(
                self.listing, "test", self.file_points, self.eval_transform, self.seed
            )
        self.val_set = self.test_set
