"""Exact evaluation of a full-resolution encoder in chunks of points.

In eval mode every operation of a full-resolution :class:`~pointea.models.encoder.PointEncoder`
(``sample_sizes=()``) with external attention is per point (LBRs: linear maps and BatchNorm with
running statistics), except two that see the whole cloud:

- each attention layer's softmax over the points, per head and memory slot: all it needs of the
  points is the log of its denominator, a (B, H, 1, S) :func:`~pointea.layers.external_attention.column_logsumexp`
  that chunks combine with ``torch.logaddexp``;
- the pooled global feature: max and mean over the points, both combine over chunks
  (:class:`~pointea.layers.pooling.GlobalPool`, the encoder's one pooling).

So a cloud is evaluated in L + 1 passes over chunks of ``chunk_size`` points
(:class:`ChunkedPasses`): pass 0 embeds every chunk and accumulates the first layer's statistics;
pass l runs layer l - 1 on every chunk with its statistics known and accumulates layer l's; the
last pass runs the last layer and the fusion. Every block is the encoder's own and runs once per
point (only the memory-key logits of each layer's input are computed twice: once for the
statistics, once in the layer). The attention outputs of every point are kept in one (B, N, W)
buffer, W = L C [+ C_embed] (the fusion's input width; 512 floats per point for PCT's segmenter,
2 KiB), so no layer is recomputed; everything else is per chunk. A per-point network (the
segmenter) reuses that buffer for its head's first linear map while it waits for the pooled
feature. Self-attention (``attention="offset"``) couples every pair of points and is refused,
naming the memory its N x N maps would take.

Shape legend: B clouds, N points per cloud (padded), n points of a chunk, C channels, L layers,
H heads, S memory slots, W buffer channels.
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
    "ChunkedPasses",
    "self_attention_bytes",
]

#: A chunk size for callers without a better one: the default part segmenter holds about 13 KB
#: per point of a chunk in eval mode, so 8,192 points take about 100 MB of temporaries whatever the
#: cloud's size (besides the 2 KiB per point of the buffer); on the CPU measured (docs/bench/chunked)
#: they also ran faster than chunks of 65,536.
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


def _combined(total: Tensor | None, chunk_statistic: Tensor) -> Tensor:
    """Two chunks' :func:`~pointea.layers.external_attention.column_logsumexp` as one."""
    return chunk_statistic if total is None else torch.logaddexp(total, chunk_statistic)


class ChunkedPasses:
    """The passes over the chunks of a cloud that give every chunk's fused features exactly.

    Iterating yields ``(part, fused, mask)`` for every chunk: its slice of N, its fused features
    (B, n, C_out), zero where masked, and its mask (B, n) or ``None``. The encoder's own blocks do
    all the work (:meth:`~pointea.models.encoder.PointEncoder.embed`, its attention layers, its
    fusion LBR); each is evaluated once per point. The outputs of the attention layers are kept
    for every point in one (B, N, W) buffer (W = L C [+ C_embed]: exactly the fusion's input), so
    a layer never has to be recomputed to reach the next one's input.

    Args:
        encoder: a full-resolution external-attention encoder, checked by
            :func:`check_chunked_evaluation`.
        positions, features, mask: the encoder's :meth:`~pointea.models.encoder.PointEncoder.dense_input`.
        chunk_size: points per chunk.

    Shapes:
        positions: (B, N, 3); features: (B, N, C_in) or ``None``; mask: (B, N) bool or ``None``
    """

    def __init__(
        self,
        encoder: PointEncoder,
        positions: Tensor,
        features: Tensor | None,
        mask: Tensor | None,
        chunk_size: int,
    ) -> None:
        self.encoder = encoder
        self.positions = positions
        self.features = features
        self.mask = mask
        self.chunk_size = chunk_size
        self.channels = encoder.channels
        self.width = encoder.fuse.linear.in_features  # L C [+ C_embed]
        self.buffer = positions.new_empty(*positions.shape[:2], self.width)  # (B, N, W)

    def chunks(self) -> Iterator[tuple[slice, Tensor | None]]:
        """Every chunk's slice of N and mask (B, n) or ``None``."""
        for part in _chunks(self.positions.shape[1], self.chunk_size):
            yield part, None if self.mask is None else self.mask[:, part]

    def scratch(self, width: int) -> Tensor:
        """A (B, N, width) tensor for the caller's per-point results: the buffer itself when it is
        wide enough, whose rows of a chunk are free once that chunk has been yielded."""
        if width <= self.width:
            return self.buffer[..., :width]  # (B, N, W) -> (B, N, width)
        return self.buffer.new_empty(*self.buffer.shape[:2], width)

    def _slot(self, layer: int) -> slice:
        """Layer ``layer``'s output channels in the buffer (layer 0's input before pass 1)."""
        return slice(layer * self.channels, (layer + 1) * self.channels)

    def __iter__(self) -> Iterator[tuple[slice, Tensor, Tensor | None]]:
        encoder, buffer, layers = self.encoder, self.buffer, self.encoder.layers
        # Pass 0: the input embedding (kept for the fusion when it takes feature_1), the first
        # layer's input (in layer 0's slot until its output replaces it) and its softmax statistics.
        total = None
        for part, chunk_mask in self.chunks():
            features = None if self.features is None else self.features[:, part]
            embedding, x, _, _ = encoder.embed(self.positions[:, part], features, chunk_mask)
            if encoder.fuse_embedding:
                buffer[:, part, self.width - embedding.shape[-1] :] = embedding
            buffer[:, part, self._slot(0)] = x
            total = _combined(total, layers[0].attention.softmax_statistics(x, chunk_mask))  # (B, H, 1, S)
        statistics = [total]
        # Pass l = 1 .. L: layer l - 1 on its input with its statistics known, then layer l's
        # statistics of that output; after the last layer the fusion, chunk by chunk.
        for depth in range(1, len(layers) + 1):
            source = self._slot(max(depth - 2, 0))  # layer depth - 1's input
            total = None
            for part, chunk_mask in self.chunks():
                x, _ = layers[depth - 1](buffer[:, part, source], mask=chunk_mask, logsumexp=statistics[depth - 1])
                buffer[:, part, self._slot(depth - 1)] = x  # (B, n, C)
                if depth < len(layers):
                    total = _combined(total, layers[depth].attention.softmax_statistics(x, chunk_mask))
                else:
                    yield part, encoder.fuse(buffer[:, part], mask=chunk_mask), chunk_mask  # (B, n, C_out)
            statistics.append(total)
