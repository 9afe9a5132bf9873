"""Peak memory above a baseline, on CPU."""

from __future__ import annotations

import torch

from pointea.bench.peak_memory import PeakMemoryMeter, current_rss_bytes, max_rss_bytes


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
