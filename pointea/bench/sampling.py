"""Farthest point sampling and kNN: torch_cluster against pointea's pure-torch fallback.

Both backends run the encoder's first sample-and-group stage on the same random clouds: FPS picks
M centres per cloud, kNN finds each centre's K nearest points (M and K are the
:class:`PointEncoder` defaults). Each backend's result is checked against the other's (FPS: the
same indices; kNN: the same neighbour distances, to :data:`DISTANCE_TOLERANCE`: the fallback's
``torch.cdist`` computes distances through a matrix product, whose rounding may pick the other of two
neighbours that tie to within about 1e-6), so a fast but wrong backend shows.

Shape legend: B clouds, N points per cloud, M centres per cloud, K neighbours.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from pointea.bench.measure import time_callable
from pointea.layers import sampling
from pointea.models.encoder import PointEncoder

__all__ = ["BACKENDS", "OPERATIONS", "DISTANCE_TOLERANCE", "measure_sampling"]

BACKENDS: tuple[str, ...] = ("torch_cluster", "fallback")
OPERATIONS: tuple[str, ...] = ("fps", "knn")
#: Largest difference between the two backends' neighbour distances that still counts as agreement.
DISTANCE_TOLERANCE = 1e-5


def _functions(backend: str) -> tuple[Callable[..., Tensor], Callable[..., Tensor]]:
    """(fps, knn) of ``backend``: pointea's one :func:`~pointea.layers.sampling.fps` and
    :func:`~pointea.layers.sampling.knn` with that backend ("fallback" is the pure-torch one)."""
    name = "torch_cluster" if backend == "torch_cluster" else "torch"
    return (
        lambda points, samples: sampling.fps(points, samples, backend=name),
        lambda points, queries, k: sampling.knn(points, queries, k, backend=name),
    )


def _neighbour_distances(pos: Tensor, query: Tensor, neighbours: Tensor) -> Tensor:
    """Sorted distances from each query to its neighbours.

    Shapes: pos (B, N, 3); query (B, Q, 3); neighbours (B, Q, K) -> (B, Q, K)
    """
    gathered = pos.gather(1, neighbours.flatten(1).unsqueeze(-1).expand(-1, -1, 3)).view(*neighbours.shape, 3)  # (B, Q, K, 3)
    return (gathered - query.unsqueeze(2)).norm(dim=-1).sort(dim=-1).values  # (B, Q, K, 3) -> (B, Q, K)


def measure_sampling(
    points: tuple[int, ...],
    batch_size: int = 16,
    device: str = "cpu",
    warmup: int = 1,
    repeats: int = 5,
    budget_seconds: float | None = 10.0,
) -> list[dict[str, Any]]:
    """Time FPS and kNN with both backends on ``batch_size`` random clouds of each size in ``points``.

    Returns one row per (N, operation, backend): ``{"operation", "backend", "num_points",
    "batch_size", "samples", "neighbours", "status"}`` plus, when it ran, ``"median_seconds"``,
    ``"seconds"`` and ``"agrees"`` (same result as the other backend). Status is ``"ok"``,
    ``"unavailable"`` (torch_cluster not installed; with ``"reason"``) or ``"failed"``.
    """
    encoder = PointEncoder()
    samples, k = encoder.sample_sizes[0], encoder.stages[0].neighbours
    torch_device = torch.device(device)
    generator = torch.Generator().manual_seed(0)
    rows: list[dict[str, Any]] = []
    for n in points:
        pos = torch.rand(batch_size, n, 3, generator=generator).to(torch_device)  # (B, N, 3)
        outputs: dict[tuple[str, str], Tensor] = {}
        reference_centres = sampling.fps(pos, samples, backend="torch")  # (B, M)
        query = pos.gather(1, reference_centres.unsqueeze(-1).expand(-1, -1, 3))  # (B, M, 3)
        for backend in BACKENDS:
            fps, knn = _functions(backend)
            work = {
                "fps": lambda fps=fps: fps(pos, samples),
                "knn": lambda knn=knn: knn(pos, query, k),
            }
            for operation in OPERATIONS:
                row: dict[str, Any] = dict(
                    operation=operation, backend=backend, num_points=n, batch_size=batch_size,
                    samples=samples, neighbours=k,
                )  # fmt: skip
                if backend == "torch_cluster" and not sampling.HAS_TORCH_CLUSTER:
                    row.update(status="unavailable", reason="torch_cluster is not installed")
                    rows.append(row)
                    continue
                try:
                    outputs[operation, backend] = work[operation]()
                    timing = time_callable(work[operation], torch_device, warmup, repeats, budget_seconds)
                except Exception as error:  # noqa: BLE001 - reported in the row
                    row.update(status="failed", reason=f"{type(error).__name__}: {error}")
                else:
                    row.update(status="ok", median_seconds=timing.median, seconds=timing.seconds)
                rows.append(row)
        _mark_agreement(rows[-len(BACKENDS) * len(OPERATIONS):], outputs, pos, query)
    return rows


def _mark_agreement(
    rows: list[dict[str, Any]], outputs: dict[tuple[str, str], Tensor], pos: Tensor, query: Tensor
) -> None:
    """Set ``"agrees"`` on the rows of one N where both backends produced a result."""
    for row in rows:
        op = row["operation"]
        mine = outputs.get((op, row["backend"]))
        theirs = [v for (o, b), v in outputs.items() if o == op and b != row["backend"]]
        if mine is None or not theirs:
            continue
        if op == "fps":
            row["agrees"] = bool(torch.equal(mine, theirs[0]))
        else:
            row["agrees"] = bool(
                torch.allclose(
                    _neighbour_distances(pos, query, mine),
                    _neighbour_distances(pos, query, theirs[0]),
                    rtol=0.0,
                    atol=DISTANCE_TOLERANCE,
                )
            )
