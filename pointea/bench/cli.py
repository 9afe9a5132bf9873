"""``pointea-bench``: external vs PCT self-attention, side by side, and the cost of every stage.

Measures, in one run and for both attention kinds, the part segmenter (every point through
attention) and the classifier at N = 1024 ... 16384 points by default (any N with ``--points``,
up to millions for the external segmenter): forward and forward+backward time, peak memory (each
case in a fresh subprocess), FLOPs and parameters, and the external/offset ratio of each; FPS and
kNN with torch_cluster and with the pure-torch fallback; the data loader's throughput. Variants of
the plain fp32 eager case are measured beside it when asked for: the forward pass in chunks
(``--chunk-size``), activation checkpointing (``--checkpointing``), bf16 autocast (``--precision``)
and ``torch.compile`` (``--compile``). Prints a markdown table and writes ``bench.json``,
``bench.md`` and ``bench.png`` to ``--out``. ``--quick`` runs a reduced grid on one CPU thread
(under a minute on 2 CPU cores).

Before a case starts, its memory is estimated (:func:`pointea.bench.cases.plan_stages`) against
the memory available then (or ``--memory-limit``): a case that cannot fit is not run (or only its
forward pass is), and its row says what it would need.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from pointea.bench.cases import (
    MODEL_KINDS,
    PRECISIONS,
    ModelCase,
    available_memory_bytes,
    build_grid,
    estimate_case_bytes,
    format_gib,
    plan_stages,
)
from pointea.bench.measure import CaseSettings, default_device, describe_machine, run_case
from pointea.bench.report import (
    attention_ratios,
    render_report,
    sampling_ratios,
    scaling_exponents,
    variant_ratios,
    write_report,
)
from pointea.bench.sampling import measure_sampling
from pointea.layers.offset_attention import ATTENTION_KINDS

__all__ = ["FULL_POINTS", "QUICK_POINTS", "BenchSettings", "run_benchmark", "build_parser", "settings_from_args", "main"]

#: Point counts of the full grid and of ``--quick``.
FULL_POINTS: tuple[int, ...] = (1024, 2048, 4096, 8192, 16384)
QUICK_POINTS: tuple[int, ...] = (1024, 2048)


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
        variants: keyword arguments of :class:`~pointea.bench.cases.ModelCase` of every variant to
            measure (``{}``: the plain fp32 eager case), see :func:`~pointea.bench.cases.build_grid`.
        parity: measure every variant's largest logit difference to the plain forward, where
            that fits in memory too.
        memory_limit_bytes: plan cases against at most this much memory (``None``: what the
            machine has available).
        fit_from: fit the growth exponents over every N from this size on (``None``: the last three).
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
    predict_files: int = 0
    threads: int | None = None
    command: str = "pointea-bench"
    variants: tuple[dict[str, Any], ...] = ({},)
    parity: bool = False
    memory_limit_bytes: int | None = None
    fit_from: int | None = None


def _memory_for_cases(settings: BenchSettings) -> int | None:
    available = available_memory_bytes(settings.device)
    if settings.memory_limit_bytes is None:
        return available
    return settings.memory_limit_bytes if available is None else min(available, settings.memory_limit_bytes)


def _run_model_case(case: ModelCase, settings: BenchSettings, earlier: list[dict[str, Any]]) -> dict[str, Any]:
    memory = _memory_for_cases(settings)
    stages, skip_reason = plan_stages(case, memory, earlier)
    # The parity check runs the plain forward too: only where that fits.
    parity = settings.parity and "forward" in plan_stages(case.plain(), memory, earlier)[0]
    # A chunked case's fwd+bwd pass would be the plain case's, a checkpointing case's forward
    # without gradients too: each measures only the stage it changes.
    only = "forward" if case.chunk_size is not None else "train" if case.checkpointing else None
    if only is not None:
        stages = tuple(stage for stage in stages if stage == only)
        skip_reason = None if stages else skip_reason
    estimate = estimate_case_bytes(case, training=True)
    if not stages:
        return {"case": case.to_dict(), "status": "out_of_memory", "reason": skip_reason, "skipped": True,
                "estimated_attention_bytes": estimate}  # fmt: skip
    measured = CaseSettings(settings.warmup, settings.repeats, settings.budget_seconds, stages, parity)
    result = run_case(case, settings.device, measured, timeout_seconds=settings.case_timeout_seconds, threads=settings.threads)
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
    if any(variant.get("chunk_size") for variant in settings.variants):
        notes.append(
            "Chunked: the forward pass of the external segmenter evaluated exactly in chunks of points "
            "(`chunk_size`, pointea.models.chunked); forward only (its fwd+bwd would be the plain case's)."
        )
    if any(variant.get("checkpointing") for variant in settings.variants):
        notes.append(
            "ckpt: activation checkpointing (`activation_checkpointing=True`); fwd+bwd only (without "
            "gradients its forward is the plain case's)."
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
    cases = build_grid(settings.points, settings.models, settings.attentions, settings.batch_size, settings.variants)
    for index, case in enumerate(cases, 1):
        log(f"[{index}/{len(cases)}] {case.label} ...")
        case_start = time.perf_counter()
        result = _run_model_case(case, settings, results)
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
        from pointea.bench.loader import measure_loader  # the data package, only when asked for

        loader = measure_loader(settings.data_root, **settings.loader_options)
        if loader.get("status") != "ok":
            log(f"    {loader.get('reason')}")
    predict: dict[str, Any] = {"status": "skipped", "reason": "not requested (--predict-files)"}
    if settings.predict_files:
        log(f"pointea-predict on {settings.predict_files} text files vs the network's forward ...")
        from pointea.bench.predict_throughput import measure_predict_throughput

        predict = {"status": "ok", **measure_predict_throughput(settings.predict_files, threads=settings.threads)}
    settings_dict = asdict(settings)
    settings_dict["data_root"] = None if settings.data_root is None else str(settings.data_root)
    settings_dict["variants"] = [dict(v) for v in settings.variants]
    settings_dict["memory_meter"] = (
        "torch.cuda.max_memory_allocated" if settings.device.startswith("cuda") else "max RSS"
    )
    return {
        "schema": "pointea-bench/1",
        "machine": machine,
        "settings": settings_dict,
        "models": results,
        "ratios": attention_ratios(results),
        "variants": variant_ratios(results),
        "scaling": scaling_exponents(results, fit_from=settings.fit_from),
        "sampling": sampling_rows,
        "sampling_ratios": sampling_ratios(sampling_rows),
        "loader": loader,
        "predict": predict,
        "notes": _notes(settings, machine),
        "wall_seconds": time.perf_counter() - start,
    }


# The command line ------------------------------------------------------------------------------


def _int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from error
    if any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def _choice_list(choices: tuple[str, ...]) -> Callable[[str], tuple[str, ...]]:
    """A parser of comma-separated values, each one of ``choices``."""

    def parse(text: str) -> tuple[str, ...]:
        values = tuple(v.strip() for v in text.split(",") if v.strip())
        unknown = [v for v in values if v not in choices]
        if unknown or not values:
            raise argparse.ArgumentTypeError(f"expected a comma-separated subset of {choices}, got {text!r}")
        return values

    return parse


def build_parser() -> argparse.ArgumentParser:
    """The command's argument parser."""
    parser = argparse.ArgumentParser(
        prog="pointea-bench",
        description="External vs PCT self-attention, side by side, and the cost of every stage.",
    )
    parser.add_argument("--out", type=Path, default=Path("bench-results"), help="folder for bench.json/.md/.png (default: bench-results)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default=default_device(),
                        help="default: cuda if available, else cpu")  # fmt: skip
    parser.add_argument("--quick", action="store_true",
                        help=f"reduced grid: N={','.join(map(str, QUICK_POINTS))}, 2 repeats, one thread, small FPS/kNN run")  # fmt: skip
    parser.add_argument("--points", type=_int_list, default=None,
                        help=f"N of the model grid (default {','.join(map(str, FULL_POINTS))})")  # fmt: skip
    parser.add_argument("--models", type=_choice_list(MODEL_KINDS), default=MODEL_KINDS, help="comma-separated (default: both)")
    parser.add_argument("--attention", type=_choice_list(ATTENTION_KINDS), default=ATTENTION_KINDS,
                        help="comma-separated attention kinds (default: both)")  # fmt: skip
    parser.add_argument("--batch-size", type=int, default=1, help="clouds per batch of the model cases (default: 1)")
    parser.add_argument("--chunk-size", type=int, default=None,
                        help="also measure the external segmenter's forward evaluated in chunks of this many points")  # fmt: skip
    parser.add_argument("--checkpointing", choices=("off", "on", "both"), default="off",
                        help="activation checkpointing of the external cases' fwd+bwd (default: off)")  # fmt: skip
    parser.add_argument("--precision", type=_choice_list(PRECISIONS), default=("fp32",),
                        help="comma-separated: fp32 and/or bf16 (autocast) (default: fp32)")  # fmt: skip
    parser.add_argument("--compile", action="store_true", help="also measure every case compiled with torch.compile")
    parser.add_argument("--no-plain", action="store_true",
                        help="measure the variants only, not the plain fp32 eager cases (no ratios then)")  # fmt: skip
    parser.add_argument("--parity", action="store_true",
                        help="each variant's largest logit difference to the plain fp32 forward on the same input")  # fmt: skip
    parser.add_argument("--memory-limit", type=float, default=None,
                        help="GiB a case may plan to use (default: the memory available now)")  # fmt: skip
    parser.add_argument("--fit-from", type=int, default=None,
                        help="fit the growth exponents over every N from this one on (default: the last three)")  # fmt: skip
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for torch (default: torch's, all cores; quick 1); 1 steadies times on a shared machine")  # fmt: skip
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs before each timed stage (default: 1)")
    parser.add_argument("--repeats", type=int, default=None, help="most timed runs per stage (default 5, quick 2)")
    parser.add_argument("--budget-seconds", type=float, default=None,
                        help="no new timed run after this many seconds of a stage (default 20, quick 5)")  # fmt: skip
    parser.add_argument("--case-timeout", type=float, default=None,
                        help="wall-clock limit of one case's subprocess, seconds (default 900, quick 120)")  # fmt: skip
    parser.add_argument("--sampling-points", type=_int_list, default=None,
                        help="N of the FPS/kNN comparison (default 1024,4096,16384; quick 1024)")  # fmt: skip
    parser.add_argument("--sampling-batch-size", type=int, default=None,
                        help="clouds per FPS/kNN batch (default 16, quick 4)")  # fmt: skip
    parser.add_argument("--no-sampling", action="store_true", help="skip the FPS/kNN comparison")
    parser.add_argument("--no-loader", action="store_true", help="skip the data loader measurement")
    parser.add_argument("--data-root", type=Path, default=None,
                        help="data for the loader measurement (default: a synthetic set in a temporary folder)")  # fmt: skip
    parser.add_argument("--loader-batch-size", type=int, default=32, help="default: 32")
    parser.add_argument("--loader-workers", type=int, default=0, help="loader worker processes (default: 0)")
    parser.add_argument("--predict-files", type=int, default=0,
                        help="also time pointea-predict on this many text files against the network's forward, "
                             "and onnxruntime against eager (default: 0, not measured)")  # fmt: skip
    parser.add_argument("--no-plot", action="store_true", help="write no PNG")
    parser.add_argument("--from-json", type=Path, default=None,
                        help="measure nothing: render the table and plot of an earlier run's bench.json into --out")  # fmt: skip
    return parser


def _variants(args: argparse.Namespace) -> tuple[dict[str, Any], ...]:
    """The case variants the flags ask for; ``{}`` is the plain fp32 eager case."""
    checkpointing = {"off": (False,), "on": (True,), "both": (False, True)}[args.checkpointing]
    variants: list[dict[str, Any]] = []
    for precision in args.precision:
        for compiled in (False, True) if args.compile else (False,):
            for ckpt in checkpointing:
                variant: dict[str, Any] = {}
                if precision != "fp32":
                    variant["precision"] = precision
                if compiled:
                    variant["compiled"] = True
                if ckpt:
                    variant["checkpointing"] = True
                variants.append(variant)
    if args.chunk_size is not None:
        variants.append({"chunk_size": args.chunk_size})
    if args.no_plain:
        variants = [variant for variant in variants if variant]
        if not variants:
            raise SystemExit("pointea-bench: --no-plain leaves no case to measure; add a variant (--chunk-size, ...)")
    elif {} not in variants:
        variants.insert(0, {})  # the plain case every ratio divides by
    return tuple(variants)


def settings_from_args(args: argparse.Namespace, command: str) -> BenchSettings:
    """Turn parsed flags into :class:`BenchSettings`, filling the defaults ``--quick`` changes."""
    quick = args.quick

    def pick(value: Any, full: Any, reduced: Any) -> Any:
        return value if value is not None else (reduced if quick else full)

    sampling_points = pick(args.sampling_points, (1024, 4096, 16384), (1024,))
    return BenchSettings(
        variants=_variants(args),
        parity=args.parity,
        memory_limit_bytes=None if args.memory_limit is None else int(args.memory_limit * 2**30),
        fit_from=args.fit_from,
        device=args.device,
        points=pick(args.points, FULL_POINTS, QUICK_POINTS),
        models=tuple(args.models),
        attentions=tuple(args.attention),
        batch_size=args.batch_size,
        warmup=args.warmup,
        repeats=pick(args.repeats, 5, 2),
        budget_seconds=pick(args.budget_seconds, 20.0, 5.0),
        case_timeout_seconds=pick(args.case_timeout, 900.0, 120.0),
        sampling_points=() if args.no_sampling else sampling_points,
        sampling_batch_size=pick(args.sampling_batch_size, 16, 4),
        loader=not args.no_loader,
        data_root=args.data_root,
        loader_options=dict(batch_size=args.loader_batch_size, num_workers=args.loader_workers),
        predict_files=args.predict_files,
        threads=pick(args.threads, None, 1),
        command=command,
    )


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``pointea-bench`` (``pointea-bench scenes ...``: :mod:`pointea.bench.scenes`)."""
    words = sys.argv[1:] if argv is None else list(argv)
    if words[:1] == ["las-reading"]:  # LAZ streaming vs laspy: its own options (see its --help)
        from pointea.bench.las_reading import main as las_reading

        raise SystemExit(las_reading(words[1:]))
    if words[:1] == ["scenes"]:  # whole-scene inference and crop training: its own options
        from pointea.bench.scenes import main as scenes_main

        scenes_main(words[1:])
        return
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            parser.error("--device cuda: no CUDA device is available here")
    if args.from_json is not None:
        report = json.loads(args.from_json.read_text())
    else:
        words = sys.argv[1:] if argv is None else argv
        settings = settings_from_args(args, " ".join(["pointea-bench", *map(shlex.quote, words)]))
        report = run_benchmark(settings)
    paths = write_report(report, args.out, plot=not args.no_plot)
    print(render_report(report))
    written = ", ".join(str(p) for p in paths.values())
    print(f"wrote {written} (measurements took {report['wall_seconds']:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
