"""PNG plot of time and peak memory against the number of points, on log-log axes.

Three panels (forward time, forward+backward time, forward+backward peak memory), one line per
(model, attention); cases that were not measured are left out of their line. Grey guides of slope
1 and 2 show linear and quadratic growth.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pointea.bench.figures import FIGURE_LABELS, model_figure

__all__ = ["PLOTTED_FIGURES", "plot_report"]

#: (figure, axis unit, scale from the figure's unit) of each panel.
PLOTTED_FIGURES: tuple[tuple[str, str, float], ...] = (
    ("forward_seconds", "ms", 1e3),
    ("train_seconds", "ms", 1e3),
    ("train_peak_bytes", "MiB", 2.0**-20),
)

_COLOURS = {"external": "tab:blue", "offset": "tab:red"}
_STYLES = {"segmenter": ("-", "o"), "classifier": ("--", "s")}


def _guides(axis: Any, sizes: list[int], anchor: float) -> None:
    """Dotted slope-1 and slope-2 lines through (smallest N, anchor)."""
    low, high = min(sizes), max(sizes)
    for slope, label in ((1, "∝ N"), (2, "∝ N²")):
        axis.plot([low, high], [anchor, anchor * (high / low) ** slope], ":", color="grey", linewidth=0.8)
        axis.annotate(label, (high, anchor * (high / low) ** slope), fontsize=7, color="grey")


def plot_report(report: dict[str, Any], path: Path) -> Path:
    """Draw the report's model cases to ``path`` (PNG) and return it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(PLOTTED_FIGURES), figsize=(5 * len(PLOTTED_FIGURES), 4.2))
    lines: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for result in report["models"]:
        lines.setdefault((result["case"]["model"], result["case"]["attention"]), []).append(result)
    sizes = sorted({r["case"]["num_points"] for r in report["models"]})
    for axis, (name, unit, scale) in zip(axes, PLOTTED_FIGURES):
        anchors = []
        for (model, attention), results in lines.items():
            measured = [(r["case"]["num_points"], model_figure(r, name)) for r in results]
            measured = sorted((n, v * scale) for n, v in measured if v is not None)
            if not measured:
                continue
            style, marker = _STYLES.get(model, ("-", "o"))
            axis.plot(
                [n for n, _ in measured], [v for _, v in measured], linestyle=style, marker=marker,
                color=_COLOURS.get(attention), label=f"{model}, {attention}",
            )  # fmt: skip
            anchors.append(measured[0][1])
        if len(sizes) > 1 and anchors:
            _guides(axis, sizes, min(anchors))
        axis.set_xscale("log", base=2)
        axis.set_yscale("log")
        axis.set_xticks(sizes, [str(n) for n in sizes])
        axis.minorticks_off()
        axis.set_xlabel("points N")
        axis.set_ylabel(f"{FIGURE_LABELS[name]} ({unit})")
        axis.set_title(FIGURE_LABELS[name])
        axis.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    machine = report["machine"]
    figure.suptitle(
        f"pointea: external vs self-attention (offset), batch {report['settings']['batch_size']}, "
        f"{machine['device']} ({machine['device_name']}, {machine['cpu_cores']} cores)",
        fontsize=10,
    )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
