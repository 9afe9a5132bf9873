"""``pointea-bench scenes``: whole-scene inference and crop training of the semantic segmenter.

Two tables, each case in a fresh subprocess (its own peak memory, the same allocator state):

- **Whole-scene inference** against N (131,072 ... 2,097,152 points by default): seconds of one
  pass, seconds per point and the peak memory above the loaded network and the scene (the
  extra memory). External attention runs the exact chunked pass the test loop runs
  (:meth:`~pointea.training.semantic.SemanticSegmentation.scene_probabilities`); self-attention
  its sliding windows at the smallest N (``--window-points``), and at every N the memory a single
  exact pass would need for its N x N maps (refused, not run, where that does not fit).
- **Training at each crop preset** (:data:`~pointea.data.crops.CROP_PRESETS`: PointNet's
  4,096-point blocks and the 32,768-point large crops), external vs offset side by side: seconds
  of one optimiser step (forward, cross-entropy, backward, SGD) and its peak memory; where
  self-attention's N x N estimate exceeds the memory limit the case is refused before it
  allocates and its row gives the estimate.

The network is the semantic segmenter at its defaults (PCT's segmentation network: 4 attention
layers of 128 channels, fused to 1024, head 512-256) for S3DIS's 13 classes with colour and
normalised coordinates as input (6 channels). ``--network normals`` measures the normal estimator
instead (the same network with 3 unit outputs, xyz only, ``--local-neighbours K`` for its local
embedding): whole-scene inference only, its chunked pass
(:class:`~pointea.models.per_point.PCTNormalEstimator` with ``chunk_size``); it has no windowed
evaluation, so self-attention rows give the exact pass's estimate. Writes ``scenes.json`` and
``scenes.md`` to ``--out``.

Shape legend: B crops, N points, C feature channels, K classes.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from pointea.bench.measure import PeakMemoryMeter, describe_machine, is_out_of_memory, time_callable

__all__ = ["SceneCase", "measure_scene_case", "run_scene_case", "run_scene_benchmark", "render_scene_report", "main"]

#: Whole-scene sizes of the default run: 2^17 ... 2^21 (131,072 to 2,097,152 points).
SCENE_POINTS = (131_072, 262_144, 524_288, 1_048_576, 2_097_152)
CLASSES = 13
IN_CHANNELS = 6


@dataclass(frozen=True)
class SceneCase:
    """One measurement: ``kind`` ``"scene"`` (whole-scene inference) or ``"train"`` (one step)."""

    kind: str
    attention: str
    num_points: int
    batch_size: int = 1
    preset: str = ""
    chunk_size: int = 8192
    window_points: int = 4096
    network: str = "semantic"
    local_neighbours: int = 0

    @property
    def label(self) -> str:
        what = f"{self.preset} B={self.batch_size}" if self.kind == "train" else "scene"
        return f"{self.kind} {self.network} {self.attention} N={self.num_points} ({what})"


def _normal_estimator(case: SceneCase):
    from pointea.models.encoder import PointEncoder
    from pointea.models.per_point import PCTNormalEstimator

    # configs/modelnet40_normals.yaml's network (PCT's segmentation encoder, no sampling)
    encoder = PointEncoder(attention=case.attention, embedding_channels=128, sample_sizes=(), stage_channels=(),
                           channels=128, out_channels=1024, pooling="max+mean", pre_attention_layers=0,
                           fuse_embedding=False, local_neighbours=case.local_neighbours)  # fmt: skip
    return PCTNormalEstimator(encoder=encoder)


def _module(case: SceneCase, memory_limit_gb: float | None):
    from pointea.models.per_point import PCTSemanticSegmenter
    from pointea.training.semantic import SemanticSegmentation

    if case.network == "normals":
        return _normal_estimator(case)
    network = PCTSemanticSegmenter(num_classes=CLASSES, in_channels=IN_CHANNELS, attention=case.attention)
    return SemanticSegmentation(
        network, chunk_size=case.chunk_size, window_size=1.0, window_stride=0.5, window_points=case.window_points,
        memory_limit_gb=memory_limit_gb,
    )  # fmt: skip


def _scene(batch: int, num_points: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random points over a 20 m x 20 m x 3 m floor (for windows) with C random features.

    Shapes: returns points (B, N, 3), features (B, N, C)"""
    generator = torch.Generator().manual_seed(seed)
    extent = torch.tensor([20.0, 20.0, 3.0])
    points = torch.rand(batch, num_points, 3, generator=generator) * extent - extent * torch.tensor([0.5, 0.5, 0.0])
    return points, torch.rand(batch, num_points, IN_CHANNELS, generator=generator)


