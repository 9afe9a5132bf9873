"""``pointea-predict``: classify, part-segment or estimate the normals of your own point files
with a trained checkpoint.

    pointea-predict CKPT PATH... [--out DIR] [--overwrite] [--top-k 5] [--votes N]
                    [--num-points N|all] [--resample] [--category NAME | --categories CSV]
                    [--orient none|tangent-plane|viewpoint] [--viewpoint X,Y,Z]
                    [--batch-size B] [--workers W] [--read-timeout SECONDS]

No config: the checkpoint records the network, its task, its label names and its preprocessing
(see :mod:`pointea.predict.model`). PATHs are files, folders (searched recursively) or globs. Files
are read and preprocessed in DataLoader workers while the network runs on batches of files.

Classification: a table on stdout, ``DIR/predictions.csv`` and ``DIR/predictions.json`` (file,
top-k labels and probabilities, points read). Part segmentation (``--category`` for every file, or
``--categories`` a CSV of ``file,category`` rows): the network runs on the sampled points and every
input point takes the label of its nearest sampled point; ``DIR/<name>.parts.ply`` (coloured by
part), ``DIR/<name>.parts.npz`` and per-file part counts in ``DIR/predictions.csv``. Normal
estimation: the network runs on the sampled points (``--num-points all``: on every point, in chunks
for external attention) and every input point takes the normal of its nearest sampled point;
``DIR/<name>.normals.npz`` holds ``normals``, an (N, 3) array for every input point in the file's
order (beside ``points``, and ``true_normals`` when the file has normals), ``DIR/<name>.normals.ply``
the points with them; when the file carries normals, ``DIR/predictions.csv`` gets its sign-free
angular error (mean and median degrees, share under 10 and 30 degrees). The network's normals have
no inside/outside; ``--orient tangent-plane`` makes them consistent over the surface (open3d's
``orient_normals_consistent_tangent_plane``, 16 neighbours) and ``--orient viewpoint`` points them
towards ``--viewpoint X,Y,Z`` (the file's coordinates; a scanner's position).

Both write through the one predictions writer (:mod:`pointea.io.predictions`), as ``pointea
predict`` does: the same CSV columns, every file written atomically.

Each file is read in isolation, within a time and memory bound derived from its size
(:mod:`pointea.predict.read_bound`): one that fails for any reason (a corrupt file, a header
declaring more than memory holds, a parser that loops, any error of a third-party parser) is listed at the end with its reason and
the exit status is 1; every readable file is still predicted. A cloud of fewer distinct points than
the network needs (its first sample size, at least 32) is refused the same way unless
``--resample``; every resampled cloud is marked in the CSV. ``--out`` is checked before any work, is
held by one run at a time, and a finished run's folder is refused unless ``--overwrite``. A bad
checkpoint, argument or output folder ends with one ``error:`` line, status 2; Ctrl-C with one
line, status 130, leaving no partial file.

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

from pointea.data.arguments import seconds_option
from pointea.errors import DataError, UsageError
from pointea.io.predictions import CloudPrediction, PredictionsWriter, task_outputs
from pointea.io.writable import check_out_folder
from pointea.layers.propagate import propagate_labels
from pointea.models.checkpoint import CheckpointError
from pointea.models.chunked import DEFAULT_CHUNK_SIZE
from pointea.models.category_parts import CategoryParts
from pointea.models.voting import ScaleVoting
from pointea.predict.dataset import FileBatch, PointFiles, Preprocessing, collate_files, one_line
from pointea.predict.files import expand_paths
from pointea.predict.model import TrainedModel, load_trained_model
from pointea.predict.out_folder import OutFolder
from pointea.predict.scenes import ScenePredictor

__all__ = ["main", "build_parser", "segment", "propagate_labels", "orient_normals", "ORIENTATIONS"]

PROGRAM = "pointea-predict"
#: Most points ``--num-points`` may ask for per cloud (``all`` keeps every point of larger scans).
MAX_NUM_POINTS = 1 << 24


def _num_points(text: str) -> int | str:
    if text == "all":
        return text
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number of points or 'all', got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1 (or 'all'), got {value}")
    if value > MAX_NUM_POINTS:
        raise argparse.ArgumentTypeError(
            f"at most {MAX_NUM_POINTS} points per cloud, got {value} (use 'all' to keep every point of larger scans)"
        )
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


def _positive(unit: str):
    """An argparse ``type``: a finite number > 0 of ``unit``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number of {unit}, got {text!r}") from None
        if not (np.isfinite(value) and value > 0):
            raise argparse.ArgumentTypeError(f"must be a finite number of {unit} > 0, got {text}")
        return value

    return parse


