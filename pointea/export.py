"""``pointea-export``: a trained network as an ONNX, TorchScript or ``torch.export`` file that runs
without pointea, with dynamic batch size and number of points.

    pointea-export CKPT --format onnx|torchscript|exported --out FILE [--check FILE] [--clouds 4]

The exported graph is the network's own eager code on dense ``(B, N, 3)`` clouds. Its farthest
point sampling and kNN are pointea's pure-torch implementations (:mod:`pointea.layers.sampling`
switches to them while tracing), plain tensor code with loops of fixed length (the sample sizes),
so the number of points N stays a free dimension (N >= the first sample size). No custom operator
ends up in the file. Inputs: ``points`` (B, N, 3) float32 (centred and scaled into the unit sphere,
as in training); for part segmentation also ``category`` (B,) int64. Output: ``logits`` (B, C), or
(B, N, P) per point. The label names and preprocessing travel in the file's metadata (ONNX
``metadata_props``; ``pointea.json`` in TorchScript's and ``torch.export``'s extra files).

After writing, the file is loaded by its own runtime (onnxruntime, ``torch.jit.load``,
``torch.export.load``) and checked against eager PyTorch on ``--check`` clouds (an HDF5 archive's
``data``, or point files), preprocessed as ``pointea-predict`` does: max abs logit difference
<= 1e-4 and equal argmax, at the trained number of points and with every point of a cloud; then
both runtimes' latency for one cloud is printed. Status 1 if the check fails, 2 on a usage error.

Shape legend: B clouds, N points, C classes, P part labels.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from pointea.errors import ExportError
from pointea.io.atomic import atomic_write
from pointea.models.checkpoint import CheckpointError
from pointea.predict.dataset import Preprocessing
from pointea.predict.files import expand_paths, read_cloud
from pointea.predict.model import TrainedModel, load_trained_model

__all__ = ["ExportError", "FORMATS", "export_model", "load_runtime", "check_parity", "ParityReport", "metadata", "main"]

FORMATS = ("onnx", "torchscript", "exported")
#: Parity tolerance on logits (max abs difference).
TOLERANCE = 1e-4
PROGRAM = "pointea-export"


def _too_few_points(min_points: int) -> str:
    return f"pointea: this network samples {min_points} points per cloud (sample_sizes[0]); resample clouds to at least {min_points} points"


@torch.jit.script
def _check_points(points: Tensor, min_points: int) -> Tensor:
    """The clouds, or an error when they have fewer points than the network samples: scripted, so a
    traced graph keeps the check as real control flow. Shapes: points (B, N, 3)."""
    if points.shape[1] < min_points:
        raise ValueError(
            "pointea: this network samples {} points per cloud (sample_sizes[0]), got clouds of {} points; "
            "resample clouds to at least {} points".format(min_points, points.shape[1], min_points)
        )
    return points


class _Checked(nn.Module):
    """A graph whose every call checks first that the clouds have the points the network samples
    (TorchScript: the scripted :func:`_check_points`)."""

    def __init__(self, graph: nn.Module, min_points: int) -> None:
        super().__init__()
        self.graph = graph
        self.min_points = min_points

    def forward(self, points: Tensor, *rest: Tensor) -> Tensor:
        return self.graph(_check_points(points, self.min_points), *rest)


def _add_onnx_points_check(proto: Any, min_points: int) -> None:
    """Make the ONNX graph refuse clouds of fewer than ``min_points`` points, in onnxruntime's own
    error: ONNX has no assert operator, so the check is a Reshape to one element of
    ``Range(0, N - min_points + 1)``, empty exactly when N < min_points, and the node is named
    with the message (onnxruntime names the failing node). Its zero is added to the points every
    other node reads, so it runs first and no runtime can prune it."""
    from onnx import TensorProto, helper

    name = f"{_too_few_points(min_points)} (this Reshape fails on clouds of fewer points)"

    def constant(key: str, value: float | list[int], kind: int = TensorProto.INT64) -> Any:
        """A Constant node: a list is 1-D, a number 0-D."""
        values, dims = (value, [len(value)]) if isinstance(value, list) else ([value], [])
        return helper.make_node("Constant", [], [key], value=helper.make_tensor(key, kind, dims, values))

    checked = "pointea_checked_points"
    nodes = [
        constant("pointea_check_fzero", 0.0, TensorProto.FLOAT),
        constant("pointea_check_zero_1d", [0]),
        constant("pointea_check_axis", [1]),
        constant("pointea_check_offset", 1 - min_points),
        constant("pointea_check_zero", 0),
        constant("pointea_check_one", 1),
        constant("pointea_check_single", [1]),
        helper.make_node("Shape", ["points"], ["pointea_check_shape"]),
        helper.make_node("Gather", ["pointea_check_shape", "pointea_check_axis"], ["pointea_check_n1"]),
        helper.make_node("Squeeze", ["pointea_check_n1"], ["pointea_check_n"]),  # (1,) -> ()
        helper.make_node("Add", ["pointea_check_n", "pointea_check_offset"], ["pointea_check_limit"]),
        helper.make_node("Range", ["pointea_check_zero", "pointea_check_limit", "pointea_check_one"], ["pointea_check_range"]),
        helper.make_node("Slice", ["pointea_check_range", "pointea_check_zero_1d", "pointea_check_single"], ["pointea_check_first"]),
        helper.make_node("Reshape", ["pointea_check_first", "pointea_check_single"], ["pointea_check_flag"], name=name),
        helper.make_node("Cast", ["pointea_check_flag"], ["pointea_check_float"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["pointea_check_float", "pointea_check_fzero"], ["pointea_check_nought"]),
        helper.make_node("Add", ["points", "pointea_check_nought"], [checked]),  # (B, N, 3) + (1,)
    ]
    old = list(proto.graph.node)
    for node in old:  # the network reads the checked points
        node.input[:] = [checked if name == "points" else name for name in node.input]
    del proto.graph.node[:]
    proto.graph.node.extend(nodes + old)


class _ClassifierGraph(nn.Module):
    """The classifier with a fixed signature. Shapes: points (B, N, 3); returns (B, C)."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, points: Tensor) -> Tensor:
        return self.network(points)


