"""ScanObjectNN: tiny files in the exact published format, the data module, verify."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from pointea.data import ScanObjectNN, ScanObjectNNDataModule
from pointea.data.cli import main
from pointea.errors import DataError


def write_scanobjectnn(
    path: Path, labels: list[int], offset: float = 0.0, background: int = 512
) -> None:
    """One h5 file as the authors publish it: data (M, 2048, 3) float32, label (M,), mask (M, 2048)
    with -1 on the first ``background`` points (background) and the object's id elsewhere."""
    rng = np.random.default_rng(len(labels))
    count = len(labels)
    data = rng.uniform(-1, 1, (count, 2048, 3)).astype(np.float32) + np.float32(offset)
    mask = np.full((count, 2048), 7, dtype=np.int64)
    mask[:, :background] = -1
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as handle:
        handle.create_dataset("data", data=data)
        handle.create_dataset("label", data=np.asarray(labels, dtype=np.int64))
        handle.create_dataset("mask", data=mask)


@pytest.fixture
def scanobjectnn(tmp_path: Path) -> Path:
    """h5_files/ with PB_T50_RS (8 train, 3 test), OBJ_BG and OBJ_ONLY (same names, two folders)."""
    h5 = tmp_path / "h5_files"
    write_scanobjectnn(
        h5 / "main_split" / "training_objectdataset_augmentedrot_scale75.h5", list(range(0, 15, 2))
    )
    write_scanobjectnn(
        h5 / "main_split" / "test_objectdataset_augmentedrot_scale75.h5", [14, 10, 0]
    )
    write_scanobjectnn(h5 / "main_split" / "training_objectdataset.h5", [1, 2], offset=5.0)
    write_scanobjectnn(h5 / "main_split" / "test_objectdataset.h5", [3], offset=5.0)
    write_scanobjectnn(
        h5 / "main_split_nobg" / "training_objectdataset.h5", [4, 5], offset=-5.0, background=0
    )
    write_scanobjectnn(
        h5 / "main_split_nobg" / "test_objectdataset.h5", [6], offset=-5.0, background=0
    )
    return tmp_path


def test_the_class_names_are_in_the_published_order() -> None:
    names = ScanObjectNN.CLASS_NAMES
    assert len(names) == 15 and names[:5] == ("bag", "bin", "box", "cabinet", "chair")
    # the authors' ModelNet-to-ScanObjectNN map (mapping2.py): bed 10, chair 4, sofa 13, toilet 14
    assert [names.index(n) for n in ("bed", "chair", "sofa", "toilet", "shelf", "display")] == [
        10,
        4,
        13,
        14,
        8,
        6,
    ]


def test_data_module_serves_pb_t50_rs_by_default(scanobjectnn: Path) -> None:
    module = ScanObjectNNDataModule(str(scanobjectnn), num_points=256, batch_size=4)
    assert module.num_classes == 15 and module.class_names[14] == "toilet"
    module.prepare_data()
    module.setup("fit")
    train, test = module.train_set, module.test_set
    assert train.path.name == "training_objectdataset_augmentedrot_scale75.h5"
    assert (len(train), len(test)) == (8, 3) and module.val_set is test  # no validation split
    assert train.shape_labels["label"].tolist() == list(range(0, 15, 2))
    assert train.foreground.shape == (8, 2048) and train.foreground.mean() == pytest.approx(
        1 - 512 / 2048
    )
    batch = next(iter(module.train_dataloader()))
    assert batch["points"].shape == (4, 256, 3) and batch["points"].dtype == torch.float32
    assert batch["label"].dtype == torch.int64 and len(module.train_dataloader()) == 2
    evaluation = next(iter(module.val_dataloader()))
    assert evaluation["label"].tolist() == [14, 10, 0]
    np.testing.assert_array_equal(evaluation["points"][0].numpy(), test.points[0][:256])


@pytest.mark.parametrize(
    ("variant", "offset", "labels"), [("OBJ_BG", 5.0, [1, 2]), ("OBJ_ONLY", -5.0, [4, 5])]
)
def test_variants_read_their_own_files(
    scanobjectnn: Path, variant: str, offset: float, labels: list[int]
) -> None:
    train = ScanObjectNN(scanobjectnn, "train", variant)
    assert train.shape_labels["label"].tolist() == labels
    assert train.points.mean() == pytest.approx(offset, abs=0.05)  # main_split vs main_split_nobg
    assert ScanObjectNN(scanobjectnn / "h5_files" / ("main_split" if variant == "OBJ_BG" else "main_split_nobg"),
                        "test", variant).path.parent.name.startswith("main_split")  # fmt: skip


def test_missing_and_broken_files_are_one_line(scanobjectnn: Path, tmp_path: Path) -> None:
    with pytest.raises(
        DataError,
        match=r"PB_T25 not found: .* has no main_split/training_objectdataset_augmented25_norot\.h5",
    ):
        ScanObjectNN(scanobjectnn, "train", "PB_T25")
    with pytest.raises(DataError, match="hkust-vgd.github.io/scanobjectnn"):
        ScanObjectNNDataModule(str(tmp_path / "nowhere")).prepare_data()
    with pytest.raises(ValueError, match="variant must be one of PB_T50_RS"):
        ScanObjectNNDataModule(str(scanobjectnn), variant="hardest")
    bad = scanobjectnn / "h5_files" / "main_split" / "test_objectdataset.h5"
    write_scanobjectnn(bad, [3, 15])
    with pytest.raises(
        DataError, match=r"test_objectdataset\.h5: 'label' of shape 1 is 15, expected 0..14"
    ):
        ScanObjectNN(scanobjectnn, "test", "OBJ_BG")


def test_verify_reports_every_variant_present(scanobjectnn: Path, capsys) -> None:
    assert main(["verify", str(scanobjectnn)]) == 0
    out = capsys.readouterr().out
    assert "ScanObjectNN layout" in out and "classes: 15 (bag, bin, box, cabinet, ...)" in out
    assert (
        "PB_T50_RS train: training_objectdataset_augmentedrot_scale75.h5: 8 shapes x 2048 points"
        in out
    )
    assert (
        "OBJ_ONLY test: test_objectdataset.h5: 1 shapes x 2048 points" in out
        and "0.0% background" in out
    )
    assert "25.0% background points (full file: 11416)" in out
    (scanobjectnn / "h5_files" / "main_split" / "test_objectdataset.h5").write_bytes(b"not hdf5")
    assert main(["verify", str(scanobjectnn), "--layout", "scanobjectnn"]) == 1
    problems = [line for line in capsys.readouterr().out.splitlines() if "PROBLEM" in line]
    assert len(problems) == 1 and "test_objectdataset.h5: cannot read this HDF5 file" in problems[0]
