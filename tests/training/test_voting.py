import pytest
import torch

from pointea.training import ScaleVoting


def test_one_vote_is_the_plain_softmax():
    logits = torch.randn(3, 5)
    assert torch.allclose(ScaleVoting(votes=1)(lambda p: logits, torch.rand(3, 10, 3)), logits.softmax(-1))


def test_votes_average_scaled_passes_within_range():
    seen = []

    def predict(points):
        seen.append(points.clone())
        return points.mean(dim=1) * 10  # (B, 3) logits that depend on the scale

    points = torch.rand(4, 20, 3) + 0.5
    probabilities = ScaleVoting(votes=5, low=0.8, high=1.25)(predict, points)
    assert len(seen) == 5 and torch.equal(seen[0], points)
    for scaled in seen[1:]:
        scale = scaled / points  # (B, N, 3), constant over points
        assert torch.allclose(scale, scale[:, :1], atol=1e-5)
        assert scale.min() >= 0.8 - 1e-6 and scale.max() <= 1.25 + 1e-6
        assert not torch.allclose(scale, torch.ones_like(scale))
    expected = torch.stack([predict_logits.mean(dim=1) * 10 for predict_logits in seen]).softmax(-1).mean(0)
    assert torch.allclose(probabilities, expected, atol=1e-6)
    assert torch.allclose(probabilities.sum(-1), torch.ones(4))


def test_voting_is_reproducible_from_its_seed():
    points = torch.rand(2, 8, 3)
    predict = lambda p: p.flatten(1)  # noqa: E731
    assert torch.equal(ScaleVoting(3, seed=7)(predict, points), ScaleVoting(3, seed=7)(predict, points))


def test_bad_settings():
    with pytest.raises(ValueError, match="votes"):
        ScaleVoting(0)
