"""A headless picture: clouds rendered offscreen into the tiles of a grid, titled, saved as PNG
or JPEG (the ``--save`` suffix decides).

``--save`` is checked before anything is loaded or rendered (:func:`check_save_path`): a known
suffix, an existing folder that can be written. A missing folder is not created: a typo in a path
should not grow a new folder tree silently, so the command says which folder is missing instead.

Shape legend: H, W picture height and width.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pointea.errors import InputError
from visualize.camera import Camera
from visualize.cloud import Cloud
from visualize.grid import GridLayout, compose
from visualize.render import TileRenderer

__all__ = [
    "IMAGE_FORMATS",
    "MAX_PICTURE_PIXELS",
    "MAX_PICTURE_SIDE",
    "Tile",
    "check_picture_size",
    "check_save_path",
    "point_size_for",
    "render_picture",
    "save_image",
]

#: Picture file suffix -> the Pillow format written.
IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}
#: The largest picture side: matplotlib's Agg canvas, which composes the tiles, stops below 2**16.
MAX_PICTURE_SIDE = 32_768
#: The most pixels in one picture (the canvas holds 4 bytes a pixel, about 1 GiB here, plus copies).
MAX_PICTURE_PIXELS = 256_000_000


@dataclass(frozen=True)
class Tile:
    """One tile: what to draw, from where, under which title."""

    cloud: Cloud
    camera: Camera
    title: str
    point_size: float


def point_size_for(num_points: int, tile_size: int) -> float:
    """A rendered point size (pixels) that keeps sparse clouds readable and dense ones crisp:
    about 7 px for 256 points, 4 px for 2048, on a 256-pixel tile."""
    return float(np.clip(tile_size / 256 * 7.0 * (256 / max(num_points, 1)) ** 0.27, 2.0, 16.0))


def check_picture_size(layout: GridLayout) -> None:
    """:class:`InputError` when the composed picture would exceed :data:`MAX_PICTURE_SIDE` or
    :data:`MAX_PICTURE_PIXELS` (checked before anything is rendered)."""
    width, height = layout.size
    if max(width, height) > MAX_PICTURE_SIDE or width * height > MAX_PICTURE_PIXELS:
        raise InputError(
            f"the picture would be {width} x {height} pixels ({layout.rows} x {layout.cols} tiles of "
            f"{layout.tile_width} pixels), more than the {MAX_PICTURE_SIDE} pixels a side and "
            f"{MAX_PICTURE_PIXELS // 10**6} megapixels allowed; use a smaller --tile-size or fewer tiles"
        )


def render_picture(layout: GridLayout, tiles: Mapping[tuple[int, int], Tile], header: str = "") -> np.ndarray:
    """Render every tile with one offscreen renderer and compose the titled grid.

    Raises:
        InputError: the picture would be too large (:func:`check_picture_size`).

    Shapes:
        returns (H, W, 3) uint8, (W, H) = ``layout.size``
    """
    check_picture_size(layout)
    images: dict[tuple[int, int], np.ndarray] = {}
    with TileRenderer(layout.tile_width, layout.tile_height) as renderer:
        for cell, tile in tiles.items():
            images[cell] = renderer.render(tile.cloud, tile.camera, point_size=tile.point_size)
    return compose(layout, images, {cell: tile.title for cell, tile in tiles.items()}, header=header)


def check_save_path(path: str | Path, option: str = "--save") -> Path:
    """``path`` when a picture can be written there; else :class:`InputError` saying why.

    Checks, before any rendering: the suffix names a known format (:data:`IMAGE_FORMATS`), the
    folder exists (it is not created), is a folder, and a file can be created in it; ``path``
    itself is not a folder.
    """
    path = Path(path).expanduser()
    if path.suffix.lower() not in IMAGE_FORMATS:
        known = ", ".join(IMAGE_FORMATS)
        raise InputError(f"{option} {path}: unknown picture type {path.suffix or '(no suffix)'!r}, use one of {known}")
    folder = path.parent
    if not folder.exists():
        raise InputError(f"{option} {path}: folder {folder} does not exist (it is not created; make it first)")
    if not folder.is_dir():
        raise InputError(f"{option} {path}: {folder} is not a folder")
    if path.is_dir():
        raise InputError(f"{option} {path} is a folder, expected a picture file name")
    try:  # the only check that holds for root, read-only file systems and ACLs alike
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise InputError(f"{option} {path}: folder {folder} is not writable ({error.strerror or error})") from None
    if path.exists() and not os.access(path, os.W_OK):
        raise InputError(f"{option} {path}: the file exists and is not writable")
    return path


def save_image(image: np.ndarray, path: str | Path) -> Path:
    """Write an (H, W, 3) uint8 image in the format its suffix names (an optimised PNG, or a
    JPEG of quality 95 with full colour resolution); returns the path. :class:`InputError` when it cannot be written."""
    from PIL import Image  # matplotlib's own image dependency

    path = check_save_path(path)
    image_format = IMAGE_FORMATS[path.suffix.lower()]
    # JPEG: full-resolution colour (no 4:2:0 subsampling), which small coloured points need.
    options = {"optimize": True} if image_format == "PNG" else {"quality": 95, "subsampling": 0}
    try:
        Image.fromarray(np.ascontiguousarray(image)).save(path, format=image_format, **options)
    except OSError as error:
        raise InputError(f"cannot write {path} ({error.strerror or error})") from None
    return path
