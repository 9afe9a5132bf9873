"""The viewers on files: ``visualize.dataset --files`` and ``visualize.attention --file`` render real
PNGs from point and mesh files written in tmp_path, and name a bad file in one error line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from pointea.io import PointCloud, write_points
from tests.data.class_folder_files import write_class_folder
from tests.io.conftest import CUBE_OFF
from tests.visualize.conftest import Run
from tests.visualize.test_commands import TILE, _error, _inked, _png, _tile
from visualize import attention, dataset
from visualize.picture import GridLayout


def _scan(tmp_path: Path) -> Path:
    """A labelled .ply: a half sphere (label 0) on a slab (label 1), in metres."""
    rng = np.random.default_rng(0)
    dome = rng.normal(size=(600, 3))
    dome[:, 2] = np.abs(dome[:, 2])
    dome = dome / np.linalg.norm(dome, axis=1, keepdims=True) + [0, 0, 0.2]
    slab = np.c_[rng.uniform(-1.5, 1.5, (400, 2)), rng.uniform(0, 0.2, 400)]
    points = np.vstack([dome, slab]).astype(np.float32) * 3 + 100
    return write_points(
        tmp_path / "scan.ply",
        PointCloud(points=points),
        labels=np.r_[np.zeros(600, int), np.ones(400, int)],
    )


def test_dataset_files_grid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scan = _scan(tmp_path)
    mesh = tmp_path / "cube.off"
    mesh.write_text(CUBE_OFF)
    text = tmp_path / "ramp.xyz"
    xy = np.random.default_rng(1).uniform(0, 1, (500, 2))
    np.savetxt(text, np.c_[xy, xy[:, 0]], fmt="%.5f")  # height grows along x
    out = tmp_path / "files.png"
    argv = [
        "--files",
        str(scan),
        str(mesh),
        str(text),
        "--points",
        "512",
        "--save",
        str(out),
        "--tile-size",
        str(TILE),
    ]
    assert dataset.main(argv) == 0
    assert f"wrote {out}: 3 file(s)" in capsys.readouterr().out
    image = _png(out)
    layout = GridLayout(rows=1, cols=3, tile_width=TILE, tile_height=TILE)
    assert image.shape == (layout.size[1], layout.size[0], 3)
    tiles = [_tile(image, layout, 0, c) for c in range(3)]
    assert all(_inked(tile) > 0.02 for tile in tiles)

    # the labelled scan shows its two labels' palette colours (tab10 blue and orange)
    def count(tile: np.ndarray, rgb: tuple[int, int, int]) -> int:
        return int((np.abs(tile.astype(int) - rgb).sum(axis=-1) < 40).sum())

    from visualize.colors import categorical_palette

    blue, orange = (np.round(categorical_palette(2) * 255).astype(int)).tolist()
    assert count(tiles[0], blue) > 20 and count(tiles[0], orange) > 20
    # the ramp is coloured by height: many distinct colours, not one
    colours = {
        tuple(c) for c in tiles[2].reshape(-1, 3)[(tiles[2] != 255).any(axis=-1).reshape(-1)]
    }
    assert len(colours) > 30


def test_dataset_files_bad_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "broken.xyz"
    bad.write_text("1 2 3\n4 5\n")
    line = _error(capsys, dataset.main, ["--files", str(bad), "--save", str(tmp_path / "x.png")])
    assert f"{bad}: line 2: 2 columns, expected 3" in line
    assert not (tmp_path / "x.png").exists()


def test_attention_on_a_single_file(
    tmp_path: Path, classification_run: Run, capsys: pytest.CaptureFixture[str]
) -> None:
    scan = _scan(tmp_path)
    out = tmp_path / "attention.png"
    argv = [
        "--config",
        str(classification_run.config),
        "--ckpt",
        str(classification_run.ckpt),
        "--file",
        str(scan),
    ]
    assert attention.main([*argv, "--save", str(out), "--tile-size", str(TILE)]) == 0
    printed = capsys.readouterr().out
    assert "scan.ply: predicted" in printed and "checkpoint last.ckpt" in printed
    image = _png(out)
    layout = GridLayout(
        rows=2, cols=5, tile_width=TILE, tile_height=TILE
    )  # 2 layers x (input + 4 heads)
    assert image.shape == (layout.size[1], layout.size[0], 3)
    for row in range(2):
        for col in range(5):
            assert _inked(_tile(image, layout, row, col)) > 0.02


def test_attention_file_needs_a_classification_config(
    tmp_path: Path, segmentation_run: Run, capsys: pytest.CaptureFixture[str]
) -> None:
    line = _error(
        capsys,
        attention.main,
        [
            "--config",
            str(segmentation_run.config),
            "--file",
            str(_scan(tmp_path)),
            "--save",
            str(tmp_path / "x.png"),
        ],
    )
    assert "--file needs a classification config" in line


def test_dataset_viewer_reads_a_class_folder_config(
    tmp_path: Path, classification_run: Run
) -> None:
    folder = tmp_path / "my_shapes"
    write_class_folder(folder, per_class=3, points=200)
    config = yaml.safe_load(classification_run.config.read_text())
    config["data"] = {
        "class_path": "pointea.data.ClassFolderDataModule",
        "init_args": {"root": str(folder), "num_points": 128, "file_points": 256},
    }
    path = tmp_path / "folder.yaml"
    path.write_text(yaml.safe_dump(config))
    out = tmp_path / "folder.png"
    assert (
        dataset.main(
            [
                "--config",
                str(path),
                "--split",
                "train",
                "--count",
                "3",
                "--save",
                str(out),
                "--tile-size",
                str(TILE),
            ]
        )
        == 0
    )
    image = _png(out)
    layout = GridLayout(rows=1, cols=3, tile_width=TILE, tile_height=TILE)
    assert all(_inked(_tile(image, layout, 0, c)) > 0.02 for c in range(3))
