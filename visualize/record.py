"""One sample as the viewers see it: the input cloud, its labels, the model's prediction and the
attention maps of every layer, as numpy arrays.

Shape legend: N input points, M attention points (the encoder's sampled points; M = N without
sampling), H heads, S memory slots.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from visualize.propagate import nearest_indices

__all__ = ["AttentionRecord"]


@dataclass(frozen=True)
class AttentionRecord:
    """Everything drawn for one sample.

    Args:
        points: the input cloud as the model saw it.
        positions: the attention points (where the encoder's attention lives).
        attention: one map per layer: (H, M, S) for external, (H, M, M) for offset attention
            (rows are query points).
        kind: ``"external"`` or ``"offset"``.
        truth: the label of every input point: the class label repeated (classification), or the
            part as an index into the parts of the sample's category (segmentation, see
            :func:`visualize.inference.local_parts`).
        prediction: the model's label for every input point, like ``truth``.
        num_labels: how many labels there are to colour (palette size): classes, or the parts of
            the sample's category.
        caption: one line naming the sample, its truth and the prediction.
        truth_title, prediction_title: short titles of the truth and prediction tiles.

    Shapes:
        points: (N, 3); positions: (M, 3); attention: L x (H, M, S) or (H, M, M);
        truth, prediction: (N,) int64
    """

    points: np.ndarray
    positions: np.ndarray
    attention: tuple[np.ndarray, ...]
    kind: str
    truth: np.ndarray
    prediction: np.ndarray
    num_labels: int
    caption: str
    truth_title: str
    prediction_title: str

    def __post_init__(self) -> None:
        if self.kind not in ("external", "offset"):
            raise ValueError(f"AttentionRecord: kind must be 'external' or 'offset', got {self.kind!r}")
        if not self.attention:
            raise ValueError("AttentionRecord: no attention maps")
        num_points, num_attention = self.points.shape[0], self.positions.shape[0]
        for layer, a in enumerate(self.attention):
            if a.ndim != 3 or a.shape[1] != num_attention or (self.kind == "offset" and a.shape[2] != num_attention):
                raise ValueError(
                    f"AttentionRecord: layer {layer} attention has shape {a.shape}, expected "
                    f"(H, {num_attention}, {'S' if self.kind == 'external' else num_attention})"
                )
        for name in ("truth", "prediction"):
            if getattr(self, name).shape != (num_points,):
                raise ValueError(f"AttentionRecord: {name} must be ({num_points},), got {getattr(self, name).shape}")

    @property
    def num_layers(self) -> int:
        return len(self.attention)

    @property
    def num_heads(self) -> int:
        return self.attention[0].shape[0]

    @property
    def num_slots(self) -> int:
        """Memory slots S (external attention); 0 for offset attention."""
        return self.attention[0].shape[2] if self.kind == "external" else 0

    @property
    def num_attention_points(self) -> int:
        return self.positions.shape[0]

    @cached_property
    def nearest(self) -> np.ndarray:
        """For every input point, its nearest attention point: (N,) int64 in [0, M)."""
        return nearest_indices(self.positions, self.points)

    @cached_property
    def input_index(self) -> np.ndarray:
        """For every attention point, its nearest input point: (M,) int64 in [0, N) (the point
        itself when sampling picked input points)."""
        return nearest_indices(self.points, self.positions)
