"""The headless attention picture of one sample: heads (columns) x layers (rows), plus the input
cloud coloured by its truth and by the prediction in a first column.

Every tile is seen by the same camera (framing the input cloud), so tiles compare directly.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from visualize.attention_view import attention_camera, attention_cloud, tile_title
from visualize.cloud import Cloud
from visualize.colors import label_colors
from visualize.grid import GridLayout
from visualize.picture import Tile, point_size_for, render_picture
from visualize.record import AttentionRecord
from visualize.state import ViewState

__all__ = ["attention_layout", "attention_picture", "attention_tiles", "colour_legend"]


def colour_legend(record: AttentionRecord, state: ViewState) -> str:
    """One line saying what the colours of the attention tiles mean."""
    where = (
        f"propagated to all {record.points.shape[0]} input points"
        if state.full_cloud
        else f"on the {record.num_attention_points} attention points"
    )
    if record.kind == "external" and state.colour_by == "argmax":
        return f"colour: the memory slot (of {record.num_slots}) each point attends to most, {where}"
    if record.kind == "external":
        return f"colour: weight on memory slot {state.slot + 1} (viridis per tile: dark low, yellow high), {where}"
    return f"colour: attention of the red query point {state.query + 1} to each point (viridis per tile), {where}"


def attention_layout(record: AttentionRecord, tile_size: int) -> GridLayout:
    """One row per layer, one column per head, plus the first column for the input."""
    return GridLayout(rows=record.num_layers, cols=record.num_heads + 1, tile_width=tile_size, tile_height=tile_size)


def attention_tiles(record: AttentionRecord, state: ViewState, tile_size: int) -> dict[tuple[int, int], Tile]:
    """The tiles of the picture: (layer, 1 + head) shows that map under ``state``'s selection;
    (0, 0) the input coloured by its truth, (1, 0) by the prediction (when there are 2+ layers)."""
    camera = attention_camera(record)
    full_size = point_size_for(record.points.shape[0], tile_size)
    attention_size = full_size if state.full_cloud else point_size_for(record.num_attention_points, tile_size)
    tiles: dict[tuple[int, int], Tile] = {}
    for layer in range(record.num_layers):
        for head in range(record.num_heads):
            selection = replace(state, layer=layer, head=head)
            tiles[layer, head + 1] = Tile(
                attention_cloud(record, selection), camera, tile_title(record, selection), attention_size
            )
    truth = Cloud(record.points, label_colors(record.truth, record.num_labels))
    prediction = Cloud(record.points, label_colors(record.prediction, record.num_labels))
    if record.num_layers >= 2:
        tiles[0, 0] = Tile(truth, camera, record.truth_title, full_size)
        tiles[1, 0] = Tile(prediction, camera, record.prediction_title, full_size)
    else:
        tiles[0, 0] = Tile(truth, camera, f"{record.truth_title}, {record.prediction_title}", full_size)
    return tiles


def attention_picture(record: AttentionRecord, state: ViewState, model_note: str, tile_size: int = 256) -> np.ndarray:
    """Render the picture (see the module docstring); ``model_note`` says which model it is.

    Shapes:
        returns (H, W, 3) uint8, (W, H) = ``attention_layout(record, tile_size).size``
    """
    header = f"{model_note} | {record.kind} attention | {record.caption}\n{colour_legend(record, state)}"
    return render_picture(attention_layout(record, tile_size), attention_tiles(record, state, tile_size), header)
