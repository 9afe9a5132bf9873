"""The window shell: key-code translation (no display needed), and the window itself (display only)."""

from __future__ import annotations

import pytest

from tests.visualize.records import make_record
from visualize.attention_viewer import AttentionViewer
from visualize.browser import SampleBrowser
from visualize.state import KEY_BINDINGS
from visualize.viewer import Frame
from visualize.window import has_display, key_name


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


@pytest.mark.skipif(not has_display(), reason="the interactive window needs a display")
def test_window_opens_draws_and_steps() -> None:
    from open3d.visualization import gui

    from visualize.window import ViewerWindow

    gui.Application.instance.initialize()
    window = ViewerWindow(AttentionViewer(lambda i: make_record(seed=i), samples=2, model_note="m"))
    gui.Application.instance.run_one_tick()
    assert window.viewer.press("N")
    window.show(window.viewer.frame())
    assert "sample 2/2" in window.window.title
    window.window.close()
