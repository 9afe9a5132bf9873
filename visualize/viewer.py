"""The contract between the interactive window and what it shows.

A :class:`Viewer` is pure logic (keys in, frames out); :func:`visualize.window.run_window` is the
thin open3d shell that forwards key presses and picked points to it and draws its frames. This
keeps everything but the drawing testable without a display.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from visualize.camera import Camera
from visualize.cloud import Cloud

__all__ = ["Frame", "Viewer"]


@dataclass(frozen=True)
class Frame:
    """What the window draws: clouds (already placed), a one-line title, a status text, and the
    camera to see them from (``None``: one framing all the clouds). The window moves its camera
    only when this camera changes (e.g. a new sample), so the user's own view survives key
    presses that only recolour the points."""

    clouds: tuple[Cloud, ...]
    title: str
    status: str
    camera: Camera | None = None


class Viewer(Protocol):
    """What a window shows and how it reacts."""

    def legend(self) -> str:
        """The key map, printed once and shown in the window."""
        ...

    def press(self, key: str) -> bool:
        """React to a key (an open3d ``gui.KeyName`` member name); True when the frame changed."""
        ...

    def pick(self, point: np.ndarray) -> bool:
        """React to a point picked in the scene (3,); True when the frame changed."""
        ...

    def frame(self) -> Frame:
        """The current frame."""
        ...
