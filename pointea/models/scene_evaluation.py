"""Evaluating a whole scene (a room, a lidar tile) with a per-point network, on every point.

External attention evaluates the scene in **one exact pass**, in chunks of points
(:mod:`pointea.models.chunked`): no windows, no voting, memory bounded by the chunk. Self-attention
(``attention="offset"``, PCT's) builds an N x N map per layer, so a room of a million points does
not fit; the libraries that evaluate it (PointNet, Pointcept, PointNeXt) slide square windows over
the floor plan and vote. :class:`SlidingWindows` does the same: windows of ``size`` metres in x
and y, every ``stride`` metres, each window's points split into groups of at most ``max_points``
(a random partition, so every point of a window is in exactly one group), each group served as a
training crop is (x and y relative to the group's centre, z as given, height above the group's
floor); each point's class probabilities are averaged over the groups that hold it. With
``stride <= size`` every point is in at least one window, so every original point is scored.

Before a self-attention pass allocates anything, the memory of its N x N maps is estimated
(:func:`self_attention_estimate`) and a pass that exceeds the limit is refused in one line
(:func:`check_self_attention_fits`).

:func:`scene_logits` is the one place the task's validation/test loop, ``pointea-predict``, the
scene viewer and the benchmark evaluate a scene.

Shape legend: N points of the scene, n points of a group, C feature channels, K classes.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator

import torch
from torch import Tensor, nn

from pointea.errors import ConfigError
from pointea.models.chunked import self_attention_bytes

__all__ = [
    "SlidingWindows",
    "scene_logits",
    "self_attention_estimate",
    "check_self_attention_fits",
    "device_memory_bytes",
]

#: Live (B, H, N, N) maps per self-attention layer: the energy and its softmax in evaluation; in
#: training also the l1-normalised map, all kept for backward by each of the L layers.
_EVAL_MAPS = 2
_TRAIN_MAPS_PER_LAYER = 3


def self_attention_estimate(encoder: nn.Module, num_clouds: int, num_points: int, training: bool) -> int:
    """Bytes the self-attention maps of one forward pass (and its backward when ``training``) need:
    the estimate a self-attention network is refused by before it allocates."""
    one_map = self_attention_bytes(encoder, num_clouds, num_points)
    return one_map * (_TRAIN_MAPS_PER_LAYER * len(encoder.layers) if training else _EVAL_MAPS)


def device_memory_bytes(device: torch.device) -> int:
    """Total memory of ``device``: the GPU's, or the machine's RAM for the CPU."""
    if device.type == "cuda":
        return int(torch.cuda.get_device_properties(device).total_memory)
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def check_self_attention_fits(
    encoder: nn.Module, num_clouds: int, num_points: int, training: bool, limit: int, what: str
) -> None:
    """Raise a one-line :class:`~pointea.errors.ConfigError` when a self-attention pass at this
    size would need more than ``limit`` bytes for its N x N maps; ``what`` names the setting to
    lower. External attention always fits (linear in N)."""
    if encoder.attention == "external":
        return
    needs = self_attention_estimate(encoder, num_clouds, num_points, training)
    if needs > limit:
        raise ConfigError(
            f"self-attention ('offset') at B={num_clouds}, N={num_points} needs about {needs / 2**30:.1f} GiB for its "
            f"N x N maps ({'training' if training else 'evaluation'}), more than the {limit / 2**30:.1f} GiB allowed "
            f"(memory_limit_gb): lower {what}, or use attention='external', which is linear in N"
        )


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

    def average(
        self, network: nn.Module, points: Tensor, features: Tensor | None, height_channel: int | None = None
    ) -> Tensor:
        """Class probabilities of every point, averaged over the groups that hold it.

        Shapes: points (N, 3); features (N, C) or ``None``; returns (N, K)
        """
        total: Tensor | None = None
        seen = points.new_zeros(points.shape[0])  # (N,)
        for index in self.groups(points.cpu()):
            index = index.to(points.device)
            group = self.serve(points, index)[None]  # (1, n, 3)
            group_features = None
            if features is not None:
                group_features = features[index].clone()  # (n, C)
                if height_channel is not None:
                    z = group[0, :, 2]
                    group_features[:, height_channel] = z - z.min()  # height above the window's floor
                group_features = group_features[None]  # (1, n, C)
            probabilities = network(group, group_features)[0].softmax(dim=-1)  # (n, K)
            if total is None:
                total = points.new_zeros(points.shape[0], probabilities.shape[-1])  # (N, K)
            total[index] += probabilities
            seen[index] += 1
        if total is None or bool((seen == 0).any()):  # the windows cover the extent; this guards against a bug
            raise RuntimeError(f"sliding windows left {int((seen == 0).sum())} points without a prediction")
        return total / seen.unsqueeze(-1)  # (N, K)


def scene_logits(
    network: nn.Module,
    points: Tensor,
    features: Tensor | None,
    chunk_size: int,
    windows: SlidingWindows,
    memory_limit: int,
    height_channel: int | None = None,
) -> Tensor:
    """Scores of every point of one whole scene: logits of the exact chunked pass (external
    attention), or the log of the window-averaged probabilities (self-attention), which a softmax
    turns into the same probabilities. Call it in eval mode without gradients.

    Args:
        network: a per-point network ``network(points, features, chunk_size=...)`` -> (1, N, K).
        chunk_size: points per chunk of the exact pass (a scene of at most this many is one pass).
        windows: the self-attention windows.
        memory_limit: bytes a self-attention pass may take for its N x N maps.
        height_channel: the feature channel holding height above the floor, recomputed per window.

    Shapes: points (1, N, 3); features (1, N, C) or ``None``; returns (1, N, K)
    """
    encoder = network.encoder
    num_points = points.shape[1]
    if encoder.attention == "external":
        return network(points, features, chunk_size=chunk_size if num_points > chunk_size else None)
    if num_points <= windows.max_points:
        check_self_attention_fits(encoder, 1, num_points, False, memory_limit, "window_points")
        return network(points, features)
    check_self_attention_fits(encoder, 1, windows.max_points, False, memory_limit, "window_points")
    scene_features = None if features is None else features[0]
    return windows.average(network, points[0], scene_features, height_channel).log().unsqueeze(0)
