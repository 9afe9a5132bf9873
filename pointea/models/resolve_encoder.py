"""How a model gets its encoder: a configured one, or a default one of the chosen attention kind."""

from __future__ import annotations

from typing import Any, Callable

from pointea.layers.offset_attention import check_attention_kind
from pointea.models.encoder import PointEncoder

__all__ = ["resolve_encoder"]


def resolve_encoder(
    attention: str | None, encoder: PointEncoder | None, default: Callable[..., PointEncoder], **defaults: Any
) -> PointEncoder:
    """Return ``encoder`` if given (its attention must agree with ``attention`` when both are set),
    else ``default(attention=attention or "external", **defaults)``."""
    if attention is not None:
        attention = check_attention_kind(attention)
    if encoder is None:
        return default(attention=attention or "external", **defaults)
    if attention is not None and attention != encoder.attention:
        raise ValueError(
            f"attention={attention!r} conflicts with the given encoder's attention={encoder.attention!r}; "
            "set it in one place"
        )
    return encoder
