"""The attention viewer's state machine: what is shown, and how keys change it.

Pure: no open3d, no model. The window (:mod:`visualize.window`) only forwards key names here and
draws what :mod:`visualize.attention_view` makes of the state.

A state selects a sample, a layer, a head and, within that head, either a memory slot (external
attention: colour by the weight on that slot, or by the slot each point attends to most) or a
query point (offset attention: colour by that query's attention row). Every index wraps around.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

__all__ = [
    "ColourBy",
    "KeyBinding",
    "KEY_BINDINGS",
    "Limits",
    "ViewState",
    "clamp",
    "cycle",
    "describe",
    "key_legend",
    "step",
]

ColourBy = Literal["weight", "argmax"]


@dataclass(frozen=True)
class Limits:
    """How many of each thing there is to step through.

    Args:
        kind: ``"external"`` or ``"offset"``.
        samples: samples in the split.
        layers: attention layers.
        heads: heads per layer.
        slots: memory slots S (external attention; 0 for offset).
        points: attention points M (the sampled points; query points of offset attention).
    """

    kind: str
    samples: int
    layers: int
    heads: int
    slots: int
    points: int

    def __post_init__(self) -> None:
        if self.kind not in ("external", "offset"):
            raise ValueError(f"Limits: kind must be 'external' or 'offset', got {self.kind!r}")
        for name in ("samples", "layers", "heads", "points"):
            if getattr(self, name) < 1:
                raise ValueError(f"Limits: {name} must be >= 1, got {getattr(self, name)}")
        if self.kind == "external" and self.slots < 1:
            raise ValueError("Limits: external attention needs slots >= 1")


@dataclass(frozen=True)
class ViewState:
    """What the viewer shows.

    Args:
        sample: index in the split.
        layer, head: which attention map.
        slot: memory slot whose weights colour the points (external, ``colour_by="weight"``).
        query: query point whose attention row colours the points (offset).
        colour_by: external attention: ``"weight"`` on ``slot`` (viridis) or ``"argmax"``, the
            slot each point attends to most (categorical colours).
        full_cloud: show the attention propagated to every input point (nearest sampled point)
            instead of on the sampled points only.
    """

    sample: int = 0
    layer: int = 0
    head: int = 0
    slot: int = 0
    query: int = 0
    colour_by: ColourBy = "weight"
    full_cloud: bool = False


@dataclass(frozen=True)
class KeyBinding:
    """One key: its name (an open3d ``gui.KeyName`` member), and what it does."""

    key: str
    description: str


KEY_BINDINGS: tuple[KeyBinding, ...] = (
    KeyBinding("N", "next sample"),
    KeyBinding("P", "previous sample"),
    KeyBinding("UP", "next layer"),
    KeyBinding("DOWN", "previous layer"),
    KeyBinding("RIGHT", "next head"),
    KeyBinding("LEFT", "previous head"),
    KeyBinding("PERIOD", "next memory slot (external) / query point (offset)"),
    KeyBinding("COMMA", "previous memory slot (external) / query point (offset)"),
    KeyBinding("M", "external: colour by weight on the slot <-> by the slot attended most"),
    KeyBinding("F", "attention on the sampled points <-> propagated to the full cloud"),
)
_KEYS = {binding.key for binding in KEY_BINDINGS}


def cycle(value: int, delta: int, count: int) -> int:
    """``value + delta`` wrapped into [0, count)."""
    return (value + delta) % count


def clamp(state: ViewState, limits: Limits) -> ViewState:
    """Bring every index of ``state`` into range (after the limits changed, e.g. a new sample
    with fewer points)."""
    return replace(
        state,
        sample=min(state.sample, limits.samples - 1),
        layer=min(state.layer, limits.layers - 1),
        head=min(state.head, limits.heads - 1),
        slot=min(state.slot, max(limits.slots - 1, 0)),
        query=min(state.query, limits.points - 1),
        colour_by=state.colour_by if limits.kind == "external" else "weight",
    )


def step(state: ViewState, key: str, limits: Limits) -> ViewState:
    """The state after pressing ``key`` (a name from :data:`KEY_BINDINGS`); other keys, and keys
    that do not apply to this attention kind, leave it unchanged."""
    if key not in _KEYS:
        return state
    external = limits.kind == "external"
    if key in ("N", "P"):
        return replace(state, sample=cycle(state.sample, 1 if key == "N" else -1, limits.samples))
    if key in ("UP", "DOWN"):
        return replace(state, layer=cycle(state.layer, 1 if key == "UP" else -1, limits.layers))
    if key in ("RIGHT", "LEFT"):
        return replace(state, head=cycle(state.head, 1 if key == "RIGHT" else -1, limits.heads))
    if key in ("PERIOD", "COMMA"):
        delta = 1 if key == "PERIOD" else -1
        if external:
            if state.colour_by == "argmax":
                return state  # every slot is shown at once
            return replace(state, slot=cycle(state.slot, delta, limits.slots))
        return replace(state, query=cycle(state.query, delta, limits.points))
    if key == "M":
        if not external:
            return state
        return replace(state, colour_by="argmax" if state.colour_by == "weight" else "weight")
    # key == "F"
    return replace(state, full_cloud=not state.full_cloud)


def describe(state: ViewState, limits: Limits) -> str:
    """One line saying what is shown, with 1-based counters (for the window title and label)."""
    parts = [
        f"sample {state.sample + 1}/{limits.samples}",
        f"layer {state.layer + 1}/{limits.layers}",
        f"head {state.head + 1}/{limits.heads}",
    ]
    if limits.kind == "external":
        if state.colour_by == "weight":
            parts.append(f"weight on memory slot {state.slot + 1}/{limits.slots}")
        else:
            parts.append(f"memory slot attended most (of {limits.slots})")
    else:
        parts.append(f"attention of query point {state.query + 1}/{limits.points}")
    parts.append("full cloud" if state.full_cloud else f"{limits.points} sampled points")
    return " | ".join(parts)


def key_legend() -> str:
    """The key map, one key per line."""
    width = max(len(binding.key) for binding in KEY_BINDINGS)
    return "\n".join(f"  {binding.key:<{width}}  {binding.description}" for binding in KEY_BINDINGS)
