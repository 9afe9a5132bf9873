"""The in-memory point-cloud dataset both archive readers build on.

Why in memory: the archives are small (ModelNet40 train is about 240 MB of float32), so each split
is read once, validated, and held as numpy arrays. Items are then plain array slices: no HDF5
handle is open while a DataLoader runs, forked workers share the arrays copy-on-write (numpy data
pages are never written, so they stay shared), and random access costs microseconds.

Shape legend: M shapes, N points stored per shape, K points served per shape.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch.utils.data import Dataset

from pointea.data.seeding import torch_seeded_generator
from pointea.data.transforms import Transform

__all__ = ["PointCloudDataset"]


class PointCloudDataset(Dataset):
    """Serves one dict per shape from arrays held in memory.

    Args:
        points: coordinates of every shape.
        shape_labels: name -> one integer per shape (``"label"`` or ``"category"``).
        point_labels: name -> one integer per point (``"parts"``); they follow every transform.
        transform: applied to ``{"points", **point_labels}`` of one shape, with a numpy generator
            seeded from torch's RNG (see :mod:`pointea.data.seeding`).

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
    ) -> None:
        self.points = points
        self.shape_labels = dict(shape_labels)
        self.point_labels = dict(point_labels or {})
        self.transform = transform
        for name, values in {**self.shape_labels, **self.point_labels}.items():
            if values.shape[0] != points.shape[0]:
                raise ValueError(f"{name!r} has {values.shape[0]} rows for {points.shape[0]} shapes")

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
