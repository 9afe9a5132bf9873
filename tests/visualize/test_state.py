"""The attention viewer's state machine: keys -> what is shown."""

from __future__ import annotations

from dataclasses import replace

import pytest

from visualize.attention import KEY_BINDINGS, Limits, ViewState, clamp, describe, key_legend, step

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
