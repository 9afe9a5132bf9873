"""External/offset and fallback/torch_cluster ratios, on hand-made results."""

from __future__ import annotations

import pytest

from pointea.bench.figures import FIGURES, model_figure
from pointea.bench.ratios import attention_ratios, ratio, sampling_ratios


def _result(model: str, attention: str, n: int, seconds: float | None, peak: float | None, status: str = "ok") -> dict:
    result = {"case": dict(model=model, attention=attention, num_points=n, batch_size=1), "status": status,
              "parameters": 100, "flops": 1000 if attention == "external" else 4000}
    if seconds is not None:
        result["forward"] = {"median_seconds": seconds, "seconds": [seconds], "peak_bytes": peak}
        result["train"] = {"median_seconds": 2 * seconds, "seconds": [2 * seconds], "peak_bytes": peak}
    return result


def test_ratio_handles_missing_and_zero() -> None:
    assert ratio(1.0, 4.0) == 0.25
    assert ratio(None, 4.0) is None
    assert ratio(1.0, None) is None
    assert ratio(1.0, 0.0) is None


def test_model_figure_reads_nested_stages_and_reports_missing() -> None:
    result = _result("segmenter", "external", 1024, 0.5, 2e6)
    assert model_figure(result, "train_seconds") == 1.0
    assert model_figure(result, "forward_peak_bytes") == 2e6
    assert model_figure(_result("segmenter", "offset", 1024, None, None), "forward_seconds") is None
    with pytest.raises(KeyError):
        model_figure(result, "speed")


def test_attention_ratios_pair_external_with_offset() -> None:
    results = [
        _result("segmenter", "external", 1024, 1.0, 10.0),
        _result("segmenter", "offset", 1024, 4.0, 80.0),
        _result("segmenter", "external", 16384, 2.0, 20.0),
        _result("segmenter", "offset", 16384, None, None, status="out_of_memory"),
        _result("classifier", "external", 1024, 1.0, 10.0),  # no offset partner: no ratio row
    ]
    rows = attention_ratios(results)
    assert [(r["model"], r["num_points"]) for r in rows] == [("segmenter", 1024), ("segmenter", 16384)]
    first, skipped = rows[0]["ratios"], rows[1]["ratios"]
    assert set(first) == set(FIGURES)
    assert first["forward_seconds"] == 0.25
    assert first["train_peak_bytes"] == 0.125
    assert first["flops"] == 0.25
    assert first["parameters"] == 1.0
    assert skipped["forward_seconds"] is None and skipped["flops"] == 0.25


def test_sampling_ratios_divide_fallback_by_torch_cluster() -> None:
    rows = [
        dict(operation="fps", backend="torch_cluster", num_points=1024, median_seconds=0.01),
        dict(operation="fps", backend="fallback", num_points=1024, median_seconds=0.03),
        dict(operation="knn", backend="torch_cluster", num_points=1024, status="unavailable"),
        dict(operation="knn", backend="fallback", num_points=1024, median_seconds=0.02),
    ]
    by_op = {r["operation"]: r["fallback_over_torch_cluster"] for r in sampling_ratios(rows)}
    assert by_op["fps"] == pytest.approx(3.0)
    assert by_op["knn"] is None
