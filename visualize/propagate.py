"""Carry values from the encoder's sampled points to every point of the input cloud.

The classifier's encoder attends over M sampled points (farthest point sampling, e.g. 256 of
1024); each input point takes the value of its nearest sampled point: ``values[nearest_indices(
sampled, cloud)]`` (see :attr:`visualize.record.AttentionRecord.nearest`).

Shape legend: M sampled (source) points, N input (target) points.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["nearest_indices"]


def nearest_indices(source: np.ndarray, target: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """For every target point, the index of its nearest source point (Euclidean; ties: lowest).

    Args:
        source: points that carry values.
        target: points that receive them.
        chunk: target points per distance block (bounds memory at chunk x M).

    Shapes:
        source: (M, 3); target: (N, 3); returns (N,) int64 in [0, M)
    """
    source_t = torch.as_tensor(np.asarray(source, dtype=np.float64))
    target_t = torch.as_tensor(np.asarray(target, dtype=np.float64))
    if source_t.dim() != 2 or target_t.dim() != 2 or source_t.shape[1] != target_t.shape[1]:
        raise ValueError(
            f"nearest_indices: expected (M, D) source and (N, D) target, got "
            f"{tuple(source_t.shape)} and {tuple(target_t.shape)}"
        )
    if source_t.shape[0] == 0:
        raise ValueError("nearest_indices: no source points")
    blocks = [
        torch.cdist(target_t[start : start + chunk], source_t).argmin(dim=1)  # (chunk, M) -> (chunk,)
        for start in range(0, target_t.shape[0], chunk)
    ]
    if not blocks:
        return np.zeros(0, dtype=np.int64)
    return torch.cat(blocks).numpy().astype(np.int64)

