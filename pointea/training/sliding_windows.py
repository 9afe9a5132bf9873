"""Overlapping sliding windows over a scene, for networks that cannot see it whole.

Self-attention (``attention="offset"``, PCT's) builds an N x N map per layer, so a room of a
million points does not fit; the libraries that evaluate it (PointNet, Pointcept, PointNeXt) slide
square windows over the floor plan and vote. :class:`SlidingWindows` does the same: windows of
``size`` metres in x and y, every ``stride`` metres, each window's points split into groups of at
most ``max_points`` (a random partition, so every point of a window is in exactly one group), each
group served as a training crop is (x and y relative to the group's centre, z as given). The
caller averages each point's class probabilities over the groups that hold it: with
``stride <= size`` every point is in at least one window, so every original point is scored.

Shape legend: N points of the scene, n points of a group, C feature channels.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch import Tensor

from pointea.errors import ConfigError

__all__ = ["SlidingWindows"]


class SlidingWindows:
    """Windows over the x-y extent of a scene and the groups of points they hold.

    Args:
        size: window side in metres.
        stride: distance between window origins in metres (``<= size``: windows overlap or touch).
        max_points: most points a group holds (a window with more is partitioned into groups).
        seed: seed of the partitions, so results are reproducible.
    """

    def __init__(self, size: float = 1.0, stride: float = 0.5, max_points: int = 4096, seed: int = 0) -> None:
        for name, value in (("window_size", size), ("window_stride", stride)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ConfigError(f"{name} must be a positive number of metres, got {value!r}")
        if stride > size:
            raise ConfigError(
                f"window_stride={stride} is larger than window_size={size}: points between windows would get no label"
            )
        if isinstance(max_points, bool) or not isinstance(max_points, int) or max_points < 1:
            raise ConfigError(f"window_points must be a positive integer, got {max_points!r}")
        self.size, self.stride, self.max_points, self.seed = float(size), float(stride), max_points, seed

    def _origins(self, low: float, high: float) -> list[float]:
        """Window origins along one axis: from ``low``, every stride, until a window reaches ``high``."""
        count = max(1, math.ceil((high - low - self.size) / self.stride) + 1)
        return [low + i * self.stride for i in range(count)]

    def groups(self, points: Tensor) -> Iterator[Tensor]:
        """Indices of the points of each group, window by window.

        Shapes:
            points: (N, 3); yields (n,) long, n <= max_points
        """
        generator = torch.Generator().manual_seed(self.seed)
        x, y = points[:, 0], points[:, 1]
        order = torch.argsort(x)  # (N,): windows along x are contiguous runs of it
        sorted_x = x[order].contiguous()
        low, high = points[:, :2].amin(dim=0).tolist(), points[:, :2].amax(dim=0).tolist()
        x_origins, y_origins = self._origins(low[0], high[0]), self._origins(low[1], high[1])
        for i, x0 in enumerate(x_origins):
            # the last window of each axis is open on the far side, so no extreme point falls out
            start = int(torch.searchsorted(sorted_x, torch.tensor([x0], dtype=sorted_x.dtype), side="left"))
            last_x = i == len(x_origins) - 1
            end = sorted_x.numel() if last_x else int(torch.searchsorted(sorted_x, torch.tensor([x0 + self.size], dtype=sorted_x.dtype)))
            column = order[start:end]  # (N_x,)
            if column.numel() == 0:
                continue
            column_y = y[column]
            for j, y0 in enumerate(y_origins):
                inside = column_y >= y0
                if j < len(y_origins) - 1:
                    inside &= column_y < y0 + self.size
                window = column[inside]  # (N_w,)
                if window.numel() == 0:
                    continue
                parts = math.ceil(window.numel() / self.max_points)
                shuffled = window[torch.randperm(window.numel(), generator=generator)]
                yield from shuffled.tensor_split(parts)  # parts groups of nearly equal size

    @staticmethod
    def serve(points: Tensor, index: Tensor) -> Tensor:
        """A group's coordinates as a training crop's: x and y about the group's centre, z as given.

        Shapes: points (N, 3); index (n,); returns (n, 3)
        """
        group = points[index]  # (n, 3)
        centre = (group[:, :2].amin(dim=0) + group[:, :2].amax(dim=0)) / 2  # (2,)
        shift = torch.cat([centre, centre.new_zeros(1)])  # (3,)
        return group - shift
