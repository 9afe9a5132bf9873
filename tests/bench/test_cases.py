"""Cases and their memory plan: the N x N estimate, the linear extrapolation from smaller cases and
the memory available decide what runs; variants build the grid."""

from __future__ import annotations

import pytest

from pointea.bench.cases import (
    STAGES,
    ModelCase,
    attention_map_bytes,
    build_grid,
    estimate_case_bytes,
    extrapolate_peak_bytes,
    format_gib,
    plan_stages,
)

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


def _measured(case: ModelCase, train_peak: int) -> dict:
    return {"case": case.to_dict(), "status": "ok", "forward": {"peak_bytes": train_peak // 4},
            "train": {"peak_bytes": train_peak}}  # fmt: skip


def test_linear_memory_is_extrapolated_from_the_largest_smaller_case_of_the_same_variant() -> None:
    ckpt = dict(checkpointing=True)
    earlier = [
        _measured(ModelCase("segmenter", "external", 4096, **ckpt), 100 * GIB // 1024),
        _measured(ModelCase("segmenter", "external", 8192, **ckpt), 200 * GIB // 1024),
        _measured(ModelCase("segmenter", "external", 16384), 10 * GIB),  # another variant
    ]
    case = ModelCase("segmenter", "external", 65536, **ckpt)
    assert extrapolate_peak_bytes(case, earlier, "train") == 8 * 200 * GIB // 1024
    assert extrapolate_peak_bytes(ModelCase("segmenter", "external", 65536, precision="bf16"), earlier, "train") == 0
    stages, reason = plan_stages(case, 3 * GIB // 2, earlier)
    assert stages == ("forward",) and "fwd+bwd needs ~1.6 GiB" in reason


def test_grid_gives_chunking_and_checkpointing_to_the_external_segmenter_only() -> None:
    variants = ({}, {"checkpointing": True}, {"chunk_size": 4096}, {"precision": "bf16"})
    grid = build_grid((1024,), variants=variants)
    labels = {case.label for case in grid}
    assert "segmenter/external/N=1024/B=1 [chunked 4096]" in labels
    assert "segmenter/external/N=1024/B=1 [ckpt]" in labels
    assert "classifier/external/N=1024/B=1 [ckpt]" in labels
    assert not any(case.chunk_size and case.model == "classifier" for case in grid)
    assert not any((case.chunk_size or case.checkpointing) and case.attention == "offset" for case in grid)
    assert "segmenter/offset/N=1024/B=1 [bf16]" in labels
    assert len(grid) == 2 * 4 + 2 * 2 - 1  # external: all four (classifier: no chunks); offset: plain, bf16
    with pytest.raises(ValueError, match="chunk_size applies to the external-attention segmenter only"):
        ModelCase("segmenter", "offset", 1024, chunk_size=8)
    assert ModelCase.from_dict({"model": "segmenter", "attention": "offset", "num_points": 8, "batch_size": 1}).is_plain
