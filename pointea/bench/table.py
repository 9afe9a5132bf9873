"""Markdown rendering of a benchmark report (the dictionary :mod:`pointea.bench.cli` builds).

Every model case gets a row, measured or not: a case skipped or killed for memory shows ``—`` for
its figures and the reason in its note. Each (model, N) pair is followed by its external/offset
ratio row.
"""

from __future__ import annotations

from typing import Any

from pointea.bench.figures import model_figure
from pointea.bench.memory_estimate import format_gib
from pointea.bench.sampling_cost import DISTANCE_TOLERANCE

__all__ = [
    "render_report",
    "render_machine",
    "render_model_table",
    "render_scaling_table",
    "render_sampling_table",
    "render_loader",
    "format_seconds",
    "format_mebibytes",
    "format_ratio",
]

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


def render_model_table(report: dict[str, Any]) -> str:
    """The model cases, with an external/offset ratio row after each (model, N) pair."""
    repeats = report["settings"]["repeats"]
    ratios = {(r["model"], r["num_points"], r["batch_size"]): r["ratios"] for r in report["ratios"]}
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
            f"| {case['model']} | {case['num_points']} | {case['attention']} "
            f"| {_format_count(figure('parameters'), 1e6, 3)} | {_format_count(figure('flops'), 1e9, 2)} "
            f"| {format_seconds(figure('forward_seconds'))} | {format_seconds(figure('train_seconds'))} "
            f"| {format_mebibytes(figure('forward_peak_bytes'))} | {format_mebibytes(figure('train_peak_bytes'))} "
            f"| {_case_note(result, repeats)} |"
        )
        following = results[index + 1]["case"] if index + 1 < len(results) else None
        last_of_pair = following is None or (following["model"], following["num_points"], following["batch_size"]) != key
        if last_of_pair and key in ratios and key not in done:
            done.add(key)
            r = ratios[key]
            lines.append(
                f"| {case['model']} | {case['num_points']} | **external/offset** "
                f"| {format_ratio(r['parameters'])} | {format_ratio(r['flops'])} "
                f"| {format_ratio(r['forward_seconds'])} | {format_ratio(r['train_seconds'])} "
                f"| {format_ratio(r['forward_peak_bytes'])} | {format_ratio(r['train_peak_bytes'])} | |"
            )
    return "\n".join(lines)


def render_scaling_table(report: dict[str, Any]) -> str:
    """Slopes of log(figure) against log(N): about 1 is linear growth, about 2 quadratic."""
    lines = [
        "| model | attention | N fitted | fwd time | fwd+bwd time | fwd+bwd peak memory | FLOPs |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for row in report["scaling"]:
        e = row["exponents"]
        points = ", ".join(str(n) for n in row["points"]) or _MISSING
        lines.append(
            f"| {row['model']} | {row['attention']} | {points} | {format_ratio(e['forward_seconds'])} "
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


def render_report(report: dict[str, Any]) -> str:
    """The whole report as markdown."""
    sections = [
        "# pointea-bench: external vs PCT self-attention (offset)",
        render_machine(report),
        *report.get("notes", []),
        "## Networks",
        "`external/offset` rows divide the external-attention figure by the offset (self-attention) one: "
        "below 1 means external attention is cheaper.",
        render_model_table(report),
        "## Growth with N",
        "Slope of log(figure) against log(N) over the largest sizes measured: about 1 is linear, about 2 quadratic.",
        render_scaling_table(report),
        "## Farthest point sampling and kNN",
        f"Both backends on the same random clouds; same result: FPS picks the same indices, kNN finds neighbours at "
        f"the same distances (to {DISTANCE_TOLERANCE:g}).",
        render_sampling_table(report),
        "## Data loader",
        render_loader(report),
    ]
    return "\n\n".join(sections) + "\n"
