"""The loader-throughput benchmark runs and reports consistent figures (not a timing test)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pointea.bench.loader import measure_loader_throughput


def test_measure_loader_throughput_reports_consistent_figures(tmp_path: Path) -> None:
    result = measure_loader_throughput(tmp_path, num_points=128, batch_size=8, batches=30, warmup=2)
    assert result["train_shapes"] > 0 and (tmp_path / "modelnet40_ply_hdf5_2048").is_dir()
    assert result["batches"] == 30 and result["num_workers"] == 0
    assert result["shapes_per_s"] == pytest.approx(result["batches_per_s"] * 8)
    assert result["shapes_per_s"] == pytest.approx(30 * 8 / result["seconds"])
