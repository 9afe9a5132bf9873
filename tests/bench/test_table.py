"""Markdown rendering: every case listed, ratios after each pair, skipped cases explained."""

from __future__ import annotations

from pointea.bench.ratios import attention_ratios, sampling_ratios
from pointea.bench.scaling import scaling_exponents
from pointea.bench.table import format_mebibytes, format_ratio, format_seconds, render_report


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
