"""A whole scene (room or lidar tile): truth, prediction, errors, and where each attention head's
memory slots are, in a window or a headless picture.

Usage (from the repository root)::

    python -m visualize.scenes --config configs/demo_scene.yaml [--ckpt CKPT] --index I [--save out.png]
        [--layer L] [--max-points N] [--show-ceiling]

The picture shows one scene of the split, every tile seen by one camera from above at an angle:
the true classes, the predicted classes, the errors (wrong points red, right ones grey), and one
tile per head of attention layer ``--layer`` (default: the last) colouring each point by the
memory slot it attends to most: the paper's "heads attend to different regions", at the scale of
a room. The window shows truth and prediction side by side; N / P step through the split.

What is computed on what:

- the prediction of **every point** of the scene, exactly as ``pointea test`` scores it
  (:meth:`~pointea.training.semantic.SemanticSegmentation.scene_probabilities`: one exact chunked
  pass for external attention, voted sliding windows for self-attention);
- each head's strongest memory slot of **every point**, exactly: the argmax of the attention map
  ``return_attention=True`` gives, computed in the same chunks
  (:meth:`~pointea.models.encoder.PointEncoder.strongest_slots`), so a room of millions of points
  never holds its (H, N, S) maps.

``--max-points`` (default 200,000) only thins what is drawn: a larger scene's picture shows a
seeded random subset of that many points spread over the whole scene, with each point's own
(whole-scene) prediction and slots.

Rooms are seen from above, so points whose true class is ``ceiling`` are left out of the picture
unless ``--show-ceiling``. Scenes are z-up.

Shape legend: N points of the scene, M points shown, L layers, H heads, S memory slots, K classes.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from pointea.errors import InputError
from pointea.training.cli import load_config
from pointea.training.semantic import SemanticSegmentation
from visualize.arguments import check_index, int_option, model_viewer_parser, run_command
from visualize.cloud import Cloud, fixed_camera
from visualize.colors import categorical_palette, label_colors
from visualize.loading import reinitialise
from visualize.picture import GridLayout, Tile, point_size_for
from visualize.window import browse_or_save

__all__ = ["SceneRecord", "record_scene", "scene_clouds", "scene_tiles", "main"]

#: Errors tile: right points light grey, wrong points red (as the part viewer's).
ERROR_COLORS = np.array([[0.8, 0.8, 0.8], [0.86, 0.08, 0.24]])
#: The camera looks down at the scene from this direction (z-up), the front right.
SCENE_DIRECTION = (1.0, -1.3, 1.9)
#: Tiles per row of the picture.
COLUMNS = 4


@dataclass(frozen=True)
class SceneRecord:
    """What the viewer shows of one scene.

    Shapes:
        points: (M, 3) the points shown; truth, prediction: (M,) class ids (truth may hold
        ``ignore_index``); slots: (H, M) the strongest memory slot per head of the chosen layer
    """

    name: str
    points: np.ndarray
    truth: np.ndarray
    prediction: np.ndarray
    slots: np.ndarray
    num_slots: int
    layer: int
    class_names: tuple[str, ...]
    ignore_index: int
    scene_points: int
    miou_note: str

    @property
    def caption(self) -> str:
        shown = f"{self.points.shape[0]:,} of {self.scene_points:,} points shown"
        return f"{self.name}: {shown}; {self.miou_note}"


def _scene_miou(truth: np.ndarray, prediction: np.ndarray, num_classes: int, ignore_index: int) -> str:
    """The scene's own OA and mIoU (over classes present in truth or prediction), for the caption."""
    kept = truth != ignore_index
    if not kept.any():
        return "no labelled point"
    t, p = truth[kept], prediction[kept]
    confusion = np.bincount(t * num_classes + p, minlength=num_classes * num_classes).reshape(num_classes, num_classes)
    hits = np.diag(confusion)
    union = confusion.sum(0) + confusion.sum(1) - hits
    iou = hits[union > 0] / union[union > 0]
    return f"OA {hits.sum() / kept.sum():.3f}, mIoU {iou.mean():.3f} over every point"


