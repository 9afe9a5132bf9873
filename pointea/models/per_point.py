"""PCT's per-point networks: part segmentation, semantic segmentation and normal estimation.

All three are one network shape, PCT's segmentation network (Guo et al. 2021, Fig. 2 and
``networks/seg/pct_partseg.py``): a full-resolution :class:`PointEncoder`, the cloud's pooled
global feature broadcast back to every point, an optional per-cloud condition (the object category
for parts), and one per-point head (:class:`PerPointHead`) to K outputs: part logits, class logits,
or the 3 components of a normal (normalised to a unit vector). The tasks differ only in that
condition, K and what is done to the head's output.

Shape legend: B clouds, N points, C channels, C_in extra input channels, G global channels,
E category embedding channels, H_0 the head's first hidden width, K outputs.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pointea.layers.arguments import check_count, check_counts, check_fraction
from pointea.layers.checkpointing import checkpoint
from pointea.layers.lbr import LBR
from pointea.layers.offset_attention import AttentionKind
from pointea.layers.sampling import is_tracing
from pointea.models.checkpoint import FromCheckpoint, register_record_alias, rename_legacy_keys
from pointea.layers.pooling import GlobalPool
from pointea.models.chunked import ChunkedPasses
from pointea.models.encoder import EncoderOutput, PointEncoder
from pointea.models.resolve_encoder import resolve_encoder

__all__ = [
    "SEGMENTATION_ENCODER",
    "PerPointHead",
    "PCTPartSegmenter",
    "PCTSemanticSegmenter",
    "PCTNormalEstimator",
]

# PCT's segmentation encoder (networks/seg/pct_partseg.py): no downsampling, LBR 3->128->128
# straight into four 128-channel attention layers, their outputs alone fused to 1024, max and
# mean pooling.
SEGMENTATION_ENCODER = dict(
    embedding_channels=128,
    sample_sizes=(),
    stage_channels=(),
    channels=128,
    pooling="max+mean",
    pre_attention_layers=0,
    fuse_embedding=False,
)


class PerPointHead(nn.Module):
    """PCT's per-point MLP over ``concat(point feature, per-cloud context)``.

    PCT's first head layer maps the concatenation per point. Its weight splits into a point part
    and a context part; the context part is the same for every point of a cloud, so it is applied
    once per cloud (:meth:`context_term`) and added to the point part before BatchNorm: the same
    function and parameter count, without the (B, N, C + G + E) concatenation.

    Args:
        point_channels: channels C of the per-point features.
        context_channels: channels of the per-cloud context (global feature [+ condition]).
        out_channels: outputs K per point.
        hidden_channels: widths of the hidden LBRs (at least one).
        dropout: dropout after the first hidden layer (as PCT).

    Shapes:
        features: (B, N, C); context_term: (B, 1, H_0); mask: (B, N) bool; returns (B, N, K)
    """

    def __init__(
        self,
        point_channels: int,
        context_channels: int,
        out_channels: int,
        hidden_channels: tuple[int, ...] = (512, 256),
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        if not hidden_channels:
            raise ValueError("PerPointHead: hidden_channels needs at least one width")
        self.context_projection = nn.Linear(context_channels, hidden_channels[0], bias=False)
        widths = (point_channels, *hidden_channels)
        self.hidden = nn.ModuleList(LBR(c_in, c_out) for c_in, c_out in zip(widths[:-1], widths[1:]))
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(widths[-1], out_channels)

    def context_term(self, context: Tensor) -> Tensor:
        """Shapes: context (B, G [+ E]); returns (B, 1, H_0)."""
        return self.context_projection(context).unsqueeze(1)  # (B, H_0) -> (B, 1, H_0)

    @property
    def hidden_width(self) -> int:
        """H_0, the first hidden layer's width."""
        return self.context_projection.out_features

    def project(self, features: Tensor) -> Tensor:
        """The point part of the first layer's linear map. Shapes: features (B, N, C); returns (B, N, H_0)."""
        return self.hidden[0].linear(features)

    def finish(self, projected: Tensor, context_term: Tensor, mask: Tensor | None = None) -> Tensor:
        """The rest of the head after :meth:`project`.

        Shapes: projected (B, N, H_0); context_term (B, 1, H_0); mask (B, N); returns (B, N, K)
        """
        x = self.dropout(self.hidden[0].normalize(projected + context_term, mask))  # (B, N, H_0)
        for lbr in self.hidden[1:]:
            x = lbr(x, mask=mask)
        return self.output(x)  # (B, N, K)

    def forward(self, features: Tensor, context_term: Tensor, mask: Tensor | None = None) -> Tensor:
        return self.finish(self.project(features), context_term, mask)


