"""Farthest point sampling and k-nearest-neighbour search on batched point clouds.

Two layouts. ``farthest_point_sampling``/``knn`` work on PyG's flat layout: all points of a batch
stacked in one ``(P, 3)`` tensor with a ``batch`` vector naming each point's cloud.
``dense_farthest_point_sampling``/``dense_knn`` work on a dense ``(B, N, 3)`` batch of clouds of
one size (what the data modules serve, and what exported models take). Both call ``torch_cluster``
(CPU and CUDA) and fall back to pointea's pure-torch implementation, with one warning, when
``torch_cluster`` cannot be imported. While a model is traced or exported (TorchScript, ONNX,
``torch.export``) the dense functions always take the pure-torch path, which is plain traceable
tensor code: the exported graph samples exactly as eager pointea does (the same points as
torch_cluster). PyG 2.8's own ``torch_geometric.nn.fps``/``knn`` need ``pyg-lib``, so
``torch_cluster`` is called directly.

Shape legend: P points in the batch, B clouds, N points per cloud, M samples per cloud, Q query
points, K neighbours.
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor
from torch_geometric.utils import to_dense_batch

from pointea.layers.arguments import check_count

try:
    import torch_cluster
except ImportError:  # pragma: no cover - exercised only where torch_cluster is not installed
    torch_cluster = None

__all__ = [
    "farthest_point_sampling",
    "knn",
    "dense_farthest_point_sampling",
    "dense_knn",
    "fallback_farthest_point_sampling",
    "fallback_knn",
    "torch_farthest_point_sampling",
    "torch_knn",
    "is_tracing",
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


def is_tracing() -> bool:
    """True while TorchScript tracing, ``torch.export``/dynamo or the ONNX exporter runs the model."""
    return torch.jit.is_tracing() or torch.compiler.is_compiling() or torch.onnx.is_in_onnx_export()


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
    check_count("farthest_point_sampling", "num_samples", num_samples)
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
    return _torch_cluster_fps(pos, batch, ratio)


# torch.compile cannot trace torch_cluster's operators (they have no fake-tensor implementation):
# it runs them eagerly between compiled graphs. The pure-torch fallbacks trace as they are.
@torch.compiler.disable
def _torch_cluster_fps(pos: Tensor, batch: Tensor, ratio: Tensor) -> Tensor:
    return torch_cluster.fps(pos, batch, ratio=ratio, random_start=False)


@torch.compiler.disable
def _torch_cluster_knn(pos: Tensor, query: Tensor, k: int, batch: Tensor | None, query_batch: Tensor | None) -> Tensor:
    return torch_cluster.knn(pos, query, k, batch, query_batch)


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
    check_count("knn", "k", k)
    smallest = int(_cloud_sizes(batch, pos.shape[0]).min())
    if smallest < k:
        raise ValueError(
            f"knn: asked for k={k} neighbours, but a cloud has only {smallest} points; "
            f"lower k or give the cloud more points"
        )
    if not _use_torch_cluster():
        return fallback_knn(pos, query, k, batch, query_batch)
    edge_index = _torch_cluster_knn(pos, query, k, batch, query_batch)  # (2, Q * K): query, point
    return edge_index[1].view(query.shape[0], k)  # (Q * K,) -> (Q, K), grouped by query


def fallback_farthest_point_sampling(pos: Tensor, batch: Tensor | None, num_samples: int) -> Tensor:
    """Pure-torch farthest point sampling, index for index the same as ``torch_cluster.fps``.

    Runs all clouds at once on a padded ``(B, N_max, 3)`` tensor; padding is never picked.

    Shapes:
        pos: (P, 3); batch: (P,); returns (B * M,)
    """
    dense, mask = to_dense_batch(pos, batch)  # (B, N_max, 3), (B, N_max)
    offsets = torch.cumsum(mask.sum(dim=1), dim=0) - mask.sum(dim=1)  # (B,) first flat index per cloud
    picked = torch_farthest_point_sampling(dense, num_samples, mask)  # (B, M)
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
    local = torch_knn(points, queries, k, point_mask)  # (B, Q_max, K), nearest first
    offsets = torch.cumsum(point_mask.sum(dim=1), dim=0) - point_mask.sum(dim=1)  # (B,)
    flat = local + offsets.view(-1, 1, 1)  # (B, Q_max, K) indices into pos
    return flat[query_mask]  # (Q, K)


def torch_farthest_point_sampling(points: Tensor, num_samples: int, mask: Tensor | None = None) -> Tensor:
    """Pointea's pure-torch farthest point sampling on a dense batch: the one implementation the
    fallback, eager models without torch_cluster and exported models share.

    Plain tensor code with a loop of fixed length ``num_samples``, so TorchScript tracing,
    ``torch.export`` and ONNX export all capture it with the number of points left dynamic. Same
    arithmetic as ``torch_cluster.fps`` (squared distance, running minimum, first argmax, start
    at the first point), so ties resolve identically; masked points (padding) sit at distance -1,
    below any real distance, and are never picked.

    Shapes:
        points: (B, N, 3); mask: (B, N) bool, True for real points; returns (B, M) indices into N
    """
    # d * d, not d ** 2: the same numbers in torch, and a cheap Mul instead of Pow in exported graphs
    start = points - points[:, :1]  # (B, N, 3)
    distance = (start * start).sum(dim=-1)  # (B, N)
    if mask is not None:
        distance = distance.masked_fill(~mask, -1.0)
    picked = [torch.zeros_like(distance[:, 0], dtype=torch.long)]  # (B,): every cloud starts at point 0
    for _ in range(1, num_samples):
        farthest = distance.argmax(dim=1)  # (B,)
        picked.append(farthest)
        chosen = points.gather(1, farthest.view(-1, 1, 1).expand(-1, 1, 3))  # (B,) -> (B, 1, 3)
        offset = points - chosen  # (B, N, 3)
        to_new = (offset * offset).sum(dim=-1)  # (B, N)
        if mask is not None:
            to_new = to_new.masked_fill(~mask, -1.0)
        distance = torch.minimum(distance, to_new)
    return torch.stack(picked, dim=1)  # M x (B,) -> (B, M)


def torch_knn(points: Tensor, queries: Tensor, k: int, mask: Tensor | None = None) -> Tensor:
    """Pointea's pure-torch kNN on a dense batch (shared by the fallback, eager and export).

    Exact squared differences, not the matrix-product shortcut, so near-ties order as
    torch_cluster's do; neighbours nearest first; masked points (padding) are never neighbours.

    Shapes:
        points: (B, N, 3); queries: (B, Q, 3); mask: (B, N) bool; returns (B, Q, K) indices into N
    """
    # Axis by axis, (dx^2 + dy^2) + dz^2: never a (B, Q, N, 3) tensor, and plain Sub/Mul/Add in
    # exported graphs (onnxruntime broadcasts a 4-d Sub and reduces a last axis of 3 slowly).
    distance = None
    for axis in range(3):
        offset = queries[..., axis].unsqueeze(2) - points[..., axis].unsqueeze(1)  # (B, Q, 1) - (B, 1, N) -> (B, Q, N)
        distance = offset * offset if distance is None else distance + offset * offset
    if mask is not None:
        distance = distance.masked_fill(~mask.unsqueeze(1), float("inf"))  # (B, N) -> (B, 1, N)
    return distance.topk(k, dim=-1, largest=False).indices  # (B, Q, K), nearest first


def dense_farthest_point_sampling(points: Tensor, num_samples: int) -> Tensor:
    """Farthest point sampling on a dense batch of equal-size clouds: ``torch_cluster`` in eager
    mode when installed, pointea's pure-torch implementation otherwise and whenever the model is
    traced or exported. Both pick the same points.

    Shapes:
        points: (B, N, 3); returns (B, M) indices into N, in sampling order
    """
    num_clouds, num_points, _ = points.shape
    if is_tracing():
        return torch_farthest_point_sampling(points, num_samples)
    if num_points < num_samples:
        raise ValueError(
            f"farthest_point_sampling: asked for {num_samples} samples per cloud, but the clouds have "
            f"only {num_points} points; resample the clouds or lower the number of samples"
        )
    if not _use_torch_cluster():
        return torch_farthest_point_sampling(points, num_samples)
    batch = torch.arange(num_clouds, device=points.device).repeat_interleave(num_points)  # (B * N,)
    flat = farthest_point_sampling(points.reshape(-1, 3), batch, num_samples)  # (B, N, 3) -> (B * N, 3); (B * M,)
    offsets = torch.arange(num_clouds, device=points.device).unsqueeze(1) * num_points  # (B, 1)
    return flat.view(num_clouds, num_samples) - offsets  # (B * M,) -> (B, M) local indices


def dense_knn(points: Tensor, queries: Tensor, k: int) -> Tensor:
    """The ``k`` nearest points of each cloud to its queries, dense batch (see
    :func:`dense_farthest_point_sampling` for which implementation runs).

    Shapes:
        points: (B, N, 3); queries: (B, Q, 3); returns (B, Q, K) indices into N, nearest first
    """
    num_clouds, num_points, _ = points.shape
    if is_tracing():
        return torch_knn(points, queries, k)
    if num_points < k:
        raise ValueError(
            f"knn: asked for k={k} neighbours, but the clouds have only {num_points} points; "
            f"lower k or give the clouds more points"
        )
    if not _use_torch_cluster():
        return torch_knn(points, queries, k)
    num_queries = queries.shape[1]
    batch = torch.arange(num_clouds, device=points.device).repeat_interleave(num_points)  # (B * N,)
    query_batch = torch.arange(num_clouds, device=points.device).repeat_interleave(num_queries)  # (B * Q,)
    flat = knn(points.reshape(-1, 3), queries.reshape(-1, 3), k, batch, query_batch)  # (B * Q, K)
    offsets = torch.arange(num_clouds, device=points.device).view(-1, 1, 1) * num_points  # (B, 1, 1)
    return flat.view(num_clouds, num_queries, k) - offsets  # (B * Q, K) -> (B, Q, K) local indices
