"""PCT's part segmenter: full-resolution encoder, global features and a category embedding.

Shape legend: B clouds, N points, C channels, G global channels, E category embedding channels,
K parts.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pointea.layers.arguments import check_count, check_counts, check_fraction
from pointea.layers.checkpointing import checkpoint
from pointea.layers.lbr import LBR
from pointea.layers.offset_attention import AttentionKind
from pointea.layers.sampling import is_tracing
from pointea.models.checkpoint import FromCheckpoint
from pointea.models.chunked import RunningPool, fused_chunks, softmax_statistics
from pointea.models.encoder import EncoderOutput, PointEncoder
from pointea.models.resolve_encoder import resolve_encoder

__all__ = ["PCTPartSegmenter"]

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


class PCTPartSegmenter(FromCheckpoint, nn.Module):
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
            blocks (turned on in a given encoder too) and the per-point head. Less memory for about one more forward pass of time; changes no weight
            or result.

    Shapes:
        points: (B, N, 3); category: (B,) long in [0, num_categories)
        returns logits (B, N, K), or with ``return_encoding=True`` (logits, :class:`EncoderOutput`).

    With ``chunk_size`` (eval mode, no gradients, external attention), :meth:`forward` evaluates
    the network exactly in chunks of that many points (:mod:`pointea.models.chunked`): the same
    logits, in memory independent of N beyond the input and the (B, N, K) logits.
    """

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
    ) -> None:
        super().__init__()
        owner = "PCTPartSegmenter"
        check_count(owner, "num_parts", num_parts, minimum=2)
        check_count(owner, "num_categories", num_categories)
        check_count(owner, "category_channels", category_channels)
        hidden_channels = check_counts(owner, "hidden_channels", hidden_channels)
        check_fraction(owner, "dropout", dropout)
        self.num_parts = num_parts
        self.num_categories = num_categories
        self.activation_checkpointing = activation_checkpointing
        self.encoder = resolve_encoder(
            attention, encoder, PointEncoder, **SEGMENTATION_ENCODER, activation_checkpointing=activation_checkpointing
        )
        if activation_checkpointing:
            self.encoder.activation_checkpointing = True
        if self.encoder.sample_sizes:
            raise ValueError(
                "PCTPartSegmenter needs a full-resolution encoder (sample_sizes=()), got "
                f"sample_sizes={self.encoder.sample_sizes}"
            )
        if not hidden_channels:
            raise ValueError("PCTPartSegmenter: hidden_channels needs at least one width")
        self.category_embedding = LBR(num_categories, category_channels, activation="leaky_relu")
        # PCT's first head layer maps concat(point feature, global feature, category embedding)
        # per point. Its weight splits into a point part and a context part; the context part is
        # the same for every point of a cloud, so it is applied once per cloud (same function,
        # same parameter count, no (B, N, C + G + E) concatenation).
        context_channels = self.encoder.global_channels + category_channels
        self.context_projection = nn.Linear(context_channels, hidden_channels[0], bias=False)
        widths = (self.encoder.out_channels, *hidden_channels)
        self.hidden = nn.ModuleList(LBR(c_in, c_out) for c_in, c_out in zip(widths[:-1], widths[1:]))
        self.dropout = nn.Dropout(dropout)
        self.classify = nn.Linear(widths[-1], num_parts)

    def forward(
        self,
        points: Tensor,
        category: Tensor,
        return_encoding: bool = False,
        return_attention: bool = False,
        chunk_size: int | None = None,
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
        if chunk_size is not None:
            if return_encoding or return_attention:
                raise ValueError(
                    "PCTPartSegmenter: return_encoding/return_attention are not available with chunk_size "
                    "(the point that chunks never hold the (B, N, C) features)"
                )
            return self._forward_in_chunks(points, category, chunk_size)
        encoding = self.encoder(points, return_attention=return_attention)
        context_term = self._context_term(encoding.global_feature, category, points.dtype)
        if self.activation_checkpointing:
            logits = checkpoint(
                (self.hidden, self.classify),
                lambda features, term: self._head(features, encoding.mask, term),
                encoding.features,
                context_term,
            )
        else:
            logits = self._head(encoding.features, encoding.mask, context_term)  # (B, N, K)
        return (logits, encoding) if return_encoding or return_attention else logits

    def _context_term(self, global_feature: Tensor, category: Tensor, dtype: torch.dtype) -> Tensor:
        """Shapes: global_feature (B, G); category (B,); returns (B, 1, H_0)."""
        one_hot = F.one_hot(category, self.num_categories).to(dtype)  # (B,) -> (B, num_categories)
        context = torch.cat([global_feature, self.category_embedding(one_hot)], dim=-1)  # (B, G + E)
        return self.context_projection(context).unsqueeze(1)  # (B, H_0) -> (B, 1, H_0)

    def _head(self, features: Tensor, mask: Tensor | None, context_term: Tensor) -> Tensor:
        """Shapes: features (B, N, C); mask (B, N); context_term (B, 1, H_0); returns (B, N, K)."""
        x = self.dropout(self.hidden[0](features, mask=mask, shift=context_term))  # (B, N, H_0)
        for lbr in self.hidden[1:]:
            x = lbr(x, mask=mask)
        return self.classify(x)  # (B, N, K)

    def _forward_in_chunks(self, points: Tensor, category: Tensor, chunk_size: int) -> Tensor:
        """Three kinds of pass over the chunks: the attention statistics (one per layer), the
        pooled global feature, then the per-point head; see :mod:`pointea.models.chunked`."""
        if self.training:
            raise ValueError("PCTPartSegmenter: chunked evaluation needs eval mode: call .eval() first")
        positions, mask, sizes = self.encoder.chunked_input(points, chunk_size, owner="PCTPartSegmenter")
        statistics = softmax_statistics(self.encoder, positions, mask, chunk_size)
        pool = RunningPool(self.encoder.pooling, sizes)
        for _part, features, chunk_mask in fused_chunks(self.encoder, positions, mask, statistics, chunk_size):
            pool.update(features, chunk_mask)
        context_term = self._context_term(pool.result(), category, points.dtype)  # (B, 1, H_0)
        logits = positions.new_zeros(*positions.shape[:2], self.num_parts)  # (B, N, K)
        for part, features, chunk_mask in fused_chunks(self.encoder, positions, mask, statistics, chunk_size):
            logits[:, part] = self._head(features, chunk_mask, context_term)
        return logits
