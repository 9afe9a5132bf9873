"""Per-head attention on points: an interactive open3d window, or a headless picture.

Usage (from the repository root)::

    python -m visualize.attention --config CONFIG [--ckpt CKPT] --split test --index I [--save out.png]
    python -m visualize.attention --config CONFIG [--ckpt CKPT] --file scan.ply [--save out.png]

Without ``--save`` a window opens (it needs a display); the key map is printed and shown in the
window. With ``--save`` the picture has one tile per head (columns) and layer (rows) for sample
``I``, plus the input coloured by its truth and by the prediction. Without ``--ckpt`` the model is
randomly initialised (``--seed``), and the title says so. ``--file`` shows the model on one point or
mesh file of your own instead of a data set sample (classification configs; the file's class is
unknown, so the first column shows the prediction).

External attention colours each point by its weight on one memory slot (``--colour-by weight
--slot K``, viridis) or by the slot it attends to most (``--colour-by argmax``, the default for
pictures: all slots at once; the window starts with ``weight``, and M toggles). Offset (self) attention colours every point by the attention row
of a query point (``--query Q``, marked in red). Attention lives on the encoder's sampled points;
``--full-cloud`` propagates it to every input point by nearest neighbour.

The module reads top to bottom: the record of one sample (:class:`AttentionRecord`, made by
:func:`record_attention`), the viewer's state and how keys change it (:class:`ViewState`,
:func:`step`), what one tile shows (:func:`attention_cloud`), the headless picture
(:func:`attention_picture`), the interactive viewer (:class:`AttentionViewer`) and the command.
Everything but the command's rendering and window is pure NumPy on a record (no open3d, no model
run), so it is tested without a display.

Shape legend: N input points, M attention points (the encoder's sampled points; M = N without
sampling), L layers, H heads, S memory slots, K classes.
"""

from __future__ import annotations

import argparse
import sys
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from pointea.data import ShapeNetPart
from pointea.errors import InputError
from pointea.layers.offset_attention import ATTENTION_KINDS
from pointea.layers.propagate import nearest_indices
from pointea.models import PCTClassifier, PCTPartSegmenter
from pointea.training import CategoryParts
from visualize.arguments import check_index, int_option, model_viewer_parser, run_command
from visualize.cloud import Camera, Cloud, fixed_camera
from visualize.colors import categorical_palette, label_colors, scalar_colors
from visualize.loading import category_parts, load_data, load_file, load_model, local_parts
from visualize.picture import GridLayout, Tile, point_size_for, render_picture, save_image
from visualize.window import Frame, cycle, run_window

__all__ = [
    "AttentionRecord",
    "AttentionViewer",
    "ColourBy",
    "KEY_BINDINGS",
    "KeyBinding",
    "Limits",
    "ViewState",
    "attention_camera",
    "attention_cloud",
    "attention_layout",
    "attention_picture",
    "attention_tiles",
    "attention_values",
    "clamp",
    "colour_legend",
    "describe",
    "key_legend",
    "limits_of",
    "main",
    "record_attention",
    "restricted_part_prediction",
    "step",
    "strongest_slot",
    "tile_title",
]


# --- The record of one sample -----------------------------------------------------------------


