"""Nearest-neighbour propagation: carry values from a few points (the encoder's sampled points) to
every point of a cloud, each point taking the value of its nearest source point.

One implementation for everything that maps per-point results back to a full cloud:
``pointea-predict`` (part labels of the sampled points to every input point) and the attention
viewer (attention from the sampled points to the input cloud, a clicked point to its attention
point). The search is :func:`~pointea.layers.sampling.knn` with ``k = 1`` (torch_cluster
when installed, pointea's exact pure-torch kNN otherwise), in chunks of target points so that
memory stays bounded for clouds of any size.

Shape legend: M source points, N target points, C value channels.
"""

from __future__ import annotations

import torch
from torch import Tensor

from pointea.layers.sampling import knn

__all__ = ["PROPAGATION_CHUNK", "nearest_indices", "propagate_labels"]

#: Target points per nearest-neighbour search (bounds memory at PROPAGATION_CHUNK x M distances).
PROPAGATION_CHUNK = 65536


def nearest_indices(source: Tensor, target: Tensor, chunk_size: int = PROPAGATION_CHUNK) -> Tensor:
    """For every target point, the index of its nearest source point (Euclidean).

    Args:
        source: points that carry values.
        target: points that receive them.
        chunk_size: target points per search.

    Raises:
        ValueError: not (M, 3) and (N, 3) points, no source points, or ``chunk_size < 1``.

    Shapes:
        source: (M, 3); target: (N, 3); returns (N,) int64 in [0, M), on ``source``'s device
    """
    if source.dim() != 2 or target.dim() != 2 or source.shape[1] != 3 or target.shape[1] != 3:
        raise ValueError(
            f"nearest_indices: expected (M, 3) source and (N, 3) target points, got "
            f"{tuple(source.shape)} and {tuple(target.shape)}"
        )
    if source.shape[0] == 0:
        raise ValueError("nearest_indices: no source points")
    if chunk_size < 1:
        raise ValueError(f"nearest_indices: chunk_size must be >= 1, got {chunk_size}")
    target = target.to(device=source.device, dtype=source.dtype)
    out = torch.empty(target.shape[0], dtype=torch.long, device=source.device)
    for start in range(0, target.shape[0], chunk_size):
        chunk = target[start : start + chunk_size]  # (Q, 3)
        nearest = knn(source, chunk, 1)  # (M, 3), (Q, 3) -> (Q, 1)
        out[start : start + chunk.shape[0]] = nearest[:, 0]  # (Q, 1) -> (Q,)
    return out


def propagate_labels(sampled: Tensor, labels: Tensor, points: Tensor, chunk_size: int = PROPAGATION_CHUNK) -> Tensor:
    """Every point takes the value of its nearest sampled point: ``labels[nearest_indices(sampled,
    points)]``.

    Shapes:
        sampled: (M, 3); labels: (M,) or (M, C); points: (N, 3); returns (N,) or (N, C)
    """
    if labels.shape[0] != sampled.shape[0]:
        raise ValueError(f"propagate_labels: {labels.shape[0]} labels for {sampled.shape[0]} sampled points")
    return labels[nearest_indices(sampled, points, chunk_size).to(labels.device)]
