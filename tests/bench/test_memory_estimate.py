"""Skip handling: the N x N estimate against the memory available decides what runs."""

from __future__ import annotations

from pointea.bench.case import ModelCase
from pointea.bench.memory_estimate import attention_map_bytes, estimate_case_bytes, format_gib
from pointea.bench.model_cost import STAGES, is_out_of_memory
from pointea.bench.runner import plan_stages

GIB = 2**30


def test_self_attention_maps_grow_quadratically_and_external_ones_are_not_counted() -> None:
    small = ModelCase("segmenter", "offset", 1024)
    big = ModelCase("segmenter", "offset", 16384)
    assert attention_map_bytes(small) == 1024 * 1024 * 4  # one head, float32
    assert attention_map_bytes(big) == 256 * attention_map_bytes(small)
    assert estimate_case_bytes(big, training=True) > estimate_case_bytes(big, training=False) > 0
    assert estimate_case_bytes(ModelCase("segmenter", "external", 16384)) == 0


def test_classifier_attends_to_its_sampled_points_only() -> None:
    assert attention_map_bytes(ModelCase("classifier", "offset", 16384)) == 256 * 256 * 4


def test_plan_runs_everything_that_fits_or_when_memory_is_unknown() -> None:
    case = ModelCase("segmenter", "offset", 16384)
    assert plan_stages(case, 1024 * GIB) == (STAGES, None)
    assert plan_stages(case, None) == (STAGES, None)
    assert plan_stages(ModelCase("segmenter", "external", 16384), 1) == (STAGES, None)


def test_plan_drops_the_backward_pass_then_the_whole_case() -> None:
    case = ModelCase("segmenter", "offset", 16384)
    forward_only = estimate_case_bytes(case, training=False) * 2
    stages, reason = plan_stages(case, forward_only)
    assert stages == ("forward",)
    assert reason.startswith("out of memory (fwd+bwd needs ~") and "fwd+bwd not run" in reason
    stages, reason = plan_stages(case, GIB)
    assert stages == ()
    assert reason == f"out of memory (needs ~{format_gib(estimate_case_bytes(case, training=False))}, 1.0 GiB available): not run"


def test_out_of_memory_errors_are_recognised() -> None:
    assert is_out_of_memory(RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 1 bytes"))
    assert is_out_of_memory(MemoryError())
    assert not is_out_of_memory(RuntimeError("shape mismatch"))


def test_a_case_past_its_timeout_is_reported_not_raised() -> None:
    from pointea.bench.model_cost import run_case

    result = run_case(ModelCase("segmenter", "external", 1024), "cpu", timeout_seconds=0.2)
    assert result["status"] == "timed_out"
    assert result["reason"] == "timed out after 0.2 s"
    assert result["case"]["num_points"] == 1024
