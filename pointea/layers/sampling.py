"""Farthest point sampling and k-nearest-neighbour search on dense batches of point clouds.

One function per algorithm, :func:`fps` and :func:`knn`, on a dense ``(B, N, 3)`` batch (or one
``(N, 3)`` cloud), with an optional ``(B, N)`` mask for batches of clouds of different sizes (the
padding is never sampled and never a neighbour). Two backends compute the same result:

- ``"torch"``: pointea's pure-torch implementation, plain traceable tensor code (TorchScript
  tracing, ``torch.export`` and ONNX export capture it with the number of points left dynamic);
  always used while a model is traced or exported, so an exported graph samples as eager pointea
  does.
- ``"torch_cluster"``: ``torch_cluster``'s kernels (CPU and CUDA). PyG 2.8's own
  ``torch_geometric.nn.fps``/``knn`` need ``pyg-lib``, so ``torch_cluster`` is called directly.

``backend="auto"`` (the default) picks, in eager mode: FPS with torch_cluster on CUDA and with the
pure-torch loop on the CPU (where it is 3-5x faster than torch_cluster's CPU kernel: docs/bench/sampling/notes.md);
kNN with torch_cluster when it is installed (its CPU kernel is a KD-tree), else the pure-torch
search, with one warning.

Shape legend: B clouds, N points per cloud, M samples per cloud, Q query points per cloud,
K neighbours, P real points of a masked batch.
"""

from __future__ import annotations

import functools
import importlib.util
import warnings
from collections.abc import Callable
from typing import Literal, TypeVar

import torch
from torch import Tensor

from pointea.layers.arguments import check_count


__all__ = ["fps", "knn", "Backend", "BACKENDS", "is_tracing", "HAS_TORCH_CLUSTER"]

Backend = Literal["auto", "torch", "torch_cluster"]
BACKENDS: tuple[str, ...] = ("auto", "torch", "torch_cluster")
# torch_cluster is imported on its first use: its import costs about 0.6 s (it loads SciPy), which
# commands that never sample (``pointea-predict --help``) should not pay.
HAS_TORCH_CLUSTER = importlib.util.find_spec("torch_cluster") is not None
_warned_fallback = False


def is_tracing() -> bool:
    """True while TorchScript tracing, ``torch.export``/dynamo or the ONNX exporter runs the model."""
    return torch.jit.is_tracing() or torch.compiler.is_compiling() or torch.onnx.is_in_onnx_export()


def _warn_fallback() -> None:
    global _warned_fallback
    if not _warned_fallback:
        warnings.warn(
            "torch_cluster is not installed, so pointea searches neighbours with its pure-torch kNN: "
            "the same neighbours, slower on large clouds. `make demo` runs like this on purpose; "
            "`make setup` (also run by `make test` and `make bench`) builds torch-cluster, about 11 "
            "minutes on 2 cores, or: pip install --no-build-isolation torch-cluster",
            RuntimeWarning,
            stacklevel=4,
        )
        _warned_fallback = True


def _backend(name: str, backend: str, device: torch.device, cluster_on_cpu: bool) -> str:
    """The backend that runs: ``"torch"`` or ``"torch_cluster"``."""
    if backend not in BACKENDS:
        raise ValueError(f"{name}: backend must be one of {BACKENDS}, got {backend!r}")
    if is_tracing():
        return "torch"
    if backend == "torch_cluster" and not HAS_TORCH_CLUSTER:
        raise ValueError(f"{name}: backend='torch_cluster' needs torch_cluster, which is not installed")
    if backend != "auto":
        return backend
    if device.type != "cpu" or cluster_on_cpu:
        if HAS_TORCH_CLUSTER:
            return "torch_cluster"
        if cluster_on_cpu:
            _warn_fallback()
    return "torch"


def _batched(name: str, points: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor | None, bool]:
    """``points`` as (B, N, 3) and ``mask`` as (B, N), and whether a single (N, 3) cloud was given."""
    single = points.dim() == 2
    if single:
        points = points.unsqueeze(0)  # (N, 3) -> (1, N, 3)
        mask = None if mask is None else mask.unsqueeze(0)  # (N,) -> (1, N)
    if points.dim() != 3 or points.shape[-1] != 3:
        raise ValueError(f"{name}: points must be (B, N, 3) or (N, 3), got {tuple(points.shape)}")
    if mask is not None and (mask.dtype != torch.bool or tuple(mask.shape) != tuple(points.shape[:2])):
        raise ValueError(
            f"{name}: mask must be a bool tensor of shape {tuple(points.shape[:2])}, got {tuple(mask.shape)} {mask.dtype}"
        )
    return points, mask, single


def _check_enough(name: str, what: str, wanted: int, points: Tensor, mask: Tensor | None) -> None:
    """One-line error unless every cloud has at least ``wanted`` real points (skipped while tracing)."""
    if is_tracing() or points.shape[0] == 0:
        return
    smallest = points.shape[1] if mask is None else int(mask.sum(dim=1).min())
    if smallest < wanted:
        raise ValueError(
            f"{name}: asked for {what}, but a cloud has only {smallest} points; "
            "resample the clouds, give them more points, or ask for fewer"
        )


