"""PCT's offset-attention layer, with the attention inside chosen by a switch.

    F_out = F_in + LBR(F_in - Attn(F_in))

``attention="external"`` (default) uses :class:`ExternalAttention`, linear in the number of
points; ``attention="offset"`` uses PCT's own :class:`SelfAttention`, quadratic. Everything else
is shared, so the two are compared on the same code.

Shape legend: B batch, N points, C channels, H heads, S memory slots.
"""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn

from pointea.layers.external_attention import ExternalAttention
from pointea.layers.lbr import LBR
from pointea.layers.self_attention import SelfAttention

__all__ = ["OffsetAttentionLayer", "AttentionKind", "ATTENTION_KINDS"]

AttentionKind = Literal["external", "offset"]
ATTENTION_KINDS: tuple[str, ...] = ("external", "offset")


def check_attention_kind(attention: str) -> None:
    """Raise a one-line error for an attention kind the switch does not know."""
    if attention not in ATTENTION_KINDS:
        raise ValueError(f"attention must be one of {ATTENTION_KINDS}, got {attention!r}")


class OffsetAttentionLayer(nn.Module):
    """One offset-attention layer: residual LBR of the offset between input and attention output.

    Args:
        channels: channels C, kept by the layer.
        attention: ``"external"`` or ``"offset"`` (PCT's self-attention).
        heads: attention heads; ``None`` takes each kind's reference value (4 for external, PCT's
            1 for offset).
        memory_slots: external attention's memory size S (ignored by ``"offset"``).
        expansion: external attention's widening before the heads (ignored by ``"offset"``).
        dropout: dropout on the attention map.

    Shapes:
        x: (B, N, C); mask: (B, N) bool, True for real points; logsumexp: (B, H, 1, S), external
        attention's softmax statistics of the whole cloud when ``x`` is a chunk of it
        returns: output (B, N, C) and, with ``return_attention``, the attention map:
        (B, H, N, S) for external, (B, H, N, N) for offset; else ``None``.
    """

    def __init__(
        self,
        channels: int,
        attention: AttentionKind = "external",
        heads: int | None = None,
        memory_slots: int = 64,
        expansion: int = 1,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        check_attention_kind(attention)
        self.kind = attention
        if attention == "external":
            self.attention: nn.Module = ExternalAttention(
                channels, heads=heads or 4, memory_slots=memory_slots, expansion=expansion, dropout=dropout
            )
        else:
            self.attention = SelfAttention(channels, heads=heads or 1, dropout=dropout)
        self.transform = LBR(channels, channels)

    def forward(
        self,
        x: Tensor,
        mask: Tensor | None = None,
        return_attention: bool = False,
        logsumexp: Tensor | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        if logsumexp is None:
            attended, attention = self.attention(x, mask=mask, return_attention=return_attention)
        elif self.kind == "external":
            attended, attention = self.attention(x, mask=mask, return_attention=return_attention, logsumexp=logsumexp)
        else:
            raise ValueError("OffsetAttentionLayer: logsumexp (chunked evaluation) needs attention='external'")
        out = x + self.transform(x - attended, mask=mask)
        return out, attention