def measure_scene_case(case: SceneCase, result_path: Path, repeats: int, memory_limit_gb: float | None) -> dict[str, Any]:
    """The child's work: build, check the estimate, time and meter ``case``; write the result JSON."""
    from pointea.errors import ConfigError
    from pointea.models.scene_evaluation import self_attention_estimate

    module = _module(case, memory_limit_gb)
    training = case.kind == "train"
    result: dict[str, Any] = {"case": asdict(case), "status": "ok"}
    if case.attention != "external":
        exact = case.batch_size if training else 1, case.num_points
        encoder = module.encoder if case.network == "normals" else module.network.encoder
        result["self_attention_estimate_bytes"] = self_attention_estimate(encoder, *exact, training=training)
    points, features = _scene(case.batch_size, case.num_points)  # features unused by the normal estimator
    labels = torch.randint(0, CLASSES, points.shape[:2])  # (B, N)
    try:
        if training:
            module.check_fits(case.batch_size, case.num_points, training=True, what="the crop's num_points")
            module.train()
            optimizer = torch.optim.SGD(module.parameters(), lr=0.01, momentum=0.9)

            def work() -> None:
                optimizer.zero_grad(set_to_none=True)
                loss = module._loss(module.network(points, features), labels)
                loss.backward()
                optimizer.step()

        elif case.network == "normals":
            module.eval()
            result["evaluation"] = f"one exact pass in chunks of {case.chunk_size:,}"

            def work() -> None:
                with torch.inference_mode():
                    module(points, chunk_size=case.chunk_size)

        else:
            module.eval()
            if case.attention == "external":
                result["evaluation"] = f"one exact pass in chunks of {case.chunk_size:,}"
            elif case.num_points > case.window_points:
                result["evaluation"] = f"1 m windows, stride 0.5 m, <= {case.window_points:,} points a pass, voted"
            else:
                result["evaluation"] = "one exact pass (the scene fits a window)"

            def work() -> None:
                with torch.inference_mode():
                    module.scene_probabilities(points, features)

        meter = PeakMemoryMeter("cpu")
        meter.start()
        timing = time_callable(work, "cpu", warmup=1 if case.num_points <= 65_536 else 0, repeats=repeats, budget_seconds=60)
        result.update(seconds=timing.median, repeats=timing.repeats, peak_extra_bytes=meter.peak_bytes())
        result["microseconds_per_point"] = 1e6 * timing.median / (case.num_points * case.batch_size)
    except ConfigError as error:
        result.update(status="refused", reason=str(error))
    except (RuntimeError, MemoryError) as error:
        if not is_out_of_memory(error):
            raise
        result.update(status="out_of_memory", reason=str(error).splitlines()[0])
    result_path.write_text(json.dumps(result))
    return result


def run_scene_case(
    case: SceneCase, repeats: int, memory_limit_gb: float | None, threads: int | None, timeout: float
) -> dict[str, Any]:
    """Measure ``case`` in a fresh ``python -m pointea.bench.scenes --case`` subprocess."""
    with tempfile.TemporaryDirectory(prefix="pointea-bench-scenes-") as tmp:
        result_path = Path(tmp) / "result.json"
        command = [sys.executable, "-m", "pointea.bench.scenes", "--case", json.dumps(asdict(case)),
                   "--result", str(result_path), "--repeats", str(repeats)]  # fmt: skip
        if memory_limit_gb is not None:
            command += ["--memory-limit", str(memory_limit_gb)]
        if threads is not None:
            command += ["--threads", str(threads)]
        try:
            completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"case": asdict(case), "status": "timed_out", "reason": f"timed out after {timeout:g} s"}
        if result_path.exists():
            return json.loads(result_path.read_text())
        tail = (completed.stderr or completed.stdout).strip().splitlines()[-1:] or ["no output"]
        status = "out_of_memory" if completed.returncode == -9 else "failed"
        return {"case": asdict(case), "status": status, "reason": f"exit code {completed.returncode}: {tail[0]}"}


