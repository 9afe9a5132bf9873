"""SemanticKITTI: the two real scans with the release's label map, and broken copies of them."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from pointea.data.semantickitti import (
    CLASS_NAMES,
    LEARNING_MAP,
    SemanticKITTIDataModule,
    read_label_config,
)
from pointea.errors import DataError, SharedScenesWarning
from tests.data.conftest import shared_sample

SEQUENCE = Path("dataset") / "sequences" / "00"


def test_the_module_map_is_the_releases() -> None:
    learning, names, split = read_label_config(
        shared_sample("semantickitti_real_sample") / "semantic-kitti.yaml"
    )
    assert learning == LEARNING_MAP and names == CLASS_NAMES and len(names) == 19
    assert split["valid"] == (8,) and 8 not in split["train"]


def test_real_scans_are_read_and_mapped(tmp_path: Path) -> None:
    sample = shared_sample("semantickitti_real_sample")
    data = SemanticKITTIDataModule(str(sample), train_sequences=[0], val_sequences=[0], test_sequences=[0],
                                   num_points=1024, batch_size=2)  # fmt: skip
    assert data.label_config == str(sample / "semantic-kitti.yaml")
    assert (data.num_classes, data.in_channels) == (19, 2)
    with pytest.warns(SharedScenesWarning) as caught:  # the sample's one sequence is trained on and scored
        data.setup()
    assert [str(w.message).split(" scenes")[0] for w in caught] == ["SemanticKITTIDataModule: 2 of the 2 val"]
    scenes = data.test_scenes()
    assert [s.name for s in scenes] == ["00/000000", "00/000001"]
    scan = np.fromfile(sample / SEQUENCE / "velodyne" / "000000.bin", dtype=np.float32).reshape(
        -1, 4
    )
    raw = np.fromfile(sample / SEQUENCE / "labels" / "000000.label", dtype=np.uint32) & 0xFFFF
    assert len(np.unique(raw)) >= 15  # README: 17 raw ids over the two scans
    expected = np.array([LEARNING_MAP[int(r)] - 1 if LEARNING_MAP[int(r)] else -1 for r in raw])
    batch = next(iter(data.test_dataloader()))
    assert batch["points"].shape == (1, scan.shape[0], 3)
    np.testing.assert_array_equal(batch["labels"][0].numpy(), expected)
    np.testing.assert_allclose(batch["features"][0, :, 0].numpy(), scan[:, 3])  # remission
    np.testing.assert_allclose(
        np.diff(batch["points"][0].numpy(), axis=0), np.diff(scan[:, :3], axis=0), atol=1e-4
    )
    cars = expected == CLASS_NAMES.index("car")
    assert cars.any() and (expected == -1).any()  # real labels: cars, and unlabelled points
    train = next(iter(data.train_dataloader()))
    assert train["points"].shape == (2, 1024, 3) and int(train["labels"].max()) < 19


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    sample = shared_sample("semantickitti_real_sample")
    shutil.copytree(sample / "dataset", tmp_path / "dataset")
    return tmp_path


def test_broken_scans_are_one_line_naming_the_file(copy: Path) -> None:
    labels = copy / SEQUENCE / "labels" / "000001.label"
    labels.write_bytes(labels.read_bytes()[:-8])
    with pytest.raises(
        DataError, match=r"000001.label: \d+ labels for the \d+ points of 000001.bin"
    ):
        SemanticKITTIDataModule(str(copy), train_sequences=[0]).setup("fit")
    scan = copy / SEQUENCE / "velodyne" / "000001.bin"
    scan.write_bytes(scan.read_bytes()[:-6])
    with pytest.raises(DataError, match=r"000001.bin: \d+ bytes, not a multiple of 16"):
        SemanticKITTIDataModule(str(copy), train_sequences=[0]).setup("fit")
    with pytest.raises(DataError, match="sequence 08 of the test split not found"):
        SemanticKITTIDataModule(str(copy)).setup("test")
    shutil.rmtree(copy / SEQUENCE / "labels")
    with pytest.raises(DataError, match="training sequence 00 has no labels"):
        SemanticKITTIDataModule(str(copy), train_sequences=[0]).setup("fit")
    with pytest.raises(DataError, match="no SemanticKITTI sequences found"):
        SemanticKITTIDataModule(str(copy / "nothing")).setup("fit")


def _fit_config(tmp_path: Path, root: Path, workers: int) -> Path:
    """configs/demo_lidar.yaml's small network on the SemanticKITTI copy, a few 256-point crops."""
    import yaml

    from tests.training.conftest import REPO

    config = yaml.safe_load((REPO / "configs" / "demo_lidar.yaml").read_text())
    config["trainer"].update(default_root_dir=str(tmp_path / "run"), max_epochs=1, num_sanity_val_steps=0,
                             enable_progress_bar=False)  # fmt: skip
    config["data"] = {"class_path": "pointea.data.semantickitti.SemanticKITTIDataModule", "init_args": {
        "root": str(root), "train_sequences": [0], "val_sequences": [0], "test_sequences": [0],
        "num_points": 256, "crops_per_epoch": 4, "batch_size": 2, "num_workers": workers}}  # fmt: skip
    path = tmp_path / f"kitti_{workers}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.parametrize("workers", [0, 2])
