"""Small hand-made attention records for the viewer tests (no model involved)."""

from __future__ import annotations

import numpy as np

from visualize.attention import AttentionRecord

__all__ = ["make_record"]


def make_record(kind: str = "external", points: int = 40, sampled: int = 10, layers: int = 2, heads: int = 3, slots: int = 5, seed: int = 0) -> AttentionRecord:
    """A record whose attention points are the first ``sampled`` input points; random maps
    normalised like the real ones (rows sum to 1)."""
    rng = np.random.default_rng(seed)
    cloud = rng.normal(size=(points, 3))
    width = slots if kind == "external" else sampled
    maps = []
    for _ in range(layers):
        a = rng.random((heads, sampled, width)).astype(np.float32)
        maps.append(a / a.sum(axis=-1, keepdims=True))
    labels = np.full(points, 1, dtype=np.int64)
    return AttentionRecord(
        points=cloud,
        positions=cloud[:sampled].copy(),
        attention=tuple(maps),
        kind=kind,
        truth=labels,
        prediction=labels,
        num_labels=3,
        caption=f"test #{seed}: thing, predicted thing (90%)",
        truth_title="truth: thing",
        prediction_title="predicted: thing",
    )