def build_cases(
    scene_points: tuple[int, ...],
    presets: tuple[str, ...],
    batch_size: int,
    window_points: int,
    chunk_size: int,
    network: str = "semantic",
    local_neighbours: int = 0,
) -> list[SceneCase]:
    """The smallest external whole scene, training at each preset, the larger external scenes, then
    self-attention's windows (slowest last): on a loaded machine the quick figures come first.
    The normal estimator has whole scenes only (no crop presets)."""
    kind = {"network": network, "local_neighbours": local_neighbours}
    external = [SceneCase("scene", "external", n, chunk_size=chunk_size, **kind) for n in sorted(scene_points)]
    cases = external[:1]
    if network == "normals":
        presets = ()
    if presets:
        from pointea.data.crops import CROP_PRESETS
    for preset in presets:
        for attention in ("external", "offset"):
            num_points = CROP_PRESETS[preset].num_points
            cases.append(SceneCase("train", attention, num_points, batch_size=batch_size, preset=preset))
    cases += external[1:]
    cases += [SceneCase("scene", "offset", n, window_points=window_points, **kind) for n in sorted(scene_points)]
    return cases


def run_scene_benchmark(args: argparse.Namespace, command: str, out: Path | None = None) -> dict[str, Any]:
    """Measure every case; with ``out``, the report so far is written after each case (a run cut
    short keeps what it measured, and says which cases it did not reach)."""
    cases = build_cases(tuple(args.points), tuple(args.presets), args.batch_size, args.window_points, args.chunk_size,
                        args.network, args.local_neighbours)  # fmt: skip
    results: list[dict[str, Any]] = []
    start = time.perf_counter()
    report: dict[str, Any] = {
        "schema": "pointea-bench-scenes/1",
        "command": command,
        "machine": describe_machine("cpu") | {"python_build": platform.python_implementation()},
        "results": results,
        "not_reached": [asdict(case) for case in cases],
        "wall_seconds": 0.0,
    }
    for index, case in enumerate(cases, 1):
        if case.kind == "scene" and case.attention == "offset" and (
            case.num_points != min(args.points) or case.network == "normals"
        ):
            # windows at the smallest N show the cost per point; larger N only need the estimate (the
            # normal estimator has no windows: only the estimate)
            results.append(_estimate_only(case, args.memory_limit))
        else:
            print(f"[{index}/{len(cases)}] {case.label} ...", file=sys.stderr, flush=True)
            began = time.perf_counter()
            results.append(run_scene_case(case, args.repeats, args.memory_limit, args.threads, args.case_timeout))
            print(f"    {results[-1]['status']} in {time.perf_counter() - began:.0f} s", file=sys.stderr, flush=True)
        report["not_reached"] = [asdict(case) for case in cases[index:]]
        report["wall_seconds"] = time.perf_counter() - start
        if out is not None:
            write_scene_report(report, out)
    return report


