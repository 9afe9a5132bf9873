"""NormalError and normal_loss: known angles, sign-freedom, the histogram median against NumPy,
exact threshold shares, merging (what DDP synchronisation sums) and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pointea.errors import DataError
from pointea.training.normal_error import NormalError, angle_degrees, normal_loss


def _tilted(truth: torch.Tensor, degrees: torch.Tensor) -> torch.Tensor:
    """Each unit normal turned by its own angle about an axis perpendicular to it.

    Shapes: truth (P, 3) unit; degrees (P,); returns (P, 3)
    """
    helper = torch.tensor([1.0, 0.0, 0.0], dtype=truth.dtype).expand_as(truth)
    helper = torch.where((truth[:, :1].abs() > 0.9), torch.tensor([0.0, 1.0, 0.0], dtype=truth.dtype), helper)
    side = torch.nn.functional.normalize(torch.linalg.cross(truth, helper, dim=-1), dim=-1)  # (P, 3) perpendicular
    radians = torch.deg2rad(degrees)[:, None]
    return torch.cos(radians) * truth + torch.sin(radians) * side


def _unit(count: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.nn.functional.normalize(torch.randn(count, 3, generator=generator, dtype=torch.float64), dim=-1)


def test_known_angles_give_their_statistics():
    truth = _unit(4000)
    degrees = torch.linspace(0.0, 80.0, 4000, dtype=torch.float64)
    metric = NormalError()
    metric.update(_tilted(truth, degrees).float(), truth.float())
    scores = metric.compute()
    assert scores["mean_angle"].item() == pytest.approx(40.0, abs=1e-3)
    assert scores["median_angle"].item() == pytest.approx(float(np.median(degrees.numpy())), abs=0.011)
    for threshold in (5, 10, 20, 30):
        expected = float((degrees < threshold).double().mean())
        assert scores[f"under_{threshold}"].item() == pytest.approx(expected, abs=1.5 / 4000)
    expected_distance = float((1 - torch.cos(torch.deg2rad(degrees))).mean())
    assert scores["cosine_distance"].item() == pytest.approx(expected_distance, abs=1e-5)
    assert scores["points"].item() == 4000


def test_unoriented_ignores_the_sign_and_oriented_does_not():
    truth = _unit(500, seed=1)
    estimate = _tilted(truth, torch.full((500,), 30.0, dtype=torch.float64))
    flipped = -estimate
    unoriented, oriented = NormalError(), NormalError(oriented=True)
    unoriented.update(flipped, truth)
    oriented.update(flipped, truth)
    assert unoriented.compute()["mean_angle"].item() == pytest.approx(30.0, abs=1e-6)
    assert oriented.compute()["mean_angle"].item() == pytest.approx(150.0, abs=1e-6)
    assert oriented.compute()["cosine_distance"].item() == pytest.approx(1 + math.cos(math.radians(30)), abs=1e-6)
    assert normal_loss(flipped[None], truth[None]).item() == pytest.approx(1 - math.cos(math.radians(30)), abs=1e-6)
    assert normal_loss(flipped[None], truth[None], oriented=True).item() == pytest.approx(
        1 + math.cos(math.radians(30)), abs=1e-6
    )


def test_median_matches_numpy_on_random_errors():
    truth = _unit(3001, seed=2)
    degrees = torch.rand(3001, generator=torch.Generator().manual_seed(3), dtype=torch.float64) ** 3 * 90
    metric = NormalError()
    metric.update(_tilted(truth, degrees), truth)
    assert metric.compute()["median_angle"].item() == pytest.approx(float(np.median(degrees.numpy())), abs=0.01)


def test_small_angles_stay_accurate_in_float32():
    truth = _unit(100, seed=4).float()
    estimate = _tilted(truth.double(), torch.full((100,), 0.05, dtype=torch.float64)).float()
    assert angle_degrees(estimate, truth).mean().item() == pytest.approx(0.05, abs=0.005)


def test_merged_halves_equal_the_whole():
    """DDP sums every state over ranks; merging two metrics' states is that sum."""
    truth = _unit(1000, seed=5)
    degrees = torch.rand(1000, generator=torch.Generator().manual_seed(6), dtype=torch.float64) * 60
    estimate = _tilted(truth, degrees)
    whole, first, second = NormalError(), NormalError(), NormalError()
    whole.update(estimate, truth)
    first.update(estimate[:400], truth[:400])
    second.update(estimate[400:], truth[400:])
    assert all(fn is not None for fn in first._reductions.values())
    first.merge_state(second)
    for key, value in whole.compute().items():
        assert first.compute()[key].item() == pytest.approx(value.item(), abs=1e-9), key


def test_non_unit_truth_is_renormalised():
    truth = _unit(200, seed=7)
    estimate = _tilted(truth, torch.full((200,), 12.0, dtype=torch.float64))
    scaled = NormalError()
    scaled.update(estimate * 3.0, truth * 0.2)
    assert scaled.compute()["mean_angle"].item() == pytest.approx(12.0, abs=1e-6)


@pytest.mark.parametrize(
    "bad, message",
    [(float("nan"), "NaN/Inf"), (0.0, "zero-length")],
)
def test_bad_true_normals_raise_one_line(bad, message):
    truth = _unit(10, seed=8)
    truth[3] = bad
    metric = NormalError()
    with pytest.raises(DataError, match=message):
        metric.update(_unit(10, seed=9), truth)


def test_non_finite_estimates_raise_instead_of_scoring():
    truth = _unit(10, seed=10)
    estimate = truth.clone()
    estimate[0, 0] = float("nan")
    with pytest.raises(DataError, match="estimated normals"):
        NormalError().update(estimate, truth)


def test_nothing_scored_is_an_error_not_nan():
    with pytest.raises(ValueError, match="no points"):
        NormalError().compute()
