"""How a figure grows with the number of points: the slope of log(figure) against log(N).

A slope near 1 is linear growth, near 2 quadratic. The slope is fitted over the largest sizes
measured (by default the last three), where fixed costs no longer hide the growth.
"""

from __future__ import annotations

import math
from typing import Any

from pointea.bench.figures import model_figure

__all__ = ["SCALED_FIGURES", "log_log_slope", "scaling_exponents"]

#: Figures whose growth in N the report gives.
SCALED_FIGURES: tuple[str, ...] = ("forward_seconds", "train_seconds", "train_peak_bytes", "flops")


def log_log_slope(sizes: list[float], values: list[float]) -> float | None:
    """Least-squares slope of ``log(values)`` against ``log(sizes)``; ``None`` for fewer than two
    distinct sizes or a non-positive value."""
    if len(sizes) != len(values):
        raise ValueError(f"log_log_slope: {len(sizes)} sizes but {len(values)} values")
    if len(set(sizes)) < 2 or any(v <= 0 for v in values) or any(s <= 0 for s in sizes):
        return None
    xs, ys = [math.log(s) for s in sizes], [math.log(v) for v in values]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / spread


def scaling_exponents(results: list[dict[str, Any]], last: int = 3) -> list[dict[str, Any]]:
    """Slope of every :data:`SCALED_FIGURES` figure against N, per (model, attention, batch size),
    over the ``last`` largest N where the figure was measured.

    Returns rows ``{"model", "attention", "batch_size", "points": [N...], "exponents": {figure:
    float | None}}``.
    """
    groups: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for result in results:
        case = result["case"]
        groups.setdefault((case["model"], case["attention"], case["batch_size"]), []).append(result)
    rows = []
    for (model, attention, batch_size), members in groups.items():
        members = sorted(members, key=lambda r: r["case"]["num_points"])
        exponents: dict[str, float | None] = {}
        used: set[int] = set()
        for name in SCALED_FIGURES:
            measured = [(r["case"]["num_points"], model_figure(r, name)) for r in members]
            measured = [(n, v) for n, v in measured if v is not None][-last:]
            exponents[name] = log_log_slope([n for n, _ in measured], [v for _, v in measured])
            used.update(n for n, _ in measured)
        rows.append(dict(model=model, attention=attention, batch_size=batch_size, points=sorted(used), exponents=exponents))
    return rows
