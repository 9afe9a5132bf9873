"""``pointea-predict``: classify or part-segment your own point files with a trained checkpoint.

    pointea-predict CKPT PATH... [--out DIR] [--top-k 5] [--votes N] [--num-points N|all]
                    [--category NAME | --categories CSV] [--batch-size B] [--workers W]

No config: the checkpoint records the network, its task, its label names and its preprocessing
(see :mod:`pointea.predict.model`). PATHs are files, folders (searched recursively) or globs. Files
are read and preprocessed in DataLoader workers while the network runs on batches of files.

Classification: a table on stdout, ``DIR/predictions.csv`` and ``DIR/predictions.json`` (file,
top-k labels and probabilities, points read). Part segmentation (``--category`` for every file, or
``--categories`` a CSV of ``file,category`` rows): the network runs on the sampled points and every
input point takes the label of its nearest sampled point; ``DIR/<name>.parts.ply`` (coloured by
part), ``DIR/<name>.parts.npz`` and per-file part counts in ``DIR/predictions.csv``.

Unreadable files are listed at the end with their reason and the exit status is 1; every readable
file is still predicted. A bad checkpoint or argument ends with one ``error:`` line, status 2.

Shape legend: B files in a batch, N points read, K points served, C classes, P part labels.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader
from tqdm import tqdm

from pointea.errors import UsageError
from pointea.io import write_points
from pointea.layers.propagate import propagate_labels
from pointea.models.checkpoint import CheckpointError
from pointea.models.chunked import DEFAULT_CHUNK_SIZE
from pointea.predict.dataset import FileBatch, PointFiles, Preprocessing, collate_files
from pointea.predict.files import expand_paths
from pointea.predict.model import TrainedModel, load_trained_model
from pointea.predict.outputs import unique_name, write_csv, write_json, write_parts_npz, write_table
from pointea.training.category_parts import CategoryParts
from pointea.training.voting import ScaleVoting

__all__ = ["main", "build_parser", "segment", "propagate_labels"]

PROGRAM = "pointea-predict"


def _num_points(text: str) -> int | str:
    if text == "all":
        return text
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number of points or 'all', got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1 (or 'all'), got {value}")
    return value


def _at_least(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROGRAM, description="Classify or part-segment point files with a checkpoint `pointea fit` wrote."
    )
    parser.add_argument("checkpoint", help="a checkpoint written by `pointea fit` (e.g. runs/NAME/checkpoints/best-*.ckpt)")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="point files, folders (searched recursively) or globs")
    parser.add_argument("--out", default="predictions", help="output folder (default: ./predictions)")
    parser.add_argument("--top-k", type=_at_least(1), default=5, help="classification: labels per file (default 5)")
    parser.add_argument("--votes", type=_at_least(1), default=1, help="test-time voting passes of scaled copies (default 1)")
    parser.add_argument(
        "--num-points",
        type=_num_points,
        default=None,
        help="points per cloud, or 'all' for every point (default: as in training)",
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--category", help="part segmentation: the object category of every file")
    group.add_argument("--categories", help="part segmentation: a CSV of file,category rows")
    parser.add_argument("--batch-size", type=_at_least(1), default=16, help="files per forward pass (default 16)")
    parser.add_argument("--workers", type=_at_least(0), default=1, help="reader processes (default 1; 0 reads inline)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``pointea-predict``; returns the exit status (0, 1 if a file was unreadable, 2 on a usage error)."""
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except (CheckpointError, UsageError) as error:
        print(f"{PROGRAM}: error: {error}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    model = load_trained_model(args.checkpoint)
    num_points = model.num_points if args.num_points is None else None if args.num_points == "all" else args.num_points
    if num_points is not None and num_points < model.min_points:
        raise UsageError(
            f"--num-points {num_points} is below the {model.min_points} points the network samples per cloud"
        )
    segmentation = model.task == "part_segmentation"
    if not segmentation and (args.category or args.categories):
        raise UsageError("--category/--categories are for part segmentation; this is a classification checkpoint")
    if segmentation and not (args.category or args.categories):
        raise UsageError(
            f"part segmentation needs the object category: --category NAME or --categories CSV "
            f"(categories: {', '.join(model.categories)})"
        )
    found = expand_paths(args.paths)
    unreadable = [(Path(argument), reason) for argument, reason in found.missing]
    files = found.files
    categories: list[str] = []
    if segmentation:
        files, categories, refused = _categories(files, model, args)
        unreadable += refused
    preprocessing = Preprocessing(num_points, model.sampling, model.min_points)

    print(model.describe())
    print(f"preprocessing as in training: {preprocessing.describe()}; votes: {args.votes}")
    for note in model.notes:
        print(f"note: {note}")
    if found.skipped:
        print(f"note: skipped {found.skipped} files of other types in the folders given")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if files:
        predictor = _Segmenter(model, out, files) if segmentation else _Classifier(model, args.top_k)
        unreadable += _predict(model, files, categories, preprocessing, predictor, args)
        predictor.finish(files, out, model, preprocessing, args, unreadable)
    if unreadable:
        print(f"\n{len(unreadable)} unreadable:", file=sys.stderr)
        for path, reason in unreadable:
            print(f"  {path}: {reason}", file=sys.stderr)
    if not files:
        print(f"{PROGRAM}: nothing to predict: no readable point file among the PATHs", file=sys.stderr)
    return 1 if unreadable or not files else 0


def _categories(
    files: list[Path], model: TrainedModel, args: argparse.Namespace
) -> tuple[list[Path], list[str], list[tuple[Path, str]]]:
    """Files that have a category, their categories, and the files that have none."""
    known = {name.lower(): name for name in model.categories}

    def check(name: str, where: str) -> str:
        if name.strip().lower() not in known:
            raise UsageError(f"unknown category {name!r}{where}; the checkpoint's categories: {', '.join(model.categories)}")
        return known[name.strip().lower()]

    if args.category:
        name = check(args.category, "")
        return files, [name] * len(files), []
    table = Path(args.categories)
    if not table.is_file():
        raise UsageError(f"--categories {table}: no such file")
    by_file: dict[str, str] = {}
    with open(table, newline="") as handle:
        for number, row in enumerate(csv.reader(handle), start=1):
            if not row or row[0].strip().startswith("#") or (number == 1 and row[0].strip().lower() == "file"):
                continue
            if len(row) < 2:
                raise UsageError(f"--categories {table}, line {number}: expected 'file,category', got {','.join(row)!r}")
            by_file[row[0].strip()] = check(row[1], f" in {table}, line {number}")
    kept, names, refused = [], [], []
    for path in files:
        category = by_file.get(str(path)) or by_file.get(path.name) or by_file.get(str(path.resolve()))
        if category is None:
            refused.append((path, f"no category for it in {table}"))
        else:
            kept.append(path)
            names.append(category)
    return kept, names, refused


def _predict(
    model: TrainedModel,
    files: list[Path],
    categories: list[str],
    preprocessing: Preprocessing,
    predictor: _Classifier | _Segmenter,
    args: argparse.Namespace,
) -> list[tuple[Path, str]]:
    """Read files in workers and predict batch by batch; returns the unreadable files."""
    whole_clouds = preprocessing.num_points is None
    dataset = PointFiles(files, preprocessing, keep_all=model.task == "part_segmentation")
    loader = DataLoader(
        dataset,
        batch_size=1 if whole_clouds else args.batch_size,  # whole clouds differ in size
        num_workers=args.workers,
        collate_fn=collate_files,
        prefetch_factor=4 if args.workers else None,
    )
    voting = ScaleVoting(args.votes)
    unreadable = []
    with torch.inference_mode(), tqdm(total=len(files), unit="file", file=sys.stderr, desc=PROGRAM) as progress:
        for batch in loader:
            unreadable += [(files[item["index"]], item["error"]) for item in batch.errors]
            if batch.items:
                predictor.update(batch, [categories[i["index"]] for i in batch.items] if categories else [], voting)
            progress.update(len(batch.items) + len(batch.errors))
    return unreadable


class _Classifier:
    """Top-k classes per file; the table, CSV and JSON."""

    def __init__(self, model: TrainedModel, top_k: int) -> None:
        self.model = model
        self.top_k = min(top_k, len(model.class_names))
        self.note = (
            f"--top-k {top_k} is more than the {len(model.class_names)} classes: showing all of them"
            if top_k > len(model.class_names)
            else None
        )
        self.results: dict[int, dict[str, Any]] = {}

    def update(self, batch: FileBatch, categories: list[str], voting: ScaleVoting) -> None:
        probabilities = voting(self.model.network, batch.points)  # (B, C)
        values, indices = probabilities.topk(self.top_k, dim=-1)  # (B, T)
        for item, value, index in zip(batch.items, values.tolist(), indices.tolist()):
            top = [{"label": self.model.class_names[i], "probability": round(p, 6)} for p, i in zip(value, index)]
            self.results[item["index"]] = {"points": item["count"], "top_k": top}

    def finish(
        self,
        files: list[Path],
        out: Path,
        model: TrainedModel,
        preprocessing: Preprocessing,
        args: argparse.Namespace,
        unreadable: list[tuple[Path, str]],
    ) -> None:
        rows, table = [], []
        predictions = []
        for index, path in enumerate(files):
            result = self.results.get(index)
            if result is None:
                continue
            rows.append([str(path), result["points"]] + [v for t in result["top_k"] for v in (t["label"], t["probability"])])
            shown = ", ".join(f"{t['label']} {t['probability']:.3f}" for t in result["top_k"][:3])
            table.append([str(path), str(result["points"]), shown])
            predictions.append({"file": str(path), **result})
        if self.note:
            print(f"note: {self.note}")
        print(write_table(table, ["file", "points", "top classes (probability)"]))
        header = ["file", "points"] + [f"{what}_{rank}" for rank in range(1, self.top_k + 1) for what in ("label", "probability")]
        write_csv(out / "predictions.csv", header, rows)
        write_json(out / "predictions.json", _summary(model, preprocessing, args, predictions, unreadable))
        print(f"wrote {out / 'predictions.csv'} and {out / 'predictions.json'}")


def segment(network: torch.nn.Module, points: Tensor, category: Tensor, voting: ScaleVoting) -> Tensor:
    """Part probabilities of a batch of clouds: the one place ``pointea-predict`` runs the segmenter.

    Clouds of more than :data:`~pointea.models.chunked.DEFAULT_CHUNK_SIZE` points (``--num-points
    all`` on large scans) run in chunks through an external-attention segmenter: the same result in
    memory bounded by the chunk (see :mod:`pointea.models.chunked`). Self-attention ("offset")
    segmenters refuse clouds their N x N maps cannot hold, in one line, before allocating.

    Shapes: points (B, K, 3); category (B,); returns (B, K, P)
    """
    chunk_size = DEFAULT_CHUNK_SIZE if points.shape[1] > DEFAULT_CHUNK_SIZE else None
    return voting(lambda p: network(p, category, chunk_size=chunk_size), points)


class _Segmenter:
    """Per-point parts for every input point; the PLY/NPZ files and the part counts."""

    def __init__(self, model: TrainedModel, out: Path, files: list[Path]) -> None:
        self.model = model
        self.out = out
        self.files = files
        self.category_parts = CategoryParts(model.parts_per_category, num_parts=model.network.num_parts)
        self.ids = {name: i for i, name in enumerate(model.categories)}
        self.taken: set[str] = set()
        self.results: dict[int, dict[str, Any]] = {}

    def update(self, batch: FileBatch, categories: list[str], voting: ScaleVoting) -> None:
        category = torch.tensor([self.ids[name] for name in categories])  # (B,)
        if batch.points is not None:
            probabilities = segment(self.model.network, batch.points, category, voting)  # (B, K, P)
            labels = list(self.category_parts.restricted_argmax(probabilities, category))  # B x (K,)
        else:  # whole clouds of different sizes: one at a time
            labels = []
            for i, item in enumerate(batch.items):
                probabilities = segment(self.model.network, item["points"][None], category[i : i + 1], voting)
                labels.append(self.category_parts.restricted_argmax(probabilities, category[i : i + 1])[0])
        for item, name, sampled_labels in zip(batch.items, categories, labels):
            parts = propagate_labels(item["points"], sampled_labels, item["normalised"]).numpy()  # (N,)
            part_ids = self.model.parts_per_category[name]
            stem = unique_name(self.files[item["index"]], self.taken)
            write_points(self.out / f"{stem}.parts.ply", item["raw"], labels=parts)  # coloured by part
            write_parts_npz(self.out / f"{stem}.parts.npz", item["raw"], parts, name, part_ids)
            counts = np.bincount(parts, minlength=self.model.network.num_parts)
            self.results[item["index"]] = {
                "category": name,
                "points": item["count"],
                "part_counts": {str(p): int(counts[p]) for p in part_ids},
                "outputs": [f"{stem}.parts.ply", f"{stem}.parts.npz"],
            }

    def finish(
        self,
        files: list[Path],
        out: Path,
        model: TrainedModel,
        preprocessing: Preprocessing,
        args: argparse.Namespace,
        unreadable: list[tuple[Path, str]],
    ) -> None:
        columns = sorted({int(p) for r in self.results.values() for p in r["part_counts"]})
        rows, table, predictions = [], [], []
        for index, path in enumerate(files):
            result = self.results.get(index)
            if result is None:
                continue
            counts = result["part_counts"]
            rows.append([str(path), result["category"], result["points"]] + [counts.get(str(p), "") for p in columns])
            table.append([str(path), result["category"], str(result["points"]), " ".join(f"{p}:{n}" for p, n in counts.items())])
            predictions.append({"file": str(path), **result})
        print(write_table(table, ["file", "category", "points", "points per part id"]))
        write_csv(out / "predictions.csv", ["file", "category", "points"] + [f"part_{p}" for p in columns], rows)
        write_json(out / "predictions.json", _summary(model, preprocessing, args, predictions, unreadable))
        print(f"wrote {out / 'predictions.csv'}, {out / 'predictions.json'} and a .parts.ply/.parts.npz per file in {out}")


def _summary(
    model: TrainedModel,
    preprocessing: Preprocessing,
    args: argparse.Namespace,
    predictions: list[dict[str, Any]],
    unreadable: list[tuple[Path, str]],
) -> dict[str, Any]:
    return {
        "checkpoint": str(model.path),
        "task": model.task,
        "preprocessing": preprocessing.describe(),
        "votes": args.votes,
        "predictions": predictions,
        "unreadable": [{"file": str(path), "reason": reason} for path, reason in unreadable],
    }


if __name__ == "__main__":
    sys.exit(main())