@torch.inference_mode()
def record_scene(
    module: SemanticSegmentation,
    sample: dict[str, torch.Tensor],
    name: str,
    layer: int | None = None,
    max_points: int = 200_000,
    show_ceiling: bool = False,
    seed: int = 0,
) -> SceneRecord:
    """Predict every point of ``sample`` (a whole-scene item: ``points`` (N, 3), ``features``
    (N, C), ``labels`` (N,)) and find every point's strongest slots; record up to ``max_points``
    of them to draw."""
    network = module.network.eval()
    module.eval()
    layer = _check_network(network, layer)
    points = sample["points"].float()  # (N, 3)
    features = sample.get("features")
    features = None if features is None else features.float()  # (N, C)
    truth = sample["labels"].long()  # (N,)
    probabilities = module.scene_probabilities(points[None], None if features is None else features[None])  # (1, N, K)
    prediction = probabilities[0].argmax(dim=-1)  # (N,)
    note = _scene_miou(truth.numpy(), prediction.numpy(), network.num_classes, module.ignore_index)
    slots = network.encoder.strongest_slots(
        points[None], None if features is None else features[None], layer, chunk_size=module.chunk_size
    )[0]  # (H, N)
    shown = torch.arange(points.shape[0])
    if points.shape[0] > max_points:
        generator = torch.Generator().manual_seed(seed)
        shown = torch.randperm(points.shape[0], generator=generator)[:max_points].sort().values  # (M,)
    keep = torch.ones(shown.shape[0], dtype=torch.bool)
    names = tuple(module.class_names)
    if not show_ceiling and "ceiling" in names:
        keep = truth[shown] != names.index("ceiling")  # (M,): seen from above, the ceiling hides the room
    return SceneRecord(
        name=name,
        points=points[shown][keep].numpy(),
        truth=truth[shown][keep].numpy(),
        prediction=prediction[shown][keep].numpy(),
        slots=slots[:, shown][:, keep].numpy(),
        num_slots=network.encoder.layers[layer].attention.memory_slots,
        layer=layer,
        class_names=names,
        ignore_index=module.ignore_index,
        scene_points=points.shape[0],
        miou_note=note,
    )


def _check_network(network: torch.nn.Module, layer: int | None) -> int:
    """The attention layer whose slots are shown (``None``: the last); :class:`InputError` for a layer
    the network does not have, or a network without memory slots (self-attention)."""
    layers = len(network.encoder.layers)
    layer = layers - 1 if layer is None else layer
    if not 0 <= layer < layers:
        raise InputError(f"--layer {layer} is out of range: the network has {layers} attention layers (0..{layers - 1})")
    if network.encoder.attention != "external":
        raise InputError("visualize.scenes shows memory slots, which only external attention has (this network: offset)")
    return layer


def scene_clouds(record: SceneRecord) -> list[tuple[Cloud, str]]:
    """Truth, prediction, errors and one cloud per head, with their titles."""
    k = len(record.class_names)
    labelled = record.truth != record.ignore_index
    truth_colors = label_colors(np.where(labelled, record.truth, 0), k)
    truth_colors[~labelled] = 0.55  # unlabelled points grey
    wrong = (labelled & (record.truth != record.prediction)).astype(np.int64)  # (M,) 1 where wrong
    clouds = [
        (Cloud(record.points, truth_colors), "truth"),
        (Cloud(record.points, label_colors(record.prediction, k)), "prediction"),
        (Cloud(record.points, ERROR_COLORS[wrong]), f"errors: {int(wrong.sum()):,} of {int(labelled.sum()):,}"),
    ]
    palette = categorical_palette(record.num_slots)  # (S, 3)
    for head, slots in enumerate(record.slots):
        used = np.unique(slots).size
        clouds.append((Cloud(record.points, palette[slots]), f"layer {record.layer} head {head}: {used} slots"))
    return clouds