class _PerPointNetwork(nn.Module):
    """What the three per-point networks share: the encoder, the head, the dense and chunked paths.

    Subclasses build through :meth:`_build` and may override :meth:`_context` (what is appended to
    the global feature) and :meth:`_finish` (what is done to the head's output).
    """

    encoder: PointEncoder
    head: PerPointHead

    def _build(
        self,
        attention: AttentionKind | None,
        encoder: PointEncoder | None,
        in_channels: int,
        out_channels: int,
        condition_channels: int,
        hidden_channels: tuple[int, ...],
        dropout: float,
        activation_checkpointing: bool,
    ) -> None:
        owner = type(self).__name__
        check_count(owner, "in_channels", in_channels, minimum=0)
        hidden_channels = check_counts(owner, "hidden_channels", hidden_channels)
        check_fraction(owner, "dropout", dropout)
        if not hidden_channels:
            raise ValueError(f"{owner}: hidden_channels needs at least one width")
        if encoder is not None and in_channels not in (0, encoder.in_channels):
            raise ValueError(
                f"{owner}: in_channels={in_channels} conflicts with the given encoder's "
                f"in_channels={encoder.in_channels}; set it in one place"
            )
        self.activation_checkpointing = activation_checkpointing
        self.encoder = resolve_encoder(
            attention, encoder, PointEncoder, **SEGMENTATION_ENCODER, in_channels=in_channels,
            activation_checkpointing=activation_checkpointing,
        )  # fmt: skip
        if activation_checkpointing:
            self.encoder.activation_checkpointing = True
        if self.encoder.sample_sizes:
            raise ValueError(
                f"{owner} needs a full-resolution encoder (sample_sizes=()), got "
                f"sample_sizes={self.encoder.sample_sizes}"
            )
        self.out_channels = out_channels
        self.head = PerPointHead(
            self.encoder.out_channels, self.encoder.global_channels + condition_channels, out_channels,
            hidden_channels, dropout,
        )  # fmt: skip

    @property
    def in_channels(self) -> int:
        """Extra per-point input channels the network takes besides the coordinates."""
        return self.encoder.in_channels

    def _context(self, global_feature: Tensor, condition: Any) -> Tensor:
        """The per-cloud context the head sees. Shapes: global_feature (B, G); returns (B, G [+ E])."""
        return global_feature

    def _finish(self, outputs: Tensor) -> Tensor:
        """Shapes: outputs (B, N, K); returns (B, N, K)."""
        return outputs

    def _per_point(
        self,
        points: Tensor,
        features: Tensor | None,
        condition: Any,
        return_encoding: bool,
        return_attention: bool,
        chunk_size: int | None,
        buffer_bytes: int | None = None,
    ) -> Tensor | tuple[Tensor, EncoderOutput]:
        if chunk_size is not None:
            if return_encoding or return_attention:
                raise ValueError(
                    f"{type(self).__name__}: return_encoding/return_attention are not available with chunk_size "
                    "(the point of chunks is never to hold the (B, N, C) features)"
                )
            return self._forward_in_chunks(points, features, condition, chunk_size, buffer_bytes)
        encoding = self.encoder(points, features, return_attention=return_attention)
        context_term = self.head.context_term(self._context(encoding.global_feature, condition))  # (B, 1, H_0)
        if self.activation_checkpointing:
            outputs = checkpoint(
                self.head, lambda x, term: self.head(x, term, encoding.mask), encoding.features, context_term
            )
        else:
            outputs = self.head(encoding.features, context_term, encoding.mask)  # (B, N, K)
        outputs = self._finish(outputs)
        return (outputs, encoding) if return_encoding or return_attention else outputs

    def _forward_in_chunks(
        self, points: Tensor, features: Tensor | None, condition: Any, chunk_size: int, buffer_bytes: int | None
    ) -> Tensor:
        """The encoder's chunked passes (:class:`~pointea.models.chunked.ChunkedPasses`), pooling
        every chunk's fused features and keeping the head's first linear map of the kept chunks,
        then the rest of the head once the pooled context is known (a streamed chunk's fused
        features recomputed for it). Kept chunks run every block once per point."""
        owner = type(self).__name__
        if self.training:
            raise ValueError(f"{owner}: chunked evaluation needs eval mode: call .eval() first")
        positions, features, mask = self.encoder.chunked_input(
            points, features, chunk_size, owner=owner, buffer_bytes=buffer_bytes
        )
        width = self.head.hidden_width  # H_0
        passes = ChunkedPasses(self.encoder, positions, features, mask, chunk_size, buffer_bytes, scratch_width=width)
        pool = GlobalPool(self.encoder.pooling)
        projected = passes.scratch(width)  # (B, N_kept, H_0), in the passes' buffer
        for part, fused, chunk_mask in passes:
            pool.update(fused, chunk_mask)
            if passes.is_kept(part):
                projected[:, part] = self.head.project(fused)  # this chunk's rows of the buffer are free now
        context_term = self.head.context_term(self._context(pool.result(), condition))  # (B, 1, H_0)
        outputs = positions.new_zeros(*positions.shape[:2], self.out_channels)  # (B, N, K)
        for part, chunk_mask in passes.chunks():
            if passes.is_kept(part):
                chunk = projected[:, part]  # (B, n, H_0)
            else:
                chunk = self.head.project(passes.fused(part, chunk_mask))
            outputs[:, part] = self._finish(self.head.finish(chunk, context_term, chunk_mask))
        return outputs


