"""Timing a callable: warm-up, repeats and the time budget."""

from __future__ import annotations

import pytest

from pointea.bench.timing import time_callable


def test_warmup_runs_untimed_then_repeats_are_timed() -> None:
    calls = []
    timing = time_callable(lambda: calls.append(1), warmup=2, repeats=3)
    assert len(calls) == 5
    assert timing.repeats == 3
    assert all(s >= 0 for s in timing.seconds)
    assert timing.minimum <= timing.median


def test_budget_stops_new_repeats_but_keeps_one() -> None:
    calls = []
    timing = time_callable(lambda: calls.append(1), warmup=0, repeats=10, budget_seconds=0.0)
    assert timing.repeats == 1 and len(calls) == 1


def test_rejects_no_repeats() -> None:
    with pytest.raises(ValueError):
        time_callable(lambda: None, repeats=0)
