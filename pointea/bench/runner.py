"""One benchmark run: every model case in its own subprocess, then sampling and the data loader.

:func:`run_benchmark` takes :class:`BenchSettings` and returns the report, a JSON-able dictionary
with every figure (``machine``, ``settings``, ``models``, ``ratios``, ``scaling``, ``sampling``,
``sampling_ratios``, ``loader``, ``notes``, ``wall_seconds``). Before a case starts, its
self-attention maps are estimated against the memory available then; a case that cannot fit is
not run (or only its forward pass is) and says so.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from pointea.bench.case import MODEL_KINDS, ModelCase, build_grid
from pointea.bench.loader_cost import measure_loader
from pointea.bench.machine import describe_machine
from pointea.bench.memory_estimate import available_memory_bytes, estimate_case_bytes, format_gib
from pointea.bench.model_cost import STAGES, run_case
from pointea.bench.ratios import attention_ratios, sampling_ratios
from pointea.bench.sampling_cost import measure_sampling
from pointea.bench.scaling import scaling_exponents
from pointea.layers.offset_attention import ATTENTION_KINDS

__all__ = ["FULL_POINTS", "QUICK_POINTS", "MEMORY_HEADROOM", "BenchSettings", "plan_stages", "run_benchmark"]

#: Point counts of the full grid and of ``--quick``.
FULL_POINTS: tuple[int, ...] = (1024, 2048, 4096, 8192, 16384)
QUICK_POINTS: tuple[int, ...] = (1024, 2048)
#: Fraction of the available memory a case's estimate may use before it is skipped.
MEMORY_HEADROOM = 0.9


@dataclass
class BenchSettings:
    """What one run measures and how (the CLI's flags).

    Args:
        device: torch device name.
        points: N of the model grid.
        models: which networks (``"segmenter"``, ``"classifier"``).
        attentions: which attention kinds.
        batch_size: clouds per batch of the model cases.
        warmup: untimed runs before each timed stage.
        repeats: the most timed runs per stage.
        budget_seconds: a stage starts no new timed run after this many seconds of timed runs.
        case_timeout_seconds: wall-clock limit of one case's subprocess.
        sampling_points: N of the FPS/kNN comparison (empty: not measured).
        sampling_batch_size: clouds per FPS/kNN batch.
        loader: whether to measure the data loader.
        data_root: data for the loader (``None``: a synthetic set in a temporary folder).
        loader_options: keyword arguments for the loader measurement.
        threads: CPU threads torch may use, here and in every case's subprocess (``None``: torch's
            default, all cores). One thread keeps times steady on a machine other processes load:
            a parallel region waits for its slowest thread, and a thread that shares its core
            with another process stalls it.
        command: the command line, for the report.
    """

    device: str = "cpu"
    points: tuple[int, ...] = FULL_POINTS
    models: tuple[str, ...] = MODEL_KINDS
    attentions: tuple[str, ...] = ATTENTION_KINDS
    batch_size: int = 1
    warmup: int = 1
    repeats: int = 5
    budget_seconds: float = 20.0
    case_timeout_seconds: float = 900.0
    sampling_points: tuple[int, ...] = (1024, 4096, 16384)
    sampling_batch_size: int = 16
    loader: bool = True
    data_root: Path | None = None
    loader_options: dict[str, Any] = field(default_factory=dict)
    threads: int | None = None
    command: str = "pointea-bench"


def plan_stages(case: ModelCase, available_bytes: int | None) -> tuple[tuple[str, ...], str | None]:
    """Which stages of ``case`` fit in ``available_bytes`` (``None``: unknown, run everything).

    Returns the stages to run and, when some are dropped, why (``"out of memory (needs ~X GiB,
    Y GiB available): ..."``).
    """
    if available_bytes is None:
        return STAGES, None
    limit = MEMORY_HEADROOM * available_bytes
    needs_train, needs_forward = estimate_case_bytes(case, training=True), estimate_case_bytes(case, training=False)
    if needs_train <= limit:
        return STAGES, None
    if needs_forward <= limit:
        return ("forward",), (
            f"out of memory (fwd+bwd needs ~{format_gib(needs_train)}, "
            f"{format_gib(available_bytes)} available): fwd+bwd not run"
        )
    return (), f"out of memory (needs ~{format_gib(needs_forward)}, {format_gib(available_bytes)} available): not run"


def _run_model_case(case: ModelCase, settings: BenchSettings) -> dict[str, Any]:
    stages, skip_reason = plan_stages(case, available_memory_bytes(settings.device))
    estimate = estimate_case_bytes(case, training=True)
    if not stages:
        return {"case": case.to_dict(), "status": "out_of_memory", "reason": skip_reason, "skipped": True,
                "estimated_attention_bytes": estimate}  # fmt: skip
    result = run_case(
        case,
        settings.device,
        warmup=settings.warmup,
        repeats=settings.repeats,
        budget_seconds=settings.budget_seconds,
        stages=stages,
        timeout_seconds=settings.case_timeout_seconds,
        threads=settings.threads,
    )
    result["estimated_attention_bytes"] = estimate
    if result.get("status") == "out_of_memory":
        needs = f"needs ~{format_gib(estimate)}; " if estimate else ""
        result["reason"] = f"out of memory ({needs}{result.get('reason', '')})"
    elif skip_reason is not None and result.get("status") == "ok":
        result["status"], result["reason"] = "out_of_memory", skip_reason
    return result


def _notes(settings: BenchSettings, machine: dict[str, Any]) -> list[str]:
    notes = []
    if not torch.cuda.is_available():
        notes.append("No CUDA device on this machine: these are CPU figures only; no GPU figures could be produced.")
    if not settings.device.startswith("cuda"):
        notes.append(
            f"CPU times come from a machine that other processes may share ({machine['cpu_cores']} cores): "
            "absolute times are noisy; the external/offset ratios, taken back to back in this run, are what counts."
        )
    notes.append(
        "Networks run in eval mode (dropout off, BatchNorm on running statistics) so that a batch of one "
        "cloud is valid; fwd+bwd is forward plus backward of the summed logits. "
        "FLOPs: one forward pass, `torch.utils.flop_counter` (2 per multiply-add, matrix products only)."
    )
    return notes


def run_benchmark(settings: BenchSettings, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Measure everything ``settings`` asks for and return the report dictionary."""
    log = log or (lambda message: print(message, file=sys.stderr, flush=True))
    start = time.perf_counter()
    if settings.threads is not None:
        torch.set_num_threads(settings.threads)
    machine = describe_machine(settings.device)
    results = []
    cases = build_grid(settings.points, settings.models, settings.attentions, settings.batch_size)
    for index, case in enumerate(cases, 1):
        log(f"[{index}/{len(cases)}] {case.label} ...")
        case_start = time.perf_counter()
        result = _run_model_case(case, settings)
        results.append(result)
        log(f"    {result.get('status')} in {time.perf_counter() - case_start:.1f} s {result.get('reason') or ''}")
    sampling_rows: list[dict[str, Any]] = []
    if settings.sampling_points:
        log(f"FPS and kNN at N = {settings.sampling_points} ...")
        sampling_rows = measure_sampling(
            settings.sampling_points,
            batch_size=settings.sampling_batch_size,
            device=settings.device,
            warmup=settings.warmup,
            repeats=settings.repeats,
            budget_seconds=settings.budget_seconds,
        )
    loader: dict[str, Any] = {"status": "skipped", "reason": "not requested (--no-loader)"}
    if settings.loader:
        log("data loader throughput ...")
        loader = measure_loader(settings.data_root, **settings.loader_options)
        if loader.get("status") != "ok":
            log(f"    {loader.get('reason')}")
    settings_dict = asdict(settings)
    settings_dict["data_root"] = None if settings.data_root is None else str(settings.data_root)
    settings_dict["memory_meter"] = (
        "torch.cuda.max_memory_allocated" if settings.device.startswith("cuda") else "max RSS"
    )
    return {
        "schema": "pointea-bench/1",
        "machine": machine,
        "settings": settings_dict,
        "models": results,
        "ratios": attention_ratios(results),
        "scaling": scaling_exponents(results),
        "sampling": sampling_rows,
        "sampling_ratios": sampling_ratios(sampling_rows),
        "loader": loader,
        "notes": _notes(settings, machine),
        "wall_seconds": time.perf_counter() - start,
    }
