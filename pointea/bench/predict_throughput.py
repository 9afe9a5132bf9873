"""``pointea-predict`` throughput against the network's own batched forward pass, and onnxruntime
against eager PyTorch for one cloud, measured in one run on one machine.

Writes ``files`` text files the size of PointNet++'s ``modelnet40_normal_resampled`` ones (10,000
lines ``x,y,z,nx,ny,nz``) into a temporary folder, saves a checkpoint of PCT's full-size external
attention classifier (40 ModelNet40 classes, 1024 points, untrained weights: throughput does not
depend on them) exactly as training records it, then times

- the network alone: batched forward passes on ready (B, 1024, 3) tensors, before and after the
  next step; the faster is the reference (files/s);
- reading and preprocessing alone (ms per file, in this process);
- ``pointea-predict`` on the folder, end to end (reading in ``workers`` processes, preprocessing,
  batching, forward, the CSV/JSON), in this process (files/s);
- one cloud through eager PyTorch and through onnxruntime after ``pointea-export`` (ms, ratio).

    python -m pointea.bench.predict_throughput --files 1000 --threads 1 --workers 1
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from contextlib import redirect_stderr, redirect_stdout
from io import StringIO
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["measure_predict_throughput", "main"]

LINES_PER_FILE = 10_000  # modelnet40_normal_resampled


def _write_files(folder: Path, count: int, seed: int = 0) -> int:
    """``count`` text clouds: points on random ellipsoids with their normals; returns bytes written."""
    generator = np.random.default_rng(seed)
    total = 0
    for i in range(count):
        normals = generator.normal(size=(LINES_PER_FILE, 3))
        normals /= np.linalg.norm(normals, axis=1, keepdims=True)
        points = normals * generator.uniform(0.3, 1.0, size=3)
        rows = np.hstack([points, normals]).astype(np.float32)  # (10000, 6)
        text = "\n".join(",".join(f"{v:.6f}" for v in row) for row in rows.tolist()) + "\n"
        path = folder / f"shape_{i:04d}.txt"
        path.write_text(text)
        total += len(text)
    return total


def _checkpoint(path: Path) -> None:
    """A checkpoint of PCT's full-size classifier with the record training writes."""
    from pointea.data.modelnet40 import ModelNet40
    from pointea.models.checkpoint import CHECKPOINT_KEY
    from pointea.models.classifier import PCTClassifier
    from pointea.training.classification import PointCloudClassifier

    module = PointCloudClassifier(PCTClassifier(num_classes=40), class_names=list(ModelNet40.CLASS_NAMES))
    record = {**module.network_record(), "labels": module.label_record(),
              "preprocessing": {"num_points": 1024, "sampling": "random", "normalize": False}}  # fmt: skip
    torch.save({"state_dict": module.state_dict(), CHECKPOINT_KEY: record}, path)


def _forward_files_per_second(network: torch.nn.Module, batch_size: int, batches: int) -> float:
    clouds = torch.rand(batches, batch_size, 1024, 3) * 2 - 1  # (batches, B, N, 3)
    with torch.inference_mode():
        network(clouds[0])  # warm-up
        start = time.perf_counter()
        for batch in clouds:
            network(batch)
        elapsed = time.perf_counter() - start
    return batches * batch_size / elapsed


def _read_ms_per_file(folder: Path, count: int, num_points: int) -> float:
    """Reading and preprocessing alone, in this process: what a reader worker spends per file."""
    from pointea.predict.dataset import PointFiles, Preprocessing

    files = PointFiles(sorted(folder.glob("*.txt"))[:count], Preprocessing(num_points))
    start = time.perf_counter()
    for index in range(len(files)):
        files[index]
    return 1000 * (time.perf_counter() - start) / len(files)


def _median_ms(call, repeats: int) -> float:
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def measure_predict_throughput(
    files: int = 1000, batch_size: int = 16, workers: int = 1, threads: int | None = None, onnx: bool = True
) -> dict[str, Any]:
    """Files/s of the network alone and of ``pointea-predict``, their ratio, and one cloud's latency
    in eager PyTorch and onnxruntime (see the module docstring)."""
    from pointea.export import export_model, load_runtime
    from pointea.predict.cli import main as predict
    from pointea.predict.model import load_trained_model

    if threads is not None:
        torch.set_num_threads(threads)
    result: dict[str, Any] = {"files": files, "batch_size": batch_size, "workers": workers,
                              "threads": torch.get_num_threads(), "lines_per_file": LINES_PER_FILE}  # fmt: skip
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "clouds"
        folder.mkdir()
        result["megabytes"] = round(_write_files(folder, files) / 1e6, 1)
        checkpoint = Path(scratch) / "pct.ckpt"
        _checkpoint(checkpoint)
        model = load_trained_model(checkpoint)
        batches = max(2, min(files // batch_size, 8))
        before = _forward_files_per_second(model.network, batch_size, batches)
        result["read_ms_per_file"] = round(_read_ms_per_file(folder, min(files, 16), model.num_points), 1)
        argv = [str(checkpoint), str(folder), "--out", str(Path(scratch) / "out"),
                "--batch-size", str(batch_size), "--workers", str(workers)]  # fmt: skip
        start = time.perf_counter()
        with redirect_stdout(StringIO()), redirect_stderr(StringIO()):
            status = predict(argv)
        elapsed = time.perf_counter() - start
        if status != 0:
            raise RuntimeError(f"pointea-predict exited with {status}")
        # The network alone, before and after: on a shared machine the load changes during a long
        # run; the faster of the two is the reference (the conservative ratio).
        after = _forward_files_per_second(model.network, batch_size, batches)
        forward = max(before, after)
        result.update(
            forward_files_per_s_before_after=[round(before, 2), round(after, 2)],
            forward_files_per_s=round(forward, 2),
            predict_files_per_s=round(files / elapsed, 2),
            predict_seconds=round(elapsed, 1),
            predict_over_forward=round(files / elapsed / forward, 3),
        )
        if onnx:
            out = Path(scratch) / "pct.onnx"
            export_model(model, "onnx", out)
            run = load_runtime("onnx", out)
            cloud = (np.random.default_rng(0).random((1, 1024, 3), dtype=np.float32) * 2 - 1)
            with torch.inference_mode():
                eager_ms = _median_ms(lambda: model.network(torch.from_numpy(cloud)), 5)
            onnx_ms = _median_ms(lambda: run(cloud), 5)
            result.update(eager_ms=round(eager_ms, 1), onnxruntime_ms=round(onnx_ms, 1),
                          onnxruntime_over_eager=round(onnx_ms / eager_ms, 3))  # fmt: skip
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--no-onnx", action="store_true")
    args = parser.parse_args(argv)
    print(json.dumps(measure_predict_throughput(args.files, args.batch_size, args.workers, args.threads, not args.no_onnx), indent=2))


if __name__ == "__main__":
    main()
