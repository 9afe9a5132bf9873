"""The LightningModules outside the CLI: defaults, wiring, and argument checks."""

import pytest
import pytorch_lightning as pl
import torch

from pointea import PCTClassifier, PCTPartSegmenter, PointEncoder
from pointea.training import PartSegmentation, PointCloudClassifier
from tests.conftest import TINY_ENCODER


def tiny_classifier(num_classes=4, **kwargs):
    network = PCTClassifier(num_classes=num_classes, encoder=PointEncoder(**TINY_ENCODER), hidden_channels=(32,))
    return PointCloudClassifier(network, **kwargs)


def test_default_recipe_is_pct_sgd_with_cosine_over_max_epochs_to_the_floor():
    model = tiny_classifier()
    model.trainer = pl.Trainer(max_epochs=5, logger=False, enable_checkpointing=False, enable_progress_bar=False)
    config = model.configure_optimizers()
    optimizer, scheduler = config["optimizer"], config["lr_scheduler"]["scheduler"]
    assert isinstance(optimizer, torch.optim.SGD) and config["lr_scheduler"]["interval"] == "epoch"
    group = optimizer.param_groups[0]
    assert (group["lr"], group["momentum"], group["weight_decay"]) == (0.01, 0.9, 5e-4)
    lrs = []
    for _ in range(5):
        optimizer.step()
        scheduler.step()
        lrs.append(optimizer.param_groups[0]["lr"])
    assert lrs == sorted(lrs, reverse=True) and lrs[-1] == pytest.approx(1e-4)


def test_given_optimizer_and_scheduler_callables_are_used():
    model = tiny_classifier(
        optimizer=lambda params: torch.optim.Adam(params, lr=1e-3),
        scheduler=lambda optimizer: torch.optim.lr_scheduler.StepLR(optimizer, step_size=2),
    )
    config = model.configure_optimizers()
    assert isinstance(config["optimizer"], torch.optim.Adam)
    assert isinstance(config["lr_scheduler"]["scheduler"], torch.optim.lr_scheduler.StepLR)
    assert len(config["optimizer"].param_groups[0]["params"]) == len(list(model.parameters()))


def test_training_steps_fit_a_fixed_batch():
    model = tiny_classifier(label_smoothing=0.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    batch = {"points": torch.rand(8, 100, 3), "label": torch.arange(8) % 4, "index": torch.arange(8)}
    model.log = lambda *args, **kwargs: None  # outside a Trainer
    losses = []
    for _ in range(15):
        loss = model.training_step(batch, 0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_argument_checks():
    with pytest.raises(ValueError, match="3 class_names for a network with 4 classes"):
        tiny_classifier(class_names=["a", "b", "c"])
    with pytest.raises(ValueError, match="label_smoothing"):
        tiny_classifier(label_smoothing=1.0)
    with pytest.raises(TypeError, match="pointea network"):
        PointCloudClassifier(torch.nn.Linear(3, 4))
    segmenter = PCTPartSegmenter(encoder=PointEncoder(**{**TINY_ENCODER, "sample_sizes": (), "stage_channels": ()}))
    with pytest.raises(ValueError, match="2 categories, the network 16"):
        PartSegmentation(segmenter, parts_per_category={"A": list(range(25)), "B": list(range(25, 50))})


def test_segmentation_predictions_stay_in_the_category():
    segmenter = PCTPartSegmenter(
        num_parts=5, num_categories=2, hidden_channels=(16,), category_channels=4,
        encoder=PointEncoder(**{**TINY_ENCODER, "sample_sizes": (), "stage_channels": ()}),
    )  # fmt: skip
    model = PartSegmentation(segmenter, parts_per_category={"A": [0, 1], "B": [2, 3, 4]}, votes=2).eval()
    batch = {"points": torch.rand(4, 32, 3), "category": torch.tensor([0, 1, 0, 1]), "index": torch.arange(4)}
    with torch.no_grad():
        parts = model.predict_step(batch, 0)["parts"]
    assert parts.shape == (4, 32)
    assert (parts[[0, 2]] <= 1).all() and (parts[[1, 3]] >= 2).all()
