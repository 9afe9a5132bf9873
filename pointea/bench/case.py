"""A model benchmark case: which network, which attention, how many points, how many clouds.

A case knows how to build its network and a random input for it, so the worker subprocess that
measures it (:mod:`pointea.bench.model_cost`) and the parent that plans the grid build the same thing.

Shape legend: B clouds per batch, N points per cloud.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch
from torch import Tensor, nn

from pointea.layers.offset_attention import ATTENTION_KINDS, AttentionKind
from pointea.models.classifier import PCTClassifier
from pointea.models.segmenter import PCTPartSegmenter

__all__ = ["ModelKind", "MODEL_KINDS", "ModelCase", "build_grid"]

ModelKind = Literal["segmenter", "classifier"]
MODEL_KINDS: tuple[str, ...] = ("segmenter", "classifier")


@dataclass(frozen=True)
class ModelCase:
    """One network at one input size.

    Args:
        model: ``"segmenter"`` (:class:`PCTPartSegmenter`, every point through attention) or
            ``"classifier"`` (:class:`PCTClassifier`, attention on the sampled points).
        attention: ``"external"`` or ``"offset"``.
        num_points: points N per cloud.
        batch_size: clouds B per batch.
    """

    model: ModelKind
    attention: AttentionKind
    num_points: int
    batch_size: int = 1

    def __post_init__(self) -> None:
        if self.model not in MODEL_KINDS:
            raise ValueError(f"ModelCase: model must be one of {MODEL_KINDS}, got {self.model!r}")
        if self.attention not in ATTENTION_KINDS:
            raise ValueError(f"ModelCase: attention must be one of {ATTENTION_KINDS}, got {self.attention!r}")
        if self.num_points < 1 or self.batch_size < 1:
            raise ValueError(
                f"ModelCase: num_points and batch_size must be positive, got {self.num_points}, {self.batch_size}"
            )

    @property
    def label(self) -> str:
        """A short human-readable name, e.g. ``segmenter/offset/N=8192/B=1``."""
        return f"{self.model}/{self.attention}/N={self.num_points}/B={self.batch_size}"

    def to_dict(self) -> dict[str, Any]:
        """The case as plain JSON-able values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelCase":
        """Inverse of :meth:`to_dict`."""
        return cls(**{key: data[key] for key in ("model", "attention", "num_points", "batch_size")})

    def build_model(self) -> nn.Module:
        """The network with its default (PCT) hyper-parameters, freshly initialised."""
        if self.model == "segmenter":
            return PCTPartSegmenter(attention=self.attention)
        return PCTClassifier(attention=self.attention)

    def make_inputs(self, device: torch.device | str = "cpu") -> tuple[Tensor, ...]:
        """Random inputs for :meth:`build_model`'s network.

        Shapes:
            returns ((B, N, 3) points,) for the classifier; ((B, N, 3) points, (B,) category) for
            the segmenter
        """
        points = torch.rand(self.batch_size, self.num_points, 3, device=device)
        if self.model == "segmenter":
            return points, torch.zeros(self.batch_size, dtype=torch.long, device=device)
        return (points,)


def build_grid(
    points: tuple[int, ...],
    models: tuple[str, ...] = MODEL_KINDS,
    attentions: tuple[str, ...] = ATTENTION_KINDS,
    batch_size: int = 1,
) -> list[ModelCase]:
    """Every (model, N, attention) case, with the two attention kinds of one (model, N) adjacent so
    they run back to back on the same machine state."""
    return [
        ModelCase(model=model, attention=attention, num_points=n, batch_size=batch_size)  # type: ignore[arg-type]
        for model in models
        for n in points
        for attention in attentions
    ]
