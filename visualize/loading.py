"""What a viewer command shows: the data split and the model, from a training config and a
checkpoint; a point file of the user's; ShapeNetPart's part labels as the viewers colour them.

The config is parsed by ``pointea``'s own CLI (:func:`pointea.training.cli.load_config`, which
instantiates its classes and runs nothing), so it means what it means to ``pointea fit``, data-to-
model links included (e.g. the classifier gets the data set's number of classes). Its ``data``
section gives the data module (``--data-root`` overrides its ``root``); its ``model`` section, a
pointea training module (``PointCloudClassifier`` or ``PartSegmentation``), gives the network when
there is no checkpoint, its parameters drawn afresh from a seed. A checkpoint rebuilds its own
network from the architecture record pointea's training modules store in it
(``PCTClassifier.from_checkpoint``, read with ``weights_only=True``); that network must fit the
config's data (task and number of labels).

Every problem the user can fix (a missing file, a checkpoint of the other task or of another label
set) is an :class:`~pointea.errors.InputError` with a one-line message; a config ``pointea``
rejects is a one-line :class:`~pointea.errors.ConfigError`, as ``pointea-normals-pca`` reports it.

Shape legend: N points, P parts of one ShapeNetPart category.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from pointea.data import (
    ClassFolderDataModule,
    ModelNet40,
    ModelNet40DataModule,
    ShapeNetPart,
    ShapeNetPartDataModule,
)
from pointea.data.class_folder import ClassFolder
from pointea.errors import InputError, ResampledWarning
from pointea.io import PointCloud, read_points
from pointea.models import PCTClassifier, PCTPartSegmenter
from pointea.models.checkpoint import CHECKPOINT_KEY, CheckpointError, read_checkpoint
from pointea.training.cli import load_config

__all__ = [
    "DataSplit",
    "LoadedModel",
    "category_parts",
    "load_data",
    "load_file",
    "load_model",
    "local_parts",
    "read_file",
    "reinitialise",
]

Task = Literal["classification", "segmentation"]


@dataclass(frozen=True)
class DataSplit:
    """One split of the config's data set, served by its evaluation pipeline.

    Args:
        dataset: items as the data modules serve them (``points``, ``label`` or ``category`` and
            ``parts``, ``index``).
        task: ``"classification"`` (ModelNet40 layout) or ``"segmentation"`` (ShapeNetPart).
        label_names: class names, or ShapeNetPart category names.
        description: e.g. ``"ModelNet40 at data/modelnet40_ply_hdf5_2048"``.
    """

    dataset: Dataset
    task: Task
    label_names: Sequence[str]
    description: str


@dataclass(frozen=True)
class LoadedModel:
    """The network (eval mode) and a note saying what it is, for titles."""

    network: nn.Module
    note: str


def category_parts(category: int) -> np.ndarray:
    """The global ids of ShapeNetPart category ``category``'s parts, ascending (Airplane: 0..3).

    Shapes:
        returns (P,) int64
    """
    return np.asarray(ShapeNetPart.PARTS_PER_CATEGORY[ShapeNetPart.CATEGORIES[category]], dtype=np.int64)


def local_parts(parts: np.ndarray, category: int) -> np.ndarray:
    """ShapeNetPart's global part ids as indices into the parts of ``category`` (0: its first
    part), the labels the viewers colour: every category's parts then take the palette's first,
    most distinct colours (global ids would give a category's neighbouring parts shades of one hue).

    Shapes:
        parts: (N,) global part ids of that category; returns (N,) int64 in [0, its part count)

    Raises:
        ValueError: a part that is not one of the category's.
    """
    own = category_parts(category)  # (P,)
    parts = np.asarray(parts, dtype=np.int64)
    local = np.searchsorted(own, parts)  # (N,)
    if parts.size and (local.max() >= own.size or not np.array_equal(own[local], parts)):
        raise ValueError(f"local_parts: parts outside {ShapeNetPart.CATEGORIES[category]}'s parts {own.tolist()}")
    return local


def load_data(config: str | Path, split: str, data_root: str | Path | None = None) -> DataSplit:
    """The ``split`` of the config's data set (``data_root`` replacing the config's folder).

    A synthetic data module (``synthetic: true``) writes its set first when the folder is empty,
    as ``pointea fit`` would.
    """
    overrides = ["--data.init_args.root", str(data_root)] if data_root is not None else []
    datamodule = load_config(config, overrides).datamodule
    if isinstance(datamodule, ModelNet40DataModule):
        datamodule.prepare_data()
        dataset: Dataset = ModelNet40(datamodule.root, split, datamodule.eval_transform)
        names = list(dataset.class_names)  # type: ignore[attr-defined]
        return DataSplit(dataset, "classification", names, f"ModelNet40 at {dataset.archive_dir}")  # type: ignore[attr-defined]
    if isinstance(datamodule, ShapeNetPartDataModule):
        datamodule.prepare_data()
        dataset = ShapeNetPart(datamodule.root, split, datamodule.eval_transform)
        description = f"ShapeNetPart at {dataset.archive_dir}"  # type: ignore[attr-defined]
        return DataSplit(dataset, "segmentation", list(ShapeNetPart.CATEGORIES), description)
    if isinstance(datamodule, ClassFolderDataModule):  # "val" is the test split, as in training
        dataset = ClassFolder(datamodule.listing, "test" if split == "val" else split, datamodule.file_points,
                              datamodule.eval_transform, datamodule.seed)  # fmt: skip
        return DataSplit(dataset, "classification", list(dataset.class_names), f"class folder {datamodule.listing.root}")
    raise InputError(f"{config}: data is a {type(datamodule).__name__}; the viewers read ModelNet40, ShapeNetPart or class-folder data modules")


def read_file(path: str | Path, max_points: int, seed: int = 0) -> PointCloud:
    """``max_points`` points of the file: a seeded subset of a point file, or samples of a mesh.
    A smaller file is shown whole (its repeated points fall on themselves)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResampledWarning)
        return read_points(path, max_points, seed=seed)



