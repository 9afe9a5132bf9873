"""Drive the real attention window on the X display in ``$DISPLAY`` (a child process of
``test_window.py``, so that an open3d crash or hang cannot take pytest down).

Runs ``python -m visualize.attention --config C --ckpt K --index 0`` with its window loop replaced
by a scripted one: after drawing, take a screenshot of the window, then press each key through
the window's registered key callback and take another. Writes ``shot{i}.png`` (0: before any key)
and ``titles.json`` (the window title after each step) into OUT.

    python -m tests.visualize.window_driver OUT KEYS -- ATTENTION_ARGS...
"""

from __future__ import annotations

import json
import os
import sys
import time
import types
from pathlib import Path

from visualize import attention, window
from visualize.window import Viewer

SETTLE_S = 1.0  # ticks of the event loop after a change, before the screenshot
FIRST_FRAME_S = 30.0  # the longest wait for a window that is still all black (not drawn yet)
CHANGE_S = 30.0  # the longest wait, after a key, for a frame unlike the one before it


def _scripted(out: Path, keys: list[str]):  # noqa: ANN202
    def run(viewer: Viewer) -> None:
        from open3d.visualization import gui
        from PIL import ImageGrab

        app = gui.Application.instance
        app.initialize()
        shown = window.ViewerWindow(viewer)

        def settle() -> None:
            end = time.monotonic() + SETTLE_S
            while time.monotonic() < end:
                app.run_one_tick()
                time.sleep(0.01)

        def shot(i: int, before: bytes | None) -> bytes:
            # The first frame can take several seconds on a busy machine's software renderer:
            # until it is drawn the window is all black, so keep ticking (at most FIRST_FRAME_S).
            # After a key, keep ticking until the frame differs from the one before (at most
            # CHANGE_S): a loaded machine redraws late, and a key that changes nothing still
            # ends with an unchanged shot, which the test refuses.
            give_up = time.monotonic() + (FIRST_FRAME_S if before is None else CHANGE_S)
            while True:
                settle()
                frame = shown.window.os_frame  # the window's content on the screen
                box = (frame.x, frame.y, frame.x + frame.width, frame.y + frame.height)
                image = ImageGrab.grab(bbox=box, xdisplay=os.environ["DISPLAY"])
                drawn = image.getextrema() != ((0, 0), (0, 0), (0, 0))
                new = before is None or image.tobytes() != before
                if (drawn and new) or time.monotonic() > give_up:
                    break
            image.save(out / f"shot{i}.png")
            titles.append(shown.window.title)
            return image.tobytes()

        titles: list[str] = []
        previous = shot(0, None)
        for i, key in enumerate(keys, start=1):
            event = types.SimpleNamespace(type=gui.KeyEvent.Type.DOWN, key=int(getattr(gui.KeyName, key)))
            shown._on_key(event)  # the key callback ViewerWindow registered with the window
            previous = shot(i, previous)
        (out / "titles.json").write_text(json.dumps(titles))
        sys.stdout.flush()
        os._exit(0)  # leave without open3d's teardown (it can abort on exit under Xvfb)

    return run


def main(argv: list[str]) -> int:
    out, keys, rest = Path(argv[0]), [k for k in argv[1].split(",") if k], argv[argv.index("--") + 1 :]
    attention.run_window = _scripted(out, keys)  # the window loop the attention command calls
    return attention.main(rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
