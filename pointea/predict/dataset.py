"""Point files read and preprocessed in DataLoader workers, as training preprocessed its data.

Preprocessing (:class:`Preprocessing`): centre each cloud on its centroid and scale it so its
farthest point lies on the unit sphere (pointea's training data is in that frame: the published
archives and the synthetic sets are stored so, and ``normalize: true`` data modules make it so),
then bring it to the trained number of points the way training did: farthest point sampling for
``sampling: fps``, else a uniformly random subset (seeded by the file name, so repeated runs agree;
the archives store points in random order, so their "first points" evaluation subset is one).
Clouds with fewer points repeat some (and are marked ``resampled``); ``num_points=None`` keeps
every point. A cloud of fewer distinct points than the network's floor (its first sample size,
at least :data:`MIN_DISTINCT_POINTS`) is refused unless ``resample_small`` asks to repeat them.

A file that cannot be read or preprocessed becomes an error item, never an exception, so one bad
file never stops the others.

Shape legend: B clouds, N points read, K points served.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from pointea.data.transforms import NormalizeUnitSphere, Resample
from pointea.errors import DataError
from pointea.predict.files import read_cloud, read_normals
from pointea.predict.read_bound import ReadTooLong, bytes_for, read_bound, seconds_for

__all__ = ["MIN_DISTINCT_POINTS", "Preprocessing", "Prepared", "PointFiles", "FileBatch", "collate_files", "one_line"]


#: Fewest distinct points a cloud must have to be predicted without ``resample_small``: fewer
#: make a "normal-looking" top-k out of copies of a handful of points.
MIN_DISTINCT_POINTS = 32


def distinct_points(points: np.ndarray, enough: int) -> int:
    """How many distinct points the cloud has, counted exactly up to ``enough`` (a larger count may
    be returned as any number >= ``enough``: big clouds are judged on a prefix first).

    Shapes: points (N, 3)
    """
    head = points[: 64 * enough]  # (<= 64 * enough, 3)
    distinct = np.unique(head, axis=0).shape[0]
    if distinct >= enough or head.shape[0] == points.shape[0]:
        return distinct
    return np.unique(points, axis=0).shape[0]


@dataclass(frozen=True)
class Prepared:
    """A cloud ready for the network: ``normalised`` (N, 3) every point read, in the network's
    frame; ``served`` (K, 3) the points the network sees; ``resampled``: points were repeated to
    reach ``num_points`` or the floor."""

    normalised: np.ndarray
    served: np.ndarray
    resampled: bool


@dataclass(frozen=True)
class Preprocessing:
    """How clouds are prepared for the network (see the module docstring).

    Args:
        num_points: points per cloud; ``None`` keeps every point.
        sampling: ``"fps"`` or ``"random"``, as in training.
        min_points: fewest points the network accepts (with ``num_points=None``).
        floor: fewest distinct points a cloud may have (default ``max(min_points, 32)``).
        resample_small: resample clouds below the floor to ``max(floor, num_points)`` points
            instead of refusing them.
    """

    num_points: int | None
    sampling: str = "random"
    min_points: int = 1
    floor: int | None = None
    resample_small: bool = False

    @property
    def distinct_floor(self) -> int:
        return self.floor if self.floor is not None else max(self.min_points, MIN_DISTINCT_POINTS)

    def describe(self) -> str:
        if self.num_points is None:
            count = "every point of each file (--num-points all)"
        elif self.sampling == "fps":
            count = f"{self.num_points} points by farthest point sampling"
        else:
            count = f"{self.num_points} points as a random subset (seeded by the file name)"
        small = "resampled" if self.resample_small else "refused"
        return (
            f"centre on the centroid, scale into the unit sphere, {count}; clouds of fewer than "
            f"{self.distinct_floor} distinct points {small}"
        )

    def __call__(self, points: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Normalised cloud and the points served to the network (see :meth:`prepare`).

        Shapes: points (N, 3); returns (N, 3) and (K, 3)
        """
        prepared = self.prepare(points, name)
        return prepared.normalised, prepared.served

    def prepare(self, points: np.ndarray, name: str) -> Prepared:
        """The cloud normalised and sampled, seeded by ``name``.

        Raises:
            ValueError: fewer distinct points than the floor (without ``resample_small``), or
                fewer points than the network samples with ``num_points=None``.
            DataError: coordinates that cannot be normalised (NaN/Inf, overflowing).

        Shapes: points (N, 3); normalised (N, 3), served (K, 3)
        """
        rng = np.random.default_rng(zlib.crc32(name.encode()))
        floor = self.distinct_floor
        distinct = distinct_points(points, floor) if points.shape[0] else 0
        small = distinct < floor
        if small and not self.resample_small:
            raise ValueError(
                f"{distinct} distinct point{'' if distinct == 1 else 's'}, fewer than the {floor} the network needs: pass --resample to predict "
                "it from repeated points anyway"
            )
        normalised = NormalizeUnitSphere()({"points": points}, rng)["points"]
        wanted = self.num_points
        if wanted is None:
            if not small and points.shape[0] >= self.min_points:
                return Prepared(normalised, normalised, False)
            if not self.resample_small:
                raise ValueError(
                    f"{points.shape[0]} points, but the network samples {self.min_points}: use --num-points "
                    "to resample the cloud, or --resample"
                )
            wanted = max(floor, self.min_points)
        method = "fps" if self.sampling == "fps" else "random"
        served = Resample(wanted, method)({"points": normalised}, rng)["points"]
        return Prepared(normalised, served, small or points.shape[0] < wanted)