def _nearest(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """For every target point, the index of its nearest source point: pointea's one propagation
    search (:func:`pointea.layers.propagate.nearest_indices`) on NumPy points.

    Shapes:
        source: (M, 3); target: (N, 3); returns (N,) int64 in [0, M)
    """
    source_t = torch.as_tensor(np.asarray(source, dtype=np.float64))  # (M, 3)
    target_t = torch.as_tensor(np.asarray(target, dtype=np.float64))  # (N, 3)
    return nearest_indices(source_t, target_t).numpy()


def _check_kind(owner: str, kind: str) -> None:
    if kind not in ATTENTION_KINDS:  # the stored names: ("external", "offset")
        raise ValueError(f"{owner}: kind must be one of {ATTENTION_KINDS}, got {kind!r}")


@dataclass(frozen=True)
class AttentionRecord:
    """Everything drawn for one sample.

    Args:
        points: the input cloud as the model saw it.
        positions: the attention points (where the encoder's attention lives).
        attention: one map per layer: (H, M, S) for external, (H, M, M) for offset attention
            (rows are query points).
        kind: ``"external"`` or ``"offset"``.
        truth: the label of every input point: the class label repeated (classification), or the
            part as an index into the parts of the sample's category (segmentation, see
            :func:`visualize.loading.local_parts`).
        prediction: the model's label for every input point, like ``truth``.
        num_labels: how many labels there are to colour (palette size): classes, or the parts of
            the sample's category.
        caption: one line naming the sample, its truth and the prediction.
        truth_title, prediction_title: short titles of the truth and prediction tiles.

    Shapes:
        points: (N, 3); positions: (M, 3); attention: L x (H, M, S) or (H, M, M);
        truth, prediction: (N,) int64
    """

    points: np.ndarray
    positions: np.ndarray
    attention: tuple[np.ndarray, ...]
    kind: str
    truth: np.ndarray
    prediction: np.ndarray
    num_labels: int
    caption: str
    truth_title: str
    prediction_title: str

    def __post_init__(self) -> None:
        _check_kind("AttentionRecord", self.kind)
        if not self.attention:
            raise ValueError("AttentionRecord: no attention maps")
        num_points, num_attention = self.points.shape[0], self.positions.shape[0]
        for layer, a in enumerate(self.attention):
            if a.ndim != 3 or a.shape[1] != num_attention or (self.kind == "offset" and a.shape[2] != num_attention):
                raise ValueError(
                    f"AttentionRecord: layer {layer} attention has shape {a.shape}, expected "
                    f"(H, {num_attention}, {'S' if self.kind == 'external' else num_attention})"
                )
        for name in ("truth", "prediction"):
            if getattr(self, name).shape != (num_points,):
                raise ValueError(f"AttentionRecord: {name} must be ({num_points},), got {getattr(self, name).shape}")

    @property
    def num_layers(self) -> int:
        return len(self.attention)

    @property
    def num_heads(self) -> int:
        return self.attention[0].shape[0]

    @property
    def num_slots(self) -> int:
        """Memory slots S (external attention); 0 for offset attention."""
        return self.attention[0].shape[2] if self.kind == "external" else 0

    @property
    def num_attention_points(self) -> int:
        return self.positions.shape[0]

    @cached_property
    def nearest(self) -> np.ndarray:
        """For every input point, its nearest attention point: (N,) int64 in [0, M)."""
        return _nearest(self.positions, self.points)

    @cached_property
    def input_index(self) -> np.ndarray:
        """For every attention point, its nearest input point: (M,) int64 in [0, N) (the point
        itself when sampling picked input points)."""
        return _nearest(self.points, self.positions)


# --- Running the model on one sample ----------------------------------------------------------


def restricted_part_prediction(logits: torch.Tensor, category: int) -> np.ndarray:
    """Per-point part prediction restricted to the parts of ``category`` (the ShapeNetPart
    convention: argmax over that category's part logits only), as ``PartSegmentation`` predicts
    and scores (:meth:`~pointea.training.CategoryParts.restricted_argmax`).

    Shapes:
        logits: (N, 50); returns (N,) int64 global part ids
    """
    restrict = CategoryParts(ShapeNetPart.PARTS_PER_CATEGORY, num_parts=ShapeNetPart.NUM_PARTS).to(logits.device)
    category_t = torch.tensor([category], device=logits.device)  # (1,)
    return restrict.restricted_argmax(logits.unsqueeze(0), category_t)[0].cpu().numpy()  # (1, N, 50) -> (N,)


@torch.no_grad()
def record_attention(
    model: nn.Module, item: Mapping[str, Any], class_names: Sequence[str], split: str = "test"
) -> AttentionRecord:
    """Evaluate ``model`` (eval mode, on its device) on one dataset item and collect its
    attention maps, input, truth and prediction.

    Args:
        model: a :class:`PCTClassifier` or :class:`PCTPartSegmenter`.
        item: a dataset item: ``{"points": (N, 3), "label", "index"}`` for classification,
            ``{"points": (N, 3), "category", "parts": (N,), "index"}`` for segmentation.
        class_names: classification class names (ignored for segmentation, which names
            ShapeNetPart's categories).
        split: split name for the caption.
    """
    model.eval()
    device = next(model.parameters()).device
    points = torch.as_tensor(item["points"], dtype=torch.float32, device=device).unsqueeze(0)  # (1, N, 3)
    num_points = points.shape[1]
    where = f"{split} #{int(item['index'])}" if int(item["index"]) >= 0 else split  # -1: a file
    if isinstance(model, PCTPartSegmenter):
        category = int(item["category"])
        logits, encoding = model(points, torch.tensor([category], device=device), return_attention=True)
        truth = local_parts(item["parts"], category)
        prediction = local_parts(restricted_part_prediction(logits[0], category), category)
        accuracy = float((prediction == truth).mean())
        caption = f"{where}: {ShapeNetPart.CATEGORIES[category]}, predicted parts {accuracy:.0%} right"
        num_labels = len(category_parts(category))
        truth_title, prediction_title = "truth parts", "predicted parts"
    elif isinstance(model, PCTClassifier):
        label = int(item["label"])  # -1: unknown (a file of the user's)
        logits, encoding = model(points, return_attention=True)
        probabilities = logits[0].softmax(dim=-1)  # (K,)
        predicted = int(probabilities.argmax())
        prediction = np.full(num_points, predicted, dtype=np.int64)
        truth = np.full(num_points, label, dtype=np.int64) if label >= 0 else prediction
        known = f"{class_names[label]}, " if label >= 0 else ""
        caption = f"{where}: {known}predicted {class_names[predicted]} ({float(probabilities[predicted]):.0%})"
        num_labels = model.num_classes
        truth_title = f"truth: {class_names[label]}" if label >= 0 else "class unknown"
        prediction_title = f"predicted: {class_names[predicted]}"
    else:
        raise TypeError(f"record_attention: expected a PCTClassifier or PCTPartSegmenter, got {type(model).__name__}")
    return AttentionRecord(
        points=points[0].cpu().numpy().astype(np.float64),
        positions=encoding.positions[0].cpu().numpy().astype(np.float64),
        attention=tuple(a[0].float().cpu().numpy() for a in encoding.attention),  # L x (H, M, S | M)
        kind=model.encoder.attention,
        truth=truth,
        prediction=prediction,
        num_labels=num_labels,
        caption=caption,
        truth_title=truth_title,
        prediction_title=prediction_title,
    )


# --- The viewer's state: what is shown, and how keys change it --------------------------------
# A state selects a sample, a layer, a head and, within that head, either a memory slot (external
# attention: colour by the weight on that slot, or by the slot each point attends to most) or a
# query point (offset attention: colour by that query's attention row). Every index wraps around.


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
        _check_kind("Limits", self.kind)
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


# --- What one tile shows ----------------------------------------------------------------------


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


# --- The headless picture: heads (columns) x layers (rows), truth and prediction first --------


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


# --- The interactive viewer: the state machine over the records of a split --------------------


class AttentionViewer:
    """Step through samples, layers, heads and slots/query points of a split.

    Args:
        load: sample index -> its record (runs the model).
        samples: samples in the split.
        model_note: what the model is (checkpoint name, or "random init (seed 0)"), shown in the
            title.
        state: where to start.
        cache_size: records kept in memory.
    """

    def __init__(
        self,
        load: Callable[[int], AttentionRecord],
        samples: int,
        model_note: str,
        state: ViewState = ViewState(),
        cache_size: int = 8,
    ) -> None:
        if not 0 <= state.sample < samples:
            raise IndexError(f"sample {state.sample} out of range: the split has {samples} samples")
        self._load = load
        self._cache: OrderedDict[int, AttentionRecord] = OrderedDict()
        self._cache_size = cache_size
        self.samples = samples
        self.model_note = model_note
        self.state = clamp(state, limits_of(self.record(state.sample), samples))

    def record(self, sample: int) -> AttentionRecord:
        """The record of ``sample`` (cached)."""
        if sample in self._cache:
            self._cache.move_to_end(sample)
        else:
            self._cache[sample] = self._load(sample)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return self._cache[sample]

    @property
    def current(self) -> AttentionRecord:
        return self.record(self.state.sample)

    def legend(self) -> str:
        return "keys:\n" + key_legend() + "\n  Ctrl+click  pick a point: its query row (offset) / its strongest slot (external)"

    def press(self, key: str) -> bool:
        new = step(self.state, key, limits_of(self.current, self.samples))
        if new.sample != self.state.sample:
            new = clamp(new, limits_of(self.record(new.sample), self.samples))
        changed = new != self.state
        self.state = new
        return changed

    def pick(self, point: np.ndarray) -> bool:
        """Select the attention point nearest to ``point``: offset attention shows its row;
        external attention shows the weights on the slot it attends to most."""
        record = self.current
        nearest = int(_nearest(record.positions, np.asarray(point, dtype=np.float64).reshape(1, 3))[0])
        if record.kind == "offset":
            new = replace(self.state, query=nearest)
        else:
            slot = strongest_slot(record, self.state.layer, self.state.head, nearest)
            new = replace(self.state, slot=slot, colour_by="weight")
        changed = new != self.state
        self.state = new
        return changed

    def frame(self) -> Frame:
        record = self.current
        limits = limits_of(record, self.samples)
        title = f"pointea attention ({record.kind}) | {self.model_note} | {describe(self.state, limits)}"
        status = f"{self.model_note}\n{record.caption}\n{describe(self.state, limits).replace(' | ', chr(10))}"
        cloud = attention_cloud(record, self.state)
        return Frame(clouds=(cloud,), title=title, status=status, camera=attention_camera(record))


# --- The command ------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = model_viewer_parser(
        "python -m visualize.attention",
        "Show per-head attention of a pointea model on a sample: open3d window, or --save a PNG grid.",
    )
    parser.add_argument(
        "--colour-by", choices=("argmax", "weight"),
        help="external attention: the slot each point attends to most, or the weight on --slot "
        "(default: argmax in a --save picture, weight in the window; M toggles)",
    )  # fmt: skip
    parser.add_argument("--slot", type=int_option(1), default=1, help="memory slot for --colour-by weight, 1-based (default: 1)")
    parser.add_argument("--query", type=int_option(1), default=1, help="offset attention: query point, 1-based (default: 1)")
    parser.add_argument("--full-cloud", action="store_true", help="propagate attention to every input point")
    parser.add_argument("--file", help="a point or mesh file (.ply .off .xyz ...) to show instead of a data set sample")
    return parser


