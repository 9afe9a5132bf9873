"""The viewer commands' numbers and ``--save`` are checked where they enter, before anything is
loaded or rendered (issue 11: ``--tile-size 100000`` aborted the process with exit 134; ``--save``
into a missing folder rendered first and then printed a traceback; ``--save x.jpg`` wrote PNG)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pointea.errors import InputError
from visualize import attention, curves, dataset, parts
from visualize.cloud import Cloud, fixed_camera
from visualize.picture import GridLayout, Tile, check_save_path, render_picture, save_image
from visualize.render import MAX_TILE_SIZE, TileRenderer


def _error(capsys: pytest.CaptureFixture[str], command: Callable[[list[str]], int], argv: list[str]) -> str:
    """The one ``error:`` line of a command that must fail with exit status 2, no traceback."""
    with pytest.raises(SystemExit) as exit_info:
        command(argv)
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 and lines[1].endswith(" --help lists the options")  # no usage block
    assert "error: " in lines[0]
    return lines[0].split("error: ", 1)[1]


@pytest.mark.parametrize(
    ("command", "option", "value", "allowed"),
    [
        (attention.main, "--tile-size", "100000", f"an integer in 32..{MAX_TILE_SIZE}"),
        (attention.main, "--tile-size", "31", f"an integer in 32..{MAX_TILE_SIZE}"),
        (parts.main, "--tile-size", "-1", f"an integer in 32..{MAX_TILE_SIZE}"),
        (dataset.main, "--tile-size", "big", f"an integer in 32..{MAX_TILE_SIZE}"),
        (attention.main, "--slot", "0", "an integer >= 1"),
        (attention.main, "--query", "-4", "an integer >= 1"),
        (attention.main, "--seed", "-1", "an integer in 0..4294967295"),
        (parts.main, "--seed", "99999999999", "an integer in 0..4294967295"),
        (dataset.main, "--count", "0", "an integer in 1..256"),
        (dataset.main, "--cols", "1000", "an integer in 1..32"),
    ],
)  # fmt: skip
def test_numbers_are_checked_as_they_are_parsed(tmp_path: Path, capsys: pytest.CaptureFixture[str], command, option: str, value: str, allowed: str) -> None:
    missing = str(tmp_path / "no.yaml")  # never read: the number is refused first
    line = _error(capsys, command, ["--config", missing, option, value, "--save", str(tmp_path / "x.png")])
    shown = repr(value) if not value.lstrip("-").isdigit() else value
    assert line == f"argument {option}: must be {allowed}, got {shown}"


def test_curves_columns_are_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = _error(capsys, curves.main, [str(tmp_path), "--save", str(tmp_path / "c.png"), "--columns", "0"])
    assert line == "argument --columns: must be an integer in 1..16, got 0"


@pytest.mark.slow  # a 4096 x 4096 software render
def test_the_renderer_works_at_the_cap_and_refuses_beyond_it() -> None:
    points = np.random.default_rng(0).uniform(-1, 1, (400, 3))
    cloud = Cloud(points, np.full((400, 3), 0.1))
    with TileRenderer(MAX_TILE_SIZE, MAX_TILE_SIZE) as renderer:
        image = renderer.render(cloud, fixed_camera(points), point_size=40.0)
    assert image.shape == (MAX_TILE_SIZE, MAX_TILE_SIZE, 3)
    assert (image < 128).all(axis=-1).mean() > 0.01  # dark points drawn on white
    for size in (MAX_TILE_SIZE + 1, 0, 100_000):
        with pytest.raises(ValueError, match=rf"width must be an integer in 1\.\.{MAX_TILE_SIZE} pixels, got {size}"):
            TileRenderer(size, 64)
    for point_size in (0.0, float("nan"), 1e9):
        with pytest.raises(ValueError, match="point_size must be in"):
            TileRenderer(64, 64, point_size=point_size)


def test_a_picture_too_large_to_compose_is_refused_before_rendering() -> None:
    layout = GridLayout(rows=8, cols=32, tile_width=MAX_TILE_SIZE, tile_height=MAX_TILE_SIZE)
    points = np.zeros((1, 3))
    tiles = {(0, 0): Tile(Cloud(points, np.zeros((1, 3))), fixed_camera(np.eye(3)), "t", 4.0)}
    with pytest.raises(InputError, match=r"the picture would be \d+ x \d+ pixels \(8 x 32 tiles of 4096 pixels\)"):
        render_picture(layout, tiles)


# --save ----------------------------------------------------------------------------------------------


def test_save_paths_are_checked_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "folder.png").mkdir()
    cases = {
        tmp_path / "missing" / "x.png": r"folder .*missing does not exist \(it is not created; make it first\)",
        tmp_path / "file.txt" / "x.png": r"file\.txt is not a folder",
        tmp_path / "folder.png": r"folder\.png is a folder, expected a picture file name",
        tmp_path / "x.bmp": r"unknown picture type '\.bmp', use one of \.png, \.jpg, \.jpeg",
        tmp_path / "x": r"unknown picture type '\(no suffix\)'",
    }
    for path, message in cases.items():
        with pytest.raises(InputError, match=message):
            check_save_path(path)
    assert not (tmp_path / "missing").exists()  # not created
    assert check_save_path(tmp_path / "x.JPG") == tmp_path / "x.JPG"


def test_an_unwritable_folder_is_refused(tmp_path: Path) -> None:
    if os.geteuid() == 0:  # root writes through permission bits: use a file system that refuses
        folder = Path("/proc")
    else:
        folder = tmp_path / "locked"
        folder.mkdir()
        folder.chmod(0o555)
    with pytest.raises(InputError, match=r"folder .* is not writable"):
        check_save_path(folder / "x.png")


@pytest.mark.parametrize(("suffix", "magic", "image_format"), [(".png", b"\x89PNG", "PNG"), (".jpg", b"\xff\xd8\xff", "JPEG"), (".jpeg", b"\xff\xd8\xff", "JPEG")])
def test_save_writes_the_format_its_suffix_names(tmp_path: Path, suffix: str, magic: bytes, image_format: str) -> None:
    image = np.zeros((40, 60, 3), np.uint8)
    image[:, 30:] = (200, 40, 10)
    path = save_image(image, tmp_path / f"picture{suffix}")
    assert path.read_bytes().startswith(magic)
    with Image.open(path) as opened:
        assert opened.format == image_format and opened.size == (60, 40)
        decoded = np.asarray(opened.convert("RGB")).astype(int)
    error = np.abs(decoded - image)
    if image_format == "PNG":
        assert error.max() == 0  # lossless
    else:
        assert error.mean() < 2 and error[:, :26].max() <= 4 and error[:, 34:].max() <= 4  # lossy near the edge only


@pytest.mark.parametrize("command", [attention.main, parts.main, dataset.main])
def test_a_bad_save_path_is_refused_before_anything_is_loaded(tmp_path: Path, capsys: pytest.CaptureFixture[str], command) -> None:
    missing_config = str(tmp_path / "no.yaml")  # never read: the save path is refused first
    line = _error(capsys, command, ["--config", missing_config, "--save", str(tmp_path / "out" / "x.png")])
    assert line.startswith(f"--save {tmp_path / 'out' / 'x.png'}: folder {tmp_path / 'out'} does not exist")
    line = _error(capsys, command, ["--config", missing_config, "--save", str(tmp_path / "x.gif")])
    assert "unknown picture type '.gif'" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_curves_checks_its_save_path_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = _error(capsys, curves.main, [str(tmp_path / "no-run"), "--save", str(tmp_path / "out" / "c.png")])
    assert "does not exist (it is not created" in line


def test_a_jpeg_picture_end_to_end(tmp_path: Path, offset_config: Path) -> None:
    out = tmp_path / "data.jpg"
    assert dataset.main(["--config", str(offset_config), "--count", "2", "--save", str(out), "--tile-size", "64"]) == 0
    with Image.open(out) as opened:
        assert opened.format == "JPEG"