def write_scene_report(report: dict[str, Any], out: Path) -> None:
    """``scenes.json`` and ``scenes.md`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "scenes.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "scenes.md").write_text(render_scene_report(report))


def _estimate_only(case: SceneCase, memory_limit_gb: float | None) -> dict[str, Any]:
    """A self-attention whole-scene row that only states what an exact pass would need."""
    from pointea.models.per_point import PCTSemanticSegmenter
    from pointea.models.scene_evaluation import self_attention_estimate

    if case.network == "normals":
        encoder = _normal_estimator(case).encoder
    else:
        encoder = PCTSemanticSegmenter(num_classes=CLASSES, in_channels=IN_CHANNELS, attention="offset").encoder
    return {"case": asdict(case), "status": "estimate", "self_attention_estimate_bytes":
            self_attention_estimate(encoder, 1, case.num_points, training=False)}  # fmt: skip


def _gib(value: float | None) -> str:
    return "" if value is None else f"{value / 2**30:.2f} GiB" if value < 2**40 else f"{value / 2**40:.1f} TiB"


def _results_of(report: dict[str, Any], kind: str) -> Iterator[tuple[dict[str, Any], dict[str, Any], str]]:
    """Each result of the cases of ``kind`` ("scene" or "train"), its case and the offset estimate cell."""
    for result in report["results"]:
        if result["case"]["kind"] == kind:
            yield result, result["case"], _gib(result.get("self_attention_estimate_bytes"))


def _network_words(report: dict[str, Any]) -> str:
    cases = [result["case"] for result in report["results"]] + report.get("not_reached", [])
    if cases and cases[0].get("network") == "normals":
        k = cases[0].get("local_neighbours", 0)
        return "PCTNormalEstimator, xyz only" + (f", local_neighbours {k}" if k else "")
    return "PCTSemanticSegmenter, 13 classes, 6 input channels"


def render_scene_report(report: dict[str, Any]) -> str:
    machine = report["machine"]
    lines = [
        f"Machine: {machine['cpu_model']}, {machine['cpu_cores']} cores, torch {machine['torch']}, "
        f"{machine['torch_threads']} threads; CPU only (no GPU here). Command: `{report['command']}`.",
        "",
        f"Whole-scene inference ({_network_words(report)}, eval, one scene):",
        "",
        "| N | attention | evaluation | seconds | us / point | extra memory | offset exact pass needs |",
        "|---:|---|---|---:|---:|---:|---:|",
    ]
    for result, case, needs in _results_of(report, "scene"):
        if result["status"] == "ok":
            lines.append(
                f"| {case['num_points']:,} | {case['attention']} | {result['evaluation']} | {result['seconds']:.1f} | "
                f"{result['microseconds_per_point']:.1f} | {_gib(result['peak_extra_bytes'])} | {needs} |"
            )
        else:
            lines.append(f"| {case['num_points']:,} | {case['attention']} | not run ({result['status']}) | | | | {needs} |")
    training = list(_results_of(report, "train"))
    if training or not _network_words(report).startswith("PCTNormalEstimator"):
        lines += [
            "",
            "Training, one optimiser step at each crop preset (forward, cross-entropy, backward, SGD):",
            "",
            "| preset | N per crop | B | attention | seconds / step | peak memory | offset N x N estimate | note |",
            "|---|---:|---:|---|---:|---:|---:|---|",
        ]
    for result, case, needs in training:
        if result["status"] == "ok":
            row = f"{result['seconds']:.2f} | {_gib(result['peak_extra_bytes'])} | {needs} | |"
        else:
            row = f" | | {needs} | {result['status']}: {result.get('reason', '')[:110]} |"
        lines.append(f"| {case['preset']} | {case['num_points']:,} | {case['batch_size']} | {case['attention']} | {row}")
    for case in report.get("not_reached", []):
        lines.append(f"Not measured (the run was stopped before it): {case['kind']} {case['attention']} N={case['num_points']:,}.")
    lines.append("")
    lines.append(
        "Each case runs in a fresh subprocess; peak memory is max RSS above the loaded network and inputs; "
        "scenes above 65,536 points get one timed pass without warm-up (a pass there takes tens of seconds). "
        f"Measured in {report['wall_seconds']:.0f} s."
    )
    return "\n".join(lines) + "\n"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pointea-bench scenes", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench-results/scenes"))
    parser.add_argument("--points", type=lambda t: [int(v) for v in t.split(",")], default=list(SCENE_POINTS),
                        help="whole-scene sizes (default 131072 ... 2097152)")  # fmt: skip
    parser.add_argument("--presets", type=lambda t: [p for p in t.split(",") if p], default=["pointnet", "large"],
                        help="crop presets of the training table (default pointnet,large; '' for none)")  # fmt: skip
    parser.add_argument("--batch-size", type=int, default=4, help="crops per training step (default 4)")
    parser.add_argument("--chunk-size", type=int, default=8192)
    parser.add_argument("--window-points", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--memory-limit", type=float, default=None, help="GiB (default: the machine's memory)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--case-timeout", type=float, default=1800.0)
    parser.add_argument("--network", choices=("semantic", "normals"), default="semantic",
                        help="the semantic segmenter (default) or the normal estimator (whole scenes only)")  # fmt: skip
    parser.add_argument("--local-neighbours", type=int, default=0,
                        help="the normal estimator's local embedding neighbours (default 0: none)")  # fmt: skip
    parser.add_argument("--case", default=None, help=argparse.SUPPRESS)  # the child's side
    parser.add_argument("--result", type=Path, default=None, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.case is not None:
        measure_scene_case(SceneCase(**json.loads(args.case)), args.result, args.repeats, args.memory_limit)
        return
    words = sys.argv[1:] if argv is None else argv
    report = run_scene_benchmark(args, " ".join(["pointea-bench scenes", *map(shlex.quote, words)]), args.out)
    print(render_scene_report(report))


if __name__ == "__main__":
    main()