class _SegmenterGraph(nn.Module):
    """The part segmenter with a fixed signature. Shapes: points (B, N, 3); category (B,); returns (B, N, P)."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, points: Tensor, category: Tensor) -> Tensor:
        return self.network(points, category)


def metadata(model: TrainedModel) -> dict[str, str]:
    """What the exported file records besides the graph (string values, as ONNX metadata wants)."""
    if model.task == "classification":
        labels: dict[str, Any] = {"class_names": model.class_names}
    elif model.task == "normal_estimation":
        labels = {"oriented": model.oriented}
    else:
        labels = {"categories": model.categories, "parts_per_category": model.parts_per_category}
    return {
        "pointea_task": model.task,
        "num_points": str(model.num_points),
        "min_points": str(model.min_points),
        "sampling": model.sampling,
        "preprocessing": Preprocessing(model.num_points, model.sampling).describe(),
        **{key: json.dumps(value) for key, value in labels.items()},
    }


def _example(model: TrainedModel, batch: int = 2) -> tuple[Tensor, ...]:
    """Inputs to trace with: ``batch`` random clouds of the trained size."""
    points = torch.rand(batch, max(model.num_points, model.min_points), 3) * 2 - 1  # (B, N, 3)
    if model.task != "part_segmentation":
        return (points,)
    return points, torch.arange(batch) % model.network.num_categories  # (B,)


def export_model(model: TrainedModel, fmt: str, out: Path) -> None:
    """Write ``model``'s network to ``out`` in ``fmt`` (one of :data:`FORMATS`)."""
    if fmt not in FORMATS:
        raise ExportError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if fmt == "exported" and out.suffix != ".pt2":
        raise ExportError(f"--out {out}: torch.export's files must end in .pt2 (torch.export.load refuses others)")
    segmentation = model.task == "part_segmentation"
    graph = (_SegmenterGraph if segmentation else _ClassifierGraph)(model.network).eval()
    example = _example(model)
    names = ["points", "category"] if segmentation else ["points"]
    batch = torch.export.Dim("batch")
    points = torch.export.Dim("points", min=model.min_points)
    shapes = {"points": {0: batch, 1: points}, **({"category": {0: batch}} if segmentation else {})}
    extra = json.dumps(metadata(model))
    buffer = io.BytesIO()  # the whole file in memory first: then one atomic write (see _write)
    if fmt == "torchscript":
        with torch.no_grad(), warnings.catch_warnings():
            # the input checks read Python values; tracing records none of them (is_tracing skips
            # them), so the scripted points check stands in for them
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            traced = torch.jit.trace(_Checked(graph, model.min_points), example, check_trace=False)
        torch.jit.save(traced, buffer, _extra_files={"pointea.json": extra})
    elif fmt == "exported":
        # Dim("points", min=min_points) makes the program check every call's N itself
        program = torch.export.export(graph, example, dynamic_shapes=shapes)
        torch.export.save(program, buffer, extra_files={"pointea.json": extra})
    else:
        import onnx

        # The TorchScript-based exporter: it traces in about a second where the dynamo exporter
        # (dynamo=True) spends a minute on the unrolled sampling loops of even a tiny network, and
        # gives the same graph (both checked against eager PyTorch).
        output = "normals" if model.task == "normal_estimation" else "logits"
        axes = {"points": {0: "batch", 1: "points"}, "category": {0: "batch"}, output: {0: "batch"}}
        if model.task in ("part_segmentation", "normal_estimation"):  # one output per point
            axes[output][1] = "points"
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            torch.onnx.export(
                graph, example, buffer, dynamo=False, input_names=names, output_names=[output],
                dynamic_axes={name: axes[name] for name in [*names, output]},
            )  # fmt: skip
        proto = onnx.load_from_string(buffer.getvalue())
        _add_onnx_points_check(proto, model.min_points)
        for key, value in metadata(model).items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
        buffer = io.BytesIO(proto.SerializeToString())
    _write(out, buffer.getbuffer())


