"""Global pooling of per-point features: max, mean or both, over the real points of each cloud.

One implementation for a whole cloud and for a cloud seen in chunks: :class:`GlobalPool` takes
the points in one or more :meth:`~GlobalPool.update` calls (max and sum combine over chunks) and
gives the pooled feature with :meth:`~GlobalPool.result`.

Shape legend: B clouds, N points (of the cloud or of a chunk), C channels, G pooled channels.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

__all__ = ["Pooling", "POOLINGS", "GlobalPool", "pooled_channels"]

Pooling = Literal["max", "mean", "max+mean"]
POOLINGS: tuple[str, ...] = ("max", "mean", "max+mean")


def pooled_channels(pooling: str, channels: int) -> int:
    """G for C channels: C for ``"max"`` or ``"mean"``, 2 C for ``"max+mean"``."""
    return 2 * channels if pooling == "max+mean" else channels


class GlobalPool:
    """Max and/or mean over the real points of each cloud, accumulated over one or more updates.

    Args:
        pooling: ``"max"``, ``"mean"`` or ``"max+mean"`` (concatenated in that order).

    Shapes:
        update: features (B, N, C); mask (B, N) bool, True for real points, or ``None``
        result: (B, G)
    """

    def __init__(self, pooling: str) -> None:
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        self.pooling = pooling
        self.maximum: Tensor | None = None
        self.total: Tensor | None = None
        self.count: Tensor | int = 0

    def update(self, features: Tensor, mask: Tensor | None = None) -> None:
        if self.pooling in ("max", "max+mean"):
            masked = features if mask is None else features.masked_fill(~mask.unsqueeze(-1), float("-inf"))
            chunk_max = masked.amax(dim=1)  # (B, C)
            self.maximum = chunk_max if self.maximum is None else torch.maximum(self.maximum, chunk_max)
        if self.pooling in ("mean", "max+mean"):
            kept = features if mask is None else features.masked_fill(~mask.unsqueeze(-1), 0.0)
            chunk_sum = kept.sum(dim=1)  # (B, C)
            self.total = chunk_sum if self.total is None else self.total + chunk_sum
            chunk_count = features.shape[1] if mask is None else mask.sum(dim=1, keepdim=True)  # int or (B, 1)
            self.count = self.count + chunk_count

    def result(self) -> Tensor:
        pooled = []
        if self.maximum is not None:
            pooled.append(self.maximum)
        if self.total is not None:
            count = self.count
            if isinstance(count, Tensor):
                count = count.clamp_min(1).to(self.total.dtype)  # (B, 1); a cloud of no points pools to 0
            pooled.append(self.total / count)  # (B, C)
        return torch.cat(pooled, dim=-1)  # (B, G)
