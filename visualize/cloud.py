"""What is drawn: a coloured point cloud, optionally with a few marked points.

Shape legend: N points, K marked points.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Cloud", "MARKER_COLOR", "side_by_side"]

# Marked points (the query point of offset attention) are drawn large, in this colour.
MARKER_COLOR: tuple[float, float, float] = (0.86, 0.08, 0.24)


@dataclass(frozen=True)
class Cloud:
    """Points with one RGB colour each, and indices of points to mark (drawn large, in red).

    Shapes:
        points: (N, 3) float; colors: (N, 3) float in [0, 1]; marked: (K,) int64 in [0, N)
    """

    points: np.ndarray
    colors: np.ndarray
    marked: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __post_init__(self) -> None:
        if self.points.ndim != 2 or self.points.shape[1] != 3:
            raise ValueError(f"Cloud: points must be (N, 3), got {self.points.shape}")
        if self.colors.shape != self.points.shape:
            raise ValueError(f"Cloud: colors must be {self.points.shape} like points, got {self.colors.shape}")
        marked = np.asarray(self.marked, dtype=np.int64)
        if marked.size and (marked.min() < 0 or marked.max() >= self.points.shape[0]):
            raise ValueError(f"Cloud: marked indices must lie in [0, {self.points.shape[0]})")
        object.__setattr__(self, "marked", marked)

    def translated(self, offset: np.ndarray) -> Cloud:
        """The same cloud moved by ``offset`` (3,)."""
        return Cloud(self.points + np.asarray(offset, dtype=self.points.dtype), self.colors, self.marked)


def side_by_side(clouds: list[Cloud], gap: float = 0.3) -> list[Cloud]:
    """Move clouds apart along x, left to right in the given order, ``gap`` times the widest
    cloud's width between neighbours (for one window showing e.g. truth next to prediction)."""
    if not clouds:
        return []
    widths = [float(np.ptp(cloud.points[:, 0])) if cloud.points.size else 0.0 for cloud in clouds]
    spacing = gap * max(max(widths), 1e-6)
    placed, cursor = [], 0.0
    for cloud, width in zip(clouds, widths):
        left = float(cloud.points[:, 0].min()) if cloud.points.size else 0.0
        placed.append(cloud.translated(np.array([cursor - left, 0.0, 0.0])))
        cursor += width + spacing
    return placed
