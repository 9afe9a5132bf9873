"""A benchmark report: its figures by name, ratios, growth exponents, markdown tables, PNG plot, files.

The report is the JSON-able dictionary :func:`pointea.bench.cli.run_benchmark` builds. A model
result (see :mod:`pointea.bench.measure`) nests its figures by stage; :func:`model_figure` flattens
them to named numbers, ``None`` where a figure was not measured (a case skipped or killed for
memory, a stage that did not finish).

- Ratios within one run (the only meaningful ones on a shared, noisy machine): external over
  offset attention at the same N (every external case over the plain offset one), every variant
  over its plain case (:func:`variant_ratios`), fallback over torch_cluster for FPS/kNN.
- Growth: the slope of log(figure) against log(N), fitted over the largest sizes measured (by
  default the last three, or every N from ``fit_from`` on), where fixed costs no longer hide the
  growth; about 1 is linear, about 2 quadratic.
- Markdown: every model case gets a row, measured or not: a case skipped or killed for memory
  shows ``—`` for its figures and the reason (with the estimated memory of its N x N maps) in its
  note. Each (model, N) group is followed by its external/offset ratio rows.
- The plot: time and peak memory against N on log-log axes, one line per (model, attention,
  variant), with grey guides of slope 1 and 2.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from pointea.bench.cases import ModelCase, format_gib
from pointea.bench.sampling import DISTANCE_TOLERANCE

__all__ = [
    "FIGURES",
    "FIGURE_LABELS",
    "model_figure",
    "ratio",
    "attention_ratios",
    "variant_ratios",
    "sampling_ratios",
    "SCALED_FIGURES",
    "log_log_slope",
    "scaling_exponents",
    "render_report",
    "render_machine",
    "render_model_table",
    "render_variant_table",
    "render_scaling_table",
    "render_sampling_table",
    "render_loader",
    "format_seconds",
    "format_mebibytes",
    "format_ratio",
    "PLOTTED_FIGURES",
    "plot_report",
    "REPORT_FILES",
    "write_report",
]


# Figures ---------------------------------------------------------------------------------------

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


# Ratios ----------------------------------------------------------------------------------------

def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """``numerator / denominator``, or ``None`` when either is missing or the denominator is 0."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def _case(result: dict[str, Any]) -> ModelCase:
    return ModelCase.from_dict(result["case"])


def _variant_label(case: ModelCase) -> str:
    """The attention column: the kind, plus the variant in brackets (``external [ckpt]``)."""
    return case.attention if case.is_plain else f"{case.attention} [{case.variant}]"


