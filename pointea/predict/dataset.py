"""Point files read and preprocessed in DataLoader workers, as training preprocessed its data.

Preprocessing (:class:`Preprocessing`): centre each cloud on its centroid and scale it so its
farthest point lies on the unit sphere (pointea's training data is in that frame: the published
archives and the synthetic sets are stored so, and ``normalize: true`` data modules make it so),
then bring it to the trained number of points the way training did: farthest point sampling for
``sampling: fps``, else a uniformly random subset (seeded by the file name, so repeated runs agree;
the archives store points in random order, so their "first points" evaluation subset is one).
Clouds with fewer points repeat some; ``num_points=None`` keeps every point.

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
from pointea.predict.files import read_cloud

__all__ = ["Preprocessing", "PointFiles", "FileBatch", "collate_files"]


@dataclass(frozen=True)
class Preprocessing:
    """How clouds are prepared for the network (see the module docstring).

    Args:
        num_points: points per cloud; ``None`` keeps every point.
        sampling: ``"fps"`` or ``"random"``, as in training.
        min_points: fewest points the network accepts (with ``num_points=None``).
    """

    num_points: int | None
    sampling: str = "random"
    min_points: int = 1

    def describe(self) -> str:
        if self.num_points is None:
            count = "every point of each file (--num-points all)"
        elif self.sampling == "fps":
            count = f"{self.num_points} points by farthest point sampling"
        else:
            count = f"{self.num_points} points as a random subset (seeded by the file name)"
        return f"centre on the centroid, scale into the unit sphere, {count}"

    def __call__(self, points: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Normalised cloud and the points served to the network.

        Shapes: points (N, 3); returns (N, 3) and (K, 3)
        """
        rng = np.random.default_rng(zlib.crc32(name.encode()))
        normalised = NormalizeUnitSphere()({"points": points}, rng)["points"]
        if self.num_points is None:
            if points.shape[0] < self.min_points:
                raise ValueError(
                    f"{points.shape[0]} points, but the network samples {self.min_points}: use --num-points "
                    "to resample the cloud"
                )
            return normalised, normalised
        method = "fps" if self.sampling == "fps" else "random"
        return normalised, Resample(self.num_points, method)({"points": normalised}, rng)["points"]


class PointFiles(Dataset):
    """One item per file: ``{"index", "points" (K, 3), "count" N}`` plus, with ``keep_all``,
    ``"raw"`` (N, 3) as read and ``"normalised"`` (N, 3); or ``{"index", "error"}``."""

    def __init__(self, files: list[Path], preprocessing: Preprocessing, keep_all: bool = False) -> None:
        self.files = files
        self.preprocessing = preprocessing
        self.keep_all = keep_all

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> dict[str, Any]:
        path = self.files[index]
        try:
            raw = read_cloud(path)
            normalised, served = self.preprocessing(raw, path.stem)
        except (DataError, ValueError) as error:  # unreadable file, or too few points for the network
            return {"index": index, "error": _one_line(error, path)}
        item = {"index": index, "points": torch.from_numpy(np.ascontiguousarray(served)), "count": raw.shape[0]}
        if self.keep_all:
            item.update(raw=raw, normalised=torch.from_numpy(np.ascontiguousarray(normalised)))
        return item


def _one_line(error: BaseException, path: Path) -> str:
    """The error's message without the file name it starts with (the listing names the file)."""
    text = str(error).strip().splitlines()
    message = text[0] if text else type(error).__name__
    return message.removeprefix(f"{path}: ").removeprefix(f"{path} ")


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
