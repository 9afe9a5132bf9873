"""Real ModelNet40 objects (``../shared/data/modelnet40_real_subset``) through the data module."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from pointea.data import ModelNet40DataModule
from pointea.data.cli import main


def test_real_subset_loads_through_the_data_module(real_subset: Path) -> None:
    module = ModelNet40DataModule(str(real_subset), num_points=1024, batch_size=32)
    assert module.num_classes == 40 and module.class_names[:2] == ["airplane", "bathtub"]
    module.prepare_data()
    module.setup("fit")
    train, test = module.train_set, module.test_set
    assert (len(train), len(test)) == (848, 178)
    for split in (train, test):
        labels = split.shape_labels["label"]
        assert labels.min() >= 0 and labels.max() < 40
        assert np.linalg.norm(split.points, axis=-1).max() <= 1.01  # centred in the unit sphere
    # airplane (0) and bathtub (1) are the (nearly) complete classes; the rest have <= 12 shapes
    train_counts = np.bincount(train.shape_labels["label"], minlength=40)
    assert train_counts[0] >= 600 and train_counts[1] == 106 and train_counts[2:].max() <= 12
    assert np.bincount(test.shape_labels["label"], minlength=40)[:2].tolist() == [100, 50]
    batch = next(iter(module.train_dataloader()))
    assert batch["points"].shape == (32, 1024, 3) and batch["points"].dtype == torch.float32
    assert batch["label"].shape == (32,) and batch["label"].dtype == torch.int64
    assert torch.isfinite(batch["points"]).all()
    evaluation = next(iter(module.val_dataloader()))
    assert evaluation["points"].shape == (32, 1024, 3)
    assert torch.equal(evaluation["index"], torch.arange(32))


def test_verify_accepts_the_real_subset(real_subset: Path, capsys) -> None:
    assert main(["verify", str(real_subset)]) == 0
    out = capsys.readouterr().out
    assert "848 shapes" in out and "178 shapes" in out and "verdict: OK" in out