class PointFiles(Dataset):
    """One item per file: ``{"index", "points" (K, 3), "count" N, "resampled"}`` plus, with
    ``keep_all``, ``"raw"`` (N, 3) as read and ``"normalised"`` (N, 3), and with ``keep_normals``
    ``"file_normals"`` (N, 3) or ``None`` (the file's own normals); or ``{"index", "error"}``.

    Any failure of reading or preprocessing one file (a :class:`DataError`, but also a reader's
    ``MemoryError`` or any other exception of a third-party parser) is that file's error item, and
    so is a read past the file's time or memory bound (:mod:`pointea.predict.read_bound`).

    Args:
        read_seconds: the time bound per file (default: :func:`~pointea.predict.read_bound.seconds_for`
            its size).
    """

    def __init__(
        self,
        files: list[Path],
        preprocessing: Preprocessing,
        keep_all: bool = False,
        keep_normals: bool = False,
        read_seconds: float | None = None,
    ) -> None:
        self.files = files
        self.preprocessing = preprocessing
        self.keep_all = keep_all
        self.keep_normals = keep_normals
        self.read_seconds = read_seconds

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> dict[str, Any]:
        path = self.files[index]
        try:
            size = path.stat().st_size
            seconds = self.read_seconds if self.read_seconds is not None else seconds_for(size)
            with read_bound(seconds, bytes_for(size)):
                raw, normals = read_normals(path) if self.keep_normals else (read_cloud(path), None)
                prepared = self.preprocessing.prepare(raw, path.stem)
        except MemoryError as error:
            reason = f"needs more than {bytes_for(size) / 2**30:.1f} GiB to read, the bound for a file of {size} bytes"
            return {"index": index, "error": f"{reason} ({one_line(error, path)})"}
        except Exception as error:  # noqa: BLE001 - one file's failure, whatever it is, is that file's
            return {"index": index, "error": one_line(error, path)}
        item = {
            "index": index,
            "points": torch.from_numpy(np.ascontiguousarray(prepared.served)),
            "count": raw.shape[0],
            "resampled": prepared.resampled,
        }
        if self.keep_all:
            item.update(raw=raw, normalised=torch.from_numpy(np.ascontiguousarray(prepared.normalised)))
        if self.keep_normals:
            item["file_normals"] = normals
        return item


def one_line(error: BaseException, path: Path) -> str:
    """The error's message in one line without the file name it starts with (the listing names
    the file); errors other than pointea's own and ``ValueError`` keep their type's name."""
    text = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    message = text[0] if text else ""
    message = message.removeprefix(f"{path}: ").removeprefix(f"{path} ")
    if isinstance(error, (DataError, ValueError)) and message:
        return message
    if isinstance(error, ReadTooLong):
        return f"{message}, the bound for a file of its size: it is likely damaged"
    if isinstance(error, MemoryError):
        return f"MemoryError{': ' + message if message else ''}"
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


@dataclass
class FileBatch:
    """Readable items of a batch (``points`` stacked (B, K, 3) when all have K points, else
    ``None`` and each item keeps its own) and the unreadable ones."""

    items: list[dict[str, Any]]
    errors: list[dict[str, Any]]
    points: Tensor | None


def collate_files(items: list[dict[str, Any]]) -> FileBatch:
    good = [item for item in items if "error" not in item]
    errors = [item for item in items if "error" in item]
    sizes = {item["points"].shape[0] for item in good}
    points = torch.stack([item["points"] for item in good]) if len(sizes) == 1 else None  # (B, K, 3)
    return FileBatch(good, errors, points)
