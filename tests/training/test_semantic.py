"""The semantic segmentation task: loss with ignore_index and class weights, the scene metrics, the
exact whole-scene pass (external attention), sliding windows with voting (self-attention), the
refusal of N x N maps that do not fit, and the test epoch's metrics and confusion picture."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset
from torchmetrics.classification import MulticlassJaccardIndex

from pointea.errors import ConfigError, DataError
from pointea.models.encoder import PointEncoder
from pointea.models.per_point import PCTSemanticSegmenter
from pointea.training.semantic import SemanticSegmentation, scene_scores, self_attention_estimate
from pointea.models.scene_evaluation import SlidingWindows

CLASSES = 4
FULL_RESOLUTION = dict(
    embedding_channels=16, sample_sizes=(), stage_channels=(), channels=16, num_layers=2, memory_slots=8,
    out_channels=32, pooling="max+mean", pre_attention_layers=0, fuse_embedding=False,
)  # fmt: skip


def _module(attention: str = "external", **options) -> SemanticSegmentation:
    encoder = PointEncoder(attention=attention, **FULL_RESOLUTION)
    network = PCTSemanticSegmenter(num_classes=CLASSES, encoder=encoder, hidden_channels=(16,))
    return SemanticSegmentation(network, class_names=[f"c{i}" for i in range(CLASSES)], **options)


def _room(num_points: int, seed: int = 0) -> torch.Tensor:
    """A 6 m x 4 m x 3 m room's worth of points. Shapes: (num_points, 3)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(num_points, 3, generator=generator) * torch.tensor([6.0, 4.0, 3.0]) - torch.tensor([3.0, 2.0, 0.0])


def test_scores_match_a_hand_count_and_torchmetrics() -> None:
    truth = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 3])
    predicted = torch.tensor([0, 0, 1, 1, 2, 2, 2, 0, 0])  # class 3 never predicted
    confusion = torch.zeros(CLASSES, CLASSES, dtype=torch.long)
    confusion.index_put_((truth, predicted), torch.ones_like(truth), accumulate=True)
    scores = scene_scores(confusion)
    # class 0: 2 hits, 3 true, 4 predicted -> 2 / 5; class 1: 1 / 3; class 2: 2 / 4; class 3: 0 / 1
    expected = torch.tensor([2 / 5, 1 / 3, 2 / 4, 0.0], dtype=torch.float64)
    assert torch.allclose(scores["iou"], expected)
    reference = MulticlassJaccardIndex(CLASSES, average=None)(predicted, truth).double()
    assert torch.allclose(scores["iou"], reference, atol=1e-6)
    assert scores["miou"].item() == pytest.approx(expected.mean().item())
    assert scores["oa"].item() == pytest.approx(5 / 9)
    assert scores["macc"].item() == pytest.approx((2 / 3 + 1 / 2 + 2 / 3 + 0) / 4)


def test_a_class_absent_from_truth_and_prediction_leaves_the_means() -> None:
    confusion = torch.tensor([[3, 1, 0], [0, 2, 0], [0, 0, 0]])
    scores = scene_scores(confusion)
    assert torch.isnan(scores["iou"][2]) and torch.isnan(scores["accuracy"][2])
    assert scores["miou"].item() == pytest.approx((3 / 4 + 2 / 3) / 2)


def test_ignored_points_carry_no_loss_and_weights_select_classes() -> None:
    module = _module(class_weights=[1.0, 0.0, 0.0, 0.0])
    logits = torch.randn(2, 10, CLASSES, requires_grad=True)
    labels = torch.randint(0, CLASSES, (2, 10))
    labels[0, :5] = -1
    only_zero = labels.clone()
    only_zero[only_zero != 0] = -1
    plain = _module()
    assert torch.allclose(module._loss(logits, labels), plain._loss(logits, only_zero))
    everything_ignored = torch.full((2, 10), -1)
    loss = plain._loss(logits, everything_ignored)
    loss.backward()
    assert loss.item() == 0.0 and logits.grad is not None and bool(logits.grad.eq(0).all())


