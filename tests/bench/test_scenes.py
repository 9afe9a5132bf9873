"""``pointea-bench scenes``: each case measured in its own process, self-attention refused by its
N x N estimate before it allocates, and the report's two tables."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from pointea.bench import scenes
from pointea.bench.scenes import SceneCase, build_cases, render_scene_report, run_scene_case


def test_the_grid_has_both_attention_kinds_at_every_size_and_preset() -> None:
    cases = build_cases((131_072, 2_097_152), ("pointnet", "large"), 4, 4096, 8192)
    assert [(c.kind, c.attention, c.num_points) for c in cases] == [
        ("scene", "external", 131_072),
        ("train", "external", 4096), ("train", "offset", 4096), ("train", "external", 32_768), ("train", "offset", 32_768),
        ("scene", "external", 2_097_152), ("scene", "offset", 131_072), ("scene", "offset", 2_097_152),
    ]  # fmt: skip


def test_self_attention_past_the_limit_is_refused_with_its_estimate() -> None:
    case = SceneCase("train", "offset", 32_768, batch_size=4, preset="large")
    result = run_scene_case(case, repeats=1, memory_limit_gb=1.0, threads=1, timeout=300)
    assert result["status"] == "refused" and "seconds" not in result
    # 4 layers x 3 maps x B=4 x 1 head x 32,768^2 x 4 bytes
    assert result["self_attention_estimate_bytes"] == 4 * 3 * 4 * 32_768**2 * 4
    assert "needs about 192.0 GiB" in result["reason"] and "more than the 1.0 GiB allowed" in result["reason"]


@pytest.mark.slow
def test_a_small_run_measures_and_reports_every_case(tmp_path: Path) -> None:
    args = argparse.Namespace(points=[1024, 3072], presets=[], batch_size=2, window_points=1024, chunk_size=1024,
                              repeats=1, memory_limit=None, threads=1, case_timeout=600.0, network="semantic",
                              local_neighbours=0)  # fmt: skip
    report = scenes.run_scene_benchmark(args, "pointea-bench scenes (test)", tmp_path)
    assert json.loads((tmp_path / "scenes.json").read_text())["not_reached"] == []
    by_case = {(r["case"]["attention"], r["case"]["num_points"]): r for r in report["results"]}
    for n in (1024, 3072):
        external = by_case["external", n]
        assert external["status"] == "ok" and external["seconds"] > 0 and external["peak_extra_bytes"] > 0
        assert external["evaluation"] == "one exact pass in chunks of 1,024"
    assert by_case["offset", 1024]["status"] == "ok"  # the smallest N runs (it fits one window here)
    assert by_case["offset", 3072]["status"] == "estimate"  # larger N: only what an exact pass would need
    assert by_case["offset", 3072]["self_attention_estimate_bytes"] == 2 * 3072**2 * 4
    text = render_scene_report(report)
    assert "| 3,072 | external | one exact pass in chunks of 1,024 |" in text
    assert "| 3,072 | offset | not run (estimate) |" in text
    json.dumps(report)  # the report is JSON as written


def test_the_normal_estimator_is_measured_whole_and_self_attention_only_estimated(tmp_path: Path) -> None:
    # The full-resolution memory figure for normals comes from this command at 1,048,576
    # points; here its cases at small N, in their own processes, with the local embedding on.
    args = scenes.build_parser().parse_args(
        ["--network", "normals", "--local-neighbours", "4", "--points", "1024,2048", "--chunk-size", "512",
         "--repeats", "1", "--threads", "1"]
    )  # fmt: skip
    report = scenes.run_scene_benchmark(args, "pointea-bench scenes (test)", tmp_path)
    by_case = {(r["case"]["attention"], r["case"]["num_points"]): r for r in report["results"]}
    assert sorted(by_case) == [("external", 1024), ("external", 2048), ("offset", 1024), ("offset", 2048)]
    for n in (1024, 2048):
        external = by_case["external", n]
        assert external["status"] == "ok", external
        assert external["case"]["network"] == "normals" and external["case"]["local_neighbours"] == 4
        assert external["peak_extra_bytes"] > 0 and external["evaluation"] == "one exact pass in chunks of 512"
        # no windowed evaluation for normals: self-attention is the exact pass's N x N estimate only
        assert by_case["offset", n]["status"] == "estimate"
        assert by_case["offset", n]["self_attention_estimate_bytes"] == 2 * n**2 * 4
    text = render_scene_report(report)
    assert "Whole-scene inference (PCTNormalEstimator, xyz only, local_neighbours 4, eval" in text
    assert "Training, one optimiser step" not in text