def test_a_nan_scan_is_one_line_through_pointea_fit(copy: Path, workers: int) -> None:
    """Raised in a DataLoader worker, the DataError reached the command as "Caught DataError in
    DataLoader worker process 0." (torch's wrapper), naming neither the file nor the point."""
    from pointea.training import cli_main

    path = copy / SEQUENCE / "velodyne" / "000000.bin"
    scan = np.fromfile(path, dtype=np.float32).reshape(-1, 4)
    scan[100, 0] = np.nan
    scan.tofile(path)
    with pytest.raises(SystemExit) as exit_:
        cli_main(["fit", "--config", str(_fit_config(copy, copy, workers))])
    message = str(exit_.value.code)
    assert message.startswith("pointea: error: ") and "\n" not in message, message
    assert "000000.bin: point 100 of 00/000000 has coordinates [nan" in message, message


def test_a_nan_remission_is_refused_where_the_scan_is_served(copy: Path) -> None:
    """It was served: every crop holding the point had a NaN intensity feature."""
    path = copy / SEQUENCE / "velodyne" / "000001.bin"
    scan = np.fromfile(path, dtype=np.float32).reshape(-1, 4)
    scan[7, 3] = np.nan
    scan.tofile(path)
    data = SemanticKITTIDataModule(str(copy), train_sequences=[0], val_sequences=[0], test_sequences=[0])
    data.setup("test")
    with pytest.raises(DataError, match=r"000001.bin: point 7 of 00/000001 has remission nan; expected a finite"):
        list(data.test_dataloader())


def _edited_config(tmp_path: Path, edit) -> Path:
    import yaml

    content = yaml.safe_load((shared_sample("semantickitti_real_sample") / "semantic-kitti.yaml").read_text())
    edit(content)
    path = tmp_path / "semantic-kitti.yaml"
    path.write_text(yaml.safe_dump(content))
    return path


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c["learning_map"].__setitem__(10, 40), "raw id 10 maps to learning id 40, expected 0..19"),  # served label 39
        (lambda c: c["learning_map"].__setitem__(10, -5), "raw id 10 maps to learning id -5"),  # silently ignored
        (lambda c: c["learning_map"].__setitem__(-1, 3), "raw id -1 is not a semantic id 0..65535"),  # set lookup[-1]
        (lambda c: c["learning_map"].__setitem__(10**12, 3), "raw id 1000000000000 is not a semantic id"),  # MemoryError
        (lambda c: c["learning_map_inv"].pop(5), "learning_map_inv has no learning id 5"),
        (lambda c: c.pop("split"), "no split; expected the release's keys"),
        (lambda c: c.pop("learning_map"), "no learning_map; expected the release's keys"),
    ],
)
def test_label_configs_that_would_mislabel_are_refused(tmp_path: Path, edit, message: str) -> None:
    from pointea.errors import ConfigError

    with pytest.raises(ConfigError, match=message) as error:
        read_label_config(_edited_config(tmp_path, edit))
    assert "ConfigError(" not in str(error.value)  # its own line, not re-wrapped in another


def test_label_configs_that_are_not_yaml_maps(tmp_path: Path) -> None:
    from pointea.errors import ConfigError

    (tmp_path / "binary.yaml").write_bytes(b"\xff\x00\x93garbage")  # a bare UnicodeDecodeError before
    with pytest.raises(ConfigError, match=r"binary.yaml: not a readable SemanticKITTI label config \(not UTF-8"):
        read_label_config(tmp_path / "binary.yaml")
    (tmp_path / "empty.yaml").write_text("")
    with pytest.raises(ConfigError, match="empty.yaml: expected a mapping with the release's keys .* got NoneType"):
        read_label_config(tmp_path / "empty.yaml")
