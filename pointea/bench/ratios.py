"""Ratios of every figure within one run: external over offset attention, fallback over torch_cluster.

Only ratios taken within one run are meaningful on a shared, noisy machine; they are what the
benchmark's conclusions rest on.
"""

from __future__ import annotations

from typing import Any

from pointea.bench.figures import FIGURES, model_figure

__all__ = ["ratio", "attention_ratios", "sampling_ratios"]


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """``numerator / denominator``, or ``None`` when either is missing or the denominator is 0."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def _key(result: dict[str, Any]) -> tuple[str, int, int]:
    case = result["case"]
    return case["model"], case["num_points"], case["batch_size"]


def attention_ratios(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """external / offset for every figure of every (model, N, batch size) measured with both.

    Returns rows ``{"model", "num_points", "batch_size", "ratios": {figure: float | None}}`` in
    the order the pairs first appear in ``results``.
    """
    by_kind: dict[tuple[str, int, int], dict[str, dict[str, Any]]] = {}
    for result in results:
        by_kind.setdefault(_key(result), {})[result["case"]["attention"]] = result
    rows = []
    for (model, n, batch_size), kinds in by_kind.items():
        if "external" not in kinds or "offset" not in kinds:
            continue
        rows.append(
            dict(
                model=model,
                num_points=n,
                batch_size=batch_size,
                ratios={
                    name: ratio(model_figure(kinds["external"], name), model_figure(kinds["offset"], name))
                    for name in FIGURES
                },
            )
        )
    return rows


def sampling_ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """fallback / torch_cluster median time for every (operation, N) measured with both backends.

    Returns rows ``{"operation", "num_points", "fallback_over_torch_cluster": float | None}``.
    """
    times: dict[tuple[str, int], dict[str, float | None]] = {}
    for row in rows:
        times.setdefault((row["operation"], row["num_points"]), {})[row["backend"]] = row.get("median_seconds")
    return [
        dict(
            operation=operation,
            num_points=n,
            fallback_over_torch_cluster=ratio(backends.get("fallback"), backends.get("torch_cluster")),
        )
        for (operation, n), backends in times.items()
    ]