def scene_tiles(record: SceneRecord, tile_size: int) -> tuple[GridLayout, dict[tuple[int, int], Tile]]:
    """The picture's layout and tiles: row-major, :data:`COLUMNS` tiles a row."""
    camera = fixed_camera(record.points, direction=SCENE_DIRECTION, up=(0.0, 0.0, 1.0))
    size = point_size_for(record.points.shape[0], tile_size)
    clouds = scene_clouds(record)
    columns = min(COLUMNS, len(clouds))
    layout = GridLayout(rows=math.ceil(len(clouds) / columns), cols=columns, tile_width=tile_size, tile_height=tile_size)
    tiles = {(i // columns, i % columns): Tile(cloud, camera, title, size) for i, (cloud, title) in enumerate(clouds)}
    return layout, tiles


def _load(args: argparse.Namespace) -> tuple[SemanticSegmentation, torch.utils.data.Dataset, list[str], str]:
    """The config's semantic module (with the checkpoint's weights, or a seeded random network),
    the split's whole scenes and their names."""
    overrides = ["--data.init_args.root", str(args.data_root)] if args.data_root is not None else []
    cli = load_config(args.config, overrides)
    module, datamodule = cli.model, cli.datamodule
    if not isinstance(module, SemanticSegmentation):
        raise InputError(f"{args.config} trains a {type(module).__name__}; visualize.scenes needs a semantic segmentation config")
    if args.ckpt is None:
        reinitialise(module.network, args.seed)
        note = f"random init (seed {args.seed}), untrained"
    else:
        from pointea.models.checkpoint import read_checkpoint

        checkpoint = read_checkpoint(args.ckpt)
        # the same label names, input features and class map as the config serves, not just the shape
        module.check_checkpoint(checkpoint, args.ckpt, datamodule.preprocessing_record())
        module.load_state_dict(checkpoint["state_dict"])
        note = f"checkpoint {args.ckpt}"
    _check_network(module.network, args.layer)  # before the data is prepared (a conversion, a pass over it)
    datamodule.prepare_data()
    datamodule.setup("test" if args.split == "test" else "fit")
    loader = {"train": datamodule.train_dataloader, "val": datamodule.val_dataloader, "test": datamodule.test_dataloader}
    if args.split == "train":
        from pointea.data.scenes import WholeScenes

        dataset = WholeScenes(datamodule.scenes["train"], datamodule.features, datamodule.ignore_index)
        scenes = datamodule.scenes["train"]
    else:
        dataset = loader[args.split]().dataset
        scenes = datamodule.scenes["test" if args.split == "test" else "val"]
    return module.to(args.device), dataset, [scene.name for scene in scenes], note


def _parser() -> argparse.ArgumentParser:
    parser = model_viewer_parser(
        "python -m visualize.scenes",
        "A whole scene: truth, prediction, errors and each head's strongest memory slot; window or --save a PNG.",
    )
    parser.add_argument("--layer", type=int_option(0), default=None, help="attention layer of the slot tiles (default: the last)")
    parser.add_argument("--max-points", type=int_option(1), default=200_000, help="most points drawn (default 200000; predictions and slots are of every point)")
    parser.add_argument("--show-ceiling", action="store_true", help="keep the ceiling (hidden by default: it hides the room)")
    return parser


def _command(args: argparse.Namespace) -> int:
    module, dataset, names, note = _load(args)
    check_index(args.index, len(dataset), args.split, f"{args.config}'s scenes")

    def record(index: int) -> SceneRecord:
        sample = {key: value.to(args.device) for key, value in dataset[index].items()}
        return record_scene(module, sample, names[index], args.layer, args.max_points, args.show_ceiling, args.seed)

    def window(scene: SceneRecord) -> tuple[list[Cloud], str]:
        (truth, _), (prediction, _), *_ = scene_clouds(scene)
        return [truth, prediction], "left: truth, right: prediction"

    return browse_or_save("scenes", record, len(dataset), args.index, note, scene_tiles, window, args.save, args.tile_size)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m visualize.scenes``."""
    return run_command(_parser(), _command, argv)


if __name__ == "__main__":
    sys.exit(main())
