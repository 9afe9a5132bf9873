"""Growth exponents: the slope of log(figure) against log(N)."""

from __future__ import annotations

import pytest

from pointea.bench.scaling import log_log_slope, scaling_exponents


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
