"""What one attention tile shows: the colours of the points for one layer, head and selection.

Pure numpy; used by the headless picture (one tile per layer and head) and the window (the tile
of the current :class:`~visualize.state.ViewState`).

Shape legend: N input points, M attention points, H heads, S memory slots.
"""

from __future__ import annotations

import numpy as np

from visualize.camera import Camera, fixed_camera
from visualize.cloud import Cloud
from visualize.colors import categorical_palette, scalar_colors
from visualize.record import AttentionRecord
from visualize.state import ColourBy, Limits, ViewState

__all__ = ["attention_camera", "attention_cloud", "attention_values", "limits_of", "tile_title", "strongest_slot"]


def attention_values(record: AttentionRecord, layer: int, head: int, colour_by: ColourBy, slot: int, query: int) -> np.ndarray:
    """The value shown on each attention point.

    External attention: the weight of every point on ``slot`` (``colour_by="weight"``), or the
    index of the slot each point attends to most (``"argmax"``). Offset attention: the row of
    ``query``: how much it attends to every point.

    Shapes:
        returns (M,): float weights, or int64 slot indices for ``"argmax"``
    """
    attention = record.attention[layer][head]  # (M, S) or (M, M)
    if record.kind == "external":
        if colour_by == "argmax":
            return attention.argmax(axis=1).astype(np.int64)  # (M, S) -> (M,)
        return attention[:, slot]  # (M, S) -> (M,)
    return attention[query]  # (M, M) -> (M,)


def strongest_slot(record: AttentionRecord, layer: int, head: int, point: int) -> int:
    """The memory slot that attention point ``point`` attends to most (external attention)."""
    if record.kind != "external":
        raise ValueError("strongest_slot: only external attention has memory slots")
    return int(record.attention[layer][head][point].argmax())


def attention_cloud(record: AttentionRecord, state: ViewState) -> Cloud:
    """The cloud of one tile: attention points (or, with ``state.full_cloud``, every input point,
    coloured like its nearest attention point), coloured by :func:`attention_values`.

    Weights are stretched to the full viridis range per tile (dark: lowest, yellow: highest);
    slot indices take the categorical palette. The offset-attention query point is marked.
    """
    values = attention_values(record, state.layer, state.head, state.colour_by, state.slot, state.query)
    if record.kind == "external" and state.colour_by == "argmax":
        colors = categorical_palette(record.num_slots)[values]  # (M,) -> (M, 3)
    else:
        colors = scalar_colors(values)  # (M,) -> (M, 3)
    marked_attention = np.array([state.query] if record.kind == "offset" else [], dtype=np.int64)
    if state.full_cloud:
        return Cloud(record.points, colors[record.nearest], record.input_index[marked_attention])
    return Cloud(record.positions, colors, marked_attention)


def attention_camera(record: AttentionRecord) -> Camera:
    """The camera of every view of ``record`` (every tile of its picture, and the window): it
    frames the input cloud, so views of the sampled points and of the full cloud line up."""
    return fixed_camera(record.points)


def tile_title(record: AttentionRecord, state: ViewState) -> str:
    """Short title of the tile of ``state`` (1-based counters)."""
    title = f"layer {state.layer + 1} · head {state.head + 1}"
    if record.kind == "external":
        if state.colour_by == "weight":
            return f"{title} · slot {state.slot + 1}"
        return f"{title} · top slot"
    return f"{title} · query {state.query + 1}"


def limits_of(record: AttentionRecord, samples: int) -> Limits:
    """The stepping limits for a record, in a split of ``samples`` samples."""
    return Limits(
        kind=record.kind,
        samples=samples,
        layers=record.num_layers,
        heads=record.num_heads,
        slots=record.num_slots,
        points=record.num_attention_points,
    )
