import warnings

import pytest
import torch
import torch_cluster

from pointea.layers import sampling
from pointea.layers.sampling import fallback_farthest_point_sampling, fallback_knn, farthest_point_sampling, knn


def random_batch(sizes: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    pos = torch.rand(sum(sizes), 3)
    batch = torch.cat([torch.full((n,), i) for i, n in enumerate(sizes)])
    return pos, batch


@pytest.mark.parametrize("sizes, samples", [([300], 40), ([200, 257, 120], 64), ([64, 64], 64)])
def test_fallback_fps_equals_torch_cluster(sizes, samples):
    pos, batch = random_batch(sizes)
    ratio = torch.tensor([(samples - 0.5) / n for n in sizes])
    expected = torch_cluster.fps(pos, batch, ratio=ratio, random_start=False)
    assert torch.equal(fallback_farthest_point_sampling(pos, batch, samples), expected)
    assert torch.equal(farthest_point_sampling(pos, batch, samples), expected)


def test_fps_samples_exactly_m_distinct_points_per_cloud():
    pos, batch = random_batch([1000, 999, 513])
    index = farthest_point_sampling(pos, batch, 512)
    assert index.shape == (3 * 512,)
    per_cloud = batch[index].view(3, 512)
    assert torch.equal(per_cloud, torch.arange(3).unsqueeze(1).expand(3, 512))
    assert len(set(index.tolist())) == 3 * 512


def test_fps_spreads_points_out():
    pos = torch.cat([torch.zeros(100, 3), torch.tensor([[5.0, 0, 0], [0, 5.0, 0]])])
    picked = set(farthest_point_sampling(pos, None, 3).tolist())
    assert {100, 101} <= picked  # the two outliers are the farthest points


@pytest.mark.parametrize("sizes", [[150], [90, 130, 70]])
def test_fallback_knn_equals_torch_cluster(sizes):
    pos, batch = random_batch(sizes)
    query_index = torch.cat([torch.randperm(n)[:20] + sum(sizes[:i]) for i, n in enumerate(sizes)])
    query, query_batch = pos[query_index] + 0.01, batch[query_index]
    fast = knn(pos, query, 16, batch, query_batch)
    slow = fallback_knn(pos, query, 16, batch, query_batch)
    assert fast.shape == slow.shape == (len(query_index), 16)
    assert torch.equal(fast.sort(dim=1).values, slow.sort(dim=1).values)
    assert torch.equal(batch[fast], query_batch.unsqueeze(1).expand(-1, 16))  # never crosses clouds


def test_knn_nearest_first_and_includes_self():
    pos, _ = random_batch([100])
    neighbours = knn(pos, pos[:10], 5)
    assert torch.equal(neighbours[:, 0], torch.arange(10))
    distance = (pos[neighbours] - pos[:10, None]).norm(dim=-1)
    assert torch.all(distance[:, 1:] >= distance[:, :-1])


def test_too_few_points_is_a_clear_error():
    pos, batch = random_batch([100, 30])
    with pytest.raises(ValueError, match="a cloud has only 30 points"):
        farthest_point_sampling(pos, batch, 64)
    with pytest.raises(ValueError, match="k=32 neighbours, but a cloud has only 30 points"):
        knn(pos, pos, 32, batch, batch)


def test_fallback_is_used_with_one_warning_without_torch_cluster(monkeypatch):
    monkeypatch.setattr(sampling, "HAS_TORCH_CLUSTER", False)
    monkeypatch.setattr(sampling, "_warned_fallback", False)
    monkeypatch.setattr(sampling, "torch_cluster", None)  # any call into it would fail
    pos, batch = random_batch([80, 90])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        index = farthest_point_sampling(pos, batch, 16)
        knn(pos, pos[index], 4, batch, batch[index])
    assert index.shape == (32,)
    assert [str(w.message).startswith("torch_cluster is not installed") for w in caught] == [True]


def test_dense_sampling_is_torch_cluster_and_the_pure_torch_path_alike(monkeypatch):
    points = torch.rand(3, 300, 3)  # (B, N, 3)
    fps = sampling.dense_farthest_point_sampling(points, 40)  # torch_cluster here
    pure_fps = sampling.torch_farthest_point_sampling(points, 40)
    flat, batch = points.reshape(-1, 3), torch.arange(3).repeat_interleave(300)
    expected = torch_cluster.fps(flat, batch, ratio=torch.full((3,), 39.5 / 300), random_start=False)
    assert torch.equal(fps, pure_fps) and torch.equal((pure_fps + torch.arange(3)[:, None] * 300).flatten(), expected)
    centres = points.gather(1, fps[..., None].expand(-1, -1, 3))  # (B, M, 3)
    neighbours = sampling.dense_knn(points, centres, 8)  # (B, M, K)
    pure = sampling.torch_knn(points, centres, 8)
    assert torch.equal(neighbours.sort(-1).values, pure.sort(-1).values)
    assert torch.equal(pure[..., 0], fps)  # every centre is its own nearest point
    # while tracing or exporting, the dense functions never call torch_cluster
    monkeypatch.setattr(sampling, "torch_cluster", None)
    monkeypatch.setattr(sampling, "is_tracing", lambda: True)
    assert torch.equal(sampling.dense_farthest_point_sampling(points, 40), fps)
    assert torch.equal(sampling.dense_knn(points, centres, 8), pure)


def test_dense_sampling_refuses_too_few_points():
    with pytest.raises(ValueError, match="asked for 64 samples per cloud, but the clouds have only 30 points"):
        sampling.dense_farthest_point_sampling(torch.rand(2, 30, 3), 64)
    with pytest.raises(ValueError, match="k=32 neighbours, but the clouds have only 30 points"):
        sampling.dense_knn(torch.rand(2, 30, 3), torch.rand(2, 5, 3), 32)
