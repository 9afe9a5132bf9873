"""PCT's shape classifier on top of :class:`PointEncoder`.

Shape legend: B clouds, N points, G global channels, K classes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import Tensor, nn

from pointea.layers.arguments import check_count, check_counts, check_fraction
from pointea.layers.lbr import LBR
from pointea.layers.offset_attention import AttentionKind
from pointea.models.checkpoint import FromCheckpoint
from pointea.models.encoder import EncoderOutput, PointEncoder
from pointea.models.resolve_encoder import resolve_encoder

if TYPE_CHECKING:
    from torch_geometric.data import Data

__all__ = ["PCTClassifier"]


class PCTClassifier(FromCheckpoint, nn.Module):
    """Point encoder, global pooling, and PCT's MLP head (G -> 512 -> 256 -> classes, BN,
    LeakyReLU 0.2, dropout).

    Args:
        num_classes: number of shape classes.
        attention: ``"external"`` or ``"offset"``, for the default encoder; ``None`` means external.
        encoder: a configured :class:`PointEncoder` to use instead of the default one (then
            ``attention`` may be left ``None``).
        hidden_channels: widths of the head's hidden layers.
        dropout: dropout after each hidden layer.

    Shapes:
        points: (B, N, 3) or a PyG Data/Batch; returns logits (B, K), or with
        ``return_encoding=True`` (logits, :class:`EncoderOutput`).
    """

    def __init__(
        self,
        num_classes: int = 40,
        attention: AttentionKind | None = None,
        encoder: PointEncoder | None = None,
        hidden_channels: tuple[int, ...] = (512, 256),
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        check_count("PCTClassifier", "num_classes", num_classes, minimum=2)
        hidden_channels = check_counts("PCTClassifier", "hidden_channels", hidden_channels)
        check_fraction("PCTClassifier", "dropout", dropout)
        self.num_classes = num_classes
        self.encoder = resolve_encoder(attention, encoder, PointEncoder)
        widths = (self.encoder.global_channels, *hidden_channels)
        hidden = []
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            hidden += [LBR(c_in, c_out, activation="leaky_relu"), nn.Dropout(dropout)]
        self.head = nn.Sequential(*hidden, nn.Linear(widths[-1], num_classes))

    def forward(
        self, points: Tensor | Data, return_encoding: bool = False, return_attention: bool = False
    ) -> Tensor | tuple[Tensor, EncoderOutput]:
        encoding = self.encoder(points, return_attention=return_attention)
        logits = self.head(encoding.global_feature)  # (B, G) -> (B, K)
        return (logits, encoding) if return_encoding or return_attention else logits
