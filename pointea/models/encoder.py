"""The PCT point encoder with external (or PCT's self-) attention.

Pipeline (PCT, Guo et al. 2021, classification defaults)::

    points -> LBR 3->64 -> LBR 64->64                                   input embedding, per point
           -> SampleAndGroup 512 centres, k=32 -> 128 channels          neighbour embedding
           -> SampleAndGroup 256 centres, k=32 -> 256 channels
           -> LBR 256->256 -> LBR 256->256                                  PCT's Point_Transformer_Last
           -> 4 x OffsetAttentionLayer(256), outputs concatenated (1024)
           -> concat with the second stage's output (1024 + 256 = 1280)      PCT's ``feature_1``
           -> LBR to 1024 (LeakyReLU 0.2)                                    features
           -> max (or mean, or both) over points                             global feature

PCT's segmentation encoder (``sample_sizes=()``, ``pre_attention_layers=0``,
``fuse_embedding=False``, 128 channels) keeps every point: LBR 3->128 -> LBR 128->128 -> 4 x
OffsetAttentionLayer(128), concatenated (512) -> LBR to 1024.

With ``local_neighbours=K`` (pointea's option; 0, PCT's embedding, by default) the input embedding
sees each point's K nearest points of its own cloud: the two LBRs on ``concat(x_j - x_i, x_i)`` of
every neighbour's input (B, N, K, 2 (3 + C_in)), then a max over the K (PCT's ``Local_op`` with
every point a centre; docs/pct.md).

Shape legend: B clouds, N input points per cloud, P points of a PyG batch, M encoded points per
cloud, C channels, H heads, S memory slots, G global channels.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import torch
from torch import Tensor, nn

from pointea.layers.arguments import check_count, check_counts, check_fraction, check_optional_count
from pointea.layers.checkpointing import checkpoint
from pointea.layers.lbr import LBR
from pointea.layers.offset_attention import AttentionKind, OffsetAttentionLayer, check_attention_kind
from pointea.layers.sample_and_group import SampleAndGroup, group
from pointea.layers.sampling import is_tracing, knn
from pointea.models.checkpoint import FromCheckpoint
from pointea.layers.pooling import POOLINGS, GlobalPool, Pooling, pooled_channels
from pointea.models.chunked import DEFAULT_CHUNK_SIZE, ChunkedPasses, check_chunked_evaluation

if TYPE_CHECKING:  # PyG is imported only when a PyG batch is encoded
    from torch_geometric.data import Data

__all__ = ["PointEncoder", "EncoderOutput", "Pooling", "max_coordinate"]

_T = TypeVar("_T")


def max_coordinate(dtype: torch.dtype) -> float:
    """The largest coordinate magnitude the encoder accepts when it computes in ``dtype``.

    Farthest point sampling and kNN compare squared distances: two points whose coordinates are at
    most L in magnitude lie up to ``3 (2L)^2 = 12 L^2`` apart squared, which must stay below the
    dtype's largest value, so ``L < sqrt(max / 12)``; rounded down to a power of ten. float32 and
    bfloat16: 1e18 (their largest value is 3.4e38); float16: 10; float64: 1e153.
    """
    return 10.0 ** math.floor(math.log10(math.sqrt(torch.finfo(dtype).max / 12)))


@dataclass
class EncoderOutput:
    """What :class:`PointEncoder` returns.

    Shapes:
        features: (B, M, C) per-point features after fusion
        positions: (B, M, 3) coordinates of those points
        global_feature: (B, G), G = C for ``"max"``/``"mean"`` pooling, 2 C for ``"max+mean"``
        mask: (B, M) bool, True for real points; ``None`` when every cloud has M points
        attention: with ``return_attention=True``, one map per attention layer: (B, H, M, S) for
            external attention, (B, H, M, M) for offset (self) attention; else ``None``
    """

    features: Tensor
    positions: Tensor
    global_feature: Tensor
    mask: Tensor | None = None
    attention: list[Tensor] | None = None


class PointEncoder(FromCheckpoint, nn.Module):
    """PCT's point encoder whose offset-attention layers use external attention by default.

    Args:
        attention: ``"external"`` (linear in the number of points) or ``"offset"`` (PCT's
            self-attention, quadratic; ``"self"`` is accepted for it and stored as ``"offset"``).
        in_channels: extra per-point input channels (colour, intensity, normals, ...), concatenated
            with the coordinates before the input embedding, as PCT's semantic segmentation takes
            xyz and per-point features; 0 (default): coordinates only.
        embedding_channels: channels of the per-point input embedding.
        sample_sizes: centres per cloud of each sample-and-group stage; ``()`` keeps all points.
        stage_channels: output channels of each stage (one per entry of ``sample_sizes``).
        neighbours: kNN neighbours per centre in the sample-and-group stages.
        channels: channels of the attention layers.
        num_layers: stacked offset-attention layers.
        heads: attention heads; ``None`` takes each kind's reference (external 4, offset 1).
        memory_slots: external attention's memory size S.
        expansion: external attention's widening before the heads.
        attention_dropout: dropout on the attention maps.
        out_channels: channels of the fused per-point features.
        pooling: how the global feature pools the points.
        pre_attention_layers: LBRs between the embedding and the attention layers (PCT's
            classifier: 2, its segmenter: 0, which needs ``channels`` equal to the embedding's).
        fuse_embedding: concatenate the attention block's input (the last sample-and-group
            stage's output, or the input embedding without stages) after the attention outputs
            before the fusion LBR, as PCT's classifier does with ``feature_1``; PCT's segmenter
            fuses the attention outputs only.
        activation_checkpointing: when gradients are on, keep only each block's input for the
            backward pass and recompute its activations there (``torch.utils.checkpoint``): the
            input embedding, each pre-attention LBR, each attention layer and the fusion; less
            memory for about one more forward pass of time. BatchNorm running statistics are
            updated once, as without it (:mod:`pointea.layers.checkpointing`). The
            sample-and-group stages are not checkpointed. Changes no weight or result.
        local_neighbours: 0 (default): PCT's input embedding, each point alone through two LBRs.
            K > 0: each point is embedded with its K nearest points of its own cloud (itself
            included; padding never): the same two LBRs on ``concat(x_j - x_i, x_i)`` of every
            neighbour j's input (coordinates and features), then a max over the neighbours, as
            PCT's sample-and-group stages and DGCNN's EdgeConv do, at full resolution (a documented
            deviation from PCT: docs/pct.md). Every cloud needs at least K points.

    Shapes:
        points: (B, N, 3) float tensor, or a PyG ``Data``/``Batch`` with ``pos`` (P, 3) and
        ``batch`` (P,) (clouds may differ in size; with ``in_channels`` its ``x`` (P, in_channels)
        holds the features); features: (B, N, in_channels) float, needed exactly when
        ``in_channels > 0``; returns :class:`EncoderOutput`.
    """

    def __init__(
        self,
        attention: AttentionKind = "external",
        in_channels: int = 0,
        embedding_channels: int = 64,
        sample_sizes: tuple[int, ...] = (512, 256),
        stage_channels: tuple[int, ...] = (128, 256),
        neighbours: int = 32,
        channels: int = 256,
        num_layers: int = 4,
        heads: int | None = None,
        memory_slots: int = 64,
        expansion: int = 1,
        attention_dropout: float = 0.0,
        out_channels: int = 1024,
        pooling: Pooling = "max",
        pre_attention_layers: int = 2,
        fuse_embedding: bool = True,
        activation_checkpointing: bool = False,
        local_neighbours: int = 0,
    ) -> None:
        super().__init__()
        attention = check_attention_kind(attention)
        owner = "PointEncoder"
        sample_sizes = check_counts(owner, "sample_sizes", sample_sizes)
        stage_channels = check_counts(owner, "stage_channels", stage_channels)
        sizes = dict(
            embedding_channels=embedding_channels, neighbours=neighbours, channels=channels, num_layers=num_layers,
            memory_slots=memory_slots, expansion=expansion, out_channels=out_channels,
        )  # fmt: skip
        for name, value in sizes.items():
            check_count(owner, name, value)
        check_optional_count(owner, "heads", heads)
        check_count(owner, "pre_attention_layers", pre_attention_layers, minimum=0)
        check_count(owner, "in_channels", in_channels, minimum=0)
        check_count(owner, "local_neighbours", local_neighbours, minimum=0)
        check_fraction(owner, "attention_dropout", attention_dropout)
        if len(sample_sizes) != len(stage_channels):
            raise ValueError(
                f"PointEncoder: sample_sizes {sample_sizes} and stage_channels {stage_channels} "
                "need one entry per stage each"
            )
        if list(sample_sizes) != sorted(sample_sizes, reverse=True):
            raise ValueError(f"PointEncoder: sample_sizes must not increase, got {sample_sizes}")
        if sample_sizes and neighbours > sample_sizes[-1]:
            raise ValueError(
                f"PointEncoder: neighbours={neighbours} exceeds the smallest sample size {sample_sizes[-1]}"
            )
        if pooling not in POOLINGS:
            raise ValueError(f"PointEncoder: pooling must be 'max', 'mean' or 'max+mean', got {pooling!r}")
        widths = (embedding_channels, *stage_channels)
        if pre_attention_layers == 0 and widths[-1] != channels:
            raise ValueError(
                f"PointEncoder: with pre_attention_layers=0 the attention layers take the embedding "
                f"directly, so channels={channels} must equal its width {widths[-1]}"
            )
        self.attention = attention
        self.in_channels = in_channels
        self.channels = channels
        self.fuse_embedding = fuse_embedding
        self.activation_checkpointing = activation_checkpointing
        self.sample_sizes = sample_sizes
        self.pooling = pooling
        self.out_channels = out_channels
        self.global_channels = pooled_channels(pooling, out_channels)
        self.local_neighbours = local_neighbours

        embedded = (3 + in_channels) * (2 if local_neighbours else 1)  # a point's input, or an edge's
        self.embedding = nn.Sequential(LBR(embedded, embedding_channels), LBR(embedding_channels, embedding_channels))
        self.stages = nn.ModuleList(
            SampleAndGroup(c_in, c_out, num_samples=m, neighbours=neighbours)
            for c_in, c_out, m in zip(widths[:-1], widths[1:], sample_sizes)
        )
        self.pre_attention = nn.ModuleList(
            LBR(widths[-1] if i == 0 else channels, channels) for i in range(pre_attention_layers)
        )
        self.layers = nn.ModuleList(
            OffsetAttentionLayer(
                channels,
                attention=attention,
                heads=heads,
                memory_slots=memory_slots,
                expansion=expansion,
                dropout=attention_dropout,
            )
            for _ in range(num_layers)
        )
        fused_channels = channels * num_layers + (widths[-1] if fuse_embedding else 0)
        self.fuse = LBR(fused_channels, out_channels, activation="leaky_relu")

    @property
    def min_points(self) -> int:
        """Fewest points a cloud may have: the first stage's sample size and ``local_neighbours``
        (1 without either)."""
        return max(self.sample_sizes[0] if self.sample_sizes else 1, self.local_neighbours)

    def forward(
        self,
        points: Tensor | Data,
        features: Tensor | None = None,
        return_attention: bool = False,
        chunk_size: int | None = None,
        buffer_bytes: int | None = None,
    ) -> EncoderOutput:
        """Encode a batch of clouds: :meth:`embed`, :meth:`attend`, :meth:`fuse_outputs`, :meth:`pool`.

        With ``chunk_size``, a full-resolution external-attention encoder in eval mode under
        ``torch.no_grad()`` is evaluated exactly in chunks of that many points (see
        :mod:`pointea.models.chunked`), through the same steps. ``buffer_bytes`` (with
        ``chunk_size`` only) caps the memory the chunked passes keep per point
        (:class:`~pointea.models.chunked.ChunkedPasses`; ``None``: 2 GiB); the points beyond it are
        recomputed in every pass instead. The (B, N, C_out) features returned are the caller's.

        Coordinates (and features) are cast to the encoder's parameter dtype (exact for
        float16/bfloat16 input to a float32 encoder; for mixed-precision compute use
        ``torch.autocast``). A batch of 0 clouds gives an empty output (B = 0), as ``nn.Linear``
        does for an empty batch.

        Raises:
            ValueError: one line, for input that is not a (B, N, 3) float tensor or a PyG batch with
                ``pos``, features that do not match ``in_channels``, NaN/Inf coordinates or
                features, coordinates beyond :func:`max_coordinate`, or clouds with fewer points
                than the first sample size; chunked evaluation where it does not apply.
        """
        if chunk_size is not None:
            if return_attention:
                raise ValueError("PointEncoder: return_attention is not available with chunk_size")
            return self._forward_in_chunks(points, features, chunk_size, buffer_bytes)
        points, features, mask = self.dense_input(points, features)
        if points.shape[0] == 0:
            return self._empty_output(points.shape[1], return_attention)
        embedding, x, positions, mask = self.embed(points, features, mask)
        outputs, maps = self.attend(x, mask, return_attention)
        fused = self.fuse_outputs([*outputs, embedding] if self.fuse_embedding else outputs, mask)
        return EncoderOutput(
            features=fused,
            positions=positions,
            global_feature=self.pool(fused, mask),
            mask=mask,
            attention=maps if return_attention else None,
        )

    def dense_input(
        self, points: Tensor | Data, features: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """The encoder's input boundary: check the input, cast it to the encoder's dtype, and bring a
        PyG ``Data``/``Batch`` to a padded dense batch (once; everything after is dense + mask).

        Shapes:
            points: (B, N, 3), or Data/Batch with pos (P, 3), batch (P,) and, with ``in_channels``,
            x (P, C_in); features: (B, N, C_in) or ``None``
            returns points (B, N, 3), features (B, N, C_in) or ``None``, mask (B, N) bool, ``None``
            when every cloud has N points
        """
        dtype = self.embedding[0].linear.weight.dtype
        if isinstance(points, Tensor):  # dense (B, N, 3): traceable, the path exported models take
            points = _dense_input(points, dtype)
            features = _dense_features(features, points, self.in_channels, dtype)
            mask = None
        else:
            points, features, mask = _pyg_input(points, features, self.in_channels, dtype)
        if not is_tracing() and points.shape[0]:
            smallest = points.shape[1] if mask is None else int(mask.sum(dim=1).min())
            if smallest < self.min_points:
                if smallest == 0:
                    raise ValueError("PointEncoder: a cloud has 0 points; every cloud needs at least 1")
                needs, lower = (
                    (f"samples {self.min_points} points per cloud (sample_sizes[0])", "sample_sizes")
                    if self.sample_sizes and self.sample_sizes[0] == self.min_points
                    else (f"embeds each point with its {self.min_points} nearest (local_neighbours)", "local_neighbours")
                )
                raise ValueError(
                    f"PointEncoder {needs}, but a cloud has {smallest} points; resample clouds to at least "
                    f"{self.min_points} points (pointea.data transforms do) or lower {lower}"
                )
        return points, features, mask

    @staticmethod
    def embedding_input(points: Tensor, features: Tensor | None) -> Tensor:
        """What the input embedding reads of each point: its coordinates and features.

        Shapes: points (B, N, 3); features (B, N, C_in) or ``None``; returns (B, N, 3 + C_in)
        """
        return points if features is None else torch.cat([points, features], dim=-1)

    def find_neighbours(self, points: Tensor, mask: Tensor | None) -> Tensor | None:
        """Every point's ``local_neighbours`` nearest points of its own cloud (itself included,
        padding never), nearest first; ``None`` when ``local_neighbours`` is 0.

        Shapes: points (B, N, 3); mask (B, N) or ``None``; returns (B, N, K) indices into N
        """
        if not self.local_neighbours:
            return None
        with torch.no_grad():
            return knn(points, points, self.local_neighbours, mask)

    def embed(
        self,
        points: Tensor,
        features: Tensor | None,
        mask: Tensor | None,
        cloud_inputs: Tensor | None = None,
        neighbours: Tensor | None = None,
    ) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
        """Input embedding, sample-and-group stages and pre-attention LBRs.

        With ``local_neighbours``, each point is embedded with its neighbours: by default those
        :meth:`find_neighbours` finds among ``points``; when ``points`` are a chunk of the clouds
        (chunked evaluation), ``neighbours`` indexes the whole clouds' :meth:`embedding_input`,
        ``cloud_inputs``.

        Shapes:
            points: (B, N, 3); features: (B, N, C_in) or ``None``; mask: (B, N) or ``None``;
            cloud_inputs: (B, N_cloud, 3 + C_in); neighbours: (B, N, K) indices into N_cloud
            returns the attention block's input before the pre-attention LBRs (B, M, C_embed)
            (PCT's ``feature_1``), the first attention layer's input (B, M, C), positions (B, M, 3),
            mask (B, M) or ``None`` (stages pick M real points of every cloud: no padding after them)
        """
        x = self.embedding_input(points, features)  # (B, N, 3 + C_in)
        embedding_mask = mask
        if self.local_neighbours:
            if neighbours is None:
                neighbours = self.find_neighbours(points, mask)
            x = group(x if cloud_inputs is None else cloud_inputs, x, neighbours)  # (B, N, K, 2 (3 + C_in)): every point's edges to its neighbours
            embedding_mask = None if mask is None else mask.unsqueeze(-1).expand(-1, -1, self.local_neighbours)
        for lbr in self.embedding:
            x = self._block(lbr, lambda y, lbr=lbr: lbr(y, mask=embedding_mask), x)  # (B, N[, K], C_embed)
        if self.local_neighbours:
            x = x.amax(dim=2)  # (B, N, K, C_embed) -> (B, N, C_embed), zero where masked
        positions = points
        for stage in self.stages:
            positions, x = stage(positions, x, mask)  # (B, M, 3), (B, M, C)
            mask = None
        embedding = x
        for lbr in self.pre_attention:
            x = self._block(lbr, lambda y, lbr=lbr: lbr(y, mask=mask), x)
        return embedding, x, positions, mask

    def attend(
        self, x: Tensor, mask: Tensor | None, return_attention: bool = False
    ) -> tuple[list[Tensor], list[Tensor | None]]:
        """The stacked offset-attention layers. Shapes: x (B, M, C); mask (B, M); returns L outputs
        (B, M, C) and L attention maps (``None`` without ``return_attention``)."""
        outputs, maps = [], []
        for layer in self.layers:
            x, attention = self._block(
                layer, lambda y, layer=layer: layer(y, mask=mask, return_attention=return_attention), x
            )
            outputs.append(x)
            maps.append(attention)
        return outputs, maps

    def fuse_outputs(self, parts: list[Tensor], mask: Tensor | None) -> Tensor:
        """The fusion LBR over the concatenated attention outputs (and ``feature_1``).

        Shapes: parts L (+1) tensors (B, M, C) (and (B, M, C_embed)); returns (B, M, C_out)
        """
        return self._block(self.fuse, lambda *p: self.fuse(torch.cat(p, dim=-1), mask=mask), *parts)

    def pool(self, features: Tensor, mask: Tensor | None) -> Tensor:
        """The global feature. Shapes: features (B, M, C_out); mask (B, M); returns (B, G)."""
        pool = GlobalPool(self.pooling)
        pool.update(features, mask)
        return pool.result()

    def _empty_output(self, num_points: int, return_attention: bool) -> EncoderOutput:
        """The output for a batch of 0 clouds of ``num_points`` points: every tensor has B = 0."""
        weight = self.embedding[0].linear.weight
        points = self.sample_sizes[-1] if self.sample_sizes else num_points  # M

        def empty(*shape: int) -> Tensor:
            return weight.new_zeros(0, *shape)

        maps = None
        if return_attention:
            maps = []
            for layer in self.layers:
                heads = layer.attention.heads
                keys = layer.attention.memory_slots if layer.kind == "external" else points  # S or M
                maps.append(empty(heads, points, keys))
        return EncoderOutput(
            features=empty(points, self.out_channels),
            positions=empty(points, 3),
            global_feature=empty(self.global_channels),
            mask=None,
            attention=maps,
        )

    def _block(self, module: nn.Module, function: Callable[..., _T], *args: Any) -> _T:
        """``function(*args)``, checkpointed when ``activation_checkpointing`` is on; ``module``
        holds the BatchNorms it runs."""
        if self.activation_checkpointing:
            return checkpoint(module, function, *args)
        return function(*args)

    def chunked_input(
        self,
        points: Tensor | Data,
        features: Tensor | None,
        chunk_size: int,
        owner: str = "PointEncoder",
        buffer_bytes: int | None = None,
    ) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """:meth:`dense_input`, after checking that chunked evaluation applies with this chunk size
        and buffer budget (a one-line error naming ``owner`` if not; before anything of size N is
        allocated for a dense batch).

        Shapes: as :meth:`dense_input`'s
        """
        num_clouds, num_points = _batch_size(points)
        training = any(module.training for module in self.modules())
        check_chunked_evaluation(owner, self, chunk_size, num_clouds, num_points, training, buffer_bytes)
        return self.dense_input(points, features)

    def strongest_slots(
        self,
        points: Tensor | Data,
        features: Tensor | None = None,
        layer: int = -1,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        buffer_bytes: int | None = None,
    ) -> Tensor:
        """Each head's strongest memory slot in attention layer ``layer`` (negative: from the last)
        for every point of a full-resolution external-attention encoder, exactly (the argmax of
        the map ``return_attention`` gives), in chunks, so a scene of millions of points never
        holds its (B, H, N, S) maps (:meth:`~pointea.models.chunked.ChunkedPasses.strongest_slots`).
        Eval mode under ``torch.no_grad()``, as the chunked forward.

        Shapes: points (B, N, 3) or a PyG batch; features (B, N, C_in); returns (B, H, N) int64,
        -1 at padding
        """
        positions, features, mask = self.chunked_input(
            points, features, chunk_size, owner="PointEncoder.strongest_slots", buffer_bytes=buffer_bytes
        )
        layers = len(self.layers)
        if isinstance(layer, int) and not isinstance(layer, bool) and -layers <= layer < 0:
            layer += layers
        return ChunkedPasses(self, positions, features, mask, chunk_size, buffer_bytes).strongest_slots(layer)

    def _forward_in_chunks(
        self, points: Tensor | Data, features: Tensor | None, chunk_size: int, buffer_bytes: int | None
    ) -> EncoderOutput:
        positions, features, mask = self.chunked_input(points, features, chunk_size, buffer_bytes=buffer_bytes)
        fused = positions.new_zeros(*positions.shape[:2], self.out_channels)  # (B, N, C_out)
        pool = GlobalPool(self.pooling)
        for part, chunk, chunk_mask in ChunkedPasses(self, positions, features, mask, chunk_size, buffer_bytes):
            fused[:, part] = chunk
            pool.update(chunk, chunk_mask)
        return EncoderOutput(features=fused, positions=positions, global_feature=pool.result(), mask=mask)


def _batch_size(points: Tensor | Data) -> tuple[int, int]:
    """(B, largest N) of the input, read without converting it."""
    if isinstance(points, Tensor):
        return (points.shape[0], points.shape[1]) if points.dim() == 3 else (0, 0)
    batch = getattr(points, "batch", None)
    pos = getattr(points, "pos", None)
    if pos is None:
        return 0, 0
    if batch is None:
        return 1, pos.shape[0]
    sizes = torch.bincount(batch)
    return int(points.num_graphs), int(sizes.max()) if sizes.numel() else 0


def _check_dense(points: Tensor) -> None:
    if points.dim() != 3 or points.shape[-1] != 3 or not points.is_floating_point():
        raise ValueError(
            f"PointEncoder expects a float tensor of shape (B, N, 3), got {tuple(points.shape)} {points.dtype}"
        )


def _dense_input(points: Tensor, dtype: torch.dtype) -> Tensor:
    """Check a dense batch and cast it to ``dtype``; the value checks are skipped while the model
    is traced or exported (they need the data, which a graph does not have).

    Shapes:
        points: (B, N, 3); returns (B, N, 3)
    """
    _check_dense(points)
    if not is_tracing():
        _check_coordinates(points, dtype)
    return points.to(dtype)


def _dense_features(features: Tensor | None, points: Tensor, in_channels: int, dtype: torch.dtype) -> Tensor | None:
    """Check the per-point features against the points and ``in_channels`` and cast them to ``dtype``.

    Shapes:
        features: (B, N, C_in) or ``None``; points: (B, N, 3); returns (B, N, C_in) or ``None``
    """
    if features is None:
        if in_channels:
            raise ValueError(
                f"PointEncoder was built with in_channels={in_channels}: pass features of shape (B, N, {in_channels})"
            )
        return None
    if not in_channels:
        raise ValueError(
            "PointEncoder was built with in_channels=0 (coordinates only) but got features; build it with "
            "in_channels=C to use C feature channels"
        )
    expected = (*points.shape[:2], in_channels)
    if not isinstance(features, Tensor) or not features.is_floating_point() or tuple(features.shape) != expected:
        got = f"{tuple(features.shape)} {features.dtype}" if isinstance(features, Tensor) else type(features).__name__
        raise ValueError(f"PointEncoder expects features as a float tensor of shape {expected}, got {got}")
    if not is_tracing() and not bool(torch.isfinite(features).all()):
        raise ValueError("PointEncoder: features hold NaN or Inf values; drop or repair those points")
    return features.to(dtype)


def _pyg_input(
    data: Data, features: Tensor | None, in_channels: int, dtype: torch.dtype
) -> tuple[Tensor, Tensor | None, Tensor | None]:
    """A PyG ``Data``/``Batch`` as a padded dense batch, checked and cast to ``dtype``.

    Shapes:
        data: pos (P, 3), batch (P,) sorted, x (P, C_in) with ``in_channels``; returns points
        (B, N_max, 3), features (B, N_max, C_in) or ``None``, mask (B, N_max) or ``None`` when
        every cloud has N_max points
    """
    pos = getattr(data, "pos", None)
    if pos is None or pos.dim() != 2 or pos.shape[-1] != 3 or not pos.is_floating_point():
        raise ValueError(
            "PointEncoder expects a (B, N, 3) tensor or a PyG Data/Batch with float `pos` of shape (P, 3); "
            f"got {type(data).__name__} with pos "
            f"{None if pos is None else f'{tuple(pos.shape)} {pos.dtype}'}"
        )
    if features is not None:
        raise ValueError("PointEncoder: with a PyG Data/Batch, give the features as its `x`, not as `features`")
    _check_coordinates(pos, dtype)
    extra = getattr(data, "x", None) if in_channels else None
    if in_channels and extra is None:
        raise ValueError(
            f"PointEncoder was built with in_channels={in_channels}: the PyG batch needs `x` of shape (P, {in_channels})"
        )
    if extra is not None:
        extra = _dense_features(extra.unsqueeze(0), pos.unsqueeze(0), in_channels, dtype)[0]  # (1, P, C_in) -> (P, C_in)
    batch = getattr(data, "batch", None)
    if batch is None:  # one cloud
        return pos.to(dtype).unsqueeze(0), None if extra is None else extra.unsqueeze(0), None  # (P, .) -> (1, P, .)
    if batch.numel() > 1 and bool((batch[1:] < batch[:-1]).any()):
        raise ValueError("PointEncoder: the PyG `batch` vector must be sorted, as Batch.from_data_list makes it")
    from torch_geometric.utils import to_dense_batch  # here: PyG is needed only for PyG input

    num_clouds = int(data.num_graphs)
    points, mask = to_dense_batch(pos.to(dtype), batch, batch_size=num_clouds)  # (B, N_max, 3), (B, N_max)
    dense_extra = None if extra is None else to_dense_batch(extra, batch, batch_size=num_clouds)[0]  # (B, N_max, C_in)
    if num_clouds and bool(mask.all()):
        mask = None
    return points, dense_extra, mask


def _check_coordinates(pos: Tensor, dtype: torch.dtype) -> None:
    """One-line ``ValueError`` for NaN/Inf coordinates or magnitudes beyond :func:`max_coordinate`.

    Shapes:
        pos: (B, N, 3) or (P, 3)
    """
    limit = max_coordinate(dtype)
    # Compared in at least float32: in float16 the limit itself would round to inf and pass inf.
    magnitude = pos.detach().abs().to(torch.promote_types(pos.dtype, torch.float32))
    if bool((magnitude <= limit).all()):  # one host sync in the common case; NaN fails the comparison
        return
    finite = torch.isfinite(pos).all(dim=-1)  # (B, N) or (P,)
    if not bool(finite.all()):
        first = tuple((~finite).nonzero()[0].tolist())  # (cloud, point) or (point,)
        raise ValueError(
            f"PointEncoder: {int((~finite).sum())} point(s) have NaN or Inf coordinates (the first at index "
            f"{first[0] if len(first) == 1 else first}); drop or repair those clouds"
        )
    raise ValueError(
        f"PointEncoder: a coordinate of magnitude {float(magnitude.max()):.3g} exceeds {limit:.0e}, beyond which "
        f"{dtype} squared distances overflow; centre and scale the clouds (pointea.data's normalize does)"
    )
