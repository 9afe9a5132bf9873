"""Exact evaluation of a full-resolution encoder in chunks of points, in memory independent of N.

In eval mode every operation of a full-resolution :class:`~pointea.models.encoder.PointEncoder`
(``sample_sizes=()``) with external attention is per point (LBRs: linear maps and BatchNorm with
running statistics), except two that see the whole cloud:

- each attention layer's softmax over the points, per head and memory slot: all it needs of the
  points is the log of its denominator, a (B, H, 1, S) :func:`~pointea.layers.external_attention.column_logsumexp`
  that chunks combine with ``torch.logaddexp``;
- the pooled global feature: max and mean over the points, both combine over chunks.

So a cloud is evaluated in passes over chunks of ``chunk_size`` points: pass ``l`` recomputes
layers ``0 .. l-1`` of each chunk with the statistics already known and accumulates layer ``l``'s
statistics (L passes for L layers); a last pass computes the fused per-point features of each chunk
with every statistic known. Nothing of size N is kept but the input (and the caller's output):
memory is that of one chunk. The price is recomputation: the attention layers run L(L-1)/2 + L
times instead of L (the segmenter, which pools before its per-point head, runs them and the fusion
once more), for PCT's 4 layers 10 (14) layer evaluations instead of 4. Self-attention
(``attention="offset"``) couples every pair of points and is refused, naming the memory its N x N
maps would take.

Shape legend: B clouds, N points per cloud (padded), n points of a chunk, C channels, H heads,
S memory slots, G global channels.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import torch
from torch import Tensor

if TYPE_CHECKING:
    from pointea.models.encoder import PointEncoder

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "check_chunked_evaluation",
    "softmax_statistics",
    "fused_chunks",
    "RunningPool",
    "self_attention_bytes",
]

#: A chunk size for callers without a better one: the default part segmenter holds about 13 KB
#: per point of a chunk in eval mode, so 8,192 points take about 100 MB whatever the cloud's size;
#: on the CPU measured (docs/bench/chunked) they also ran faster than chunks of 65,536.
DEFAULT_CHUNK_SIZE = 8_192
_FLOAT32_BYTES = 4


def self_attention_bytes(encoder: PointEncoder, num_clouds: int, num_points: int) -> int:
    """Bytes of one float32 (B, H, N, N) self-attention map of ``encoder`` at this input size."""
    heads = encoder.layers[0].attention.heads if len(encoder.layers) else 1
    return num_clouds * heads * num_points * num_points * _FLOAT32_BYTES


def check_chunked_evaluation(
    owner: str, encoder: PointEncoder, chunk_size: int, num_clouds: int, num_points: int, training: bool
) -> None:
    """Raise a one-line ``ValueError`` unless ``encoder`` can be evaluated in chunks here.

    ``owner`` names the calling network in the message; ``training`` is whether any module of it is
    in training mode. Checked before anything is allocated.
    """
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"{owner}: chunk_size must be a positive integer or None, got {chunk_size!r}")
    if encoder.attention != "external":
        needs = self_attention_bytes(encoder, num_clouds, num_points)
        raise ValueError(
            f"{owner}: chunked evaluation needs attention='external'; self-attention ('offset') couples every "
            f"pair of points, and its (B, H, N, N) maps at B={num_clouds}, N={num_points} would need "
            f"{needs / 2**30:.1f} GiB per map ({len(encoder.layers)} layers)"
        )
    if encoder.sample_sizes:
        raise ValueError(
            f"{owner}: chunked evaluation needs a full-resolution encoder (sample_sizes=()), got "
            f"sample_sizes={encoder.sample_sizes}; a sampling encoder attends to its sampled points only"
        )
    if training or torch.is_grad_enabled():
        raise ValueError(
            f"{owner}: chunked evaluation is exact in eval mode without gradients only: call .eval() and run "
            "under torch.no_grad() (or torch.inference_mode())"
        )


def _chunks(num_points: int, chunk_size: int) -> Iterator[slice]:
    for start in range(0, num_points, chunk_size):
        yield slice(start, min(start + chunk_size, num_points))


def _part(features: Tensor | None, part: slice) -> Tensor | None:
    return None if features is None else features[:, part]


def _attention_input(
    encoder: PointEncoder, positions: Tensor, features: Tensor | None, mask: Tensor | None
) -> tuple[Tensor, Tensor]:
    """The input embedding and the first attention layer's input of a chunk.

    Shapes: positions (B, n, 3); features (B, n, C_in); mask (B, n); returns (B, n, C_embed), (B, n, C)
    """
    inputs = positions if features is None else torch.cat([positions, features], dim=-1)  # (B, n, 3 + C_in)
    embedding = encoder.embedding(inputs)  # (B, n, C_embed), per point
    if mask is not None:
        embedding = embedding.masked_fill(~mask.unsqueeze(-1), 0.0)  # padding is zero, as to_dense_batch's
    x = embedding
    for lbr in encoder.pre_attention:
        x = lbr(x, mask=mask)
    return embedding, x


def softmax_statistics(
    encoder: PointEncoder, positions: Tensor, features: Tensor | None, mask: Tensor | None, chunk_size: int
) -> list[Tensor]:
    """Every attention layer's :func:`~pointea.layers.external_attention.column_logsumexp` over the
    whole of each cloud, in one pass over the chunks per layer.

    Shapes:
        positions: (B, N, 3); features: (B, N, C_in) or ``None``; mask: (B, N) bool or ``None``;
        returns L tensors (B, H, 1, S) float32
    """
    statistics: list[Tensor] = []
    for depth, target in enumerate(encoder.layers):
        total: Tensor | None = None
        for part in _chunks(positions.shape[1], chunk_size):
            chunk_mask = None if mask is None else mask[:, part]
            _, x = _attention_input(encoder, positions[:, part], _part(features, part), chunk_mask)
            for layer, logsumexp in zip(encoder.layers[:depth], statistics):
                x, _ = layer(x, mask=chunk_mask, logsumexp=logsumexp)
            chunk_statistic = target.attention.softmax_statistics(x, chunk_mask)  # (B, H, 1, S)
            total = chunk_statistic if total is None else torch.logaddexp(total, chunk_statistic)
        assert total is not None  # at least one chunk: clouds have at least one point
        statistics.append(total)
    return statistics


def fused_chunks(
    encoder: PointEncoder,
    positions: Tensor,
    features: Tensor | None,
    mask: Tensor | None,
    statistics: list[Tensor],
    chunk_size: int,
) -> Iterator[tuple[slice, Tensor, Tensor | None]]:
    """The fused per-point features chunk by chunk, given :func:`softmax_statistics`.

    Shapes:
        positions: (B, N, 3); features: (B, N, C_in) or ``None``; mask: (B, N) bool or ``None``
        yields (the chunk's slice of N, features (B, n, C_out) zero where masked, mask (B, n) or ``None``)
    """
    for part in _chunks(positions.shape[1], chunk_size):
        chunk_mask = None if mask is None else mask[:, part]
        embedding, x = _attention_input(encoder, positions[:, part], _part(features, part), chunk_mask)
        outputs = []
        for layer, logsumexp in zip(encoder.layers, statistics):
            x, _ = layer(x, mask=chunk_mask, logsumexp=logsumexp)
            outputs.append(x)
        if encoder.fuse_embedding:
            outputs.append(embedding)
        yield part, encoder.fuse(torch.cat(outputs, dim=-1), mask=chunk_mask), chunk_mask  # (B, n, C_out)


class RunningPool:
    """The encoder's global pooling (max, mean or both) accumulated over chunks.

    Args:
        pooling: ``"max"``, ``"mean"`` or ``"max+mean"``, as :class:`PointEncoder`'s.
        counts: (B,) real points per cloud, for the mean.
    """

    def __init__(self, pooling: str, counts: Tensor) -> None:
        self.pooling = pooling
        self.counts = counts
        self.maximum: Tensor | None = None
        self.total: Tensor | None = None

    def update(self, features: Tensor, mask: Tensor | None) -> None:
        """Shapes: features (B, n, C), zero where masked; mask (B, n) or ``None``."""
        if self.pooling in ("max", "max+mean"):
            masked = features if mask is None else features.masked_fill(~mask.unsqueeze(-1), float("-inf"))
            chunk_max = masked.amax(dim=1)  # (B, C)
            self.maximum = chunk_max if self.maximum is None else torch.maximum(self.maximum, chunk_max)
        if self.pooling in ("mean", "max+mean"):
            chunk_sum = features.sum(dim=1)  # (B, C); padding is zero
            self.total = chunk_sum if self.total is None else self.total + chunk_sum

    def result(self) -> Tensor:
        """Shapes: returns (B, G), as :class:`PointEncoder`'s ``global_feature``."""
        pooled = []
        if self.maximum is not None:
            pooled.append(self.maximum)
        if self.total is not None:
            pooled.append(self.total / self.counts.clamp_min(1).unsqueeze(-1).to(self.total.dtype))  # (B, C)
        return torch.cat(pooled, dim=-1)
