"""Farthest point sampling and k-nearest-neighbour search on batched point clouds.

Both work on PyG's flat layout: all points of a batch stacked in one ``(P, 3)`` tensor with a
``batch`` vector naming each point's cloud. They call ``torch_cluster`` (CPU and CUDA) and fall
back to a pure-torch implementation, with one warning, when ``torch_cluster`` cannot be imported.
PyG 2.8's own ``torch_geometric.nn.fps``/``knn`` need ``pyg-lib``, so ``torch_cluster`` is called
directly.

Shape legend: P points in the batch, B clouds, M samples per cloud, Q query points, K neighbours.
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor
from torch_geometric.utils import to_dense_batch

try:
    import torch_cluster
except ImportError:  # pragma: no cover - exercised only where torch_cluster is not installed
    torch_cluster = None

__all__ = [
    "farthest_point_sampling",
    "knn",
    "fallback_farthest_point_sampling",
    "fallback_knn",
    "HAS_TORCH_CLUSTER",
]

HAS_TORCH_CLUSTER = torch_cluster is not None
_warned_fallback = False


def _use_torch_cluster() -> bool:
    global _warned_fallback
    if HAS_TORCH_CLUSTER:
        return True
    if not _warned_fallback:
        warnings.warn(
            "torch_cluster is not installed, so pointea samples with its pure-torch FPS and kNN: "
            "the same points, slower kNN on large clouds. `make demo` runs like this on purpose; "
            "`make setup` (also run by `make test` and `make bench`) builds torch-cluster, about 11 "
            "minutes on 2 cores, or: pip install --no-build-isolation torch-cluster",
            RuntimeWarning,
            stacklevel=3,
        )
        _warned_fallback = True
    return False


def _cloud_sizes(batch: Tensor | None, num_points: int) -> Tensor:
    """Points per cloud, ``(B,)`` long; ``batch`` must be sorted, as PyG's is."""
    if batch is None:
        return torch.tensor([num_points])
    return torch.bincount(batch)  # on the points' device: only the checks' scalars cross to the host


def farthest_point_sampling(pos: Tensor, batch: Tensor | None, num_samples: int) -> Tensor:
    """Pick ``num_samples`` points of every cloud, each the farthest from those already picked.

    The first point of each cloud is the start, so the result is deterministic.

    Args:
        pos: point coordinates.
        batch: cloud index of every point, sorted; ``None`` for a single cloud.
        num_samples: samples per cloud; every cloud must have at least this many points.

    Returns:
        Flat indices into ``pos``, cloud by cloud, in sampling order.

    Shapes:
        pos: (P, 3); batch: (P,); returns (B * M,)
    """
    sizes = _cloud_sizes(batch, pos.shape[0])
    smallest = int(sizes.min())
    if smallest < num_samples:
        raise ValueError(
            f"farthest_point_sampling: asked for {num_samples} samples per cloud, but a cloud has "
            f"only {smallest} points; resample the clouds or lower the number of samples"
        )
    if not _use_torch_cluster():
        return fallback_farthest_point_sampling(pos, batch, num_samples)
    # torch_cluster samples ceil(ratio * size) points per cloud; (M - 0.5) / size makes that
    # exactly M whatever the rounding of the float product.
    ratio = ((num_samples - 0.5) / sizes.to(pos.dtype)).to(pos.device)
    batch = batch if batch is not None else torch.zeros(pos.shape[0], dtype=torch.long, device=pos.device)
    return torch_cluster.fps(pos, batch, ratio=ratio, random_start=False)


