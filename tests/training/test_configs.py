"""Every shipped config builds its model, data module and trainer, with PCT's recipe."""

import pytest
import torch

from pointea.training import PartSegmentation, PointCloudClassifier, PointeaCLI
from tests.data.class_folder_files import write_class_folder
from tests.training.conftest import REPO
from tests.training.test_scene_configs import SCENE_CONFIGS

CONFIGS = {
    "demo.yaml": (PointCloudClassifier, "external", 12),  # the synthetic set's 12 classes
    "demo_pct.yaml": (PointCloudClassifier, "offset", 12),
    "demo_partseg.yaml": (PartSegmentation, "external", 50),
    "custom_folder.yaml": (PointCloudClassifier, "external", 3),  # the 3 classes written below
    "modelnet40.yaml": (PointCloudClassifier, "external", 40),
    "modelnet40_pct.yaml": (PointCloudClassifier, "offset", 40),
    "shapenetpart.yaml": (PartSegmentation, "external", 50),
    "shapenetpart_pct.yaml": (PartSegmentation, "offset", 50),
    "scanobjectnn.yaml": (PointCloudClassifier, "external", 15),
    "scanobjectnn_pct.yaml": (PointCloudClassifier, "offset", 15),
}


#: Configs of the other tasks, each checked in its task's own tests (normals: tests/training/test_normals.py).
OTHER_TASK_CONFIGS = ("demo_normals.yaml", "modelnet40_normals.yaml", "modelnet40_normals_local.yaml", "modelnet40_normals_pct.yaml")


def test_the_shipped_configs_are_these():
    assert sorted(p.name for p in (REPO / "configs").glob("*.yaml")) == sorted([*CONFIGS, *OTHER_TASK_CONFIGS, *SCENE_CONFIGS])


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_config_builds_with_linked_label_space_and_pct_recipe(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # configs name data/ and runs/ relative to the working directory
    if name == "custom_folder.yaml":  # a folder of "your own files" where the config expects it
        write_class_folder(tmp_path / "data" / "my_shapes", per_class=2, points=64)
    cli = PointeaCLI(args=["--config", str(REPO / "configs" / name)], run=False)
    module, attention, labels = CONFIGS[name]
    model, trainer = cli.model, cli.trainer
    assert type(model) is module and model.network.encoder.attention == attention
    if module is PointCloudClassifier:
        assert model.network.num_classes == labels == len(model.class_names)
    else:
        assert (model.network.num_parts, model.network.num_categories) == (labels, 16)
        assert model.category_parts.num_parts == labels
    assert trainer.checkpoint_callback.monitor == model.MONITOR and trainer.checkpoint_callback.mode == "max"
    best, last = trainer.checkpoint_callbacks
    folder = str(tmp_path / trainer.default_root_dir / "checkpoints")
    assert best.dirpath == last.dirpath == folder and last.monitor is None and last.filename == "last"
    assert [type(logger).__name__ for logger in trainer.loggers][0] == "CSVLogger"
    assert model.criterion.label_smoothing == 0.2
    # BatchNorm statistics over the global batch under DDP in the real configs
    assert cli.config["trainer"]["sync_batchnorm"] is name.startswith(("modelnet40", "shapenetpart"))
    model.trainer = trainer
    optimizers = model.configure_optimizers()
    optimizer, scheduler = optimizers["optimizer"], optimizers["lr_scheduler"]["scheduler"]
    group = optimizer.param_groups[0]
    if name == "demo_partseg.yaml":  # the one exception, explained in the config
        assert isinstance(optimizer, torch.optim.AdamW) and group["lr"] == 3e-3
    else:
        assert isinstance(optimizer, torch.optim.SGD)
        assert (group["lr"], group["momentum"], group["weight_decay"]) == (0.01, 0.9, 5e-4)
        assert scheduler.eta_min == 1e-4
    assert isinstance(scheduler, torch.optim.lr_scheduler.CosineAnnealingLR) and scheduler.T_max == trainer.max_epochs
    if not name.startswith("demo"):
        assert trainer.max_epochs == 250 and cli.datamodule.batch_size == 32


def test_demo_pct_is_the_demo_with_offset_attention():
    import yaml

    demo, pct = (yaml.safe_load((REPO / "configs" / name).read_text()) for name in ("demo.yaml", "demo_pct.yaml"))
    assert pct["model"]["init_args"]["network"]["init_args"]["encoder"]["init_args"].pop("attention") == "offset"
    assert "attention" not in demo["model"]["init_args"]["network"]["init_args"]["encoder"]["init_args"]
    assert pct["trainer"].pop("default_root_dir") == "runs/demo_pct" and demo["trainer"].pop("default_root_dir")
    assert pct == demo
