"""Peak memory of a stretch of code, above what the process held when it started.

On CPU: the process's maximum resident set size (``resource.getrusage``'s ``ru_maxrss``) minus
its resident set size at the start. On Linux the high-water mark is first reset to the current
RSS (``/proc/self/clear_refs``), so two stretches of one process (forward, then forward+backward)
get their own peaks; where it cannot be reset, the peak is the process's lifetime maximum, which
is why every case runs in a fresh subprocess. On CUDA: ``torch.cuda.max_memory_allocated`` after
``torch.cuda.reset_peak_memory_stats``, minus the memory allocated at the start.
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path

import torch

__all__ = ["PeakMemoryMeter", "current_rss_bytes", "max_rss_bytes"]

_PROC_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def max_rss_bytes() -> int:
    """This process's maximum resident set size so far, in bytes."""
    max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return max_rss if sys.platform == "darwin" else max_rss * 1024  # Linux reports KiB


def current_rss_bytes() -> int:
    """This process's resident set size now (``/proc/self/status``; the maximum where unreadable)."""
    if _PROC_STATUS.exists():
        for line in _PROC_STATUS.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024  # kB
    return max_rss_bytes()


def _reset_max_rss() -> bool:
    """Reset the RSS high-water mark to the current RSS (Linux); ``False`` where not possible."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


class PeakMemoryMeter:
    """Measure the peak memory of what runs between :meth:`start` and :meth:`peak_bytes`.

    Args:
        device: the torch device the code runs on.

    Example::

        meter = PeakMemoryMeter(device)
        meter.start()
        model(points)
        extra = meter.peak_bytes()
    """

    def __init__(self, device: torch.device | str) -> None:
        self.device = torch.device(device)
        self._baseline = 0
        #: whether the CPU high-water mark was reset at :meth:`start` (else the peak is lifetime).
        self.reset_ok = True

    def start(self) -> None:
        """Take the baseline (and reset the peak) now."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._baseline = torch.cuda.memory_allocated(self.device)
        else:
            self.reset_ok = _reset_max_rss()
            self._baseline = current_rss_bytes()

    def peak_bytes(self) -> int:
        """Peak memory since :meth:`start`, above the baseline, in bytes (at least 0)."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            peak = torch.cuda.max_memory_allocated(self.device)
        else:
            peak = max_rss_bytes()
        return max(0, peak - self._baseline)