def test_arguments_are_checked() -> None:
    with pytest.raises(ConfigError, match="ignore_index must be an integer outside the class ids 0..3"):
        _module(ignore_index=2)
    with pytest.raises(ConfigError, match="class_weights must be 4"):
        _module(class_weights=[1.0, 2.0])
    with pytest.raises(ConfigError, match="window_stride=2.0 is larger than window_size=1.0"):
        _module(window_stride=2.0)


@torch.inference_mode()
def test_whole_scene_pass_is_exact_in_chunks() -> None:
    module = _module(chunk_size=300).eval()
    points = _room(1000)[None]  # (1, 1000, 3): more than one chunk
    chunked = module.scene_probabilities(points, None)
    whole = module.network(points).softmax(dim=-1)
    assert chunked.shape == (1, 1000, CLASSES)
    assert torch.allclose(chunked, whole, atol=1e-5)


def test_sliding_windows_cover_every_point_in_bounded_groups() -> None:
    points = _room(5000, seed=1)
    windows = SlidingWindows(size=1.5, stride=0.75, max_points=200)
    seen = torch.zeros(points.shape[0], dtype=torch.long)
    for group in windows.groups(points):
        assert 0 < group.numel() <= 200
        served = windows.serve(points, group)
        extent = points[group, :2].amax(dim=0) - points[group, :2].amin(dim=0)
        assert bool((extent <= 1.5 + 1e-5).all())  # a group lies inside one window
        assert torch.allclose(served[:, :2].amax(dim=0), -served[:, :2].amin(dim=0), atol=1e-5)  # centred in x, y
        assert torch.equal(served[:, 2], points[group, 2])  # z as given
        seen.index_add_(0, group, torch.ones_like(group))
    assert int(seen.min()) >= 1  # every point predicted
    assert int(seen.max()) <= 4  # each point lies in at most 2 x 2 overlapping windows
    single = SlidingWindows(size=1.0, stride=1.0, max_points=10_000)
    once = torch.cat(list(single.groups(points)))
    assert torch.equal(once.sort().values, torch.arange(points.shape[0]))  # no overlap: exactly once


@torch.inference_mode()
def test_self_attention_scores_every_point_through_windows() -> None:
    module = _module("offset", window_size=2.0, window_stride=1.0, window_points=256).eval()
    points = _room(2000, seed=2)[None]
    probabilities = module.scene_probabilities(points, None)
    assert probabilities.shape == (1, 2000, CLASSES)
    assert torch.allclose(probabilities.sum(dim=-1), torch.ones(1, 2000), atol=1e-5)


@torch.inference_mode()
def test_self_attention_that_does_not_fit_is_refused_before_allocating() -> None:
    module = _module("offset", window_points=1_000_000, memory_limit_gb=4.0).eval()
    points = torch.zeros(1, 2_000_000, 3)
    needs = self_attention_estimate(module.network.encoder, 1, 1_000_000, training=False)
    assert needs > 4 * 2**30
    with pytest.raises(ConfigError, match=r"N=1000000 needs about \d+\.\d GiB .* more than the 4\.0 GiB allowed"):
        module.scene_probabilities(points, None)
    with pytest.raises(ConfigError, match="training"):
        module.check_fits(16, 32_768, training=True, what="data.init_args.num_points")
    _module("external", memory_limit_gb=0.001).check_fits(16, 32_768, training=True, what="-")  # linear: always fits


class _Scenes(Dataset):
    """Whole labelled scenes, one per item, as the scene data modules serve them (B = 1)."""

    def __init__(self, count: int, num_points: int, unlabelled: bool = False) -> None:
        self.items = []
        for index in range(count):
            points = _room(num_points, seed=10 + index)
            labels = (points[:, 0] > 0).long() + 2 * (points[:, 2] > 1.5).long()  # (N,) 4 regions
            labels[::7] = -1  # unlabelled points
            if unlabelled:
                labels[:] = -1
            self.items.append({"points": points, "labels": labels, "index": torch.tensor(index)})

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, item: int) -> dict[str, torch.Tensor]:
        return self.items[item]


def _trainer(tmp_path: Path) -> pl.Trainer:
    return pl.Trainer(
        default_root_dir=tmp_path, accelerator="cpu", logger=pl.loggers.CSVLogger(tmp_path), enable_progress_bar=False,
        enable_model_summary=False, enable_checkpointing=False,
    )  # fmt: skip


