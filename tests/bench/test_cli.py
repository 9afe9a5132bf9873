"""``pointea-bench --quick`` end to end: it completes and writes a well-formed report.

No timing assertions: only that every figure exists and is positive. Takes about a minute on
2 CPU cores (each model case runs in its own subprocess).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pointea.bench.report import FIGURES
from pointea.bench.report import REPORT_FILES
from pointea.bench.cli import QUICK_POINTS

REPORT_KEYS = {"schema", "machine", "settings", "models", "ratios", "scaling", "sampling", "sampling_ratios",
               "loader", "notes", "wall_seconds"}  # fmt: skip
MACHINE_KEYS = {"cpu_model", "cpu_cores", "torch", "device", "device_name"}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """Run ``pointea-bench --quick`` once (as its own process) for every test here."""
    out = tmp_path_factory.mktemp("bench")
    completed = subprocess.run(
        [sys.executable, "-m", "pointea.bench.cli", "--quick", "--device", "cpu", "--out", str(out)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    return out, completed.stdout


def test_quick_run_writes_json_markdown_and_png(quick_run: tuple[Path, str]) -> None:
    out, stdout = quick_run
    for name in REPORT_FILES.values():
        assert (out / name).stat().st_size > 0
    assert (out / REPORT_FILES["plot"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert stdout.strip() == (out / REPORT_FILES["markdown"]).read_text().strip()


def test_json_has_every_figure_of_every_case(quick_run: tuple[Path, str]) -> None:
    out, _ = quick_run
    report = json.loads((out / REPORT_FILES["json"]).read_text())
    assert REPORT_KEYS <= set(report)
    assert MACHINE_KEYS <= set(report["machine"])
    assert report["machine"]["cpu_cores"] >= 1
    cases = {(r["case"]["model"], r["case"]["attention"], r["case"]["num_points"]) for r in report["models"]}
    assert cases == {(m, a, n) for m in ("segmenter", "classifier") for a in ("external", "offset") for n in QUICK_POINTS}
    for result in report["models"]:
        assert result["status"] == "ok", result
        assert result["forward"]["median_seconds"] > 0 and result["train"]["median_seconds"] > 0
        assert result["forward"]["peak_bytes"] > 0 and result["train"]["peak_bytes"] > 0
        assert result["flops"] > 0 and result["parameters"] > 0
    assert len(report["ratios"]) == 2 * len(QUICK_POINTS)
    for row in report["ratios"]:
        assert set(row["ratios"]) == set(FIGURES)
        assert all(value is not None and value > 0 for value in row["ratios"].values())
    sampling = {(r["operation"], r["backend"]): r for r in report["sampling"]}
    assert set(sampling) == {(op, b) for op in ("fps", "knn") for b in ("torch_cluster", "fallback")}
    assert all(r["median_seconds"] > 0 and r["agrees"] for r in sampling.values())
    loader = report["loader"]
    assert loader["status"] in ("ok", "unavailable")
    if loader["status"] == "ok":
        assert loader["shapes_per_s"] > 0


def test_table_lists_every_case(quick_run: tuple[Path, str]) -> None:
    _, stdout = quick_run
    for model in ("segmenter", "classifier"):
        for n in QUICK_POINTS:
            for attention in ("external", "offset", "**external/offset**"):
                assert f"| {model} | {n} | {attention} |" in stdout


def test_from_json_renders_the_same_report_without_measuring(quick_run: tuple[Path, str], tmp_path: Path) -> None:
    out, _ = quick_run
    completed = subprocess.run(
        [sys.executable, "-m", "pointea.bench.cli", "--from-json", str(out / REPORT_FILES["json"]), "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    markdown = REPORT_FILES["markdown"]
    assert (tmp_path / markdown).read_text() == (out / markdown).read_text()
    assert (tmp_path / REPORT_FILES["plot"]).stat().st_size > 0