class _UnconditionedNetwork(_PerPointNetwork):
    """A per-point network without a per-cloud condition (the semantic segmenter, the normal
    estimator): ``(points, features)`` in, (B, N, K) out."""

    def forward(
        self,
        points: Tensor,
        features: Tensor | None = None,
        chunk_size: int | None = None,
        return_encoding: bool = False,
        return_attention: bool = False,
        buffer_bytes: int | None = None,
    ) -> Tensor | tuple[Tensor, EncoderOutput]:
        return self._per_point(points, features, None, return_encoding, return_attention, chunk_size, buffer_bytes)


class PCTPartSegmenter(FromCheckpoint, _PerPointNetwork):
    """Per-point part logits: every point's fused feature, the cloud's max and mean features and
    an embedding of the object category, through PCT's per-point MLP.

    The default encoder is PCT's segmentation encoder: every point kept (``sample_sizes=()``),
    128-channel attention layers straight after the input embedding, only their outputs fused,
    max+mean pooling.

    Args:
        num_parts: part labels over all categories (ShapeNetPart: 50).
        num_categories: object categories (ShapeNetPart: 16).
        attention: ``"external"`` or ``"offset"``, for the default encoder; ``None`` means external.
        encoder: a configured :class:`PointEncoder` to use instead of the default one.
        category_channels: channels E of the category embedding.
        hidden_channels: widths of the per-point MLP's hidden layers.
        dropout: dropout after the first hidden layer (as PCT).
        activation_checkpointing: recompute activations in backward instead of keeping them
            (``torch.utils.checkpoint``, BatchNorm running statistics updated once): the encoder's
            blocks (turned on in a given encoder too) and the per-point head. Less memory for
            about one more forward pass of time; changes no weight or result.
        in_channels: extra per-point input channels of the default encoder (0: coordinates only).

    Shapes:
        points: (B, N, 3); category: (B,) long in [0, num_categories); features: (B, N, C_in)
        returns logits (B, N, K), or with ``return_encoding=True`` (logits, :class:`EncoderOutput`).

    With ``chunk_size`` (eval mode, no gradients, external attention), :meth:`forward` evaluates
    the network exactly in chunks of that many points (:mod:`pointea.models.chunked`): the same
    logits, holding one chunk's activations and up to ``buffer_bytes`` (``None``: 2 GiB) of kept
    attention outputs (512 floats, 2 KiB, per point for the default encoder) besides the input and
    the (B, N, K) logits; the points beyond the budget are recomputed in every pass instead.
    """

    #: State-dict keys of checkpoints written before the head became :class:`PerPointHead`.
    LEGACY_STATE_KEYS = {"hidden.": "head.hidden.", "classify.": "head.output.", "context_projection.": "head.context_projection."}

    def __init__(
        self,
        num_parts: int = 50,
        num_categories: int = 16,
        attention: AttentionKind | None = None,
        encoder: PointEncoder | None = None,
        category_channels: int = 64,
        hidden_channels: tuple[int, ...] = (512, 256),
        dropout: float = 0.5,
        activation_checkpointing: bool = False,
        in_channels: int = 0,
    ) -> None:
        super().__init__()
        owner = "PCTPartSegmenter"
        check_count(owner, "num_parts", num_parts, minimum=2)
        check_count(owner, "num_categories", num_categories)
        check_count(owner, "category_channels", category_channels)
        self.num_parts = num_parts
        self.num_categories = num_categories
        self._build(
            attention, encoder, in_channels, num_parts, category_channels, hidden_channels, dropout,
            activation_checkpointing,
        )  # fmt: skip
        self.category_embedding = LBR(num_categories, category_channels, activation="leaky_relu")
        self.register_load_state_dict_pre_hook(_rename_legacy_keys)

    def forward(
        self,
        points: Tensor,
        category: Tensor,
        return_encoding: bool = False,
        return_attention: bool = False,
        chunk_size: int | None = None,
        features: Tensor | None = None,
        buffer_bytes: int | None = None,
    ) -> Tensor | tuple[Tensor, EncoderOutput]:
        if not is_tracing():  # the checks read tensor values, which an exported graph does not have
            if category.dim() != 1 or category.shape[0] != points.shape[0] or category.is_floating_point():
                raise ValueError(
                    f"PCTPartSegmenter: category must be a (B,) integer tensor for B={points.shape[0]} "
                    f"clouds, got {tuple(category.shape)} {category.dtype}"
                )
            if category.numel() and not (0 <= int(category.min()) and int(category.max()) < self.num_categories):
                raise ValueError(
                    f"PCTPartSegmenter: category ids must lie in [0, {self.num_categories}), got "
                    f"[{int(category.min())}, {int(category.max())}]"
                )
        return self._per_point(points, features, category, return_encoding, return_attention, chunk_size, buffer_bytes)

    def _context(self, global_feature: Tensor, category: Tensor) -> Tensor:
        """Shapes: global_feature (B, G); category (B,); returns (B, G + E)."""
        # In the global feature's dtype (the encoder's compute dtype), not the input points': those
        # are cast by the encoder (issue 16: float64/bfloat16/float16 points crashed here).
        one_hot = F.one_hot(category, self.num_categories).to(global_feature.dtype)  # (B,) -> (B, num_categories)
        return torch.cat([global_feature, self.category_embedding(one_hot)], dim=-1)  # (B, G + E)


