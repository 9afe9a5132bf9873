"""Colour mapping: perceptual colormap for weights, categorical palette for labels."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib import colormaps

from visualize.colors import categorical_palette, label_colors, normalize, scalar_colors


def test_normalize_maps_min_to_zero_max_to_one_and_keeps_order() -> None:
    values = np.array([3.0, -1.0, 7.0, 5.0])
    unit = normalize(values)
    assert unit.min() == 0.0 and unit.max() == 1.0
    assert np.array_equal(np.argsort(unit), np.argsort(values))
    np.testing.assert_allclose(unit, (values + 1) / 8)


def test_normalize_constant_values_is_mid_grey_not_nan() -> None:
    np.testing.assert_array_equal(normalize(np.full(5, 0.25)), np.full(5, 0.5))


def test_normalize_rejects_nan() -> None:
    with pytest.raises(ValueError, match="NaN"):
        normalize(np.array([0.0, np.nan]))


def test_scalar_colors_are_viridis_ends_and_monotone_in_lightness() -> None:
    values = np.linspace(0.1, 0.9, 50)
    colors = scalar_colors(values)
    assert colors.shape == (50, 3) and colors.min() >= 0 and colors.max() <= 1
    np.testing.assert_allclose(colors[0], colormaps["viridis"](0.0)[:3])
    np.testing.assert_allclose(colors[-1], colormaps["viridis"](1.0)[:3])
    # Perceptual: luminance grows with the value.
    luminance = colors @ np.array([0.2126, 0.7152, 0.0722])
    assert np.all(np.diff(luminance) > 0)


def test_scalar_colors_without_rescale_uses_the_values_as_given() -> None:
    colors = scalar_colors(np.array([0.5, 0.5]), rescale=False)
    np.testing.assert_allclose(colors[0], colormaps["viridis"](0.5)[:3])


@pytest.mark.parametrize("count", [1, 10, 50, 64, 100])
def test_categorical_palette_colours_are_distinct(count: int) -> None:
    palette = categorical_palette(count)
    assert palette.shape == (count, 3)
    assert palette.min() >= 0 and palette.max() <= 1
    assert len(np.unique(palette.round(3), axis=0)) == count


def test_categorical_palette_is_a_stable_prefix() -> None:
    np.testing.assert_array_equal(categorical_palette(64)[:10], categorical_palette(10))
    np.testing.assert_allclose(categorical_palette(10), np.asarray(colormaps["tab10"].colors), atol=1e-6)


def test_label_colors_same_label_same_colour() -> None:
    labels = np.array([2, 0, 2, 1])
    colors = label_colors(labels, 4)
    np.testing.assert_array_equal(colors[0], colors[2])
    assert not np.array_equal(colors[0], colors[1])
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        label_colors(np.array([4]), 4)