def _write(out: Path, content: memoryview) -> None:
    """``content`` to ``out`` atomically: a full disk or a file-size limit leaves any earlier file
    at ``out`` intact and is one :class:`ExportError` (the runtimes' own writers, given a path,
    truncate it first, and TorchScript's and torch.export's abort the process on a failed write).

    Raises:
        ExportError: the file cannot be written.
    """
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(out) as handle:
            handle.write(content)
    except OSError as error:
        raise ExportError(f"--out {out}: cannot write it ({error.strerror or error}); any earlier file there is intact") from None


def load_runtime(fmt: str, path: Path) -> Callable[..., np.ndarray]:
    """The exported file, loaded by its own runtime, as ``run(points[, category]) -> logits``
    on numpy arrays."""
    if fmt == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        names = [i.name for i in session.get_inputs()]
        return lambda *arrays: session.run(None, dict(zip(names, arrays)))[0]
    if fmt == "torchscript":
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=DeprecationWarning)  # torch.jit is deprecated, still works
            module = torch.jit.load(str(path))
    else:
        module = torch.export.load(str(path)).module()

    def run(*arrays: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return module(*(torch.from_numpy(a) for a in arrays)).numpy()

    return run


@dataclass
class ParityReport:
    """How the exported runtime compared with eager PyTorch."""

    max_abs_difference: float
    argmax_equal: bool
    shapes: list[tuple[int, ...]]
    eager_ms: float
    runtime_ms: float

    @property
    def passed(self) -> bool:
        return self.max_abs_difference <= TOLERANCE and self.argmax_equal


def check_clouds(model: TrainedModel, sources: Sequence[str], count: int) -> tuple[list[np.ndarray], str]:
    """Up to ``count`` clouds to check on, (N, 3) finite each, and where they came from.

    Raises:
        ExportError: a source that cannot be read as clouds (one line naming it), whatever the
            reader's failure (a damaged file, a header declaring more than memory holds).
    """
    clouds: list[np.ndarray] = []
    for source in sources:
        path = Path(source)
        if path.suffix in (".h5", ".hdf5") and path.is_file():
            import h5py

            try:
                with h5py.File(path, "r") as archive:
                    read = [np.asarray(c, dtype=np.float32) for c in archive["data"][: count - len(clouds)]]
            except Exception as error:  # noqa: BLE001 - any failure of h5py on a damaged file
                raise ExportError(f"--check {path}: not an HDF5 archive with a 'data' array of clouds ({_first_line(error)})") from None
            clouds += [_checked_cloud(cloud, f"{path}: data[{i}]") for i, cloud in enumerate(read)]
        else:
            found = expand_paths([source])
            if found.missing:
                raise ExportError(f"--check {source}: {found.missing[0][1]}")
            for file in found.files[: count - len(clouds)]:
                try:
                    cloud = read_cloud(file)
                except Exception as error:  # noqa: BLE001 - any reader failure, MemoryError included
                    message = _first_line(error).removeprefix(f"{file}: ")
                    raise ExportError(f"--check {file}: {message}") from None
                clouds.append(_checked_cloud(cloud, str(file)))
        if len(clouds) >= count:
            break
    where = ", ".join(sources)
    if not clouds:
        generator = np.random.default_rng(0)
        clouds = [generator.normal(size=(2048, 3)).astype(np.float32) for _ in range(count)]
        where = "random Gaussian clouds (give --check FILE for real ones)"
    clouds = [c for c in clouds if c.shape[0] >= model.min_points]
    if not clouds:
        raise ExportError(f"--check: no cloud has the {model.min_points} points the network samples")
    return clouds, where


def _checked_cloud(cloud: np.ndarray, where: str) -> np.ndarray:
    """``cloud`` if it is (N, 3) with finite coordinates that normalise; else an ExportError."""
    if cloud.ndim != 2 or cloud.shape[1] != 3:
        raise ExportError(f"--check {where}: a cloud of shape {tuple(cloud.shape)}, expected (N, 3) points")
    if not np.isfinite(cloud).all():
        raise ExportError(f"--check {where}: the cloud has NaN or infinite coordinates")
    try:
        Preprocessing(None, resample_small=True)(cloud, "check")
    except Exception as error:  # noqa: BLE001 - coordinates the preprocessing cannot scale
        raise ExportError(f"--check {where}: {_first_line(error)}") from None
    return cloud


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def check_parity(model: TrainedModel, run: Callable[..., np.ndarray], clouds: list[np.ndarray], repeats: int = 5) -> ParityReport:
    """Compare ``run`` with eager PyTorch on ``clouds``: a batch at the trained number of points,
    then the first cloud with every point; then time one cloud in both."""
    preprocessing = Preprocessing(model.num_points, model.sampling, model.min_points, resample_small=True)
    batch = np.stack([preprocessing(c, f"check{i}")[1] for i, c in enumerate(clouds)])  # (B, K, 3)
    whole = preprocessing(clouds[0], "check0")[0][None]  # (1, N, 3)
    segmentation = model.task == "part_segmentation"
    worst, same, shapes = 0.0, True, []
    for points in (batch, whole):
        inputs = [points]
        if segmentation:
            inputs.append(np.arange(points.shape[0], dtype=np.int64) % model.network.num_categories)
        with torch.no_grad():
            eager = model.network(*(torch.from_numpy(a) for a in inputs)).numpy()
        exported = run(*inputs)
        worst = max(worst, float(np.abs(eager - exported).max()))
        same = same and bool((eager.argmax(-1) == exported.argmax(-1)).all())
        shapes.append(tuple(points.shape))
    one = [batch[:1]] + ([np.zeros(1, dtype=np.int64)] if segmentation else [])
    with torch.no_grad():
        eager_ms = _median_ms(lambda: model.network(*(torch.from_numpy(a) for a in one)), repeats)
    return ParityReport(worst, same, shapes, eager_ms, _median_ms(lambda: run(*one), repeats))


def _median_ms(call: Callable[[], Any], repeats: int) -> float:
    call()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``pointea-export``; returns the exit status."""
    parser = argparse.ArgumentParser(prog=PROGRAM, description="Export a trained pointea network (ONNX, TorchScript, torch.export).")
    parser.add_argument("checkpoint", help="a checkpoint written by `pointea fit`")
    parser.add_argument("--format", required=True, choices=FORMATS)
    parser.add_argument("--out", required=True, help="the file to write (e.g. model.onnx, model.pt, model.pt2)")
    parser.add_argument("--check", nargs="*", default=[], metavar="FILE", help="clouds to check parity on: an HDF5 archive (its 'data') or point files")
    parser.add_argument("--clouds", type=int, default=4, help="clouds to check on (default 4)")
    args = parser.parse_args(argv)
    try:
        if args.clouds < 1:
            raise ExportError(f"--clouds must be >= 1, got {args.clouds}")
        model = load_trained_model(args.checkpoint)
        clouds, where = check_clouds(model, args.check, args.clouds)
        out = Path(args.out)
        export_model(model, args.format, out)
        report = check_parity(model, load_runtime(args.format, out), clouds)
    except (CheckpointError, ExportError) as error:
        print(f"{PROGRAM}: error: {error}", file=sys.stderr)
        return 2
    runtime = {"onnx": "onnxruntime", "torchscript": "TorchScript", "exported": "torch.export"}[args.format]
    print(f"wrote {out} ({args.format}, {out.stat().st_size / 1e6:.1f} MB): {model.describe()}")
    print(
        f"parity with eager PyTorch on {where}, inputs {', '.join(str(s) for s in report.shapes)}: max abs logit "
        f"difference {report.max_abs_difference:.2e} (<= {TOLERANCE:g}), argmax {'equal' if report.argmax_equal else 'DIFFERS'}: "
        + ("ok" if report.passed else "FAILED")
    )
    print(
        f"latency, one cloud of {model.num_points} points: eager PyTorch {report.eager_ms:.1f} ms, {runtime} "
        f"{report.runtime_ms:.1f} ms ({runtime} / eager = {report.runtime_ms / report.eager_ms:.2f})"
    )
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
