"""A trained network as ``pointea-predict`` and ``pointea-export`` need it: rebuilt from its
checkpoint alone, with its task, label names and the preprocessing it was trained with.

Shape legend: B clouds, N points, K classes or part labels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from pointea.models.checkpoint import (
    CheckpointError,
    pointea_record,
    read_checkpoint,
    trained_labels,
    trained_preprocessing,
)
from pointea.models.classifier import PCTClassifier
from pointea.models.per_point import PCTNormalEstimator
from pointea.models.per_point import PCTSemanticSegmenter
from pointea.models.segmenter import PCTPartSegmenter

__all__ = ["TrainedModel", "load_trained_model", "DEFAULT_POINTS"]

#: Points per cloud when a checkpoint predates the preprocessing record (the data modules' defaults).
DEFAULT_POINTS = {"classification": 1024, "part_segmentation": 2048, "normal_estimation": 1024, "semantic_segmentation": 4096}
_NETWORKS: dict[str, type[nn.Module]] = {
    "classification": PCTClassifier,
    "part_segmentation": PCTPartSegmenter,
    "normal_estimation": PCTNormalEstimator,
    "semantic_segmentation": PCTSemanticSegmenter,  # whole scenes: see pointea.predict.scenes
}


@dataclass
class TrainedModel:
    """A network in eval mode with what its checkpoint says about its labels and inputs.

    Attributes:
        network: the :class:`~pointea.PCTClassifier` or :class:`~pointea.PCTPartSegmenter`.
        task: ``"classification"`` or ``"part_segmentation"``.
        path: the checkpoint file.
        class_names: classification: one name per class (``"class 7"`` when training had none).
        categories: part segmentation: category names in id order.
        parts_per_category: part segmentation: category name -> global part ids.
        num_points: points per cloud in training.
        sampling: ``"random"`` or ``"fps"``: how training brought clouds to ``num_points``.
        normalize: whether the training data module normalised clouds itself.
        oriented: normal estimation: whether it was trained on signed normals.
        scene: semantic segmentation: how the scene data module served scenes (its preprocessing
            record: ``features``, ``ignore_index``, the lidar ``class_map``, ...).
        notes: what had to be assumed because the checkpoint does not record it.
    """

    network: nn.Module
    task: str
    path: Path
    class_names: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    parts_per_category: dict[str, list[int]] = field(default_factory=dict)
    num_points: int = 1024
    sampling: str = "random"
    normalize: bool = False
    oriented: bool = False
    scene: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def min_points(self) -> int:
        """Fewest points a cloud may have for this network."""
        return self.network.encoder.min_points

    def describe(self) -> str:
        """One line: what the network is and what it predicts."""
        if self.task == "classification":
            return f"{self.path}: {type(self.network).__name__}, classification into {len(self.class_names)} classes"
        if self.task == "normal_estimation":
            loss = "oriented (1 - cos)" if self.oriented else "sign-free (1 - |cos|)"
            return f"{self.path}: {type(self.network).__name__}, normal estimation, trained {loss}"
        if self.task == "semantic_segmentation":
            return (
                f"{self.path}: {type(self.network).__name__} ({self.network.encoder.attention} attention), semantic "
                f"segmentation of whole scenes into {len(self.class_names)} classes"
            )
        parts = sum(len(p) for p in self.parts_per_category.values())
        return (
            f"{self.path}: {type(self.network).__name__}, part segmentation: {len(self.categories)} categories, "
            f"{parts} parts"
        )


def load_trained_model(path: str | Path) -> TrainedModel:
    """Rebuild the network of a checkpoint ``pointea fit`` wrote, with its labels and preprocessing.

    Raises:
        CheckpointError: missing, corrupt or foreign file, or a task pointea cannot predict.
    """
    path = Path(path)
    checkpoint = read_checkpoint(path)
    record = pointea_record(checkpoint, path)
    task = record.get("task")
    if task not in _NETWORKS:
        raise CheckpointError(f"{path} is a {task!r} checkpoint; pointea predicts {', '.join(map(repr, _NETWORKS))}")
    network = _NETWORKS[task].from_loaded_checkpoint(checkpoint, path)
    model = TrainedModel(network=network, task=task, path=path, num_points=DEFAULT_POINTS[task])
    labels = trained_labels(checkpoint, path)
    if labels is None:
        model.notes.append("the checkpoint predates pointea's label record: labels are shown as ids")
    if task in ("classification", "semantic_segmentation"):
        names = (labels or {}).get("classes")
        if names and len(names) != network.num_classes:
            raise CheckpointError(
                f"{path}: the pointea record names {len(names)} classes for a network of {network.num_classes}"
            )
        model.class_names = list(names) if names else [f"class {i}" for i in range(network.num_classes)]
    elif task == "normal_estimation":
        model.oriented = bool((labels or {}).get("oriented", False))
    else:
        model.parts_per_category = _parts_per_category(labels, network, path)
        model.categories = list(model.parts_per_category)
    preprocessing = trained_preprocessing(checkpoint, path)
    if task == "semantic_segmentation":  # whole scenes, served as the scene data module served them
        model.scene = dict(preprocessing or {})
        if preprocessing is None:
            model.notes.append("the checkpoint does not record how scenes were served: assuming xyz alone")
        return model
    if preprocessing is None:
        model.notes.append(
            f"the checkpoint does not record its preprocessing: assuming {model.num_points} points, random "
            "subsets (the data modules' defaults); set --num-points to change"
        )
    else:
        model.num_points = int(preprocessing.get("num_points", model.num_points))
        model.sampling = str(preprocessing.get("sampling", model.sampling))
        model.normalize = bool(preprocessing.get("normalize", model.normalize))
    return model


def _parts_per_category(labels: dict[str, Any] | None, network: nn.Module, path: Path) -> dict[str, list[int]]:
    if labels and labels.get("parts_per_category"):
        return {str(name): [int(p) for p in parts] for name, parts in labels["parts_per_category"].items()}
    # only checkpoints older than the part-name record need the standard map (and its module's
    # data-module imports)
    from pointea.data.shapenetpart import ShapeNetPart

    standard = {name: list(parts) for name, parts in ShapeNetPart.PARTS_PER_CATEGORY.items()}
    if network.num_categories != len(standard) or network.num_parts != ShapeNetPart.NUM_PARTS:
        raise CheckpointError(
            f"{path} records no part names and its network ({network.num_categories} categories, "
            f"{network.num_parts} parts) is not ShapeNetPart's: retrain with this pointea version"
        )
    return standard