#: ``--orient`` choices for normal estimation.
ORIENTATIONS = ("none", "tangent-plane", "viewpoint")
#: Neighbours of open3d's tangent-plane orientation.
ORIENT_NEIGHBOURS = 16


def _viewpoint(text: str) -> tuple[float, float, float]:
    try:
        values = tuple(float(word) for word in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected X,Y,Z (three numbers), got {text!r}") from None
    if len(values) != 3 or not all(np.isfinite(values)):
        raise argparse.ArgumentTypeError(f"expected X,Y,Z (three finite numbers), got {text!r}")
    return values  # type: ignore[return-value]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROGRAM,
        description="Classify, part-segment, semantically segment or estimate the normals of point files with a "
        "checkpoint `pointea fit` wrote.",
    )
    parser.add_argument("checkpoint", help="a checkpoint written by `pointea fit` (e.g. runs/NAME/checkpoints/best-*.ckpt)")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="point files, folders (searched recursively) or globs")
    parser.add_argument("--out", default="predictions", help="output folder (default: ./predictions)")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace the predictions of an earlier run in --out (default: refuse)"
    )
    parser.add_argument("--top-k", type=_at_least(1), default=5, help="classification: labels per file (default 5)")
    parser.add_argument("--votes", type=_at_least(1), default=1, help="test-time voting passes of scaled copies (default 1)")
    parser.add_argument(
        "--num-points",
        type=_num_points,
        default=None,
        help="points per cloud, or 'all' for every point (default: as in training)",
    )
    parser.add_argument(
        "--resample",
        action="store_true",
        help="predict clouds of fewer distinct points than the network needs from repeated points (marked in the "
        "CSV) instead of refusing them",
    )
    parser.add_argument(
        "--orient",
        choices=ORIENTATIONS,
        default="none",
        help="normal estimation: orient the normals consistently (tangent-plane) or towards --viewpoint (default none)",
    )
    parser.add_argument("--viewpoint", type=_viewpoint, help="normal estimation, --orient viewpoint: X,Y,Z in the file's coordinates")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--category", help="part segmentation: the object category of every file")
    group.add_argument("--categories", help="part segmentation: a CSV of file,category rows")
    parser.add_argument("--batch-size", type=_at_least(1), default=16, help="files per forward pass (default 16)")
    parser.add_argument("--workers", type=_at_least(0), default=1, help="reader processes (default 1; 0 reads inline)")
    parser.add_argument(
        "--read-timeout",
        type=seconds_option(1e6),
        default=None,
        metavar="SECONDS",
        help="most seconds to read one file before it is listed as unreadable (default: 30 + 1 per MB of the file)",
    )
    scenes = parser.add_argument_group("semantic segmentation (whole scenes)")
    scenes.add_argument("--chunk-size", type=_at_least(1), default=DEFAULT_CHUNK_SIZE,
                        help=f"external attention: points per chunk of the exact pass (default {DEFAULT_CHUNK_SIZE})")  # fmt: skip
    scenes.add_argument("--window-size", type=_positive("metres"), default=1.0, help="self-attention: window side, metres (default 1)")
    scenes.add_argument("--window-stride", type=_positive("metres"), default=0.5, help="self-attention: window stride, metres (default 0.5)")
    scenes.add_argument("--window-points", type=_at_least(1), default=4096,
                        help="self-attention: most points a window pass holds (default 4096)")  # fmt: skip
    scenes.add_argument("--memory-limit", type=_positive("GiB"), default=None,
                        help="self-attention: GiB its N x N maps may take (default: the machine's memory)")  # fmt: skip
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``pointea-predict``; returns the exit status (0; 1 if a file was unreadable; 2 on a usage,
    checkpoint or output error; 130 when interrupted)."""
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except (CheckpointError, UsageError) as error:
        print(f"{PROGRAM}: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # writing the outputs: a full disk, a file-size limit
        where = f"cannot write {error.filename}" if error.filename else "cannot write the outputs"
        print(f"{PROGRAM}: error: {where}: {error.strerror or error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROGRAM}: interrupted: no predictions.csv was written (files written so far are complete)", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    check_out_folder(out)
    model = load_trained_model(args.checkpoint)
    num_points = model.num_points if args.num_points is None else None if args.num_points == "all" else args.num_points
    if num_points is not None and num_points < model.min_points:
        raise UsageError(
            f"--num-points {num_points} is below the {model.min_points} points the network samples per cloud"
        )
    segmentation = model.task == "part_segmentation"
    if not segmentation and (args.category or args.categories):
        raise UsageError(f"--category/--categories are for part segmentation; this is a {model.task} checkpoint")
    _check_normal_options(model, args)
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
    preprocessing = Preprocessing(num_points, model.sampling, model.min_points, resample_small=args.resample)
    if model.task == "semantic_segmentation":
        _check_not_onto_inputs(out, files)

    with OutFolder(out, overwrite=args.overwrite) as folder:
        print(model.describe())
        if model.task != "semantic_segmentation":  # scenes are served whole (ScenePredictor.describe)
            print(f"preprocessing as in training: {preprocessing.describe()}; votes: {args.votes}")
        for note in model.notes:
            print(f"note: {note}")
        if found.skipped:
            print(f"note: skipped {found.skipped} files of other types in the folders given")
        if files:
            predictor = PREDICTORS[model.task](model, args)
            predictor.files = files
            writer = PredictionsWriter(out, predictor.outputs)
            if isinstance(predictor, ScenePredictor):  # whole scenes, served and evaluated as `pointea test` does
                print(f"scenes: {predictor.describe()}; votes: {args.votes}")
                unreadable += predictor.predict_files(files, writer, args.votes)
            else:
                unreadable += _predict(model, files, categories, preprocessing, predictor, writer, args)
            for note in predictor.notes:
                print(f"note: {note}")
            print(writer.table())
            written = writer.finish(_summary(model, preprocessing, args, predictor), unreadable)
            folder.remove_stale({name for record in writer.records for name in record.get("outputs", [])})
            outputs = "" if not predictor.per_file else f" and {predictor.per_file} per file in {out}"
            print(f"wrote {' and '.join(str(p) for p in written)}{outputs}")
    if unreadable:
        print(f"\n{len(unreadable)} unreadable:", file=sys.stderr)
        for path, reason in unreadable:
            print(f"  {path}: {reason}", file=sys.stderr)
    if not files:
        print(f"{PROGRAM}: nothing to predict: no readable point file among the PATHs", file=sys.stderr)
    return 1 if unreadable or not files else 0


def _check_not_onto_inputs(out: Path, files: list[Path]) -> None:
    """Refuse an ``--out`` where a LAS/LAZ input's classified copy (``<stem>.las``) would be the
    input itself: it would replace the file, and its own classification with it."""
    for path in files:
        if path.suffix.lower() in (".las", ".laz"):
            copy = out / f"{path.stem}{path.suffix.lower()}"
            if copy.exists() and copy.samefile(path):
                raise UsageError(
                    f"--out {out} holds the input {path}: its classified copy would replace it; choose another --out"
                )


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
    try:
        with open(table, newline="", encoding="utf-8") as handle:
            for number, row in enumerate(csv.reader(handle), start=1):
                if not row or row[0].strip().startswith("#") or (number == 1 and row[0].strip().lower() == "file"):
                    continue
                if len(row) < 2:
                    raise UsageError(f"--categories {table}, line {number}: expected 'file,category', got {','.join(row)!r}")
                by_file[row[0].strip()] = check(row[1], f" in {table}, line {number}")
    except UnicodeDecodeError as error:
        raise UsageError(
            f"--categories {table}: not UTF-8 text (byte 0x{error.object[error.start]:02x} at offset {error.start}); "
            "expected a CSV of file,category rows"
        ) from None
    except (csv.Error, OSError) as error:
        raise UsageError(f"--categories {table}: cannot read it as a CSV of file,category rows ({error})") from None
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
    predictor: _Predictor,
    writer: PredictionsWriter,
    args: argparse.Namespace,
) -> list[tuple[Path, str]]:
    """Read files in workers, predict batch by batch and hand every cloud to the writer; returns the
    unreadable files (a cloud the network refuses is one of them, named with the network's reason)."""
    whole_clouds = preprocessing.num_points is None
    dataset = PointFiles(
        files, preprocessing, keep_all=predictor.per_file is not None,
        keep_normals=predictor.reads_normals, read_seconds=args.read_timeout,
    )
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
            names = [categories[item["index"]] for item in batch.items] if categories else []
            for item, outputs in _predict_batch(predictor, batch, names, voting, unreadable, files):
                path = files[item["index"]]
                writer.add(
                    CloudPrediction(item["index"], str(path), item["count"], item["resampled"], outputs)
                )
            progress.update(len(batch.items) + len(batch.errors))
    return unreadable


def _predict_batch(
    predictor: _Predictor,
    batch: FileBatch,
    categories: list[str],
    voting: ScaleVoting,
    unreadable: list[tuple[Path, str]],
    files: list[Path],
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """``(item, outputs)`` per cloud of the batch; when the batch fails, its clouds one at a time,
    so one cloud the network refuses costs only that cloud."""
    if not batch.items:
        return []
    try:
        return list(zip(batch.items, predictor.predict(batch, categories, voting)))
    except (ValueError, RuntimeError, MemoryError) as error:
        if len(batch.items) == 1:
            unreadable.append((files[batch.items[0]["index"]], one_line(error, files[batch.items[0]["index"]])))
            return []
    results = []
    for i, item in enumerate(batch.items):
        single = collate_files([item])
        results += _predict_batch(predictor, single, categories[i : i + 1], voting, unreadable, files)
    return results


class _Predictor:
    """How one task runs the network on a batch; ``outputs`` says what the writer writes for it.

    ``predict`` returns, per item of the batch, the outputs of its
    :class:`~pointea.io.predictions.CloudPrediction`. ``per_file`` names the per-file outputs
    (``None``: the task writes none, and the dataset keeps no full-resolution copy of the clouds).
    """

    per_file: str | None = None
    #: Whether the files' own normals are read too (to score estimated normals against them).
    reads_normals = False

    def __init__(self, model: TrainedModel, args: argparse.Namespace) -> None:
        self.model = model
        self.notes: list[str] = []
        self.files: list[Path] = []  # the files predicted, by item index (for notes)

    def predict(self, batch: FileBatch, categories: list[str], voting: ScaleVoting) -> list[dict[str, Any]]:
        raise NotImplementedError


class _Classifier(_Predictor):
    """Class probabilities per file."""

    def __init__(self, model: TrainedModel, args: argparse.Namespace) -> None:
        super().__init__(model, args)
        self.outputs = task_outputs(model.task, {"classes": model.class_names}, top_k=args.top_k)
        if args.top_k > len(model.class_names):
            self.notes.append(f"--top-k {args.top_k} is more than the {len(model.class_names)} classes: showing all of them")

    def predict(self, batch: FileBatch, categories: list[str], voting: ScaleVoting) -> list[dict[str, Any]]:
        if batch.points is None:  # whole clouds of different sizes
            return [self.predict(collate_files([item]), [], voting)[0] for item in batch.items]
        probabilities = voting(self.model.network, batch.points)  # (B, C)
        return [{"probabilities": p.numpy()} for p in probabilities]


def segment(network: torch.nn.Module, points: Tensor, category: Tensor, voting: ScaleVoting) -> Tensor:
    """Part probabilities of a batch of clouds: the one place ``pointea-predict`` runs the segmenter.

    Clouds of more than :data:`~pointea.models.chunked.DEFAULT_CHUNK_SIZE` points (``--num-points
    all`` on large scans) run in chunks through an external-attention segmenter: the same result in
    bounded memory (a kept-features budget plus one chunk; see :mod:`pointea.models.chunked`). Self-attention ("offset")
    segmenters refuse clouds their N x N maps cannot hold, in one line, before allocating.

    Shapes: points (B, K, 3); category (B,); returns (B, K, P)
    """
    chunk_size = DEFAULT_CHUNK_SIZE if points.shape[1] > DEFAULT_CHUNK_SIZE else None
    return voting(lambda p: network(p, category, chunk_size=chunk_size), points)


class _Segmenter(_Predictor):
    """Parts for every input point: the network on the served points, then each input point takes
    its nearest served point's part."""

    per_file = "a .parts.ply/.parts.npz"

    def __init__(self, model: TrainedModel, args: argparse.Namespace) -> None:
        super().__init__(model, args)
        labels = {"categories": model.categories, "parts_per_category": model.parts_per_category}
        self.outputs = task_outputs(model.task, labels)
        self.category_parts = CategoryParts(model.parts_per_category, num_parts=model.network.num_parts)
        self.ids = {name: i for i, name in enumerate(model.categories)}

    def predict(self, batch: FileBatch, categories: list[str], voting: ScaleVoting) -> list[dict[str, Any]]:
        category = torch.tensor([self.ids[name] for name in categories])  # (B,)
        if batch.points is not None:
            probabilities = segment(self.model.network, batch.points, category, voting)  # (B, K, P)
            labels = list(self.category_parts.restricted_argmax(probabilities, category))  # B x (K,)
        else:  # whole clouds of different sizes: one at a time
            labels = []
            for i, item in enumerate(batch.items):
                probabilities = segment(self.model.network, item["points"][None], category[i : i + 1], voting)
                labels.append(self.category_parts.restricted_argmax(probabilities, category[i : i + 1])[0])
        return [
            {
                "category": name,
                "labels": propagate_labels(item["points"], sampled, item["normalised"]).numpy(),  # (N,)
                "cloud": item["raw"],
            }
            for item, name, sampled in zip(batch.items, categories, labels)
        ]


def _check_normal_options(model: TrainedModel, args: argparse.Namespace) -> None:
    """``--orient``/``--viewpoint`` only with a normal checkpoint, ``--votes`` not with one."""
    if model.task != "normal_estimation":
        if args.orient != "none" or args.viewpoint is not None:
            raise UsageError(f"--orient/--viewpoint are for normal estimation; this is a {model.task} checkpoint")
        return
    if args.votes != 1:
        raise UsageError("--votes: scale voting averages class probabilities; a normal estimation checkpoint takes --votes 1")
    if args.orient == "viewpoint" and args.viewpoint is None:
        raise UsageError("--orient viewpoint needs --viewpoint X,Y,Z (in the files' coordinates)")
    if args.viewpoint is not None and args.orient != "viewpoint":
        raise UsageError("--viewpoint is used with --orient viewpoint")


def orient_normals(points: np.ndarray, normals: np.ndarray, how: str, viewpoint: Sequence[float] | None = None) -> np.ndarray:
    """Flip normals so they agree: over the surface (``"tangent-plane"``, open3d's minimum spanning
    tree over :data:`ORIENT_NEIGHBOURS` neighbours) or towards ``viewpoint`` (``"viewpoint"``);
    ``"none"`` returns them as they are. Only signs change.

    Shapes: points, normals (N, 3); returns (N, 3) float32
    """
    if how == "none":
        return normals
    import open3d as o3d

    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.asarray(points, dtype=np.float64)))
    cloud.normals = o3d.utility.Vector3dVector(np.asarray(normals, dtype=np.float64))
    if how == "tangent-plane":
        cloud.orient_normals_consistent_tangent_plane(min(ORIENT_NEIGHBOURS, len(points) - 1))
    else:
        cloud.orient_normals_towards_camera_location(np.asarray(viewpoint, dtype=np.float64))
    oriented = np.asarray(cloud.normals, dtype=np.float32)
    return np.where(((oriented * normals).sum(-1) < 0)[:, None], -normals, normals)  # open3d only flips: keep our values


