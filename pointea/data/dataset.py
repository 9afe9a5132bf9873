"""The in-memory point-cloud dataset every archive reader builds on.

Why in memory: the archives are small (ModelNet40 train is about 240 MB of float32), so each split
is read once, validated, and held as numpy arrays. Items are then plain array slices: no HDF5
handle is open while a DataLoader runs, forked workers share the arrays copy-on-write (numpy data
pages are never written, so they stay shared), and random access costs microseconds.

Random generators for augmentation follow torch's RNG, hence are safe with DataLoader workers. A
numpy ``Generator`` stored on a dataset would be copied into every forked worker, and all workers
would draw the same augmentations. Instead, every shape gets a fresh numpy generator seeded by one
draw from torch's global RNG (about 7 us, :func:`torch_seeded_generator`). PyTorch seeds that RNG
differently in every worker and epoch (``base_seed + worker_id``), and ``seed_everything`` /
``torch.manual_seed`` set it in the main process, so augmentation differs between workers and
epochs and is reproducible from the Lightning seed, exactly like torch-based transforms.

Shape legend: M shapes, N points stored per shape, K points served per shape.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from pointea.data.transforms import Compose, Resample, Transform
from pointea.errors import ResampledWarning

__all__ = ["PointCloudDataset", "torch_seeded_generator"]


def torch_seeded_generator() -> np.random.Generator:
    """A numpy generator seeded from one draw of torch's global RNG in this process."""
    return np.random.default_rng(int(torch.randint(0, 2**62, ())))


class PointCloudDataset(Dataset):
    """Serves one dict per shape from arrays held in memory.

    Args:
        points: coordinates of every shape.
        shape_labels: name -> one integer per shape (``"label"`` or ``"category"``).
        point_labels: name -> one integer per point (``"parts"``); they follow every transform.
        transform: applied to ``{"points", **point_labels}`` of one shape, with a numpy generator
            seeded from torch's RNG (:func:`torch_seeded_generator`).
        source: the file or folder the arrays come from, named in messages. When ``transform``
            serves more points per shape than are stored, one :class:`ResampledWarning` names it
            (every shape is topped up with repeats), as the readers of single files warn.

    Items: ``{"points": float32 (K, 3), **{name: int64 (K,)}, **{name: int}, "index": int}``, where
    ``index`` is the shape's position in this split, so predictions can be written back per shape.

    Shapes:
        points: (M, N, 3) float32; shape_labels values: (M,) int64; point_labels values: (M, N) int64
    """

    def __init__(
        self,
        points: np.ndarray,
        shape_labels: Mapping[str, np.ndarray],
        point_labels: Mapping[str, np.ndarray] | None = None,
        transform: Transform | None = None,
        source: str | Path | None = None,
    ) -> None:
        self.points = points
        self.shape_labels = dict(shape_labels)
        self.point_labels = dict(point_labels or {})
        self.transform = transform
        for name, values in {**self.shape_labels, **self.point_labels}.items():
            if values.shape[0] != points.shape[0]:
                raise ValueError(f"{name!r} has {values.shape[0]} rows for {points.shape[0]} shapes")
        served = _served_points(transform)
        if served is not None and points.ndim == 3 and served > points.shape[1]:
            warnings.warn(
                f"{source or 'this data set'}: stores {points.shape[1]} points per shape, fewer than "
                f"num_points={served}: every shape is topped up with repeated points",
                ResampledWarning,
                stacklevel=2,
            )

    def __len__(self) -> int:
        return self.points.shape[0]

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | int]:
        sample = {"points": self.points[index]}
        sample.update({name: values[index] for name, values in self.point_labels.items()})
        if self.transform is not None:
            sample = self.transform(sample, torch_seeded_generator())
        item: dict[str, torch.Tensor | int] = {
            name: torch.from_numpy(np.ascontiguousarray(values)) for name, values in sample.items()
        }
        item.update({name: int(values[index]) for name, values in self.shape_labels.items()})
        item["index"] = int(index)
        return item


def _served_points(transform: Transform | None) -> int | None:
    """The ``num_points`` a transform brings every shape to (its :class:`Resample`), if any."""
    steps = transform.transforms if isinstance(transform, Compose) else [transform]
    return next((step.num_points for step in steps if isinstance(step, Resample)), None)
