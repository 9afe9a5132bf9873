"""A viewer that steps through the samples of a split (dataset browser, parts truth vs
prediction), as a :class:`~visualize.viewer.Viewer` for the window."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from visualize.state import cycle
from visualize.viewer import Frame

__all__ = ["SampleBrowser"]

_KEYS = {"N": 1, "P": -1, "RIGHT": 1, "LEFT": -1}


class SampleBrowser:
    """Show one frame per sample; N / RIGHT and P / LEFT step forward and back (wrapping).

    Args:
        make_frame: sample index -> its frame.
        samples: samples in the split.
        start: first sample shown.
    """

    def __init__(self, make_frame: Callable[[int], Frame], samples: int, start: int = 0) -> None:
        if not 0 <= start < samples:
            raise IndexError(f"sample {start} out of range: the split has {samples} samples")
        self._make_frame = make_frame
        self.samples = samples
        self.sample = start

    def legend(self) -> str:
        return "keys:\n  N, RIGHT  next sample\n  P, LEFT   previous sample"

    def press(self, key: str) -> bool:
        if key not in _KEYS or self.samples == 1:
            return False
        self.sample = cycle(self.sample, _KEYS[key], self.samples)
        return True

    def pick(self, point: np.ndarray) -> bool:
        return False

    def frame(self) -> Frame:
        frame = self._make_frame(self.sample)
        return replace(frame, title=f"{frame.title} | sample {self.sample + 1}/{self.samples}")
