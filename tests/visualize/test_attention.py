"""The attention viewer: its state machine (keys -> what is shown), what one tile shows, the
viewer over a split, and the part prediction it draws."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from pointea.data import ShapeNetPart
from tests.visualize.records import make_record
from visualize.attention import (
    KEY_BINDINGS,
    AttentionViewer,
    Limits,
    ViewState,
    attention_cloud,
    attention_values,
    clamp,
    describe,
    key_legend,
    limits_of,
    restricted_part_prediction,
    step,
    strongest_slot,
    tile_title,
)
from visualize.colors import categorical_palette, scalar_colors

TABLE = ShapeNetPart.CATEGORIES.index("Table")

EXTERNAL = Limits(kind="external", samples=3, layers=4, heads=4, slots=8, points=16)
OFFSET = Limits(kind="offset", samples=3, layers=2, heads=1, slots=0, points=16)


def _press(state: ViewState, keys: str, limits: Limits) -> ViewState:
    for key in keys.split():
        state = step(state, key, limits)
    return state


@pytest.mark.parametrize(
    ("forward", "back", "field", "count"),
    [("N", "P", "sample", 3), ("UP", "DOWN", "layer", 4), ("RIGHT", "LEFT", "head", 4), ("PERIOD", "COMMA", "slot", 8)],
)
def test_each_pair_of_keys_steps_one_index_and_wraps(forward: str, back: str, field: str, count: int) -> None:
    state = ViewState()
    assert getattr(step(state, forward, EXTERNAL), field) == 1
    assert getattr(step(state, back, EXTERNAL), field) == count - 1  # wraps below 0
    assert getattr(_press(state, " ".join([forward] * count), EXTERNAL), field) == 0  # and past the end
    moved = step(state, forward, EXTERNAL)
    others = {f: getattr(moved, f) for f in ("sample", "layer", "head", "slot", "query") if f != field}
    assert others == {f: 0 for f in others}  # one key changes one thing


def test_offset_attention_steps_the_query_point_not_a_slot() -> None:
    state = _press(ViewState(), "PERIOD PERIOD COMMA", OFFSET)
    assert (state.query, state.slot) == (1, 0)
    assert step(ViewState(), "COMMA", OFFSET).query == 15


def test_mode_key_toggles_external_colouring_only() -> None:
    assert step(ViewState(), "M", EXTERNAL).colour_by == "argmax"
    assert _press(ViewState(), "M M", EXTERNAL).colour_by == "weight"
    assert step(ViewState(), "M", OFFSET) == ViewState()  # no slots to colour by


def test_slot_keys_do_nothing_while_every_slot_is_shown() -> None:
    argmax = step(ViewState(), "M", EXTERNAL)
    assert step(argmax, "PERIOD", EXTERNAL) == argmax


def test_full_cloud_toggle_and_unknown_keys() -> None:
    assert step(ViewState(), "F", EXTERNAL).full_cloud
    assert not _press(ViewState(), "F F", EXTERNAL).full_cloud
    assert step(ViewState(), "Z", EXTERNAL) == ViewState()
    assert step(ViewState(), "ESCAPE", OFFSET) == ViewState()


def test_clamp_brings_indices_into_new_limits() -> None:
    state = ViewState(sample=2, layer=3, head=3, slot=7, query=15, colour_by="argmax")
    clamped = clamp(state, replace(OFFSET, points=4))
    assert (clamped.layer, clamped.head, clamped.query, clamped.slot) == (1, 0, 3, 0)
    assert clamped.colour_by == "weight"  # offset attention has no argmax mode
    assert clamp(state, EXTERNAL) == state


def test_describe_names_everything_shown_one_based() -> None:
    text = describe(ViewState(sample=1, layer=2, head=3, slot=4), EXTERNAL)
    for part in ("sample 2/3", "layer 3/4", "head 4/4", "memory slot 5/8", "16 sampled points"):
        assert part in text
    assert "memory slot attended most" in describe(ViewState(colour_by="argmax"), EXTERNAL)
    offset = describe(ViewState(query=5, full_cloud=True), OFFSET)
    assert "query point 6/16" in offset and "full cloud" in offset


def test_key_legend_lists_every_binding() -> None:
    legend = key_legend()
    assert len(legend.splitlines()) == len(KEY_BINDINGS)
    for binding in KEY_BINDINGS:
        assert binding.key in legend and binding.description in legend


def test_limits_reject_nonsense() -> None:
    with pytest.raises(ValueError, match="kind"):
        Limits(kind="self", samples=1, layers=1, heads=1, slots=1, points=1)
    with pytest.raises(ValueError, match="slots"):
        Limits(kind="external", samples=1, layers=1, heads=1, slots=0, points=1)


def test_external_weight_tile_colours_the_sampled_points_by_the_slot_column() -> None:
    record = make_record("external")
    state = ViewState(layer=1, head=2, slot=3)
    cloud = attention_cloud(record, state)
    np.testing.assert_array_equal(cloud.points, record.positions)
    np.testing.assert_allclose(cloud.colors, scalar_colors(record.attention[1][2][:, 3]))
    assert cloud.marked.size == 0
    # The point with the largest weight gets the top (yellow) colour of viridis.
    top = int(record.attention[1][2][:, 3].argmax())
    np.testing.assert_allclose(cloud.colors[top], scalar_colors(np.array([0.0, 1.0]))[1])


def test_external_argmax_tile_colours_each_point_by_its_strongest_slot() -> None:
    record = make_record("external")
    cloud = attention_cloud(record, ViewState(head=1, colour_by="argmax"))
    slots = record.attention[0][1].argmax(axis=1)
    np.testing.assert_array_equal(cloud.colors, categorical_palette(record.num_slots)[slots])
    assert strongest_slot(record, 0, 1, 4) == slots[4]


def test_offset_tile_shows_the_query_row_and_marks_the_query() -> None:
    record = make_record("offset")
    state = ViewState(layer=1, query=6)
    values = attention_values(record, 1, 0, "weight", 0, 6)
    np.testing.assert_array_equal(values, record.attention[1][0][6])
    cloud = attention_cloud(record, state)
    np.testing.assert_array_equal(cloud.marked, [6])
    assert tile_title(record, state) == "layer 2 · head 1 · query 7"
    with pytest.raises(ValueError, match="memory slots"):
        strongest_slot(record, 0, 0, 0)


def test_full_cloud_propagates_colours_to_every_input_point() -> None:
    record = make_record("offset", points=60, sampled=12)
    sampled = attention_cloud(record, ViewState(query=2))
    full = attention_cloud(record, ViewState(query=2, full_cloud=True))
    assert full.points.shape == (60, 3)
    # Sampled points (the first 12 input points) keep their colour; others copy their nearest.
    np.testing.assert_allclose(full.colors[:12], sampled.colors)
    nearest = np.linalg.norm(record.points[:, None] - record.positions[None], axis=-1).argmin(axis=1)
    np.testing.assert_allclose(full.colors, sampled.colors[nearest])
    np.testing.assert_array_equal(full.points[full.marked], record.positions[[2]])


def test_heads_give_different_tiles() -> None:
    record = make_record("external")
    a = attention_cloud(record, ViewState(head=0, colour_by="argmax")).colors
    b = attention_cloud(record, ViewState(head=1, colour_by="argmax")).colors
    assert not np.array_equal(a, b)


def test_viewer_steps_samples_loading_each_once_and_keeps_indices_in_range() -> None:
    loads: list[int] = []

    def load(index: int):  # noqa: ANN202
        loads.append(index)
        return make_record("external", heads=4 if index == 0 else 2, seed=index)

    viewer = AttentionViewer(load, samples=3, model_note="random init (seed 0)", state=ViewState(head=3))
    assert viewer.frame().title.startswith("pointea attention (external) | random init (seed 0) | sample 1/3")
    assert viewer.press("N")
    assert viewer.state.sample == 1 and viewer.state.head == 1  # clamped to 2 heads
    assert "test #1" in viewer.frame().status
    viewer.press("P")
    viewer.press("N")
    assert loads == [0, 1]  # cached
    assert not viewer.press("Q")  # unbound key: nothing changes


def test_viewer_pick_selects_query_or_strongest_slot() -> None:
    offset = AttentionViewer(lambda i: make_record("offset"), samples=1, model_note="m")
    record = offset.current
    assert offset.pick(record.positions[7] + 1e-3)
    assert offset.state.query == 7 and offset.frame().clouds[0].marked.tolist() == [7]
    external = AttentionViewer(lambda i: make_record("external"), samples=1, model_note="m", state=ViewState(colour_by="argmax", head=2))
    external.pick(external.current.positions[4])
    assert external.state.colour_by == "weight"
    assert external.state.slot == int(external.current.attention[0][2][4].argmax())


def test_viewer_rejects_a_start_outside_the_split() -> None:
    with pytest.raises(IndexError, match="the split has 3 samples"):
        AttentionViewer(lambda i: make_record(), samples=3, model_note="m", state=ViewState(sample=3))


def test_limits_of_a_record() -> None:
    limits = limits_of(make_record("offset", sampled=9, layers=3, heads=2), samples=5)
    assert (limits.kind, limits.samples, limits.layers, limits.heads, limits.slots, limits.points) == ("offset", 5, 3, 2, 0, 9)


def test_restricted_prediction_picks_only_the_categorys_parts() -> None:
    logits = torch.randn(20, ShapeNetPart.NUM_PARTS)
    logits[:, 0] = 100.0  # an airplane part wins overall, but the sample is a table
    prediction = restricted_part_prediction(logits, TABLE)
    expected = 47 + logits[:, 47:50].argmax(dim=1).numpy()
    np.testing.assert_array_equal(prediction, expected)
