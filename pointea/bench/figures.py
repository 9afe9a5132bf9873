"""The figures of one measured model case, by name, as the report, ratios and plot read them.

A model result (see :mod:`pointea.bench.model_cost`) nests its figures by stage; this module
flattens them to named numbers, ``None`` where a figure was not measured (a case skipped or killed
for memory, a stage that did not finish).
"""

from __future__ import annotations

from typing import Any

__all__ = ["FIGURES", "FIGURE_LABELS", "model_figure"]

#: Every figure of a model case, in report order.
FIGURES: tuple[str, ...] = (
    "parameters",
    "flops",
    "forward_seconds",
    "train_seconds",
    "forward_peak_bytes",
    "train_peak_bytes",
)

#: Short human labels of :data:`FIGURES`.
FIGURE_LABELS: dict[str, str] = {
    "parameters": "parameters",
    "flops": "forward FLOPs",
    "forward_seconds": "forward time",
    "train_seconds": "forward+backward time",
    "forward_peak_bytes": "forward peak memory",
    "train_peak_bytes": "forward+backward peak memory",
}

_NESTED = {
    "forward_seconds": ("forward", "median_seconds"),
    "train_seconds": ("train", "median_seconds"),
    "forward_peak_bytes": ("forward", "peak_bytes"),
    "train_peak_bytes": ("train", "peak_bytes"),
}


def model_figure(result: dict[str, Any], name: str) -> float | None:
    """Figure ``name`` (one of :data:`FIGURES`) of a model result, or ``None`` if not measured."""
    if name not in FIGURES:
        raise KeyError(f"unknown figure {name!r}; known: {FIGURES}")
    if name in _NESTED:
        stage, key = _NESTED[name]
        value = (result.get(stage) or {}).get(key)
    else:
        value = result.get(name)
    return None if value is None else float(value)
