"""Wall-clock time of a callable: warm-up runs, then timed repeats, on CPU or CUDA.

On CUDA the device is synchronised before the clock starts and before it stops, so queued kernels
count where they run. Big cases get fewer repeats: once the timed runs have used ``budget_seconds``,
no further repeat starts (at least one always runs).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

__all__ = ["Timing", "time_callable"]


@dataclass
class Timing:
    """Seconds of every timed run, in order."""

    seconds: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        """Median of the timed runs."""
        return statistics.median(self.seconds)

    @property
    def minimum(self) -> float:
        """Fastest timed run (less sensitive to other load on a shared machine than the median)."""
        return min(self.seconds)

    @property
    def repeats(self) -> int:
        """How many runs were timed."""
        return len(self.seconds)


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_callable(
    fn: Callable[[], object],
    device: torch.device | str = "cpu",
    warmup: int = 1,
    repeats: int = 5,
    budget_seconds: float | None = None,
) -> Timing:
    """Run ``fn`` ``warmup`` times untimed, then up to ``repeats`` times timed.

    Args:
        fn: the work to time; it takes no arguments.
        device: where ``fn`` runs (synchronised around every timed run on CUDA).
        warmup: untimed runs first (allocator, caches, lazy initialisation).
        repeats: the most timed runs.
        budget_seconds: stop starting new timed runs once they have taken this long in total
            (``None``: no limit).
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"time_callable: repeats must be >= 1 and warmup >= 0, got {repeats}, {warmup}")
    device = torch.device(device)
    for _ in range(warmup):
        fn()
    _synchronize(device)
    timing = Timing()
    for _ in range(repeats):
        _synchronize(device)
        start = time.perf_counter()
        fn()
        _synchronize(device)
        timing.seconds.append(time.perf_counter() - start)
        if budget_seconds is not None and sum(timing.seconds) >= budget_seconds:
            break
    return timing
