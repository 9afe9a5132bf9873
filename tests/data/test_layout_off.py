"""ModelNet40 as Princeton distributes it: ``ModelNet40/<class>/{train,test}/*.off`` meshes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pointea.data import ModelNet40, ModelNet40DataModule
from pointea.data.cli import main
from pointea.data.modelnet40 import modelnet40_archive
from pointea.errors import DataError

CUBE_VERTICES = [(x, y, z) for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)]
CUBE_FACES = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
TETRA_VERTICES = [(0, 0, 0), (1, 0, 0), (0, 1, 0), (0, 0, 1)]
TETRA_FACES = [(0, 2, 1), (0, 1, 3), (0, 3, 2), (1, 2, 3)]


def write_off(path: Path, vertices, faces, glued: bool = False, scale: float = 1.0) -> None:
    """An OFF file as ModelNet ships them; ``glued`` writes the known ``OFF8 6 0`` header."""
    counts = f"{len(vertices)} {len(faces)} 0"
    header = [f"OFF{counts}"] if glued else ["OFF", counts]
    lines = header + [" ".join(f"{scale * c:g}" for c in v) for v in vertices]
    lines += [" ".join(map(str, (len(f), *f))) for f in faces]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def princeton(tmp_path: Path) -> Path:
    """ModelNet40/ with two classes: box (2 train, 1 test; one glued header) and tetra (1, 1)."""
    root = tmp_path / "data"
    folder = root / "ModelNet40"
    write_off(folder / "box" / "train" / "box_0001.off", CUBE_VERTICES, CUBE_FACES)
    write_off(
        folder / "box" / "train" / "box_0002.off", CUBE_VERTICES, CUBE_FACES, glued=True, scale=0.5
    )
    write_off(folder / "box" / "test" / "box_0003.off", CUBE_VERTICES, CUBE_FACES)
    write_off(folder / "tetra" / "train" / "tetra_0001.off", TETRA_VERTICES, TETRA_FACES)
    write_off(folder / "tetra" / "test" / "tetra_0002.off", TETRA_VERTICES, TETRA_FACES)
    return root


def test_meshes_are_sampled_once_into_the_hdf5_layout(princeton: Path) -> None:
    module = ModelNet40DataModule(str(princeton), num_points=256, batch_size=2)
    assert module.class_names == ["box", "tetra"]  # sorted class folders: the label order
    module.prepare_data()
    module.setup("fit")
    train = module.train_set
    assert len(train) == 3 and train.shape_labels["label"].tolist() == [0, 0, 1]
    assert train.points.shape == (3, 2048, 3)  # 2048 per mesh, as in the HDF5 archive
    # every point lies on its mesh's surface: the cube's faces (|c|max = 1, 0.5 for the glued one)
    np.testing.assert_allclose(np.abs(train.points[0]).max(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.abs(train.points[1]).max(axis=1), 0.5, atol=1e-5)
    tetra = train.points[2]
    assert (tetra >= -1e-6).all() and (tetra.sum(axis=1) <= 1 + 1e-5).all()
    # the stored normals are the cube's face normals: unit, axis-aligned, pointing outwards
    cache = module._archive()
    stored = ModelNet40.read_file(cache / "ply_data_train0.h5", 2, normals=True)
    normals = stored.normals[0]
    np.testing.assert_allclose(np.linalg.norm(normals, axis=1), 1.0, atol=1e-5)
    axis = np.abs(normals).argmax(axis=1)
    assert (
        np.sign(normals[np.arange(2048), axis]) == np.sign(train.points[0][np.arange(2048), axis])
    ).all()
    # reused on the next start: same folder, same points (seeded per file)
    assert modelnet40_archive(princeton, "off", num_points=256) == cache
    batch = next(iter(module.train_dataloader()))
    assert batch["points"].shape == (2, 256, 3)


def test_verify_and_bad_meshes(princeton: Path, capsys) -> None:
    assert main(["verify", str(princeton)]) == 0
    out = capsys.readouterr().out
    assert (
        "ModelNet40 .off layout" in out
        and "train: 3 of 3 meshes read and sampled (2 classes)" in out
    )
    flat = princeton / "ModelNet40" / "tetra" / "test" / "tetra_0002.off"
    write_off(flat, [(0, 0, 0), (1, 0, 0), (2, 0, 0)], [(0, 1, 2)])  # zero area
    assert main(["verify", str(princeton), "--layout", "modelnet40_off"]) == 1
    problems = [line for line in capsys.readouterr().out.splitlines() if "PROBLEM" in line]
    assert len(problems) == 1 and "tetra_0002.off" in problems[0]
    with pytest.raises(DataError, match="tetra_0002.off"):
        modelnet40_archive(princeton, "off")
    assert not list((princeton / "pointea_cache").glob(".*"))  # nothing half-written left


def test_a_named_layout_that_is_absent_says_what_it_expects(tmp_path: Path) -> None:
    with pytest.raises(
        DataError, match=r"layout 'off' not found .*ModelNet40/<class>/\{train,test\}"
    ):
        modelnet40_archive(tmp_path, "off")
    with pytest.raises(DataError, match="Also read from the same root: layout normal_resampled"):
        modelnet40_archive(tmp_path, "auto")
    with pytest.raises(DataError, match="layout must be one of auto, hdf5, normal_resampled, off"):
        ModelNet40DataModule(str(tmp_path), layout="ply")
