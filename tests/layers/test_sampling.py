import sys
import warnings

import pytest
import torch
import torch_cluster

from pointea.layers import sampling
from pointea.layers.sampling import fps, knn


def padded_batch(sizes: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Clouds of these sizes padded to the largest (padding far away, where a bug would pick it)."""
    points = torch.full((len(sizes), max(sizes), 3), 100.0)
    mask = torch.zeros(len(sizes), max(sizes), dtype=torch.bool)
    for i, n in enumerate(sizes):
        points[i, :n] = torch.rand(n, 3)
        mask[i, :n] = True
    return points, mask


def _torch_cluster_fps(points: torch.Tensor, mask: torch.Tensor, samples: int) -> torch.Tensor:
    """torch_cluster.fps called by hand on the flat layout, as indices into each cloud."""
    sizes = mask.sum(dim=1)
    flat = torch_cluster.fps(points[mask], torch.arange(len(sizes)).repeat_interleave(sizes),
                             ratio=(samples - 0.5) / sizes.double(), random_start=False)  # fmt: skip
    starts = torch.cumsum(sizes, 0) - sizes
    return flat.view(len(sizes), samples) - starts.unsqueeze(1)


@pytest.mark.parametrize("sizes, samples", [([300], 40), ([200, 257, 120], 64), ([64, 64], 64)])
@pytest.mark.parametrize("backend", ["torch", "torch_cluster", "auto"])
def test_every_backend_picks_torch_clusters_points(sizes, samples, backend):
    points, mask = padded_batch(sizes)
    assert torch.equal(fps(points, samples, mask, backend=backend), _torch_cluster_fps(points, mask, samples))


def test_fps_samples_m_distinct_real_points_per_cloud():
    points, mask = padded_batch([1000, 999, 513])
    index = fps(points, 512, mask)
    assert index.shape == (3, 512)
    assert all(len(set(row.tolist())) == 512 for row in index)
    assert mask.gather(1, index).all()  # padding is never picked


def test_fps_spreads_points_out_and_takes_one_cloud():
    cloud = torch.cat([torch.zeros(100, 3), torch.tensor([[5.0, 0, 0], [0, 5.0, 0]])])
    picked = fps(cloud, 3)
    assert picked.shape == (3,) and picked[0] == 0
    assert {100, 101} <= set(picked.tolist())  # the two outliers are the farthest points


def test_fps_starts_at_the_first_real_point_of_a_mask_with_holes():
    points, mask = padded_batch([50])
    mask[0, :5] = False
    picked = fps(points, 10, mask)[0]
    assert picked[0] == 5 and mask[0, picked].all()
    assert torch.equal(fps(points, 10, mask, backend="torch_cluster")[0], picked)


@pytest.mark.parametrize("sizes", [[150], [90, 130, 70]])
@pytest.mark.parametrize("backend", ["torch", "torch_cluster"])
def test_knn_finds_the_nearest_real_points_of_the_same_cloud(sizes, backend):
    points, mask = padded_batch(sizes)
    queries = points[:, :20] + 0.01  # (B, 20, 3)
    neighbours = knn(points, queries, 16, mask, backend=backend)
    assert neighbours.shape == (len(sizes), 20, 16)
    assert mask.gather(1, neighbours.flatten(1)).all()  # never padding
    # an independent check: the 16 smallest exact distances, padding excluded
    distance = torch.cdist(queries.double(), points.double()).masked_fill(~mask.unsqueeze(1), float("inf"))
    expected = distance.sort(dim=-1).values[..., :16]
    found = distance.gather(2, neighbours)
    assert torch.allclose(found, expected, atol=1e-6)
    assert torch.all(found[..., 1:] >= found[..., :-1])  # nearest first


def test_knn_includes_the_query_itself_on_one_cloud():
    cloud = torch.rand(100, 3)
    neighbours = knn(cloud, cloud[:10], 5)
    assert neighbours.shape == (10, 5)
    assert torch.equal(neighbours[:, 0], torch.arange(10))


def test_too_few_points_is_a_clear_error():
    points, mask = padded_batch([100, 30])
    with pytest.raises(ValueError, match="fps: asked for 64 samples per cloud, but a cloud has only 30 points"):
        fps(points, 64, mask)
    with pytest.raises(ValueError, match="knn: asked for k=32 neighbours, but a cloud has only 30 points"):
        knn(points, points, 32, mask)
    with pytest.raises(ValueError, match="backend must be one of"):
        fps(points, 4, mask, backend="numpy")


def test_without_torch_cluster_the_pure_torch_backend_runs_with_one_warning(monkeypatch):
    monkeypatch.setattr(sampling, "HAS_TORCH_CLUSTER", False)
    monkeypatch.setattr(sampling, "_warned_fallback", False)
    monkeypatch.setitem(sys.modules, "torch_cluster", None)  # any import of it, so any call into it, fails
    points, mask = padded_batch([80, 90])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        index = fps(points, 16, mask)
        centres = points.gather(1, index.unsqueeze(-1).expand(-1, -1, 3))
        knn(points, centres, 4, mask)
        knn(points, centres, 4, mask)
    assert index.shape == (2, 16)
    assert [str(w.message).startswith("torch_cluster is not installed") for w in caught] == [True]
    with pytest.raises(ValueError, match="backend='torch_cluster' needs torch_cluster"):
        fps(points, 16, mask, backend="torch_cluster")


def test_while_tracing_only_the_pure_torch_backend_runs(monkeypatch):
    points = torch.rand(3, 300, 3)
    expected_fps, centres = fps(points, 40), points[:, :40]
    expected_knn = knn(points, centres, 8, backend="torch_cluster")
    monkeypatch.setitem(sys.modules, "torch_cluster", None)  # a call into it would fail
    monkeypatch.setattr(sampling, "is_tracing", lambda: True)
    assert torch.equal(fps(points, 40, backend="torch_cluster"), expected_fps)
    assert torch.equal(knn(points, centres, 8, backend="torch_cluster").sort(-1).values, expected_knn.sort(-1).values)


def test_pure_torch_knn_in_query_blocks_finds_the_same_neighbours(monkeypatch):
    """Queries beyond the pure-torch kNN's block budget are searched block by block, with the
    same result as all at once (and a last, shorter block)."""
    points, mask = torch.rand(2, 90, 3), torch.rand(2, 90) > 0.2
    whole = knn(points, points, 5, mask, backend="torch")
    monkeypatch.setattr(sampling, "_KNN_BLOCK_ELEMENTS", 2 * 90 * 7)  # blocks of 7 queries: 12 full, one of 6
    blocks, search = [], sampling._torch_knn_block
    monkeypatch.setattr(sampling, "_torch_knn_block", lambda p, q, *rest: blocks.append(q.shape[1]) or search(p, q, *rest))
    assert torch.equal(knn(points, points, 5, mask, backend="torch"), whole)
    assert blocks == [7] * 12 + [6]
