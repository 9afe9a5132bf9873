"""The report: figures by name, external/offset, variant and sampling ratios, growth exponents and
the markdown rendering, on hand-made results."""

from __future__ import annotations

import pytest

from pointea.bench.report import (
    FIGURES,
    attention_ratios,
    format_mebibytes,
    format_ratio,
    format_seconds,
    log_log_slope,
    model_figure,
    ratio,
    render_report,
    sampling_ratios,
    scaling_exponents,
    variant_ratios,
)


def _ratio_result(model: str, attention: str, n: int, seconds: float | None, peak: float | None, status: str = "ok") -> dict:
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
    result = _ratio_result("segmenter", "external", 1024, 0.5, 2e6)
    assert model_figure(result, "train_seconds") == 1.0
    assert model_figure(result, "forward_peak_bytes") == 2e6
    assert model_figure(_ratio_result("segmenter", "offset", 1024, None, None), "forward_seconds") is None
    with pytest.raises(KeyError):
        model_figure(result, "speed")


def test_attention_ratios_pair_external_with_offset() -> None:
    results = [
        _ratio_result("segmenter", "external", 1024, 1.0, 10.0),
        _ratio_result("segmenter", "offset", 1024, 4.0, 80.0),
        _ratio_result("segmenter", "external", 16384, 2.0, 20.0),
        _ratio_result("segmenter", "offset", 16384, None, None, status="out_of_memory"),
        _ratio_result("classifier", "external", 1024, 1.0, 10.0),  # no offset partner: no ratio row
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


def test_slope_of_linear_and_quadratic_growth() -> None:
    sizes = [1024, 2048, 4096, 8192]
    assert log_log_slope(sizes, [3.0 * n for n in sizes]) == pytest.approx(1.0)
    assert log_log_slope(sizes, [1e-6 * n * n for n in sizes]) == pytest.approx(2.0)


def test_slope_is_undefined_without_two_sizes_or_with_non_positive_values() -> None:
    assert log_log_slope([1024], [1.0]) is None
    assert log_log_slope([1024, 2048], [1.0, 0.0]) is None
    with pytest.raises(ValueError):
        log_log_slope([1024, 2048], [1.0])


def test_exponents_fit_the_largest_measured_sizes_and_skip_missing_ones() -> None:
    def result(n: int, seconds: float | None) -> dict:
        r = {"case": dict(model="segmenter", attention="offset", num_points=n, batch_size=1), "flops": float(n * n)}
        if seconds is not None:
            r["train"] = {"median_seconds": seconds, "peak_bytes": float(n * n)}
        return r

    # 1024 is dominated by a fixed cost; 16384 was not measured.
    results = [result(1024, 5.0), result(2048, 4.0), result(4096, 16.0), result(8192, 64.0), result(16384, None)]
    (row,) = scaling_exponents(results, last=3)
    assert row["exponents"]["train_seconds"] == pytest.approx(2.0)
    assert row["exponents"]["train_peak_bytes"] == pytest.approx(2.0)
    assert row["exponents"]["forward_seconds"] is None
    assert 16384 in row["points"]  # FLOPs were counted there


def _result(attention: str, n: int, seconds: float | None, status: str = "ok", reason: str | None = None) -> dict:
    result = {"case": dict(model="segmenter", attention=attention, num_points=n, batch_size=1), "status": status,
              "parameters": 2_675_250, "flops": 5.56e9}
    if reason:
        result["reason"] = reason
    if seconds is not None:
        result["forward"] = {"median_seconds": seconds, "seconds": [seconds] * 5, "peak_bytes": 2**26}
        result["train"] = {"median_seconds": 3 * seconds, "seconds": [3 * seconds] * 2, "peak_bytes": 2**27}
    return result


def _report() -> dict:
    models = [
        _result("external", 1024, 0.04),
        _result("offset", 1024, 0.05),
        _result("external", 16384, 0.5),
        _result("offset", 16384, None, "out_of_memory", "out of memory (needs ~15.0 GiB, 8.0 GiB available): not run"),
    ]
    sampling = [
        dict(operation="fps", backend=b, num_points=1024, batch_size=4, samples=512, neighbours=32, status="ok",
             median_seconds=t, agrees=True)
        for b, t in (("torch_cluster", 0.01), ("fallback", 0.02))
    ]
    return {
        "machine": dict(cpu_model="Test CPU", cpu_cores=2, memory_bytes=8 * 2**30, torch="2.13.0", torch_threads=2,
                        torch_cluster="1.6.3", device="cpu", device_name="Test CPU"),
        "settings": dict(command="pointea-bench --quick", batch_size=1, repeats=5, warmup=1, memory_meter="max RSS"),
        "models": models,
        "ratios": attention_ratios(models),
        "scaling": scaling_exponents(models),
        "sampling": sampling,
        "sampling_ratios": sampling_ratios(sampling),
        "loader": {"status": "unavailable", "reason": "loader throughput not measured: no module"},
        "notes": ["No CUDA device on this machine."],
    }


def test_formatting() -> None:
    assert format_seconds(0.0123) == "12.3"
    assert format_seconds(12.5) == "12,500"
    assert format_seconds(0.9999) == "1,000"
    assert format_seconds(None) == "—"
    assert format_mebibytes(3 * 2**20) == "3"
    assert format_ratio(0.125) == "0.125" and format_ratio(None) == "—"


def test_report_lists_every_case_with_ratios_and_skip_reasons() -> None:
    text = render_report(_report())
    rows = [line for line in text.splitlines() if line.startswith("| segmenter |")]
    model_rows = [r for r in rows if "| external |" in r or "| offset |" in r]
    assert len(model_rows) == 4 + 2  # four cases, plus the scaling table's two rows
    assert sum("**external/offset**" in r for r in rows) == 2
    ratio_1024 = next(r for r in rows if r.startswith("| segmenter | 1024 | **external/offset**"))
    assert "| 0.8 |" in ratio_1024  # forward time 0.04 / 0.05
    skipped = next(r for r in rows if r.startswith("| segmenter | 16384 | offset |"))
    assert "out of memory (needs ~15.0 GiB, 8.0 GiB available): not run" in skipped
    assert skipped.count("—") >= 4
    reduced = next(r for r in rows if r.startswith("| segmenter | 1024 | external |"))
    assert "fwd+bwd: 2 runs" in reduced  # fewer timed runs than asked for are noted
    assert "Test CPU, 2 cores" in text
    assert "| fps | 1024 | 4 | 512 | — | 10 | 20 | 2 | yes |" in text
    assert "Not measured: loader throughput not measured: no module." in text


def test_variants_are_divided_by_their_plain_case_and_by_the_plain_offset_case() -> None:
    plain = _ratio_result("segmenter", "external", 8192, 1.0, 400.0)
    ckpt = _ratio_result("segmenter", "external", 8192, 1.3, 100.0)
    ckpt["case"]["checkpointing"] = True
    bf16 = _ratio_result("segmenter", "external", 8192, 0.5, 300.0)
    bf16["case"]["precision"], bf16["max_logit_difference"] = "bf16", 0.03
    offset = _ratio_result("segmenter", "offset", 8192, 10.0, 1600.0)
    results = [plain, ckpt, bf16, offset]
    rows = {row["variant"]: row for row in variant_ratios(results)}
    assert set(rows) == {"ckpt", "bf16"}
    assert rows["ckpt"]["ratios"]["train_seconds"] == pytest.approx(1.3)
    assert rows["ckpt"]["ratios"]["train_peak_bytes"] == 0.25
    assert rows["bf16"]["max_logit_difference"] == 0.03
    by_variant = {row["variant"]: row["ratios"] for row in attention_ratios(results)}
    assert by_variant["ckpt"]["train_peak_bytes"] == 100.0 / 1600.0
    assert by_variant["plain"]["train_peak_bytes"] == 0.25
    report = _report()
    report["models"] = results
    report["ratios"], report["variants"] = attention_ratios(results), variant_ratios(results)
    report["scaling"] = scaling_exponents(results)
    text = render_report(report)
    assert "| segmenter | 8192 | **external [ckpt]/offset** |" in text
    assert "| segmenter | 8192 | external | ckpt | 1.3 | 1.3 | 0.25 | 0.25 | — | — |" in text


def test_exponents_fit_every_size_from_fit_from() -> None:
    def result(n: int) -> dict:
        return {"case": dict(model="segmenter", attention="external", num_points=n, batch_size=1),
                "train": {"median_seconds": (5.0 if n < 16384 else n / 1000), "peak_bytes": float(n)}}  # fmt: skip

    sizes = [1024, 4096, 16384, 65536, 262144, 1048576]
    (row,) = scaling_exponents([result(n) for n in sizes], fit_from=16384)
    assert row["points"] == [16384, 65536, 262144, 1048576]
    assert row["exponents"]["train_seconds"] == pytest.approx(1.0)
