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

Shape legend: B clouds, N input points per cloud, P points of a flat batch, M encoded points per
cloud, C channels, H heads, S memory slots, G global channels.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import torch
from torch import Tensor, nn
from torch_geometric.data import Data
from torch_geometric.utils import to_dense_batch

from pointea.layers.arguments import check_count, check_counts, check_fraction, check_optional_count
from pointea.layers.checkpointing import checkpoint
from pointea.layers.lbr import LBR
from pointea.layers.offset_attention import AttentionKind, OffsetAttentionLayer, check_attention_kind
from pointea.layers.sample_and_group import SampleAndGroup
from pointea.layers.sampling import is_tracing
from pointea.models.checkpoint import FromCheckpoint
from pointea.models.chunked import RunningPool, check_chunked_evaluation, fused_chunks, softmax_statistics

__all__ = ["PointEncoder", "EncoderOutput", "Pooling", "max_coordinate"]

Pooling = Literal["max", "mean", "max+mean"]
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
            self-attention, quadratic).
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
    ) -> None:
        super().__init__()
        check_attention_kind(attention)
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
        if pooling not in ("max", "mean", "max+mean"):
            raise ValueError(f"PointEncoder: pooling must be 'max', 'mean' or 'max+mean', got {pooling!r}")
        widths = (embedding_channels, *stage_channels)
        if pre_attention_layers == 0 and widths[-1] != channels:
            raise ValueError(
                f"PointEncoder: with pre_attention_layers=0 the attention layers take the embedding "
                f"directly, so channels={channels} must equal its width {widths[-1]}"
            )
        self.attention = attention
        self.in_channels = in_channels
        self.fuse_embedding = fuse_embedding
        self.activation_checkpointing = activation_checkpointing
        self.sample_sizes = sample_sizes
        self.pooling = pooling
        self.out_channels = out_channels
        self.global_channels = 2 * out_channels if pooling == "max+mean" else out_channels

        self.embedding = nn.Sequential(LBR(3 + in_channels, embedding_channels), LBR(embedding_channels, embedding_channels))
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
        """Fewest points a cloud may have: the first stage's sample size (1 without stages)."""
        return self.sample_sizes[0] if self.sample_sizes else 1

    def forward(
        self,
        points: Tensor | Data,
        features: Tensor | None = None,
        return_attention: bool = False,
        chunk_size: int | None = None,
    ) -> EncoderOutput:
        """Encode a batch of clouds.

        With ``chunk_size``, a full-resolution external-attention encoder in eval mode under
        ``torch.no_grad()`` is evaluated exactly in chunks of that many points (see
        :mod:`pointea.models.chunked`): the same output in memory independent of the number of
        points beyond the input and the (B, N, C_out) features returned.

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
            return self._forward_in_chunks(points, features, chunk_size)
        dtype = self.embedding[0].linear.weight.dtype
        if isinstance(points, Tensor):  # dense (B, N, 3): traceable, the path exported models take
            points = _dense_input(points, dtype)
            features = _dense_features(features, points, self.in_channels, dtype)
            if points.shape[0] == 0:
                return self._empty_output(points.shape[1], return_attention)
            if not is_tracing() and points.shape[1] < self.min_points:
                self._too_few_points(points.shape[1])
            inputs = points if features is None else torch.cat([points, features], dim=-1)  # (B, N, 3 + C_in)
            mask, positions, x = None, points, self._block(self.embedding, self.embedding, inputs)  # (B, N, C_embed)
            for stage in self.stages:
                positions, x = stage.forward_dense(positions, x)  # (B, M, 3), (B, M, C)
        else:
            pos, extra, batch, num_clouds = _flatten(points, features, self.in_channels, dtype)
            if num_clouds == 0:
                return self._empty_output(0, return_attention)
            mask, positions, x = self._embed_flat(pos, extra, batch, num_clouds)
        return self._attend(x, positions, mask, return_attention)

    def _too_few_points(self, smallest: int) -> None:
        raise ValueError(
            f"PointEncoder samples {self.min_points} points per cloud (sample_sizes[0]), but a cloud "
            f"has {smallest}; resample clouds to at least {self.min_points} points "
            "(pointea.data transforms do) or lower sample_sizes"
        )

    def _embed_flat(
        self, pos: Tensor, extra: Tensor | None, batch: Tensor, num_clouds: int
    ) -> tuple[Tensor | None, Tensor, Tensor]:
        """Input embedding and sample-and-group stages on PyG's flat layout; clouds may differ in size.

        Shapes: pos (P, 3); extra (P, C_in); batch (P,); returns mask (B, M) or None, positions
        (B, M, 3), features (B, M, C)
        """
        sizes = torch.bincount(batch, minlength=num_clouds)  # (B,) points per cloud
        if not self.sample_sizes and int(sizes.min()) == 0:
            raise ValueError("PointEncoder: a cloud has 0 points; every cloud needs at least 1")
        if int(sizes.min()) < self.min_points:
            self._too_few_points(int(sizes.min()))
        inputs = pos if extra is None else torch.cat([pos, extra], dim=-1)  # (P, 3 + C_in)
        features = self._block(self.embedding, self.embedding, inputs)  # (P, C_embed)
        for stage in self.stages:
            pos, features, batch = stage(pos, features, batch)  # (B * M, 3), (B * M, C), (B * M,)

        if self.stages or bool((sizes == sizes[0]).all()):
            positions = pos.view(num_clouds, -1, 3)  # (B * M, 3) -> (B, M, 3)
            return None, positions, features.view(num_clouds, positions.shape[1], -1)  # (B * M, C) -> (B, M, C)
        x, mask = to_dense_batch(features, batch, batch_size=num_clouds)  # (B, M_max, C), (B, M_max)
        positions, _ = to_dense_batch(pos, batch, batch_size=num_clouds)  # (B, M_max, 3)
        return mask, positions, x

    def _attend(
        self, x: Tensor, positions: Tensor, mask: Tensor | None, return_attention: bool
    ) -> EncoderOutput:
        """Attention layers, fusion and pooling. Shapes: x (B, M, C); positions (B, M, 3); mask (B, M)."""
        embedding = x  # (B, M, C_embed): PCT's feature_1
        for lbr in self.pre_attention:
            x = self._block(lbr, lambda y, lbr=lbr: lbr(y, mask=mask), x)
        outputs, maps = [], []
        for layer in self.layers:
            x, attention = self._block(
                layer, lambda y, layer=layer: layer(y, mask=mask, return_attention=return_attention), x
            )
            outputs.append(x)
            maps.append(attention)
        if self.fuse_embedding:
            outputs.append(embedding)
        features = self._block(
            self.fuse, lambda *parts: self.fuse(torch.cat(parts, dim=-1), mask=mask), *outputs
        )  # (B, M, C L [+ C_embed]) -> (B, M, C_out)
        return EncoderOutput(
            features=features,
            positions=positions,
            global_feature=self._pool(features, mask),
            mask=mask,
            attention=maps if return_attention else None,
        )

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
        self, points: Tensor | Data, features: Tensor | None, chunk_size: int, owner: str = "PointEncoder"
    ) -> tuple[Tensor, Tensor | None, Tensor | None, Tensor]:
        """Check that chunked evaluation applies (a one-line error naming ``owner`` if not) and bring
        ``points`` (and ``features``) to a padded dense batch.

        Shapes:
            points: (B, N, 3) or a PyG Data/Batch; features: (B, N, C_in) or ``None``; returns
            positions (B, N, 3), features (B, N, C_in) or ``None``, mask (B, N) bool or ``None``
            when every cloud has N points, and the (B,) points per cloud
        """
        dtype = self.embedding[0].linear.weight.dtype
        pos, extra, batch, num_clouds = _flatten(points, features, self.in_channels, dtype)
        sizes = torch.bincount(batch, minlength=num_clouds)  # (B,) points per cloud
        training = any(module.training for module in self.modules())
        check_chunked_evaluation(owner, self, chunk_size, num_clouds, int(sizes.max()) if len(sizes) else 0, training)
        if int(sizes.min()) < 1:
            raise ValueError(f"{owner}: every cloud needs at least one point")
        if bool((sizes == sizes[0]).all()):
            dense_extra = None if extra is None else extra.view(num_clouds, -1, extra.shape[-1])  # (B * N, C_in) -> (B, N, C_in)
            return pos.view(num_clouds, -1, 3), dense_extra, None, sizes  # (B * N, 3) -> (B, N, 3)
        positions, mask = to_dense_batch(pos, batch, batch_size=num_clouds)  # (B, N_max, 3), (B, N_max)
        dense_extra = None if extra is None else to_dense_batch(extra, batch, batch_size=num_clouds)[0]  # (B, N_max, C_in)
        return positions, dense_extra, mask, sizes

    def _forward_in_chunks(self, points: Tensor | Data, extra: Tensor | None, chunk_size: int) -> EncoderOutput:
        positions, extra, mask, sizes = self.chunked_input(points, extra, chunk_size)
        statistics = softmax_statistics(self, positions, extra, mask, chunk_size)
        features = positions.new_zeros(*positions.shape[:2], self.out_channels)  # (B, N, C_out)
        pool = RunningPool(self.pooling, sizes)
        for part, chunk, chunk_mask in fused_chunks(self, positions, extra, mask, statistics, chunk_size):
            features[:, part] = chunk
            pool.update(chunk, chunk_mask)
        return EncoderOutput(features=features, positions=positions, global_feature=pool.result(), mask=mask)

    def _pool(self, features: Tensor, mask: Tensor | None) -> Tensor:
        """Shapes: features (B, M, C); mask (B, M); returns (B, G)."""
        pooled = []
        if self.pooling in ("max", "max+mean"):
            masked = features if mask is None else features.masked_fill(~mask.unsqueeze(-1), float("-inf"))
            pooled.append(masked.amax(dim=1))
        if self.pooling in ("mean", "max+mean"):
            if mask is None:
                pooled.append(features.mean(dim=1))
            else:
                count = mask.sum(dim=1, keepdim=True).clamp_min(1)  # (B, 1)
                pooled.append(features.masked_fill(~mask.unsqueeze(-1), 0.0).sum(dim=1) / count)
        return torch.cat(pooled, dim=-1)


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
    expected = (*points.shape[:2], in_channels)
    if not in_channels:
        raise ValueError(
            "PointEncoder was built with in_channels=0 (coordinates only): got features; build it with "
            f"in_channels={features.shape[-1] if features.dim() else 0} to use them"
        )
    if not isinstance(features, Tensor) or not features.is_floating_point() or tuple(features.shape) != expected:
        got = f"{tuple(features.shape)} {features.dtype}" if isinstance(features, Tensor) else type(features).__name__
        raise ValueError(f"PointEncoder expects features as a float tensor of shape {expected}, got {got}")
    if not is_tracing() and not bool(torch.isfinite(features).all()):
        raise ValueError("PointEncoder: features hold NaN or Inf values; drop or repair those points")
    return features.to(dtype)


def _flatten(
    points: Tensor | Data, features: Tensor | None, in_channels: int, dtype: torch.dtype
) -> tuple[Tensor, Tensor | None, Tensor, int]:
    """Check the input, cast it to ``dtype`` and bring it to PyG's flat layout.

    Shapes:
        points: (B, N, 3), or Data/Batch with pos (P, 3) (and x (P, C_in)); features: (B, N, C_in);
        returns pos (P, 3), features (P, C_in) or ``None``, batch (P,), B
    """
    if isinstance(points, Tensor):
        points = _dense_input(points, dtype)
        features = _dense_features(features, points, in_channels, dtype)
        num_clouds, num_points, _ = points.shape
        batch = torch.arange(num_clouds, device=points.device).repeat_interleave(num_points)  # (B * N,)
        flat = None if features is None else features.reshape(-1, in_channels)  # (B, N, C_in) -> (B * N, C_in)
        return points.reshape(-1, 3), flat, batch, num_clouds  # (B, N, 3) -> (B * N, 3)
    pos = getattr(points, "pos", None)
    if pos is None or pos.dim() != 2 or pos.shape[-1] != 3 or not pos.is_floating_point():
        raise ValueError(
            "PointEncoder expects a (B, N, 3) tensor or a PyG Data/Batch with float `pos` of shape (P, 3); "
            f"got {type(points).__name__} with pos "
            f"{None if pos is None else f'{tuple(pos.shape)} {pos.dtype}'}"
        )
    if features is not None:
        raise ValueError("PointEncoder: with a PyG Data/Batch, give the features as its `x`, not as `features`")
    _check_coordinates(pos, dtype)
    extra = getattr(points, "x", None) if in_channels else None
    if in_channels and extra is None:
        raise ValueError(f"PointEncoder was built with in_channels={in_channels}: the PyG batch needs `x` of shape (P, {in_channels})")
    if extra is not None:
        extra = _dense_features(extra.unsqueeze(0), pos.unsqueeze(0), in_channels, dtype).squeeze(0)  # (1, P, C_in) -> (P, C_in)
    batch = getattr(points, "batch", None)
    if batch is None:
        return pos.to(dtype), extra, torch.zeros(pos.shape[0], dtype=torch.long, device=pos.device), 1
    if batch.numel() > 1 and bool((batch[1:] < batch[:-1]).any()):
        raise ValueError("PointEncoder: the PyG `batch` vector must be sorted, as Batch.from_data_list makes it")
    return pos.to(dtype), extra, batch, int(points.num_graphs)


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
