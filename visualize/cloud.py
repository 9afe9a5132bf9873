"""What is drawn and from where: a coloured point cloud (optionally with a few marked points), and
a fixed camera per cloud, so that every tile of one sample is seen from the same place.

ModelNet40 and ShapeNetPart archives are y-up; the default view looks at the cloud from the front
right, about 30 degrees above.

Shape legend: N points, K marked points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Camera", "Cloud", "DEFAULT_DIRECTION", "MARKER_COLOR", "fixed_camera", "side_by_side"]

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


DEFAULT_DIRECTION: tuple[float, float, float] = (1.0, 1.0, 1.4)


@dataclass(frozen=True)
class Camera:
    """A look-at camera: vertical field of view in degrees, target, eye and up vectors."""

    fov_deg: float
    center: tuple[float, float, float]
    eye: tuple[float, float, float]
    up: tuple[float, float, float]


def fixed_camera(
    points: np.ndarray,
    direction: tuple[float, float, float] = DEFAULT_DIRECTION,
    up: tuple[float, float, float] = (0.0, 1.0, 0.0),
    fov_deg: float = 30.0,
    margin: float = 1.04,
) -> Camera:
    """A camera looking along ``-direction`` that frames the whole cloud tightly in a square
    image: aimed at the centre of the cloud's extent across the view, as close as every point
    (in perspective) still fits the field of view, times ``margin``.

    Shapes:
        points: (N, 3)
    """
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 3 or points.shape[0] == 0:
        raise ValueError(f"fixed_camera: expected (N, 3) points with N > 0, got {points.shape}")
    back = np.asarray(direction, dtype=np.float64)
    back = back / np.linalg.norm(back)  # from the target towards the eye
    right = np.cross(-back, np.asarray(up, dtype=np.float64))
    if np.linalg.norm(right) < 1e-9:
        raise ValueError(f"fixed_camera: direction {direction} is parallel to up {up}")
    right = right / np.linalg.norm(right)
    true_up = np.cross(right, -back)
    # View coordinates of the points: across (x, y) and towards the eye (z).
    x, y, z = points @ right, points @ true_up, points @ back  # (N,) each
    middle = (x.min() + x.max()) / 2 * right + (y.min() + y.max()) / 2 * true_up
    x, y = x - (x.min() + x.max()) / 2, y - (y.min() + y.max()) / 2
    depth_centre = (z.min() + z.max()) / 2
    center = middle + depth_centre * back
    z = z - depth_centre
    tangent = math.tan(math.radians(fov_deg) / 2)
    # A point at lateral offset |x| and height z above the target plane fits when
    # |x| <= tan(fov / 2) (d - z), d being the eye's distance from the target.
    distance = margin * float(np.max(np.maximum(np.abs(x), np.abs(y)) / tangent + z))
    distance = max(distance, 1e-6 + float(z.max()) * 1.01)
    eye = center + distance * back
    return Camera(
        fov_deg=fov_deg,
        center=tuple(float(c) for c in center),  # type: ignore[arg-type]
        eye=tuple(float(c) for c in eye),  # type: ignore[arg-type]
        up=tuple(float(c) for c in true_up),  # type: ignore[arg-type]
    )