class _NormalEstimator(_Predictor):
    """A normal for every input point: the network on the served points, each input point taking its
    nearest served point's normal, oriented as asked; scored against the file's own normals."""

    per_file = "a .normals.ply/.normals.npz"
    reads_normals = True

    def __init__(self, model: TrainedModel, args: argparse.Namespace) -> None:
        super().__init__(model, args)
        from pointea.training.normal_error import NormalError  # only for normal checkpoints: keeps --help light

        self.metric = NormalError
        self.outputs = task_outputs(model.task, {"oriented": model.oriented})
        self.orient, self.viewpoint = args.orient, args.viewpoint

    def predict(self, batch: FileBatch, categories: list[str], voting: ScaleVoting) -> list[dict[str, Any]]:
        if batch.points is not None:
            served = list(self._network(batch.points))  # B x (K, 3)
        else:  # whole clouds of different sizes: one at a time
            served = [self._network(item["points"][None])[0] for item in batch.items]
        return [self._outputs(item, normals) for item, normals in zip(batch.items, served)]

    def _network(self, points: Tensor) -> Tensor:
        """Shapes: points (B, K, 3); returns (B, K, 3) unit normals."""
        chunk_size = DEFAULT_CHUNK_SIZE if points.shape[1] > DEFAULT_CHUNK_SIZE else None
        normals = self.model.network(points, chunk_size=chunk_size)
        if not bool(normals.isfinite().all()):
            raise ValueError("the network's normals are not finite on this cloud")
        return normals

    def _outputs(self, item: dict[str, Any], served_normals: Tensor) -> dict[str, Any]:
        normals = propagate_labels(item["points"], served_normals, item["normalised"]).numpy()  # (N, 3)
        normals = orient_normals(item["raw"], normals, self.orient, self.viewpoint)
        outputs: dict[str, Any] = {"normals": normals, "cloud": item["raw"], "orientation": self.orient}
        truth = item.get("file_normals")
        if truth is not None:
            metric = self.metric()
            try:
                metric.update(torch.from_numpy(normals), torch.from_numpy(truth))
            except DataError as error:
                path = self.files[item["index"]] if self.files else Path(f"file {item['index']}")
                self.notes.append(f"{path}: its own normals were not compared: {one_line(error, path)}")
            else:
                outputs.update(true_normals=truth, error={k: float(v) for k, v in metric.compute().items()})
        return outputs


#: Task string of the checkpoint record -> how pointea-predict runs its network.
PREDICTORS: dict[str, type[_Predictor] | type[ScenePredictor]] = {
    "classification": _Classifier,
    "part_segmentation": _Segmenter,
    "normal_estimation": _NormalEstimator,
    "semantic_segmentation": ScenePredictor,
}


def _summary(
    model: TrainedModel, preprocessing: Preprocessing, args: argparse.Namespace, predictor: Any = None
) -> dict[str, Any]:
    # scenes are served whole, not sampled: their own description (a sampling one would be false)
    served = predictor.describe() if isinstance(predictor, ScenePredictor) else preprocessing.describe()
    return {"checkpoint": str(model.path), "preprocessing": served, "votes": args.votes}


if __name__ == "__main__":
    sys.exit(main())
