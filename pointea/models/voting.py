"""Test-time voting: average the predictions of several randomly scaled copies of each cloud.

As PointNet++-style papers report ModelNet40 accuracy: the first vote sees the cloud as is, every
further vote a copy scaled per axis by a random factor in ``[low, high]``; the softmax
probabilities of all votes are averaged. Scaling moves no point, so per-point predictions
(part segmentation) are averaged point by point just the same.

Shape legend: B clouds, N points, K labels.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

__all__ = ["ScaleVoting"]


class ScaleVoting:
    """Average softmax probabilities over ``votes`` passes of randomly scaled clouds.

    Args:
        votes: passes per cloud; 1 is a single plain pass (no voting).
        low, high: range of the per-axis scale factors.
        seed: seed of the scale draws, so voted results are reproducible.

    Shapes:
        points: (B, N, 3); ``predict(points)`` returns logits (B, K) or (B, N, K); the call returns
        averaged probabilities of the same shape.
    """

    def __init__(self, votes: int = 10, low: float = 0.8, high: float = 1.25, seed: int = 0) -> None:
        if votes < 1:
            raise ValueError(f"votes must be >= 1, got {votes}")
        if not 0 < low <= high:
            raise ValueError(f"need 0 < low <= high for the voting scales, got low={low}, high={high}")
        self.votes = votes
        self.low, self.high = low, high
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(self, predict: Callable[[Tensor], Tensor], points: Tensor) -> Tensor:
        probabilities = predict(points).softmax(dim=-1)
        for _ in range(self.votes - 1):
            scale = torch.empty(points.shape[0], 1, 3)  # (B, 1, 3): one factor per cloud and axis
            scale.uniform_(self.low, self.high, generator=self.generator)
            probabilities = probabilities + predict(points * scale.to(points)).softmax(dim=-1)
        return probabilities / self.votes
