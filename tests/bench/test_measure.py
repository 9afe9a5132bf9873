"""Measuring one case: timing with warm-up, repeats and a budget; peak memory above a baseline;
out-of-memory recognition and the subprocess's timeout."""

from __future__ import annotations

import pytest
import torch

from pointea.bench.cases import ModelCase
from pointea.bench.measure import (
    CaseSettings,
    PeakMemoryMeter,
    current_rss_bytes,
    is_out_of_memory,
    max_rss_bytes,
    run_case,
    time_callable,
)


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


def test_rss_readings_are_positive_and_ordered() -> None:
    assert 0 < current_rss_bytes() <= max_rss_bytes() + 4096 * 1024


def test_peak_sees_a_freed_allocation() -> None:
    meter = PeakMemoryMeter("cpu")
    meter.start()
    block = torch.ones(64 * 2**20 // 4)  # 64 MiB, touched
    del block
    peak = meter.peak_bytes()
    assert peak >= 48 * 2**20
    if meter.reset_ok:  # the high-water mark was reset: a second stretch gets its own, smaller peak
        meter.start()
        assert meter.peak_bytes() < 48 * 2**20


def test_out_of_memory_errors_are_recognised() -> None:
    assert is_out_of_memory(RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 1 bytes"))
    assert is_out_of_memory(MemoryError())
    assert not is_out_of_memory(RuntimeError("shape mismatch"))


def test_a_case_past_its_timeout_is_reported_not_raised() -> None:
    result = run_case(ModelCase("segmenter", "external", 1024), "cpu", timeout_seconds=0.2)
    assert result["status"] == "timed_out"
    assert result["reason"] == "timed out after 0.2 s"
    assert result["case"]["num_points"] == 1024


def test_the_settings_reach_the_child_process() -> None:
    """run_case hands its CaseSettings to the child as flags: only the asked stage, that many runs."""
    settings = CaseSettings(warmup=0, repeats=2, budget_seconds=None, stages=("forward",))
    result = run_case(ModelCase("segmenter", "external", 256), "cpu", settings, timeout_seconds=300, threads=1)
    assert result["status"] == "ok", result.get("reason")
    assert "train" not in result and len(result["forward"]["seconds"]) == 2
    assert "max_logit_difference" not in result  # parity off (and a plain case has none)