def _rename_legacy_keys(module: nn.Module, state_dict: dict[str, Tensor], prefix: str, *_: Any) -> None:
    """``load_state_dict`` pre-hook: a checkpoint's pre-:class:`PerPointHead` keys renamed in place."""
    rename_legacy_keys(state_dict, prefix, PCTPartSegmenter.LEGACY_STATE_KEYS)


class PCTSemanticSegmenter(FromCheckpoint, _UnconditionedNetwork):
    """Per-point class logits of a scene or a tile: PCT's segmentation network without the
    category embedding (the head sees each point's fused feature and the cloud's max and mean
    features).

    Args:
        num_classes: semantic classes K.
        in_channels: extra per-point input channels (colour, intensity, ...) concatenated with
            xyz at the input embedding; 0: coordinates only.
        attention: ``"external"`` or ``"offset"``, for the default encoder; ``None`` means external.
        encoder: a configured full-resolution :class:`PointEncoder` instead of the default one.
        hidden_channels, dropout, activation_checkpointing: as :class:`PCTPartSegmenter`'s.

    Shapes:
        points: (B, N, 3); features: (B, N, C_in) or ``None``; returns logits (B, N, K), or with
        ``return_encoding=True`` (logits, :class:`EncoderOutput`).

    With ``chunk_size`` (eval mode, no gradients, external attention) a scene of any size is
    evaluated exactly in chunks of that many points (:mod:`pointea.models.chunked`).
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int = 0,
        attention: AttentionKind | None = None,
        encoder: PointEncoder | None = None,
        hidden_channels: tuple[int, ...] = (512, 256),
        dropout: float = 0.5,
        activation_checkpointing: bool = False,
    ) -> None:
        super().__init__()
        check_count("PCTSemanticSegmenter", "num_classes", num_classes, minimum=2)
        self.num_classes = num_classes
        self._build(attention, encoder, in_channels, num_classes, 0, hidden_channels, dropout, activation_checkpointing)


class PCTNormalEstimator(FromCheckpoint, _UnconditionedNetwork):
    """Per-point unit normals: PCT's normal estimation network, the segmentation network without
    the category embedding and with 3 outputs, normalised to unit length.

    The sign of a normal is not determined by the points alone; the output is a unit vector whose
    orientation the training loss decides (e.g. ``1 - |cos|`` for unoriented normals).

    Args:
        in_channels: extra per-point input channels concatenated with xyz; 0: coordinates only.
        attention, encoder, hidden_channels, dropout, activation_checkpointing: as
            :class:`PCTSemanticSegmenter`'s.

    Shapes:
        points: (B, N, 3); features: (B, N, C_in) or ``None``; returns (B, N, 3) unit vectors, or
        with ``return_encoding=True`` (normals, :class:`EncoderOutput`).
    """

    def __init__(
        self,
        in_channels: int = 0,
        attention: AttentionKind | None = None,
        encoder: PointEncoder | None = None,
        hidden_channels: tuple[int, ...] = (512, 256),
        dropout: float = 0.5,
        activation_checkpointing: bool = False,
    ) -> None:
        super().__init__()
        self._build(attention, encoder, in_channels, 3, 0, hidden_channels, dropout, activation_checkpointing)

    def _finish(self, outputs: Tensor) -> Tensor:
        """Shapes: outputs (B, N, 3); returns (B, N, 3) of unit length (zero stays zero)."""
        return F.normalize(outputs, dim=-1)


# Checkpoints written before the per-point networks shared this module name the old one.
register_record_alias("pointea.models.segmenter.PCTPartSegmenter", PCTPartSegmenter)
