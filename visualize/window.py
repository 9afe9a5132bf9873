"""The interactive open3d window and the viewers it shows.

A :class:`Viewer` is pure logic (keys in, frames out): the attention viewer
(:class:`visualize.attention.AttentionViewer`) or :class:`SampleBrowser`, which steps through the
samples of a split (dataset browser, parts truth vs prediction). :class:`ViewerWindow` is the thin
open3d shell that forwards key presses (by ``gui.KeyName`` member name) and Ctrl+clicked scene
points to its viewer and draws the viewer's frames; every decision about what is shown lives in
the viewer, which is tested without a display. The window needs a display (X11/Wayland): on a
headless machine use the commands' ``--save`` instead. open3d is imported only when a window opens.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np

from pointea.errors import InputError
from visualize.cloud import Camera, Cloud, fixed_camera, side_by_side
from visualize.picture import GridLayout, Tile, point_size_for, render_picture, save_image
from visualize.render import add_cloud, prepare_scene

__all__ = [
    "Frame",
    "NO_DISPLAY",
    "SampleBrowser",
    "Viewer",
    "ViewerWindow",
    "browse_or_save",
    "cycle",
    "has_display",
    "key_name",
    "run_window",
]


@dataclass(frozen=True)
class Frame:
    """What the window draws: clouds (already placed), a one-line title, a status text, and the
    camera to see them from (``None``: one framing all the clouds). The window moves its camera
    only when this camera changes (e.g. a new sample), so the user's own view survives key
    presses that only recolour the points."""

    clouds: tuple[Cloud, ...]
    title: str
    status: str
    camera: Camera | None = None


class Viewer(Protocol):
    """What a window shows and how it reacts."""

    def legend(self) -> str:
        """The key map, printed once and shown in the window."""
        ...

    def press(self, key: str) -> bool:
        """React to a key (an open3d ``gui.KeyName`` member name); True when the frame changed."""
        ...

    def pick(self, point: np.ndarray) -> bool:
        """React to a point picked in the scene (3,); True when the frame changed."""
        ...

    def frame(self) -> Frame:
        """The current frame."""
        ...


def cycle(value: int, delta: int, count: int) -> int:
    """``value + delta`` wrapped into [0, count)."""
    return (value + delta) % count


_BROWSER_KEYS = {"N": 1, "P": -1, "RIGHT": 1, "LEFT": -1}


class SampleBrowser:
    """Show one frame per sample; N / RIGHT and P / LEFT step forward and back (wrapping).

    Args:
        make_frame: sample index -> its frame.
        samples: samples in the split.
        start: first sample shown.
    """

    def __init__(self, make_frame: Callable[[int], Frame], samples: int, start: int = 0) -> None:
        if not 0 <= start < samples:
            raise IndexError(f"sample {start} out of range: the split has {samples} samples")
        self._make_frame = make_frame
        self.samples = samples
        self.sample = start

    def legend(self) -> str:
        return "keys:\n  N, RIGHT  next sample\n  P, LEFT   previous sample"

    def press(self, key: str) -> bool:
        if key not in _BROWSER_KEYS or self.samples == 1:
            return False
        self.sample = cycle(self.sample, _BROWSER_KEYS[key], self.samples)
        return True

    def pick(self, point: np.ndarray) -> bool:
        return False

    def frame(self) -> Frame:
        frame = self._make_frame(self.sample)
        return replace(frame, title=f"{frame.title} | sample {self.sample + 1}/{self.samples}")


# Marked points (the offset-attention query point) are drawn this many times the point size.
MARKER_SCALE = 2.0

NO_DISPLAY = "no display (DISPLAY/WAYLAND_DISPLAY unset): use --save out.png for a headless picture"


def has_display() -> bool:
    """Whether a window can be opened here (an X11 or Wayland display is set, or not Linux)."""
    if not sys.platform.startswith("linux"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def key_name(code: int) -> str | None:
    """The ``gui.KeyName`` member name of an open3d key code (``None`` for an unknown code)."""
    from open3d.visualization import gui

    try:
        return gui.KeyName(int(code)).name
    except ValueError:
        return None


class ViewerWindow:
    """An open3d window showing ``viewer``'s frames. Create it after
    ``gui.Application.instance.initialize()``; :func:`run_window` does both and runs the loop.

    The scene is drawn like the headless pictures (:mod:`visualize.render`): true colours on
    white, points sized by :func:`~visualize.picture.point_size_for` for the scene's shorter
    side, seen by the frame's camera (:func:`~visualize.cloud.fixed_camera` when it has none).

    Args:
        viewer: what to show.
        width, height: window size in pixels.
    """

    def __init__(self, viewer: Viewer, width: int = 1024, height: int = 768) -> None:
        from open3d.visualization import gui, rendering

        self.viewer = viewer
        self._gui = gui
        self.window = gui.Application.instance.create_window("pointea", width, height)
        self.scene = gui.SceneWidget()
        self.scene.scene = rendering.Open3DScene(self.window.renderer)
        prepare_scene(self.scene.scene)
        self.status = gui.Label("")
        self.status.text_color = gui.Color(0.1, 0.1, 0.1)
        self.status.background_color = gui.Color(1.0, 1.0, 1.0, 0.8)
        self.legend = gui.Label(viewer.legend())
        self.legend.text_color = gui.Color(0.25, 0.25, 0.25)
        self.legend.background_color = gui.Color(1.0, 1.0, 1.0, 0.8)
        for widget in (self.scene, self.status, self.legend):
            self.window.add_child(widget)
        self.window.set_on_layout(self._on_layout)
        self.window.set_on_key(self._on_key)
        self.scene.set_on_mouse(self._on_mouse)
        self.frame: Frame | None = None
        self.camera: Camera | None = None
        self.point_size = 0.0
        self.show(viewer.frame())

    def _scene_size(self) -> tuple[float, float]:
        """The scene's width and height in pixels (the window's content before the first layout)."""
        rect = self.scene.frame if self.scene.frame.width > 0 else self.window.content_rect
        return float(rect.width), float(rect.height)

    def show(self, frame: Frame) -> None:
        """Draw a frame; the camera moves only when the frame's camera changes (a new sample)."""
        points = np.concatenate([cloud.points for cloud in frame.clouds])  # (N, 3)
        scaling = self.window.scaling
        side = min(self._scene_size()) / scaling
        self.point_size = point_size_for(max(len(cloud.points) for cloud in frame.clouds), int(side)) * scaling
        scene = self.scene.scene
        scene.clear_geometry()
        for i, cloud in enumerate(frame.clouds):
            add_cloud(scene, cloud, self.point_size, self.point_size * MARKER_SCALE, name=f"cloud{i}")
        camera = frame.camera or fixed_camera(points)
        if camera != self.camera:
            self.camera = camera
            self._aim(camera, points)
        self.frame = frame
        self.window.title = frame.title
        self.status.text = frame.status
        self.window.set_needs_layout()
        self.window.post_redraw()

    def _aim(self, camera: Camera, points: np.ndarray) -> None:
        """Look through ``camera``; mouse rotation turns about its target."""
        o3d = _open3d()
        center = np.asarray(camera.center, dtype=np.float32)
        lower, upper = points.min(axis=0), points.max(axis=0)
        self.scene.setup_camera(camera.fov_deg, o3d.geometry.AxisAlignedBoundingBox(lower, upper), center)
        self.scene.look_at(center, np.asarray(camera.eye, dtype=np.float32), np.asarray(camera.up, dtype=np.float32))

    def _on_layout(self, context: object) -> None:
        gui = self._gui
        rect = self.window.content_rect
        resized = (rect.width, rect.height) != (self.scene.frame.width, self.scene.frame.height)
        self.scene.frame = rect
        status = self.status.calc_preferred_size(context, gui.Widget.Constraints())
        self.status.frame = gui.Rect(rect.x, rect.y, status.width, status.height)
        legend = self.legend.calc_preferred_size(context, gui.Widget.Constraints())
        self.legend.frame = gui.Rect(rect.x, rect.get_bottom() - legend.height, legend.width, legend.height)
        if resized and self.frame is not None:
            self.show(self.frame)  # point sizes follow the scene's size

    def _on_key(self, event: object) -> bool:
        if event.type != self._gui.KeyEvent.Type.DOWN:  # type: ignore[attr-defined]
            return False
        name = key_name(event.key)  # type: ignore[attr-defined]
        if name is None:
            return False
        if self.viewer.press(name):
            self.show(self.viewer.frame())
            return True
        return False

    def _on_mouse(self, event: object) -> object:
        gui = self._gui
        result = gui.Widget.EventCallbackResult
        if not (
            event.type == gui.MouseEvent.Type.BUTTON_DOWN  # type: ignore[attr-defined]
            and event.is_modifier_down(gui.KeyModifier.CTRL)  # type: ignore[attr-defined]
        ):
            return result.IGNORED
        x = event.x - self.scene.frame.x  # type: ignore[attr-defined]
        y = event.y - self.scene.frame.y  # type: ignore[attr-defined]

        def on_depth(depth_image: object) -> None:
            depth = float(np.asarray(depth_image)[y, x])
            if depth >= 1.0:  # the far plane: nothing was clicked
                return
            world = self.scene.scene.camera.unproject(x, y, depth, self.scene.frame.width, self.scene.frame.height)

            def apply() -> None:
                if self.viewer.pick(np.asarray(world, dtype=np.float64)):
                    self.show(self.viewer.frame())

            gui.Application.instance.post_to_main_thread(self.window, apply)

        self.scene.scene.scene.render_to_depth_image(on_depth)
        return result.HANDLED


