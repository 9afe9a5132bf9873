"""Writing a benchmark report to a folder: JSON with every figure, markdown tables, PNG plot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pointea.bench.plot import plot_report
from pointea.bench.table import render_report

__all__ = ["REPORT_FILES", "write_report"]

#: File names of a report, by kind.
REPORT_FILES: dict[str, str] = {"json": "bench.json", "markdown": "bench.md", "plot": "bench.png"}


def write_report(report: dict[str, Any], out_dir: Path, plot: bool = True) -> dict[str, Path]:
    """Write ``report`` into ``out_dir`` (created if needed); return the paths written, by kind.

    The markdown is also the text :func:`pointea.bench.table.render_report` returns.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {kind: out_dir / name for kind, name in REPORT_FILES.items()}
    paths["json"].write_text(json.dumps(report, indent=2) + "\n")
    paths["markdown"].write_text(render_report(report))
    if plot:
        plot_report(report, paths["plot"])
    else:
        del paths["plot"]
    return paths
