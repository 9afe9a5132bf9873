"""``pointea-predict`` with a semantic segmentation checkpoint: every point of each room or tile.

Each file is one whole scene, read in its own point order and served exactly as the scene data
modules serve test scenes (:func:`pointea.data.scenes.scene_sample`: the checkpoint records the
features, the ``ignore_index`` and, for lidar, the class map), then evaluated as ``pointea test``
evaluates it (:func:`pointea.models.scene_evaluation.scene_logits`: one exact chunked pass with
external attention, voted sliding windows with self-attention). Nothing is sampled and nothing is
propagated: the network labels every input point itself.

Files: ``.las``/``.laz`` tiles (with laspy) of a lidar checkpoint (one that records a class map)
through the lidar reader it trained on (intensity, colour, ASPRS codes mapped by that class map);
any other point file, and LAS/LAZ files for a room checkpoint, through :func:`pointea.io.read_points`
(``.ply``, ``.npz``, ``.txt``, ``.las``, ...), with its colours and, except for LAS, its labels
(class ids) where it has them. What is written per file is :class:`~pointea.io.predictions.SemanticSegmentationOutputs`':
``<name>.classes.ply`` coloured by class, ``<name>.classes.npz``, and for LAS/LAZ input
``<name>.las``/``.laz`` with the prediction in ``classification`` and every other field kept.

Shape legend: N points of a scene, C feature channels, K classes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from pointea.errors import DataError
from pointea.io.predictions import CloudPrediction, PredictionsWriter, task_outputs
from pointea.models.chunked import DEFAULT_CHUNK_SIZE
from pointea.models.scene_evaluation import SlidingWindows, device_memory_bytes, scene_logits
from pointea.models.voting import ScaleVoting
from pointea.predict.dataset import one_line
from pointea.predict.model import TrainedModel

__all__ = ["ScenePredictor", "read_scene"]

LAS_SUFFIXES = (".las", ".laz")


def _class_map(scene: dict[str, Any]) -> dict[str, Any] | None:
    """The lidar class map the checkpoint recorded (``{"classes": {name: codes}, "ignore": codes}``)."""
    class_map = scene.get("class_map")
    return class_map if isinstance(class_map, dict) and class_map.get("classes") else None


def class_codes(model: TrainedModel) -> list[int] | None:
    """The ASPRS code each class is written back as (the first code the class map gives it), or
    ``None`` without a lidar class map (then a LAS output holds the class ids)."""
    class_map = _class_map(model.scene)
    if class_map is None:
        return None
    codes = []
    for name in model.class_names:
        mapped = class_map["classes"].get(name)
        mapped = [mapped] if isinstance(mapped, int) else list(mapped or [])
        if not mapped:
            return None
        codes.append(int(mapped[0]))
    return codes


def read_scene(path: Path, model: TrainedModel):
    """One file as a :class:`~pointea.data.scenes.Scene`, in the file's point order."""
    from pointea.data.scenes import Scene

    ignore_index = int(model.scene.get("ignore_index", -1))
    class_map = _class_map(model.scene)
    if path.suffix.lower() in LAS_SUFFIXES and class_map is not None:  # a lidar checkpoint: read as it trained
        from pointea.data.lidar import ClassMap, read_tile

        return read_tile(path, ClassMap.from_dict(class_map, f"{model.path}'s class map"), ignore_index)
    from pointea.io import read_points

    cloud = read_points(path)
    labels = None
    if cloud.labels is not None and path.suffix.lower() not in LAS_SUFFIXES:  # class ids already
        labels = np.where((cloud.labels >= 0) & (cloud.labels < len(model.class_names)), cloud.labels, ignore_index)
    return Scene(path.stem, path, cloud.points, labels, colors=cloud.colours, color_scale=1.0)