def _open3d():  # noqa: ANN202 - the module, imported late so the pure modules never load open3d
    import open3d

    return open3d


def run_window(viewer: Viewer) -> None:
    """Print the key map, open the window and run until it is closed.

    Raises:
        InputError: no display here (say ``--save out.png`` for a headless picture).
    """
    if not has_display():
        raise InputError(NO_DISPLAY)
    from open3d.visualization import gui

    print(viewer.legend(), flush=True)
    gui.Application.instance.initialize()
    ViewerWindow(viewer)
    gui.Application.instance.run()


def browse_or_save(
    name: str,
    record: Callable[[int], Any],
    count: int,
    start: int,
    note: str,
    picture: Callable[[Any, int], tuple[GridLayout, dict[tuple[int, int], Tile]]],
    window: Callable[[Any], tuple[Sequence[Cloud], str]],
    save: str | None,
    tile_size: int,
) -> int:
    """What the per-sample viewers (parts, scenes, normals) do with their records; returns 0.

    ``record(index)`` is sample ``index``'s record (with a one-line ``caption``), of ``count``.
    With ``save``: the picture of sample ``start``, ``picture(record, tile_size)`` giving its layout
    and tiles, under a header of ``note`` and the caption. Otherwise a window stepping through
    every sample from ``start``: ``window(record)`` gives the clouds, shown side by side, and a
    legend line for the status text; the title reads ``pointea <name> | <note> | <caption>``.
    """
    if save:
        sample = record(start)
        layout, tiles = picture(sample, tile_size)
        image = render_picture(layout, tiles, header=f"{note}\n{sample.caption}")
        print(f"wrote {save_image(image, save)}: {note} | {sample.caption}")
        return 0

    def frame(index: int) -> Frame:
        sample = record(index)
        clouds, legend = window(sample)
        status = f"{note}\n{sample.caption}\n{legend}"
        return Frame(tuple(side_by_side(list(clouds))), f"pointea {name} | {note} | {sample.caption}", status)

    run_window(SampleBrowser(frame, count, start=start))
    return 0