def load_file(config: str | Path, path: str | Path, seed: int = 0) -> DataSplit:
    """One point or mesh file as a one-item classification split for the config's model.

    The file is read with :func:`pointea.io.read_points` (the config's ``num_points``: a seeded
    subset, or mesh samples), centred and scaled into the unit sphere as the training data is,
    then served by the config's evaluation pipeline. It has no known class: its ``label`` is -1.
    """
    from pointea.data.transforms import NormalizeUnitSphere

    datamodule = load_config(config).datamodule
    names = getattr(datamodule, "class_names", None)
    if getattr(datamodule, "num_parts", None) is not None or names is None:
        raise InputError(f"{config}: --file needs a classification config (a part segmenter needs each shape's category)")
    cloud = read_file(path, datamodule.num_points, seed)
    rng = np.random.default_rng(seed)
    sample = datamodule.eval_transform(NormalizeUnitSphere()({"points": cloud.points}, rng), rng)
    item = {"points": sample["points"], "label": -1, "index": -1}
    return DataSplit([item], "classification", list(names), f"{Path(path).name} ({type(datamodule).__name__} model)")


_NETWORKS: dict[Task, type[nn.Module]] = {"classification": PCTClassifier, "segmentation": PCTPartSegmenter}


def reinitialise(network: nn.Module, seed: int) -> nn.Module:
    """Draw every parameter afresh from ``seed`` (each layer's own ``reset_parameters``), so a
    random model depends on the architecture and ``seed`` only."""
    torch.manual_seed(seed)
    for module in network.modules():
        reset = getattr(module, "reset_parameters", None)
        if callable(reset):
            reset()
    return network


def _config_network(config: str | Path, task: Task) -> nn.Module:
    """The network of the config's training module (a ``PointCloudModule``; the CLI checks that)."""
    network = load_config(config).model.network
    wanted = _NETWORKS[task]
    if not isinstance(network, wanted):
        raise InputError(f"{config}: its model trains a {type(network).__name__}, but its {task} data needs a {wanted.__name__}")
    return network


def load_model(
    config: str | Path, ckpt: str | Path | None, data: DataSplit, seed: int = 0, device: str = "cpu"
) -> LoadedModel:
    """The network to show: from ``ckpt``, or the config's architecture randomly initialised
    from ``seed``; it must fit ``data`` (task and label count)."""
    wanted = _NETWORKS[data.task]
    if ckpt is None:
        network = reinitialise(_config_network(config, data.task), seed)
        note = f"random init (seed {seed}), untrained"
    else:
        network = _from_checkpoint(Path(ckpt), wanted, data)
        note = f"checkpoint {Path(ckpt).name}"
    labels = network.num_classes if isinstance(network, PCTClassifier) else network.num_categories
    expected = len(data.label_names)
    if labels != expected:
        raise InputError(
            f"{ckpt or config}: the {type(network).__name__} has {labels} "
            f"{'classes' if data.task == 'classification' else 'categories'}, the data {expected} ({data.description})"
        )
    try:
        network = network.to(device)
    except (RuntimeError, AssertionError) as error:
        raise InputError(f"--device {device}: {str(error).splitlines()[0]}") from error
    return LoadedModel(network.eval(), note)


def _from_checkpoint(path: Path, wanted: type[nn.Module], data: DataSplit) -> nn.Module:
    try:
        record = read_checkpoint(path).get(CHECKPOINT_KEY)
        network = record.get("network") if isinstance(record, dict) else None
        held = str(network.get("class", "")).rsplit(".", 1)[-1] if isinstance(network, dict) else ""
        if held and held != wanted.__name__:
            raise InputError(
                f"{path} is a {record.get('task', 'another task')} checkpoint of a {held}, but the config's "
                f"data ({data.description}) is for {data.task}, which needs a {wanted.__name__}: pass the "
                "config the checkpoint was trained with"
            )
        return wanted.from_checkpoint(path)  # type: ignore[attr-defined]
    except CheckpointError as error:
        raise InputError(str(error)) from error
