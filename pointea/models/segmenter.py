"""PCT's part segmenter: full-resolution encoder, global features and a category embedding.

Shape legend: B clouds, N points, C channels, G global channels, E category embedding channels,
K parts.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pointea.layers.lbr import LBR
from pointea.layers.offset_attention import AttentionKind
from pointea.layers.sampling import is_tracing
from pointea.models.checkpoint import FromCheckpoint
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

    Shapes:
        points: (B, N, 3); category: (B,) long in [0, num_categories)
        returns logits (B, N, K), or with ``return_encoding=True`` (logits, :class:`EncoderOutput`).
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
    ) -> None:
        super().__init__()
        self.num_parts = num_parts
        self.num_categories = num_categories
        self.encoder = resolve_encoder(attention, encoder, PointEncoder, **SEGMENTATION_ENCODER)
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
        self, points: Tensor, category: Tensor, return_encoding: bool = False, return_attention: bool = False
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
        encoding = self.encoder(points, return_attention=return_attention)
        one_hot = F.one_hot(category, self.num_categories).to(points.dtype)  # (B,) -> (B, num_categories)
        context = torch.cat([encoding.global_feature, self.category_embedding(one_hot)], dim=-1)  # (B, G + E)
        context_term = self.context_projection(context).unsqueeze(1)  # (B, H_0) -> (B, 1, H_0)
        x = self.dropout(self.hidden[0](encoding.features, mask=encoding.mask, shift=context_term))  # (B, N, H_0)
        for lbr in self.hidden[1:]:
            x = lbr(x, mask=encoding.mask)
        logits = self.classify(x)  # (B, N, K)
        return (logits, encoding) if return_encoding or return_attention else logits