class ScenePredictor:
    """Labels every point of each scene file and hands it to the predictions writer.

    Args:
        model: a semantic segmentation checkpoint's network and records.
        args: ``pointea-predict``'s options (``votes``, ``chunk_size``, ``window_*``,
            ``memory_limit``).
    """

    per_file = "a .classes.ply/.classes.npz (and for LAS/LAZ input a .las/.laz with the prediction in classification)"

    def __init__(self, model: TrainedModel, args: argparse.Namespace) -> None:
        from pointea.training.semantic import height_channel  # the task's own reading of the features

        self.model = model
        self.notes: list[str] = []
        codes = class_codes(model)
        self.outputs = task_outputs(model.task, {"classes": model.class_names, "class_codes": codes})
        if codes is None:
            self.notes.append("no lidar class map in the checkpoint: a LAS/LAZ output's classification holds the class ids")
        self.features = tuple(model.scene.get("features", ()))
        self.ignore_index = int(model.scene.get("ignore_index", -1))
        self.chunk_size = getattr(args, "chunk_size", None) or DEFAULT_CHUNK_SIZE
        self.windows = SlidingWindows(
            getattr(args, "window_size", 1.0), getattr(args, "window_stride", 0.5), getattr(args, "window_points", 4096)
        )
        limit = getattr(args, "memory_limit", None)
        self.memory_limit = int(limit * 2**30) if limit else device_memory_bytes(torch.device("cpu"))
        self.height_channel = height_channel(self.features)

    def describe(self) -> str:
        features = ", ".join(self.features) or "xyz alone"
        evaluation = (
            f"one exact pass in chunks of {self.chunk_size:,} points"
            if self.model.network.encoder.attention == "external"
            else f"{self.windows.size:g} m windows every {self.windows.stride:g} m, at most {self.windows.max_points:,} points a pass, voted"
        )
        return f"whole scenes, every point; features: {features}; {evaluation}"

    def predict_files(self, files: list[Path], writer: PredictionsWriter, votes: int) -> list[tuple[Path, str]]:
        """Predict each file; returns the unreadable ones with their reasons."""
        from pointea.data.scenes import scene_sample

        network = self.model.network.eval()
        voting = ScaleVoting(votes)
        unreadable: list[tuple[Path, str]] = []
        for index, path in enumerate(tqdm(files, unit="scene", file=sys.stderr, desc="pointea-predict")):
            try:
                scene = read_scene(path, self.model)
                missing = [name for name, array in (("color", scene.colors), ("intensity", scene.intensity))
                           if name in self.features and array is None]  # fmt: skip
                if missing:
                    why = (" (a LAS/LAZ file's intensity is read for a lidar checkpoint only, one whose training recorded "
                           "a class map: this one's did not)"
                           if path.suffix.lower() in LAS_SUFFIXES and "intensity" in missing else "")  # fmt: skip
                    raise DataError(f"the network takes {', '.join(missing)}, which the file does not have{why}")
                if len(scene) == 0:
                    raise DataError("the file holds no points")
                sample = scene_sample(scene, slice(None), self.features, self.ignore_index)
                points = torch.from_numpy(sample["points"])[None]  # (1, N, 3)
                features = torch.from_numpy(sample["features"])[None] if "features" in sample else None  # (1, N, C)
                with torch.inference_mode():
                    probabilities = voting(
                        lambda p: scene_logits(network, p, features, self.chunk_size, self.windows, self.memory_limit,
                                               self.height_channel),
                        points,
                    )  # (1, N, K) fmt: skip
                labels = probabilities[0].argmax(dim=-1).numpy()  # (N,) in the file's order
                outputs: dict[str, Any] = {"labels": labels, "cloud": np.asarray(scene.points, dtype=np.float32)}
                if bool((sample["labels"] != self.ignore_index).any()):
                    outputs["true_labels"] = sample["labels"]
            except (DataError, ValueError, RuntimeError, MemoryError, OSError) as error:
                unreadable.append((path, one_line(error, path)))
                continue
            before = {entry.name for entry in writer.folder.iterdir()}
            try:
                if path.suffix.lower() in LAS_SUFFIXES:
                    self._check_codes_fit(path, labels)
                writer.add(CloudPrediction(index, str(path), len(scene), False, outputs))
            except DataError as error:  # the LAS copy failed: none of this file's outputs is kept
                _remove_new(writer.folder, before)
                unreadable.append((path, one_line(error, path)))
            except BaseException:  # Ctrl-C while writing: no .ply/.npz left without its .las
                _remove_new(writer.folder, before)
                raise
        return unreadable

    def _check_codes_fit(self, path: Path, labels: np.ndarray) -> None:
        """Refuse, before anything of the file is written, classes predicted whose code its point
        format cannot hold (formats 0-5 keep codes 0..31; a lidar class map may use 32..255)."""
        import laspy

        try:
            with laspy.open(path) as reader:  # the header only: the file was read a moment ago
                format_id, version = int(reader.header.point_format.id), str(reader.header.version)
        except (laspy.errors.LaspyException, OSError, ValueError) as error:
            raise DataError(f"{path}: cannot read its LAS header again ({error})") from None
        if format_id >= 6:
            return
        counts = np.bincount(labels, minlength=len(self.model.class_names))  # (K,)
        codes = self.outputs.class_codes
        codes = np.arange(len(counts)) if codes is None else codes  # (K,) what each class is written as
        unfit = [(self.model.class_names[k], int(codes[k]), int(counts[k])) for k in range(len(codes))
                 if counts[k] and codes[k] > 31]  # fmt: skip
        if unfit:
            which = ", ".join(f"{name!r} (code {code}: {count:,} points)" for name, code, count in unfit)
            raise DataError(
                f"{path}: predicted {which}, but its point format {format_id} (LAS {version}) holds class codes "
                "0..31 only; convert the tile to point format 6 or later (e.g. `las2las -set_point_type 6` or "
                "`pdal translate`), or train with a class map giving every class a code below 32"
            )


def _remove_new(folder: Path, before: set[str]) -> None:
    """Remove the files written into ``folder`` since ``before`` listed it (one scene's outputs)."""
    for entry in folder.iterdir():
        if entry.name not in before and entry.is_file():
            entry.unlink(missing_ok=True)
