"""Propagation of attention values from the sampled points to the full cloud."""

from __future__ import annotations

import numpy as np
import pytest

from visualize.propagate import nearest_indices


def _brute_force(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    return np.linalg.norm(target[:, None] - source[None], axis=-1).argmin(axis=1)


def test_nearest_indices_match_brute_force_across_chunks() -> None:
    rng = np.random.default_rng(0)
    source, target = rng.normal(size=(40, 3)), rng.normal(size=(333, 3))
    np.testing.assert_array_equal(nearest_indices(source, target, chunk=50), _brute_force(source, target))


def test_sampled_points_keep_their_own_value() -> None:
    rng = np.random.default_rng(1)
    cloud = rng.normal(size=(200, 3))
    picked = rng.choice(200, size=32, replace=False)
    values = rng.normal(size=32)
    full = values[nearest_indices(cloud[picked], cloud)]
    np.testing.assert_array_equal(full[picked], values)


def test_rows_of_multichannel_values_follow_their_nearest_source() -> None:
    source = np.array([[0.0, 0, 0], [10.0, 0, 0]])
    target = np.array([[1.0, 0, 0], [9.0, 0, 0], [4.0, 1, 0]])
    colors = np.array([[1.0, 0, 0], [0.0, 0, 1]])
    np.testing.assert_array_equal(colors[nearest_indices(source, target)], colors[[0, 1, 0]])


def test_nearest_indices_reject_mismatched_inputs() -> None:
    with pytest.raises(ValueError, match="expected"):
        nearest_indices(np.zeros((2, 3)), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="no source points"):
        nearest_indices(np.zeros((0, 3)), np.zeros((5, 3)))