def test_test_epoch_scores_every_scene_and_draws_the_confusion_matrix(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    module = _module(chunk_size=256)
    trainer = _trainer(tmp_path)
    scenes = _Scenes(3, 700)
    (results,) = trainer.test(module, DataLoader(scenes, batch_size=1), verbose=False)
    for key in ("test/miou", "test/macc", "test/oa"):
        assert 0.0 <= results[key] <= 1.0
    folder = Path(trainer.log_dir)
    with open(folder / "confusion_matrix.csv") as handle:
        rows = list(csv.reader(handle))
    counted = sum(int(v) for row in rows[1:] for v in row[1:])
    labelled = sum(int((s["labels"] >= 0).sum()) for s in scenes.items)
    assert counted == labelled  # every labelled point of every scene, none of the ignored ones
    picture = (folder / "confusion_matrix.png").read_bytes()
    assert picture[:8] == b"\x89PNG\r\n\x1a\n" and len(picture) > 5000


def test_a_test_split_without_labels_is_an_error_not_a_zero(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no labelled point in the test scenes"):
        _trainer(tmp_path).test(_module(), DataLoader(_Scenes(1, 300, unlabelled=True), batch_size=1), verbose=False)


def test_height_is_recomputed_above_each_windows_floor() -> None:
    from pointea.training.semantic import height_channel as _height_channel

    assert _height_channel(("color", "normalized", "height")) == 6
    assert _height_channel(("height", "intensity")) == 0
    assert _height_channel(("color",)) is None and _height_channel(None) is None
    encoder = PointEncoder(attention="offset", in_channels=2, **FULL_RESOLUTION)
    network = PCTSemanticSegmenter(num_classes=CLASSES, encoder=encoder, hidden_channels=(16,))
    module = SemanticSegmentation(network, window_size=2.0, window_stride=2.0, window_points=400).eval()
    module.height_channel = 1
    seen = []
    original = module.network.forward

    def spy(points, features=None, **options):
        seen.append((points.clone(), features.clone()))
        return original(points, features, **options)

    module.network.forward = spy
    points = _room(1500, seed=3)
    points[:, 2] += 1.0  # the room's floor at 1 m: windows must not keep the scene's height
    features = torch.stack([torch.rand(1500), torch.full((1500,), 9.0)], dim=-1)  # (N, 2)
    with torch.inference_mode():
        module.scene_probabilities(points[None], features[None])
    assert len(seen) > 1
    for group, group_features in seen:
        z = group[0, :, 2]
        assert torch.allclose(group_features[0, :, 1], z - z.min())  # height above the window's floor


def test_predict_writes_one_row_per_whole_scene_of_any_size(tmp_path: Path) -> None:
    from pointea.training.predictions import PredictionWriter

    scenes = _Scenes(1, 300)
    scenes.items += _Scenes(1, 450).items
    scenes.items[1]["index"] = torch.tensor(1)
    trainer = pl.Trainer(
        default_root_dir=tmp_path, accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False,
        callbacks=[PredictionWriter(output_dir=str(tmp_path / "out"))],
    )  # fmt: skip
    trainer.predict(_module(chunk_size=128), DataLoader(scenes, batch_size=1), return_predictions=False)
    with open(tmp_path / "out" / "predictions.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(row["points"]) for row in rows] == [300, 450]
    assert [sum(int(row[f"class_{i}"]) for i in range(CLASSES)) for row in rows] == [300, 450]


def test_the_module_holds_no_loss_module_it_does_not_use_and_old_checkpoints_still_load():
    """The loss is computed functionally (class weights, ignore_index): no ``criterion`` child shows
    in the summary. Checkpoints written while the base held one load strictly, since a
    cross-entropy module has no state (no state-dict key to miss)."""
    from pytorch_lightning.utilities.model_summary import ModelSummary

    module = _module()
    assert all("criterion" not in name for name, _ in module.named_modules())
    summary = str(ModelSummary(module, max_depth=1))
    assert "network" in summary and "criterion" not in summary
    assert torch.nn.CrossEntropyLoss(label_smoothing=0.2).state_dict() == {}
    old_style = {**module.state_dict()}  # what the old layout wrote: the same keys
    _module().load_state_dict(old_style, strict=True)
