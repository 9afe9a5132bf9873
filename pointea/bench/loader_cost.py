"""The data loader's throughput, through the data package's own measurement.

:func:`pointea.bench.loader_throughput.measure_loader_throughput` (written with the data loaders)
does the measuring; this adapter calls it and turns its absence or its failure into a report row
that says so, instead of failing the whole benchmark.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

__all__ = ["measure_loader"]


def measure_loader(
    data_root: Path | None,
    num_points: int = 1024,
    batch_size: int = 32,
    num_workers: int = 0,
    **options: Any,
) -> dict[str, Any]:
    """Loader throughput on ``data_root`` (``None``: a synthetic set in a temporary folder).

    Returns the measurement's figures with ``"status": "ok"``, or ``{"status": "unavailable" |
    "failed", "reason": ...}``.
    """
    try:
        from pointea.bench.loader_throughput import measure_loader_throughput
    except ImportError as error:
        return {
            "status": "unavailable",
            "reason": f"loader throughput not measured: pointea.bench.loader_throughput cannot be imported ({error})",
        }
    try:
        if data_root is not None:
            figures = measure_loader_throughput(
                data_root, num_points=num_points, batch_size=batch_size, num_workers=num_workers, **options
            )
        else:
            with tempfile.TemporaryDirectory(prefix="pointea-bench-data-") as tmp:
                figures = measure_loader_throughput(
                    Path(tmp), num_points=num_points, batch_size=batch_size, num_workers=num_workers, **options
                )
            figures = {**figures, "root": "synthetic set in a temporary folder"}
    except Exception as error:  # noqa: BLE001 - reported in the row
        return {"status": "failed", "reason": f"{type(error).__name__}: {error}"}
    return {"status": "ok", **figures}