def _flat(points: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """torch_cluster's flat layout of the real points.

    Shapes: points (B, N, 3); mask (B, N); returns pos (P, 3), batch (P,), each flat point's index
    into N (P,), the first flat index of each cloud (B,)
    """
    num_clouds, num_points, _ = points.shape
    if mask is None:
        mask = torch.ones(num_clouds, num_points, dtype=torch.bool, device=points.device)
    cloud, local = mask.nonzero(as_tuple=True)  # (P,), (P,), cloud by cloud
    sizes = mask.sum(dim=1)  # (B,)
    starts = torch.cumsum(sizes, dim=0) - sizes  # (B,)
    return points[cloud, local], cloud, local, starts


_F = TypeVar("_F", bound=Callable[..., Tensor])


def _outside_compiled_graphs(function: _F) -> _F:
    """``function`` run eagerly between torch.compile's graphs: torch.compile cannot trace
    torch_cluster's operators (they have no fake-tensor implementation); the pure-torch backend
    traces as it is. ``torch.compiler.disable`` is applied at the first call, since it imports
    torch._dynamo (about 1.4 s) and most commands never compile."""
    disabled: Callable[..., Tensor] | None = None

    @functools.wraps(function)
    def run(*args: object) -> Tensor:
        nonlocal disabled
        if disabled is None:
            disabled = torch.compiler.disable(function)
        return disabled(*args)

    return run  # type: ignore[return-value]


@_outside_compiled_graphs
def _torch_cluster_fps(points: Tensor, mask: Tensor | None, num_samples: int) -> Tensor:
    """Shapes: points (B, N, 3); mask (B, N); returns (B, M) indices into N."""
    pos, batch, local, starts = _flat(points, mask)
    sizes = torch.bincount(batch, minlength=points.shape[0])  # (B,)
    # torch_cluster samples ceil(ratio * size) points per cloud; (M - 0.5) / size makes that
    # exactly M whatever the rounding of the float product.
    ratio = (num_samples - 0.5) / sizes.to(pos.dtype)  # (B,)
    import torch_cluster

    flat = torch_cluster.fps(pos, batch, ratio=ratio, random_start=False)  # (B * M,) into P
    return local[flat].view(points.shape[0], num_samples)  # (B * M,) -> (B, M)


@_outside_compiled_graphs
def _torch_cluster_knn(points: Tensor, queries: Tensor, k: int, mask: Tensor | None) -> Tensor:
    """Shapes: points (B, N, 3); queries (B, Q, 3); mask (B, N); returns (B, Q, K) indices into N."""
    num_clouds, num_queries, _ = queries.shape
    pos, batch, local, _ = _flat(points, mask)
    query_batch = torch.arange(num_clouds, device=queries.device).repeat_interleave(num_queries)  # (B * Q,)
    import torch_cluster

    edges = torch_cluster.knn(pos, queries.reshape(-1, 3), k, batch, query_batch)  # (2, B * Q * K): query, point
    return local[edges[1]].view(num_clouds, num_queries, k)  # (B * Q * K,) -> (B, Q, K), grouped by query


def _torch_fps(points: Tensor, num_samples: int, mask: Tensor | None) -> Tensor:
    """Pure-torch farthest point sampling; index for index what ``torch_cluster.fps`` picks.

    Plain tensor code with a loop of fixed length ``num_samples``. Same arithmetic as
    ``torch_cluster.fps`` (squared distance ``(dx^2 + dy^2) + dz^2``, running minimum, first
    argmax, start at each cloud's first real point), so ties resolve identically; masked points sit
    at distance -1, below any real distance, and are never picked. One axis at a time: a strided
    reduction over the last axis of 3 costs more than the three plain (B, N) ops.

    Shapes:
        points: (B, N, 3); mask: (B, N); returns (B, M) indices into N
    """
    x, y, z = points.unbind(dim=-1)  # 3 x (B, N)
    x, y, z = x.contiguous(), y.contiguous(), z.contiguous()
    distance = torch.full_like(x, float("inf"))  # (B, N) squared distance to the picked set
    if mask is None:
        last = torch.zeros_like(x[:, :1], dtype=torch.long)  # (B, 1): every cloud starts at point 0
    else:
        distance = distance.masked_fill(~mask, -1.0)
        last = mask.to(torch.int8).argmax(dim=1, keepdim=True)  # (B, 1): the first real point
    picked = [last.squeeze(1)]
    for _ in range(1, num_samples):
        dx, dy, dz = x - x.gather(1, last), y - y.gather(1, last), z - z.gather(1, last)  # (B, N) each
        distance = torch.minimum(distance, dx * dx + dy * dy + dz * dz)  # (B, N)
        last = distance.argmax(dim=1, keepdim=True)  # (B, 1)
        picked.append(last.squeeze(1))
    return torch.stack(picked, dim=1)  # M x (B,) -> (B, M)


#: The most squared distances the pure-torch kNN holds at once in eager mode (256 MiB of float32):
#: beyond it the queries are searched in blocks (a full-resolution encoder with local_neighbours
#: asks for every point's neighbours at once).
_KNN_BLOCK_ELEMENTS = 1 << 26


def _torch_knn(points: Tensor, queries: Tensor, k: int, mask: Tensor | None) -> Tensor:
    """Pure-torch kNN by exact squared differences (not the matrix-product shortcut, so near-ties
    order as torch_cluster's do); nearest first; masked points are never neighbours. In eager
    mode, queries in blocks of at most :data:`_KNN_BLOCK_ELEMENTS` distances (the same result);
    traced or exported graphs search all queries at once (one graph for any number of points).

    Shapes:
        points: (B, N, 3); queries: (B, Q, 3); mask: (B, N); returns (B, Q, K) indices into N
    """
    num_clouds, num_points = points.shape[:2]
    block = max(1, _KNN_BLOCK_ELEMENTS // max(1, num_clouds * num_points))  # queries per block
    if is_tracing() or queries.shape[1] <= block:
        return _torch_knn_block(points, queries, k, mask)
    parts = [_torch_knn_block(points, part, k, mask) for part in queries.split(block, dim=1)]  # (B, <= block, K) each
    return torch.cat(parts, dim=1)  # (B, Q, K)


def _torch_knn_block(points: Tensor, queries: Tensor, k: int, mask: Tensor | None) -> Tensor:
    """:func:`_torch_knn` of one block of queries. Shapes: as its."""
    # Axis by axis, (dx^2 + dy^2) + dz^2: never a (B, Q, N, 3) tensor, and plain Sub/Mul/Add in
    # exported graphs (onnxruntime broadcasts a 4-d Sub and reduces a last axis of 3 slowly).
    distance = None
    for axis in range(3):
        offset = queries[..., axis].unsqueeze(2) - points[..., axis].unsqueeze(1)  # (B, Q, 1) - (B, 1, N) -> (B, Q, N)
        distance = offset * offset if distance is None else distance + offset * offset
    if mask is not None:
        distance = distance.masked_fill(~mask.unsqueeze(1), float("inf"))  # (B, N) -> (B, 1, N)
    return distance.topk(k, dim=-1, largest=False).indices  # (B, Q, K), nearest first


def fps(points: Tensor, num_samples: int, mask: Tensor | None = None, backend: Backend = "auto") -> Tensor:
    """Pick ``num_samples`` points of every cloud, each the farthest from those already picked.

    Each cloud's first real point is the start, so the result is deterministic.

    Args:
        points: a batch of clouds, or one cloud.
        num_samples: samples M per cloud; every cloud must have at least M real points.
        mask: True for real points (batches of clouds of different sizes); ``None``: all real.
        backend: ``"auto"``, ``"torch"`` or ``"torch_cluster"`` (see the module docstring); all
            pick the same points.

    Shapes:
        points: (B, N, 3) or (N, 3); mask: (B, N) or (N,) bool; returns (B, M) or (M,) indices
        into N, in sampling order
    """
    check_count("fps", "num_samples", num_samples)
    points, mask, single = _batched("fps", points, mask)
    _check_enough("fps", f"{num_samples} samples per cloud", num_samples, points, mask)
    if _backend("fps", backend, points.device, cluster_on_cpu=False) == "torch_cluster" and points.shape[0]:
        picked = _torch_cluster_fps(points, mask, num_samples)
    else:
        picked = _torch_fps(points, num_samples, mask)
    return picked[0] if single else picked


def knn(
    points: Tensor, queries: Tensor, k: int, mask: Tensor | None = None, backend: Backend = "auto"
) -> Tensor:
    """The ``k`` nearest points of each cloud to that cloud's queries, nearest first.

    A query finds itself when it is one of the points.

    Args:
        points: the points searched, a batch of clouds or one cloud.
        queries: query points, as many clouds as ``points``.
        k: neighbours K per query; every cloud must have at least K real points.
        mask: True for real points of ``points``; ``None``: all real.
        backend: ``"auto"``, ``"torch"`` or ``"torch_cluster"`` (see the module docstring); all
            find the same neighbours (up to exact distance ties).

    Shapes:
        points: (B, N, 3) or (N, 3); queries: (B, Q, 3) or (Q, 3); mask: (B, N) or (N,);
        returns (B, Q, K) or (Q, K) indices into N
    """
    check_count("knn", "k", k)
    points, mask, single = _batched("knn", points, mask)
    queries = queries.unsqueeze(0) if single else queries  # (Q, 3) -> (1, Q, 3)
    if queries.dim() != 3 or queries.shape[-1] != 3 or queries.shape[0] != points.shape[0]:
        raise ValueError(f"knn: queries must be (B, Q, 3) with B={points.shape[0]}, got {tuple(queries.shape)}")
    _check_enough("knn", f"k={k} neighbours", k, points, mask)
    if _backend("knn", backend, points.device, cluster_on_cpu=True) == "torch_cluster" and queries.numel():
        neighbours = _torch_cluster_knn(points, queries, k, mask)
    else:
        neighbours = _torch_knn(points, queries, k, mask)
    return neighbours[0] if single else neighbours
