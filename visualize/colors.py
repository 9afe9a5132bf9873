"""Colours for points: a perceptual colormap for weights, a categorical palette for labels.

Every function returns float RGB in [0, 1], shape (N, 3), the layout open3d takes.

Shape legend: N points, K categories.
"""

from __future__ import annotations

import colorsys

import numpy as np
from matplotlib import colormaps

__all__ = ["categorical_palette", "label_colors", "normalize", "scalar_colors"]

# Qualitative matplotlib maps, most distinct first; duplicates are dropped when they are merged.
_QUALITATIVE = ("tab10", "tab20", "tab20b", "tab20c")


def normalize(values: np.ndarray) -> np.ndarray:
    """Rescale values linearly to [0, 1] (min to 0, max to 1); constant values map to 0.5.

    Shapes:
        values: (N,); returns (N,) float64
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return values
    low, high = float(values.min()), float(values.max())
    if not np.isfinite([low, high]).all():
        raise ValueError("normalize: values contain NaN or Inf")
    if high - low <= 1e-12 * max(1.0, abs(high)):
        return np.full_like(values, 0.5)
    return (values - low) / (high - low)


def scalar_colors(values: np.ndarray, cmap: str = "viridis", rescale: bool = True) -> np.ndarray:
    """Colour scalar values with a perceptual colormap (viridis: dark blue low, yellow high).

    Args:
        values: one value per point.
        cmap: a matplotlib colormap name.
        rescale: stretch the values to the full colormap first (see :func:`normalize`); else they
            must already lie in [0, 1].

    Shapes:
        values: (N,); returns (N, 3) float64 in [0, 1]
    """
    unit = normalize(values) if rescale else np.clip(np.asarray(values, dtype=np.float64), 0.0, 1.0)
    return np.asarray(colormaps[cmap](unit))[:, :3]  # (N, 4) RGBA -> (N, 3)


def categorical_palette(count: int) -> np.ndarray:
    """``count`` distinct colours for categories (memory slots, classes, parts), in a fixed order.

    The first 60 come from matplotlib's qualitative maps (tab10 first, so small label sets get the
    most distinct colours); beyond that, hues step by the golden ratio at alternating lightness.

    Shapes:
        returns (count, 3) float64 in [0, 1]
    """
    if count < 0:
        raise ValueError(f"categorical_palette: count must be >= 0, got {count}")
    colors: list[tuple[float, float, float]] = []
    for name in _QUALITATIVE:
        for rgba in colormaps[name].colors:
            rgb = tuple(round(float(c), 6) for c in rgba[:3])
            if rgb not in colors:
                colors.append(rgb)  # type: ignore[arg-type]
    step = 0
    while len(colors) < count:
        hue = (step * 0.618033988749895) % 1.0
        lightness = (0.45, 0.6, 0.35)[step % 3]
        colors.append(colorsys.hls_to_rgb(hue, lightness, 0.75))
        step += 1
    return np.asarray(colors[:count], dtype=np.float64).reshape(count, 3)


def label_colors(labels: np.ndarray, num_labels: int) -> np.ndarray:
    """Colour integer labels in [0, num_labels) with :func:`categorical_palette`.

    Shapes:
        labels: (N,) integers; returns (N, 3) float64
    """
    labels = np.asarray(labels)
    if labels.size and (labels.min() < 0 or labels.max() >= num_labels):
        raise ValueError(
            f"label_colors: labels must lie in [0, {num_labels}), got [{labels.min()}, {labels.max()}]"
        )
    return categorical_palette(num_labels)[labels.astype(np.int64)]
