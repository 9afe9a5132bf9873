"""The window shell: key-code translation (no display needed), and the real window on an X
display: an Xvfb of its own when ``Xvfb`` is installed (Debian ``xvfb``), else ``$DISPLAY``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.visualize.conftest import Run
from visualize.attention import KEY_BINDINGS
from visualize.colors import scalar_colors
from visualize.window import Frame, SampleBrowser, has_display, key_name

REPO = Path(__file__).resolve().parents[2]
DRIVER_TIMEOUT_S = 120


def test_every_bound_key_is_an_open3d_key_name() -> None:
    from open3d.visualization import gui

    for binding in KEY_BINDINGS:
        assert key_name(int(getattr(gui.KeyName, binding.key))) == binding.key
    assert key_name(10**6) is None


def test_browser_steps_and_wraps() -> None:
    frames = SampleBrowser(lambda i: Frame((), f"#{i}", ""), samples=3, start=2)
    assert frames.press("N") and frames.sample == 0
    assert frames.press("LEFT") and frames.sample == 2
    assert not frames.press("M") and frames.frame().title == "#2 | sample 3/3"


@pytest.fixture(scope="module")
def x_display() -> Iterator[str]:
    """An X display for the window: a fresh Xvfb on a free display number (killed afterwards)
    when ``Xvfb`` is installed, else the session's own display."""
    if shutil.which("Xvfb") is None:
        if not has_display():
            message = "neither a display nor Xvfb (Debian package xvfb) to open the window on"
            if os.environ.get("CI"):
                pytest.fail(f"{message}: the set-up (make test) installs xvfb")
            pytest.skip(message)
        yield os.environ.get("DISPLAY", "")
        return
    read, write = os.pipe()
    # -displayfd: Xvfb picks a free display number and writes it once it accepts connections.
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
        pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    os.close(write)
    try:
        with os.fdopen(read) as pipe:
            number = pipe.readline().strip()  # "" when Xvfb died first
        if not number:
            pytest.fail(f"Xvfb did not start (exit status {server.poll()})")
        yield f":{number}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _drive(display: str, run: Run, out: Path, keys: list[str]) -> tuple[list[np.ndarray], list[str]]:
    """Run the real window for ``run``'s checkpoint in a child process; its screenshots (before
    any key, then after each key) and window titles."""
    from PIL import Image

    command = [sys.executable, "-m", "tests.visualize.window_driver", str(out), ",".join(keys),
               "--", "--config", str(run.config), "--ckpt", str(run.ckpt), "--index", "0"]  # fmt: skip
    env = {**os.environ, "DISPLAY": display}
    env.pop("WAYLAND_DISPLAY", None)
    try:
        done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=DRIVER_TIMEOUT_S)
    except subprocess.TimeoutExpired as error:  # subprocess.run has killed the child
        pytest.fail(f"the window did not finish within {DRIVER_TIMEOUT_S} s:\n{error.stdout}\n{error.stderr}")
    assert done.returncode == 0, f"window driver failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    shots = [np.asarray(Image.open(out / f"shot{i}.png").convert("RGB")) for i in range(len(keys) + 1)]
    return shots, json.loads((out / "titles.json").read_text())


def _scene(shot: np.ndarray) -> np.ndarray:
    """The right half of the window: the scene, clear of the status and legend panels (top and
    bottom left)."""
    return shot[:, shot.shape[1] // 2 :]


def _coloured(image: np.ndarray) -> np.ndarray:
    """Pixels of strongly coloured (saturated) points: not the white background, grey text or a
    washed-out tone-mapped colour. (H, W) bool."""
    channels = image.astype(int)
    return channels.max(axis=-1) - channels.min(axis=-1) > 60


@pytest.mark.slow  # a real open3d window on Xvfb, in a subprocess
def test_window_draws_coloured_points_and_keys_change_them(x_display: str, classification_run: Run, tmp_path: Path) -> None:
    keys = ["RIGHT", "M", "F"]
    shots, titles = _drive(x_display, classification_run, tmp_path, keys)
    first = shots[0]
    assert first.shape[0] >= 400 and first.shape[1] >= 600  # the window (1024 x 768), not a sliver
    scene = _scene(first)
    # True colours: the background is pure white (tone mapping would make it grey) ...
    assert (scene == 255).all(axis=-1).mean() > 0.5
    # ... and the points are big and coloured, in viridis (the window starts colouring by weight).
    coloured = _coloured(scene)
    assert coloured.sum() > 1500, f"only {coloured.sum()} coloured pixels: points missing, tiny or washed out"
    viridis = np.round(scalar_colors(np.linspace(0.0, 1.0, 256)) * 255).astype(int)  # (256, 3)
    pixels = scene[coloured].astype(int)  # (P, 3)
    nearest = np.abs(pixels[:, None, :] - viridis[None, :, :]).sum(axis=-1).min(axis=1)  # (P,)
    assert np.mean(nearest <= 6) > 0.9, "point colours are not viridis as given (post-processing on?)"
    # Framed like the pictures: the full cloud (after F) fills the square the camera frames, in
    # the middle of the window, and none of it is cut off.
    full = shots[3]
    rows, cols = (np.nonzero(_coloured(full).any(axis=axis))[0] for axis in (1, 0))
    side = min(full.shape[:2])
    assert max(np.ptp(rows), np.ptp(cols)) > 0.8 * side, "the cloud is not framed: it fills little of the window"
    assert abs((rows.min() + rows.max()) / 2 - full.shape[0] / 2) < 0.1 * side
    assert abs((cols.min() + cols.max()) / 2 - full.shape[1] / 2) < 0.1 * side
    assert rows.min() > 0 and cols.min() > 0 and rows.max() < full.shape[0] - 1 and cols.max() < full.shape[1] - 1
    # Every key changed what is shown, and the title says how.
    for before, after, key in zip(shots, shots[1:], keys):
        changed = np.abs(before.astype(int) - after.astype(int)).sum(axis=-1) > 30
        assert changed.sum() > 200, f"{key} did not change the picture"
    assert "head 1/" in titles[0] and "head 2/" in titles[1]
    assert "memory slot attended most" in titles[2] and "full cloud" in titles[3]
    # F: the full cloud has many more points than the sampled ones.
    assert _coloured(_scene(shots[3])).sum() > 1.5 * _coloured(_scene(shots[2])).sum()
