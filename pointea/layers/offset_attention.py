"""PCT's offset-attention layer, with the attention inside chosen by a switch.

    F_out = F_in + LBR(F_in - Attn(F_in))

``attention="external"`` (default) uses :class:`ExternalAttention`, linear in the number of
points; ``attention="offset"`` uses PCT's own :class:`SelfAttention`, quadratic. Everything else
is shared, so the two are compared on the same code. ``"self"`` is accepted for ``"offset"``
(both kinds are offset-attention layers; what differs is self- against external attention) and
stored as ``"offset"``, the name configs, checkpoints and reports already use.

Shape legend: B batch, N points, C channels, H heads, S memory slots.
"""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn

from pointea.layers.arguments import check_count, check_fraction, check_optional_count
from pointea.layers.external_attention import ExternalAttention
from pointea.layers.lbr import LBR
from pointea.layers.self_attention import SelfAttention

__all__ = ["OffsetAttentionLayer", "AttentionKind", "ATTENTION_KINDS", "ATTENTION_ALIASES", "check_attention_kind"]

AttentionKind = Literal["external", "offset", "self"]
#: The attention kinds, by the names the networks store.
ATTENTION_KINDS: tuple[str, ...] = ("external", "offset")
#: Other accepted names: alias -> stored name.
ATTENTION_ALIASES: dict[str, str] = {"self": "offset"}


def check_attention_kind(attention: str) -> str:
    """The stored name of ``attention`` (``"self"`` -> ``"offset"``); a one-line error for a kind
    the switch does not know."""
    attention = ATTENTION_ALIASES.get(attention, attention) if isinstance(attention, str) else attention
    if attention not in ATTENTION_KINDS:
        raise ValueError(f"attention must be one of {ATTENTION_KINDS} ('self' means 'offset'), got {attention!r}")
    return attention


class OffsetAttentionLayer(nn.Module):
    """One offset-attention layer: residual LBR of the offset between input and attention output.

    Args:
        channels: channels C, kept by the layer.
        attention: ``"external"`` or ``"offset"`` (PCT's self-attention; ``"self"`` is the same).
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
        attention = check_attention_kind(attention)
        owner = "OffsetAttentionLayer"
        check_count(owner, "channels", channels)
        check_optional_count(owner, "heads", heads)
        check_count(owner, "memory_slots", memory_slots)
        check_count(owner, "expansion", expansion)
        check_fraction(owner, "dropout", dropout)
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
