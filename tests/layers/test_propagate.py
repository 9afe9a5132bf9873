"""Nearest-neighbour propagation from sampled points to a full cloud: the one implementation that
``pointea-predict`` (part labels) and the attention viewer (attention values) share."""

from __future__ import annotations

import pytest
import torch

from pointea.layers import sampling
from pointea.layers.propagate import nearest_indices, propagate_labels


def _brute_force(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return torch.linalg.vector_norm(target[:, None] - source[None], dim=-1).argmin(dim=1)  # (N, M) -> (N,)


@pytest.mark.parametrize("backend", ["torch_cluster", "pure torch"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_nearest_indices_match_brute_force_across_chunks(backend, dtype, monkeypatch) -> None:
    if backend == "pure torch":
        monkeypatch.setattr(sampling, "HAS_TORCH_CLUSTER", False)
        monkeypatch.setattr(sampling, "_warned_fallback", True)
    else:  # the test set-up (make test) builds torch_cluster: without it this path is broken
        assert sampling.HAS_TORCH_CLUSTER, "torch_cluster is not installed (make setup builds it)"
    generator = torch.Generator().manual_seed(0)
    source = torch.randn(40, 3, generator=generator, dtype=dtype)
    target = torch.randn(333, 3, generator=generator, dtype=dtype)
    found = nearest_indices(source, target, chunk_size=50)  # 7 chunks, the last one short
    assert found.dtype == torch.long and found.shape == (333,)
    assert torch.equal(found, _brute_force(source, target))


def test_sampled_points_keep_their_own_label() -> None:
    generator = torch.Generator().manual_seed(1)
    cloud = torch.randn(200, 3, generator=generator)
    picked = torch.randperm(200, generator=generator)[:32]
    labels = torch.randint(0, 50, (32,), generator=generator)
    full = propagate_labels(cloud[picked], labels, cloud)
    assert torch.equal(full[picked], labels)


def test_every_point_takes_the_label_of_its_nearest_sampled_point() -> None:
    sampled = torch.tensor([[0.0, 0, 0], [10.0, 0, 0]])
    points = torch.tensor([[1.0, 0, 0], [9.0, 0, 0], [4.0, 1, 0], [5.5, -3, 2]])
    assert propagate_labels(sampled, torch.tensor([7, 3]), points).tolist() == [7, 3, 7, 3]
    colours = torch.tensor([[1.0, 0, 0], [0.0, 0, 1]])  # (M, C) values travel as whole rows
    assert torch.equal(propagate_labels(sampled, colours, points, chunk_size=1), colours[[0, 1, 0, 1]])


def test_bad_inputs_are_refused_with_what_was_expected() -> None:
    with pytest.raises(ValueError, match=r"expected \(M, 3\) source and \(N, 3\) target"):
        nearest_indices(torch.zeros(2, 3), torch.zeros(5, 2))
    with pytest.raises(ValueError, match="no source points"):
        nearest_indices(torch.zeros(0, 3), torch.zeros(5, 3))
    with pytest.raises(ValueError, match="chunk_size must be >= 1"):
        nearest_indices(torch.zeros(2, 3), torch.zeros(5, 3), chunk_size=0)
    with pytest.raises(ValueError, match="3 labels for 2 sampled points"):
        propagate_labels(torch.zeros(2, 3), torch.zeros(3), torch.zeros(5, 3))
