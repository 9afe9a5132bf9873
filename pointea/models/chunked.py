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
last pass runs the last layer and the fusion. All blocks are the encoder's own.

Memory is bounded by ``buffer_bytes`` whatever N is. The chunks whose rows fit in that budget are
*kept*: their attention outputs stay in one (B, N_kept, R) buffer, R = max(W, width the caller
asks for), W = L C [+ C_embed] (the fusion's input width; 512 floats per point for PCT's
segmenter, 2 KiB), so every block runs once per point for them (only the memory-key logits of each
layer's input are computed twice: once for the statistics, once in the layer). The other chunks
are *streamed*: nothing of them is kept, and every pass recomputes them from their input (the
embedding and the layers before the pass's one, with the statistics known), the cost of the old
recomputing algorithm: pass l runs l layers on them instead of one, L (L + 1) / 2 layer runs in
all instead of L (10 instead of 4 for PCT's 4 layers) and L + 1 embeddings instead of one. A
per-point network (the segmenter) reuses the buffer for its head's first linear map while it
waits for the pooled feature; for a streamed chunk it asks :meth:`ChunkedPasses.fused` for the
fused features once more (one more embedding, L layers and the fusion: 14 layer runs and two
fusions instead of 4 and one). Which chunks are kept changes no result: both give the same
values, tested against the unchunked network. Self-attention (``attention="offset"``) couples
every pair of points and is refused, naming the memory its N x N maps would take.

An encoder with ``local_neighbours`` K embeds each point with its K nearest points of the whole
cloud, found once for the cloud (:meth:`~pointea.models.encoder.PointEncoder.find_neighbours`)
and kept beside the buffer whatever ``buffer_bytes`` is: K int64 indices per point (128 bytes for
K = 16, against the segmenter's 2 KiB of buffer), and its (B, N, 3 + C_in) inputs when it has
features. With torch_cluster that search is one KD-tree; the pure-torch kNN compares every pair of
points, which large clouds cannot afford.

Shape legend: B clouds, N points per cloud (padded), N_kept kept points, n points of a chunk,
C channels, L layers, H heads, S memory slots, W attention-output channels, R buffer channels.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import torch
from torch import Tensor

if TYPE_CHECKING:
    from pointea.models.encoder import PointEncoder

__all__ = [
    "DEFAULT_BUFFER_BYTES",
    "DEFAULT_CHUNK_SIZE",
    "check_chunked_evaluation",
    "ChunkedPasses",
    "self_attention_bytes",
]

#: A chunk size for callers without a better one: the default part segmenter holds about 13 KB
#: per point of a chunk in eval mode, so 8,192 points take about 100 MB of temporaries whatever the
#: cloud's size (besides the buffer); on the CPU measured (docs/bench/chunked-reuse) they also ran
#: faster than chunks of 65,536.
DEFAULT_CHUNK_SIZE = 8_192

#: The default budget of the buffer of :class:`ChunkedPasses`: 2 GiB, the 2 KiB per point of the
#: default segmenter for 1,048,576 points (kept whole); larger clouds stream the points beyond. With
#: the (B, N, K) output and one chunk's temporaries a 2,097,152-point scene then took 2.69 GiB
#: (2.89 GB) above the input (docs/bench/chunked-reuse/notes.md), within issue 18's 4 GB.
DEFAULT_BUFFER_BYTES = 2 * 2**30
_FLOAT32_BYTES = 4


def self_attention_bytes(encoder: PointEncoder, num_clouds: int, num_points: int) -> int:
    """Bytes of one float32 (B, H, N, N) self-attention map of ``encoder`` at this input size."""
    heads = encoder.layers[0].attention.heads if len(encoder.layers) else 1
    return num_clouds * heads * num_points * num_points * _FLOAT32_BYTES


def check_chunked_evaluation(
    owner: str,
    encoder: PointEncoder,
    chunk_size: int,
    num_clouds: int,
    num_points: int,
    training: bool,
    buffer_bytes: int | None = None,
) -> None:
    """Raise a one-line ``ValueError`` unless ``encoder`` can be evaluated in chunks here.

    ``owner`` names the calling network in the message; ``training`` is whether any module of it is
    in training mode; ``buffer_bytes`` is :class:`ChunkedPasses`' budget (``None``: the default).
    Checked before anything is allocated.
    """
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"{owner}: chunk_size must be a positive integer or None, got {chunk_size!r}")
    _check_buffer_bytes(owner, buffer_bytes)
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


def _check_buffer_bytes(owner: str, buffer_bytes: int | None) -> None:
    if buffer_bytes is None:
        return
    if isinstance(buffer_bytes, bool) or not isinstance(buffer_bytes, int) or buffer_bytes < 0:
        raise ValueError(f"{owner}: buffer_bytes must be a non-negative integer or None, got {buffer_bytes!r}")


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
    fusion LBR). The first chunks, as many whole chunks as ``buffer_bytes`` holds rows of R floats
    for, are kept: their attention outputs stay in the buffer, so each of their blocks runs once.
    The others are streamed: recomputed from their input in every pass (see the module's notes).
    After the iteration, :meth:`fused` gives a chunk's fused features again.

    Args:
        encoder: a full-resolution external-attention encoder, checked by
            :func:`check_chunked_evaluation`.
        positions, features, mask: the encoder's :meth:`~pointea.models.encoder.PointEncoder.dense_input`.
        chunk_size: points per chunk.
        buffer_bytes: the most bytes the buffer may take (``None``: :data:`DEFAULT_BUFFER_BYTES`);
            0 streams every chunk (nothing of size N is kept).
        scratch_width: the widest per-point result the caller keeps in the buffer (:meth:`scratch`);
            the buffer's rows are R = max(W, scratch_width) wide.

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
        buffer_bytes: int | None = None,
        scratch_width: int = 0,
    ) -> None:
        _check_buffer_bytes("ChunkedPasses", buffer_bytes)
        self.encoder = encoder
        self.positions = positions
        self.features = features
        self.mask = mask
        self.chunk_size = chunk_size
        self.channels = encoder.channels
        self.width = encoder.fuse.linear.in_features  # W = L C [+ C_embed]
        self.row_width = max(self.width, scratch_width)  # R
        self.statistics: list[Tensor] = []  # every layer's softmax statistics, once the passes have run
        # With local_neighbours: every point's neighbours in its whole cloud, searched once (one
        # KD-tree with torch_cluster; per chunk, each search would rebuild it over the N points).
        self.neighbours = encoder.find_neighbours(positions, mask)  # (B, N, K) or None
        self.inputs = None if self.neighbours is None else encoder.embedding_input(positions, features)  # (B, N, 3 + C_in)
        num_clouds, num_points = positions.shape[:2]
        budget = DEFAULT_BUFFER_BYTES if buffer_bytes is None else buffer_bytes
        row_bytes = num_clouds * self.row_width * positions.element_size()  # one point of every cloud
        rows = budget // row_bytes if row_bytes else num_points
        #: Points whose chunks are kept: the first ``kept`` of N, whole chunks.
        self.kept = num_points if rows >= num_points else rows // chunk_size * chunk_size
        try:
            self.buffer = positions.new_empty(num_clouds, self.kept, self.row_width)  # (B, N_kept, R)
        except (RuntimeError, MemoryError) as error:  # the allocators' messages run over many lines
            needs = self.kept * row_bytes
            raise MemoryError(
                f"chunked evaluation keeps {self.row_width} floats per point (the attention outputs) for "
                f"{self.kept} of N={num_points} points: {needs / 2**30:.1f} GiB for B={num_clouds}, which could not "
                "be allocated; pass a smaller buffer_bytes (the other points are recomputed instead)"
            ) from error

    def chunks(self) -> Iterator[tuple[slice, Tensor | None]]:
        """Every chunk's slice of N and mask (B, n) or ``None``."""
        for part in _chunks(self.positions.shape[1], self.chunk_size):
            yield part, None if self.mask is None else self.mask[:, part]

    def is_kept(self, part: slice) -> bool:
        """Whether the chunk ``part`` has rows in the buffer (else it is streamed)."""
        return part.stop <= self.kept

    def scratch(self, width: int) -> Tensor:
        """A (B, N_kept, width) view of the buffer for the caller's per-point results of kept
        chunks; a chunk's rows are free once that chunk has been yielded. ``width`` must not exceed
        the ``scratch_width`` the passes were made with (or W)."""
        if width > self.row_width:
            raise ValueError(f"ChunkedPasses.scratch: width {width} exceeds the buffer's {self.row_width} channels")
        return self.buffer[..., :width]  # (B, N_kept, R) -> (B, N_kept, width)

    def fused(self, part: slice, chunk_mask: Tensor | None) -> Tensor:
        """A chunk's fused features (B, n, C_out), recomputed from its input; after the iteration
        only (every layer's statistics known)."""
        if len(self.statistics) < len(self.encoder.layers):
            raise RuntimeError("ChunkedPasses.fused: iterate over the passes first")
        embedding, _, outputs, _ = self._recomputed(part, chunk_mask, self.statistics)
        return self.encoder.fuse_outputs([*outputs, embedding] if self.encoder.fuse_embedding else outputs, chunk_mask)

    def _slot(self, layer: int) -> slice:
        """Layer ``layer``'s output channels in the buffer (layer 0's input before pass 1)."""
        return slice(layer * self.channels, (layer + 1) * self.channels)

    def _embedded(self, part: slice, chunk_mask: Tensor | None) -> tuple[Tensor, Tensor]:
        """A chunk's input embedding (with ``local_neighbours``, its points' neighbours in the
        whole cloud) and the attention block's input. Shapes: returns (B, n, C_embed), (B, n, C)."""
        features = None if self.features is None else self.features[:, part]
        neighbours = None if self.neighbours is None else self.neighbours[:, part]  # (B, n, K)
        embedding, x, _, _ = self.encoder.embed(self.positions[:, part], features, chunk_mask, self.inputs, neighbours)
        return embedding, x

    def _recomputed(
        self, part: slice, chunk_mask: Tensor | None, statistics: list[Tensor], attention_of: int | None = None
    ) -> tuple[Tensor, Tensor, list[Tensor], Tensor | None]:
        """One chunk from its input: the input embedding, the attention block's input passed
        through the first ``len(statistics)`` layers, those layers' outputs, and the attention map
        of layer ``attention_of`` when it is among them (else ``None``).

        Shapes: returns (B, n, C_embed), (B, n, C), ``len(statistics)`` x (B, n, C), (B, H, n, S)
        """
        embedding, x = self._embedded(part, chunk_mask)
        outputs, attention = [], None
        for index, (layer, total) in enumerate(zip(self.encoder.layers, statistics)):
            x, maps = layer(x, mask=chunk_mask, return_attention=index == attention_of, logsumexp=total)
            attention = maps if index == attention_of else attention
            outputs.append(x)
        return embedding, x, outputs, attention

    def _kept_step(
        self, part: slice, chunk_mask: Tensor | None, depth: int, return_attention: bool = False
    ) -> tuple[Tensor, Tensor | None]:
        """Pass ``depth`` on a kept chunk: the embedding (depth 0) or layer depth - 1 on its input
        in the buffer; the result replaces that input in the buffer (layer 0's slot holds the
        attention block's input until layer 0's output replaces it).

        Shapes: returns (B, n, C), and layer depth - 1's attention (B, H, n, S) with
        ``return_attention`` (else ``None``)
        """
        buffer, attention = self.buffer, None
        if depth == 0:
            embedding, x = self._embedded(part, chunk_mask)
            if self.encoder.fuse_embedding:  # kept for the fusion (feature_1), after the L outputs
                buffer[:, part, self.width - embedding.shape[-1] : self.width] = embedding
        else:
            source = self._slot(max(depth - 2, 0))  # layer depth - 1's input
            layer = self.encoder.layers[depth - 1]
            x, attention = layer(
                buffer[:, part, source], mask=chunk_mask, return_attention=return_attention,
                logsumexp=self.statistics[depth - 1],
            )  # fmt: skip
        buffer[:, part, self._slot(max(depth - 1, 0))] = x  # (B, n, C)
        return x, attention

    def _passes(
        self, count: int, attention_of: int | None = None
    ) -> Iterator[tuple[int, slice, Tensor | None, tuple[Tensor, list[Tensor]] | None, Tensor | None]]:
        """Passes 0 .. ``count`` - 1 (at most L + 1): pass depth runs layer depth - 1 on every chunk
        with its statistics known (the embedding in pass 0), then accumulates layer depth's
        statistics of that output when a later pass needs them. Yields, per chunk and pass, ``(depth, part, chunk_mask,
        recomputed, attention)``: ``recomputed`` is a streamed chunk's (embedding, layer outputs)
        (``None`` for a kept chunk, whose outputs are in the buffer), ``attention`` layer
        ``attention_of``'s map (B, H, n, S) in the pass that runs it (else ``None``)."""
        layers = self.encoder.layers
        self.statistics = []
        for depth in range(count):
            total = None
            for part, chunk_mask in self.chunks():
                if self.is_kept(part):
                    x, attention = self._kept_step(part, chunk_mask, depth, depth - 1 == attention_of)
                    recomputed = None
                else:
                    of = attention_of if depth - 1 == attention_of else None
                    embedding, x, outputs, attention = self._recomputed(part, chunk_mask, self.statistics[:depth], of)
                    recomputed = (embedding, outputs)
                if depth < min(len(layers), count - 1):  # a later pass runs layer depth
                    total = _combined(total, layers[depth].attention.softmax_statistics(x, chunk_mask))  # (B, H, 1, S)
                yield depth, part, chunk_mask, recomputed, attention
            if total is not None:
                self.statistics.append(total)

    def __iter__(self) -> Iterator[tuple[slice, Tensor, Tensor | None]]:
        encoder, last = self.encoder, len(self.encoder.layers)
        # After the last layer's pass, the fusion, chunk by chunk.
        for depth, part, chunk_mask, recomputed, _ in self._passes(last + 1):
            if depth < last:
                continue
            if recomputed is None:
                yield part, encoder.fuse(self.buffer[:, part, : self.width], mask=chunk_mask), chunk_mask
            else:
                embedding, outputs = recomputed
                parts = [*outputs, embedding] if encoder.fuse_embedding else outputs
                yield part, encoder.fuse_outputs(parts, chunk_mask), chunk_mask  # (B, n, C_out)

    def strongest_slots(self, layer: int) -> Tensor:
        """Each head's strongest memory slot in attention layer ``layer``, for every point: the
        argmax over S of the exact (B, H, N, S) map that ``return_attention`` gives unchunked,
        never held whole. Runs passes 0 .. ``layer`` + 1 only.

        Shapes: returns (B, H, N) int64, -1 at masked points
        """
        layers = self.encoder.layers
        if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer < len(layers):
            raise ValueError(f"strongest_slots: layer must be 0..{len(layers) - 1}, got {layer!r}")
        num_clouds, num_points = self.positions.shape[:2]
        heads = layers[layer].attention.heads
        slots = torch.full((num_clouds, heads, num_points), -1, dtype=torch.long, device=self.positions.device)
        for depth, part, chunk_mask, _, attention in self._passes(layer + 2, attention_of=layer):
            if depth == layer + 1:
                strongest = attention.argmax(dim=-1)  # (B, H, n, S) -> (B, H, n)
                if chunk_mask is not None:
                    strongest = strongest.masked_fill(~chunk_mask[:, None], -1)
                slots[:, :, part] = strongest
        return slots