def _command(args: argparse.Namespace) -> int:
    if args.file:
        data = load_file(args.config, args.file, args.seed)
        args.index, args.split = 0, Path(args.file).name
    else:
        data = load_data(args.config, args.split, args.data_root)
    check_index(args.index, len(data.dataset), args.split, data.description)
    model = load_model(args.config, args.ckpt, data, seed=args.seed, device=args.device)

    def load(index: int) -> AttentionRecord:
        return record_attention(model.network, data.dataset[index], data.label_names, args.split)

    state = ViewState(
        sample=args.index,
        slot=args.slot - 1,
        query=args.query - 1,
        colour_by=args.colour_by or ("argmax" if args.save else "weight"),
        full_cloud=args.full_cloud,
    )
    record = load(args.index)
    if record.kind == "external" and not 1 <= args.slot <= record.num_slots:
        raise InputError(f"--slot {args.slot} is out of range: the model has {record.num_slots} memory slots")
    if record.kind == "offset" and not 1 <= args.query <= record.num_attention_points:
        raise InputError(f"--query {args.query} is out of range: attention has {record.num_attention_points} points")
    if args.save:
        image = attention_picture(record, state, model.note, args.tile_size)
        print(f"wrote {save_image(image, args.save)}: {model.note} | {record.caption}")
        return 0
    first = {args.index: record}  # computed above already
    run_window(AttentionViewer(lambda i: first.pop(i) if i in first else load(i), len(data.dataset), model.note, state))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m visualize.attention``."""
    return run_command(_parser(), _command, argv)


if __name__ == "__main__":
    sys.exit(main())