def attention_ratios(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """external / offset for every figure, per (model, N, batch size): every external case (plain
    or variant) over the plain offset case measured in the same run.

    Returns rows ``{"model", "num_points", "batch_size", "variant", "ratios": {figure: float |
    None}}`` in the order the external cases appear in ``results``.
    """
    offsets = {}
    for result in results:
        case = _case(result)
        if case.attention == "offset" and case.is_plain:
            offsets[case.model, case.num_points, case.batch_size] = result
    rows = []
    for result in results:
        case = _case(result)
        offset = offsets.get((case.model, case.num_points, case.batch_size))
        if case.attention != "external" or offset is None:
            continue
        rows.append(
            dict(
                model=case.model,
                num_points=case.num_points,
                batch_size=case.batch_size,
                variant=case.variant,
                ratios={name: ratio(model_figure(result, name), model_figure(offset, name)) for name in FIGURES},
            )
        )
    return rows


def variant_ratios(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every variant case (chunked, checkpointing, bf16, compiled) over its plain case of the same
    run: time and peak memory ratios, with its ``max_logit_difference`` and ``compile_seconds``.

    Returns rows ``{"case": the variant's case, "variant", "plain_found": bool, "ratios": {figure:
    float | None}, "max_logit_difference", "compile_seconds"}``.
    """
    plain = {_case(r): r for r in results if _case(r).is_plain}
    rows = []
    for result in results:
        case = _case(result)
        if case.is_plain:
            continue
        base = plain.get(case.plain())
        rows.append(
            dict(
                case=result["case"],
                variant=case.variant,
                plain_found=base is not None,
                ratios={
                    name: ratio(model_figure(result, name), None if base is None else model_figure(base, name))
                    for name in FIGURES
                    if name not in ("parameters", "flops")
                },
                max_logit_difference=result.get("max_logit_difference"),
                compile_seconds=result.get("compile_seconds"),
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


# Growth with N ---------------------------------------------------------------------------------

#: Figures whose growth in N the report gives.
SCALED_FIGURES: tuple[str, ...] = ("forward_seconds", "forward_peak_bytes", "train_seconds", "train_peak_bytes", "flops")


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


def scaling_exponents(
    results: list[dict[str, Any]], last: int = 3, fit_from: int | None = None
) -> list[dict[str, Any]]:
    """Slope of every :data:`SCALED_FIGURES` figure against N, per (model, attention, variant,
    batch size), over the ``last`` largest N where the figure was measured, or with ``fit_from``
    over every measured N from that size on.

    Returns rows ``{"model", "attention", "variant", "batch_size", "points": [N...], "exponents":
    {figure: float | None}}``.
    """
    groups: dict[tuple[str, str, str, int], list[dict[str, Any]]] = {}
    for result in results:
        case = _case(result)
        groups.setdefault((case.model, case.attention, case.variant, case.batch_size), []).append(result)
    rows = []
    for (model, attention, variant, batch_size), members in groups.items():
        members = sorted(members, key=lambda r: r["case"]["num_points"])
        exponents: dict[str, float | None] = {}
        used: set[int] = set()
        for name in SCALED_FIGURES:
            measured = [(r["case"]["num_points"], model_figure(r, name)) for r in members]
            measured = [(n, v) for n, v in measured if v is not None]
            measured = measured[-last:] if fit_from is None else [(n, v) for n, v in measured if n >= fit_from]
            exponents[name] = log_log_slope([n for n, _ in measured], [v for _, v in measured])
            used.update(n for n, _ in measured)
        rows.append(
            dict(model=model, attention=attention, variant=variant, batch_size=batch_size, points=sorted(used),
                 exponents=exponents)  # fmt: skip
        )
    return rows


# Markdown --------------------------------------------------------------------------------------

_MISSING = "—"


def format_seconds(seconds: float | None) -> str:
    """Seconds as milliseconds with three significant figures, ``—`` when missing."""
    if seconds is None:
        return _MISSING
    ms = seconds * 1e3
    return f"{ms:.3g}" if ms < 999.5 else f"{ms:,.0f}"


def format_mebibytes(num_bytes: float | None) -> str:
    """Bytes as MiB, ``—`` when missing."""
    return _MISSING if num_bytes is None else f"{num_bytes / 2**20:,.0f}"


def format_ratio(value: float | None) -> str:
    """A ratio with three significant figures, ``—`` when missing."""
    return _MISSING if value is None else f"{value:.3g}"


def _format_count(value: float | None, scale: float, digits: int) -> str:
    return _MISSING if value is None else f"{value / scale:.{digits}f}"


def render_machine(report: dict[str, Any]) -> str:
    """One paragraph naming the machine, the device and the settings."""
    machine, settings = report["machine"], report["settings"]
    memory = format_gib(machine["memory_bytes"]) if machine.get("memory_bytes") else "unknown memory"
    device = machine["device"] + (f" ({machine['device_name']})" if machine["device"] != "cpu" else "")
    return (
        f"Machine: {machine['cpu_model']}, {machine['cpu_cores']} cores, {memory}; "
        f"torch {machine['torch']} ({machine['torch_threads']} thread{'' if machine['torch_threads'] == 1 else 's'}), "
        f"torch_cluster {machine.get('torch_cluster') or 'not installed'}; device: {device}.  \n"
        f"Command: `{settings['command']}`; batch size {settings['batch_size']}; times are medians of up to "
        f"{settings['repeats']} timed runs after {settings['warmup']} warm-up run(s) (fewer for long cases, "
        f"see notes); peak memory is {settings['memory_meter']} above the baseline, each case in a fresh process."
    )


def _case_note(result: dict[str, Any], repeats: int) -> str:
    notes = []
    if result.get("status") != "ok":
        notes.append(result.get("reason") or result.get("status", "not measured"))
    for stage, label in (("forward", "fwd"), ("train", "fwd+bwd")):
        timed = len((result.get(stage) or {}).get("seconds", []))
        if timed and timed < repeats:
            notes.append(f"{label}: {timed} run{'s' if timed > 1 else ''}")
    return "; ".join(notes)


def _ratio_cells(ratios: dict[str, Any]) -> str:
    """The time and memory ratios as table cells: fwd time | fwd+bwd time | fwd peak | fwd+bwd peak."""
    return " | ".join(format_ratio(ratios[name]) for name in _NESTED)


def render_model_table(report: dict[str, Any]) -> str:
    """The model cases, with the external/offset ratio rows after each (model, N) group."""
    repeats = report["settings"]["repeats"]
    ratios: dict[tuple[str, int, int], list[dict[str, Any]]] = {}
    for row in report["ratios"]:
        ratios.setdefault((row["model"], row["num_points"], row["batch_size"]), []).append(row)
    lines = [
        "| model | N | attention | params (M) | GFLOPs | fwd (ms) | fwd+bwd (ms) | fwd peak (MiB) "
        "| fwd+bwd peak (MiB) | note |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    done: set[tuple[str, int, int]] = set()
    results = report["models"]
    for index, result in enumerate(results):
        case = result["case"]
        key = (case["model"], case["num_points"], case["batch_size"])
        figure = lambda name: model_figure(result, name)  # noqa: E731 - local shorthand
        lines.append(
            f"| {case['model']} | {case['num_points']} | {_variant_label(_case(result))} "
            f"| {_format_count(figure('parameters'), 1e6, 3)} | {_format_count(figure('flops'), 1e9, 2)} "
            f"| {format_seconds(figure('forward_seconds'))} | {format_seconds(figure('train_seconds'))} "
            f"| {format_mebibytes(figure('forward_peak_bytes'))} | {format_mebibytes(figure('train_peak_bytes'))} "
            f"| {_case_note(result, repeats)} |"
        )
        following = results[index + 1]["case"] if index + 1 < len(results) else None
        last_of_pair = following is None or (following["model"], following["num_points"], following["batch_size"]) != key
        if last_of_pair and key in ratios and key not in done:
            done.add(key)
            for row in ratios[key]:
                r = row["ratios"]
                name = "external" if row.get("variant", "plain") == "plain" else f"external [{row['variant']}]"
                lines.append(
                    f"| {case['model']} | {case['num_points']} | **{name}/offset** "
                    f"| {format_ratio(r['parameters'])} | {format_ratio(r['flops'])} "
                    f"| {_ratio_cells(r)} | |"
                )
    return "\n".join(lines)


def render_variant_table(report: dict[str, Any]) -> str:
    """Every variant over its plain case: time and memory ratios, logit difference, compile time."""
    rows = report.get("variants") or []
    if not rows:
        return "No variants measured."
    lines = [
        "| model | N | attention | variant | fwd time | fwd+bwd time | fwd peak | fwd+bwd peak "
        "| max logit difference | compile (s) |",
        "|---|---:|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        case, r = row["case"], row["ratios"]
        difference = row.get("max_logit_difference")
        compile_seconds = row.get("compile_seconds")
        lines.append(
            f"| {case['model']} | {case['num_points']} | {case['attention']} | {row['variant']} "
            f"| {_ratio_cells(r)} "
            f"| {_MISSING if difference is None else f'{difference:.2g}'} "
            f"| {_MISSING if compile_seconds is None else f'{compile_seconds:.1f}'} |"
        )
    return "\n".join(lines)


def render_scaling_table(report: dict[str, Any]) -> str:
    """Slopes of log(figure) against log(N): about 1 is linear growth, about 2 quadratic."""
    lines = [
        "| model | attention | N fitted | fwd time | fwd peak memory | fwd+bwd time | fwd+bwd peak memory | FLOPs |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in report["scaling"]:
        e = row["exponents"]
        points = ", ".join(str(n) for n in row["points"]) or _MISSING
        variant = row.get("variant", "plain")
        attention = row["attention"] if variant == "plain" else f"{row['attention']} [{variant}]"
        lines.append(
            f"| {row['model']} | {attention} | {points} | {format_ratio(e['forward_seconds'])} "
            f"| {format_ratio(e.get('forward_peak_bytes'))} "
            f"| {format_ratio(e['train_seconds'])} | {format_ratio(e['train_peak_bytes'])} | {format_ratio(e['flops'])} |"
        )
    return "\n".join(lines)


def render_sampling_table(report: dict[str, Any]) -> str:
    """FPS and kNN times of both backends and their ratio."""
    rows = report["sampling"]
    if not rows:
        return "Not measured."
    by_key: dict[tuple[str, int], dict[str, dict[str, Any]]] = {}
    for row in rows:
        by_key.setdefault((row["operation"], row["num_points"]), {})[row["backend"]] = row
    ratios = {(r["operation"], r["num_points"]): r["fallback_over_torch_cluster"] for r in report["sampling_ratios"]}
    lines = [
        "| operation | N | clouds | centres | k | torch_cluster (ms) | fallback (ms) | fallback/torch_cluster | same result |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for (operation, n), backends in by_key.items():
        first = next(iter(backends.values()))
        cells = []
        for backend in ("torch_cluster", "fallback"):
            row = backends.get(backend, {})
            cells.append(format_seconds(row.get("median_seconds")) if row.get("status") == "ok" else row.get("status", _MISSING))
        agrees = backends.get("fallback", {}).get("agrees")
        lines.append(
            f"| {operation} | {n} | {first['batch_size']} | {first['samples']} "
            f"| {first['neighbours'] if operation == 'knn' else _MISSING} | {cells[0]} | {cells[1]} "
            f"| {format_ratio(ratios.get((operation, n)))} | {_MISSING if agrees is None else ('yes' if agrees else 'NO')} |"
        )
    return "\n".join(lines)


def render_loader(report: dict[str, Any]) -> str:
    """The loader's figures as a two-column table, or why they are missing."""
    loader = report.get("loader") or {"status": "unavailable", "reason": "not measured"}
    if loader.get("status") != "ok":
        return f"Not measured: {loader.get('reason', loader.get('status'))}."
    lines = ["| figure | value |", "|---|---:|"]
    for key, value in loader.items():
        if key == "status" or isinstance(value, (dict, list)):
            continue
        shown = (f"{value:,.0f}" if value >= 1000 else f"{value:.4g}") if isinstance(value, float) else str(value)
        lines.append(f"| {key} | {shown} |")
    return "\n".join(lines)


def _fit_description(report: dict[str, Any]) -> str:
    fit_from = report["settings"].get("fit_from")
    return "the largest sizes measured (the last three)" if fit_from is None else f"every N >= {fit_from} measured"


def render_report(report: dict[str, Any]) -> str:
    """The whole report as markdown."""
    sections = [
        "# pointea-bench: external vs PCT self-attention (offset)",
        render_machine(report),
        *report.get("notes", []),
        "## Networks",
        "`external/offset` rows divide the external-attention figure by the offset (self-attention) one: "
        "below 1 means external attention is cheaper. A bracketed variant (chunked forward, activation "
        "checkpointing, bf16 autocast, compiled) is divided by the plain offset case.",
        render_model_table(report),
        "## Variants against their plain fp32 eager case",
        "Ratios variant / plain case of the same network and N, in the same run; max logit difference: "
        "largest absolute difference of the variant's forward logits from the plain forward's on the same input.",
        render_variant_table(report),
        "## Growth with N",
        f"Slope of log(figure) against log(N) over {_fit_description(report)}: about 1 is linear, about 2 quadratic.",
        render_scaling_table(report),
        "## Farthest point sampling and kNN",
        f"Both backends on the same random clouds; same result: FPS picks the same indices, kNN finds neighbours at "
        f"the same distances (to {DISTANCE_TOLERANCE:g}).",
        render_sampling_table(report),
        "## Data loader",
        render_loader(report),
    ]
    return "\n\n".join(sections) + "\n"


# Plot ------------------------------------------------------------------------------------------

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
        lines.setdefault((result["case"]["model"], _variant_label(_case(result))), []).append(result)
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
                color=_COLOURS.get(attention.split(" ")[0]), alpha=1.0 if " " not in attention else 0.6,
                label=f"{model}, {attention}",
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


# Files -----------------------------------------------------------------------------------------

#: File names of a report, by kind.
REPORT_FILES: dict[str, str] = {"json": "bench.json", "markdown": "bench.md", "plot": "bench.png"}


def write_report(report: dict[str, Any], out_dir: Path, plot: bool = True) -> dict[str, Path]:
    """Write ``report`` into ``out_dir`` (created if needed); return the paths written, by kind.

    The markdown is also the text :func:`render_report` returns.
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
