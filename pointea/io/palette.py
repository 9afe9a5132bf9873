"""Fixed colours for writing points: a categorical palette for labels, viridis for scalars.

Self-contained (no matplotlib) so that :func:`pointea.io.write_points` needs only NumPy: the first
ten label colours are matplotlib's ``tab10``; further labels step the hue by the golden ratio at
alternating lightness; scalars go through viridis, interpolated between 9 of its stops.

Shape legend: N points.
"""

from __future__ import annotations

import colorsys

import numpy as np

__all__ = ["label_colours", "scalar_colours"]

_TAB10 = np.array([
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
], dtype=np.uint8)  # fmt: skip
_VIRIDIS = np.array([
    (68, 1, 84), (71, 45, 123), (59, 82, 139), (44, 114, 142), (33, 145, 140),
    (39, 173, 129), (92, 200, 99), (170, 220, 50), (253, 231, 37),
], dtype=np.float64)  # fmt: skip


def _colour(label: int) -> tuple[int, int, int]:
    if 0 <= label < len(_TAB10):
        return tuple(int(c) for c in _TAB10[label])
    hue = (label * 0.6180339887) % 1.0
    lightness = 0.45 if label % 2 else 0.6
    return tuple(int(round(255 * c)) for c in colorsys.hls_to_rgb(hue, lightness, 0.75))


def label_colours(labels: np.ndarray) -> np.ndarray:
    """One fixed colour per label value (the same label is the same colour in every file).

    Shapes:
        labels: (N,) int; returns (N, 3) uint8
    """
    values, inverse = np.unique(np.asarray(labels), return_inverse=True)
    table = np.array([_colour(int(v)) for v in values], dtype=np.uint8).reshape(-1, 3)
    return table[inverse.reshape(-1)]


def scalar_colours(values: np.ndarray, low: float | None = None, high: float | None = None) -> np.ndarray:
    """Viridis colours of scalars, from ``low`` (dark blue) to ``high`` (yellow); min/max by default.

    Shapes:
        values: (N,) float; returns (N, 3) uint8
    """
    values = np.asarray(values, dtype=np.float64)
    low = float(values.min()) if low is None else low
    high = float(values.max()) if high is None else high
    span = high - low
    unit = np.full_like(values, 0.5) if span <= 0 else np.clip((values - low) / span, 0.0, 1.0)
    position = unit * (len(_VIRIDIS) - 1)  # (N,)
    below = np.minimum(position.astype(np.int64), len(_VIRIDIS) - 2)
    weight = (position - below)[:, None]  # (N, 1)
    rgb = _VIRIDIS[below] * (1 - weight) + _VIRIDIS[below + 1] * weight  # (N, 3)
    return np.round(rgb).astype(np.uint8)