def knn(
    pos: Tensor,
    query: Tensor,
    k: int,
    batch: Tensor | None = None,
    query_batch: Tensor | None = None,
) -> Tensor:
    """The ``k`` nearest points of ``pos`` to every query point, within the same cloud.

    Each query finds itself when it is one of the points. Neighbours of a query are ordered by
    increasing distance.

    Args:
        pos: points searched.
        query: query points.
        k: neighbours per query; every cloud of ``pos`` must have at least ``k`` points.
        batch, query_batch: cloud index of every point and every query, sorted; ``None`` for one cloud.

    Returns:
        Flat indices into ``pos``.

    Shapes:
        pos: (P, 3); query: (Q, 3); batch: (P,); query_batch: (Q,); returns (Q, K)
    """
    smallest = int(_cloud_sizes(batch, pos.shape[0]).min())
    if smallest < k:
        raise ValueError(
            f"knn: asked for k={k} neighbours, but a cloud has only {smallest} points; "
            f"lower k or give the cloud more points"
        )
    if not _use_torch_cluster():
        return fallback_knn(pos, query, k, batch, query_batch)
    edge_index = torch_cluster.knn(pos, query, k, batch, query_batch)  # (2, Q * K): query, point
    return edge_index[1].view(query.shape[0], k)  # (Q * K,) -> (Q, K), grouped by query


def fallback_farthest_point_sampling(pos: Tensor, batch: Tensor | None, num_samples: int) -> Tensor:
    """Pure-torch farthest point sampling, index for index the same as ``torch_cluster.fps``.

    Runs all clouds at once on a padded ``(B, N_max, 3)`` tensor; padding is never picked.

    Shapes:
        pos: (P, 3); batch: (P,); returns (B * M,)
    """
    dense, mask = to_dense_batch(pos, batch)  # (B, N_max, 3), (B, N_max)
    offsets = torch.cumsum(mask.sum(dim=1), dim=0) - mask.sum(dim=1)  # (B,) first flat index per cloud
    num_clouds = dense.shape[0]
    rows = torch.arange(num_clouds, device=pos.device)
    picked = torch.zeros(num_clouds, num_samples, dtype=torch.long, device=pos.device)
    # Same arithmetic as torch_cluster (squared distance, running minimum, first argmax), so ties
    # resolve identically; padding sits at -1, below any real distance.
    distance = ((dense - dense[:, :1]) ** 2).sum(dim=-1).masked_fill(~mask, -1.0)  # (B, N_max)
    for step in range(1, num_samples):
        farthest = distance.argmax(dim=1)  # (B,)
        picked[:, step] = farthest
        to_new = ((dense - dense[rows, farthest].unsqueeze(1)) ** 2).sum(dim=-1)  # (B, N_max)
        distance = torch.minimum(distance, to_new.masked_fill(~mask, -1.0))
    return (picked + offsets.unsqueeze(1)).reshape(-1)  # (B, M) -> (B * M,)


def fallback_knn(
    pos: Tensor,
    query: Tensor,
    k: int,
    batch: Tensor | None = None,
    query_batch: Tensor | None = None,
) -> Tensor:
    """Pure-torch kNN by dense pairwise distances within each cloud.

    Shapes:
        pos: (P, 3); query: (Q, 3); returns (Q, K) flat indices into ``pos``
    """
    points, point_mask = to_dense_batch(pos, batch)  # (B, N_max, 3), (B, N_max)
    queries, query_mask = to_dense_batch(query, query_batch)  # (B, Q_max, 3), (B, Q_max)
    # Exact differences, not the matrix-product shortcut, so near-ties order as torch_cluster does.
    distance = torch.cdist(queries, points, compute_mode="donot_use_mm_for_euclid_dist")  # (B, Q_max, N_max)
    distance = distance.masked_fill(~point_mask.unsqueeze(1), float("inf"))
    local = distance.topk(k, dim=-1, largest=False).indices  # (B, Q_max, K), nearest first
    offsets = torch.cumsum(point_mask.sum(dim=1), dim=0) - point_mask.sum(dim=1)  # (B,)
    flat = local + offsets.view(-1, 1, 1)  # (B, Q_max, K) indices into pos
    return flat[query_mask]  # (Q, K)
