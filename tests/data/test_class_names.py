"""``shape_names.txt`` against the labels and, for ModelNet40, against its known 40 names (issue 11,
case 6: a names file missing its first line trained a 39-class model that named every class
wrongly)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pointea.data import ModelNet40DataModule
from pointea.data.modelnet40 import write_modelnet40_archive
from pointea.data.cli import main
from pointea.data.modelnet40 import ModelNet40
from pointea.data.synthetic import CLASS_NAMES as SYNTHETIC_NAMES
from pointea.errors import DataError

MN = ModelNet40.ARCHIVE_DIR
MODELNET10 = ["bathtub", "bed", "chair", "desk", "dresser", "monitor", "night_stand", "sofa", "table", "toilet"]


def _archive(root: Path, names: list[str], max_label: int | None = None) -> Path:
    """A tiny archive in the ModelNet40 layout whose labels run 0..max_label (default: all names)."""
    top = len(names) - 1 if max_label is None else max_label
    rng = np.random.default_rng(0)
    labels = np.arange(top + 1)
    splits = {s: (rng.uniform(-1, 1, (labels.size, 16, 3)).astype(np.float32), labels) for s in ("train", "test")}
    write_modelnet40_archive(root / MN, splits, names)
    return root


def _real_subset_with_names(real_subset: Path, root: Path, names: list[str]) -> Path:
    """The real subset's files (linked, not copied) under another ``shape_names.txt``."""
    folder = root / MN
    folder.mkdir(parents=True)
    for path in real_subset.iterdir():
        if path.name != "shape_names.txt":
            (folder / path.name).symlink_to(path)
    (folder / "shape_names.txt").write_text("\n".join(names) + "\n")
    return root


def test_real_subset_with_its_first_name_missing_is_refused_everywhere(real_subset: Path, tmp_path: Path, capsys) -> None:
    names = (real_subset / "shape_names.txt").read_text().split()
    assert names == list(ModelNet40.CLASS_NAMES)
    root = _real_subset_with_names(real_subset, tmp_path, names[1:])
    # the labels alone cannot tell: the real subset has no shape of the last class
    assert main(["verify", str(root)]) == 1
    problems = [line for line in capsys.readouterr().out.splitlines() if "PROBLEM" in line]
    assert len(problems) == 1
    assert "shape_names.txt" in problems[0] and "holds 39 names" in problems[0]
    assert "name 1 is 'bathtub', ModelNet40's label 0 is 'airplane'" in problems[0]
    module = ModelNet40DataModule(str(root), num_points=16, batch_size=2)
    with pytest.raises(DataError, match="name 1 is 'bathtub'"):
        module.num_classes  # noqa: B018 - the CLI links this into the model
    with pytest.raises(DataError, match="name 1 is 'bathtub'"):
        module.setup("fit")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda n: n[1:], r"holds 39 names.* name 1 is 'bathtub', ModelNet40's label 0 is 'airplane'"),
        (lambda n: n[:-1], r"holds 39 names.* it ends after 'wardrobe', before 'xbox'"),
        (lambda n: [*n, "zebra"], r"holds 41 names.* name 41 'zebra' is one too many"),
        (lambda n: [n[1], n[0], *n[2:]], r"name 1 is 'bathtub', ModelNet40's label 0 is 'airplane'"),
        (lambda n: [*n[:7], "cars", *n[8:]], r"name 8 is 'cars', ModelNet40's label 7 is 'car'"),
    ],
)  # fmt: skip
def test_modelnet40_names_must_be_the_known_40_in_order(tmp_path: Path, edit, message: str) -> None:
    names = edit(list(ModelNet40.CLASS_NAMES))
    _archive(tmp_path, names, max_label=5)
    with pytest.raises(DataError, match=message) as info:
        ModelNet40(tmp_path, "test")
    assert str(tmp_path / MN / "shape_names.txt") in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(
    "names", [list(ModelNet40.CLASS_NAMES), list(SYNTHETIC_NAMES), MODELNET10, ["alpha", "beta", "gamma"]]
)
def test_other_label_spaces_in_the_layout_still_load(tmp_path: Path, names: list[str]) -> None:
    _archive(tmp_path, names)
    dataset = ModelNet40(tmp_path, "train")
    assert dataset.class_names == names and dataset.shape_labels["label"].max() == len(names) - 1
    assert ModelNet40DataModule(str(tmp_path)).num_classes == len(names)


def test_a_label_beyond_the_names_is_refused_and_the_names_file_named(tmp_path: Path, capsys) -> None:
    _archive(tmp_path, ["alpha", "beta", "gamma"], max_label=3)  # label 3 has no name
    names_file = tmp_path / MN / "shape_names.txt"
    with pytest.raises(DataError, match=r"'label' of shape 3 is 3, expected 0\.\.2 \(one per class name in .*shape_names\.txt\)"):
        ModelNet40DataModule(str(tmp_path)).setup("fit")
    assert main(["verify", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert f"one per class name in {names_file}" in out
