"""Headless pictures: clouds rendered offscreen (:mod:`visualize.render`) into the tiles of a grid,
titled, saved as PNG or JPEG (the ``--save`` suffix decides).

A picture is a header band (the picture's title) above a grid of equal tiles; each tile has a title
band above its image. Rendered tiles are copied pixel for pixel (matplotlib ``figimage``, no
resampling) and the text is drawn by matplotlib's Agg backend, so no display is needed.
Coordinates are pixels, origin at the top-left corner, x to the right, y down.

``--save`` is checked before anything is loaded or rendered (:func:`check_save_path`): a known
suffix, an existing folder that can be written. A missing folder is not created: a typo in a path
should not grow a new folder tree silently, so the command says which folder is missing instead.

Shape legend: H, W picture height and width; h, w tile image height and width.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pointea.errors import InputError
from visualize.cloud import Camera, Cloud
from visualize.render import TileRenderer

__all__ = [
    "Box",
    "GridLayout",
    "IMAGE_FORMATS",
    "MAX_PICTURE_PIXELS",
    "MAX_PICTURE_SIDE",
    "Tile",
    "check_picture_size",
    "check_save_path",
    "compose",
    "point_size_for",
    "render_picture",
    "save_image",
]

Box = tuple[int, int, int, int]  # (x0, y0, x1, y1), half-open: x0 <= x < x1, y0 <= y < y1


@dataclass(frozen=True)
class GridLayout:
    """A grid of ``rows`` x ``cols`` tiles of ``tile_width`` x ``tile_height`` pixels.

    Args:
        rows, cols: grid size.
        tile_width, tile_height: size of each tile's image.
        title_height: band above each tile image for its title.
        header_height: band above the grid for the picture's title (0: none).
        gap: pixels between tiles and around the grid.
    """

    rows: int
    cols: int
    tile_width: int
    tile_height: int
    title_height: int = 22
    header_height: int = 40
    gap: int = 4

    def __post_init__(self) -> None:
        for name in ("rows", "cols", "tile_width", "tile_height"):
            if getattr(self, name) <= 0:
                raise ValueError(f"GridLayout: {name} must be positive, got {getattr(self, name)}")
        for name in ("title_height", "header_height", "gap"):
            if getattr(self, name) < 0:
                raise ValueError(f"GridLayout: {name} must be >= 0, got {getattr(self, name)}")

    @property
    def cell_height(self) -> int:
        """Height of one tile with its title band."""
        return self.title_height + self.tile_height

    @property
    def size(self) -> tuple[int, int]:
        """Picture size as (width, height) in pixels."""
        width = self.cols * self.tile_width + (self.cols + 1) * self.gap
        height = self.header_height + self.rows * self.cell_height + (self.rows + 1) * self.gap
        return width, height

    def _check(self, row: int, col: int) -> None:
        if not (0 <= row < self.rows and 0 <= col < self.cols):
            raise IndexError(f"GridLayout: tile ({row}, {col}) outside a {self.rows} x {self.cols} grid")

    def image_box(self, row: int, col: int) -> Box:
        """Where the image of tile (row, col) goes."""
        self._check(row, col)
        x0 = self.gap + col * (self.tile_width + self.gap)
        y0 = self.header_height + self.gap + row * (self.cell_height + self.gap) + self.title_height
        return x0, y0, x0 + self.tile_width, y0 + self.tile_height

    def title_box(self, row: int, col: int) -> Box:
        """Where the title of tile (row, col) goes: the band just above its image."""
        x0, y0, x1, _ = self.image_box(row, col)
        return x0, y0 - self.title_height, x1, y0


def compose(
    layout: GridLayout,
    tiles: Mapping[tuple[int, int], np.ndarray],
    titles: Mapping[tuple[int, int], str] | None = None,
    header: str = "",
    font_size: float = 9.0,
) -> np.ndarray:
    """Paste tile images into the layout, write the titles, return the picture.

    Args:
        layout: the grid.
        tiles: (row, col) -> (h, w, 3) uint8 image of exactly the layout's tile size; cells without
            a tile stay white.
        titles: (row, col) -> title text, centred in the tile's title band (shrunk when wider
            than the tile, and clipped to the band).
        header: the picture's title, centred in the header band (may hold several lines; shrunk
            to fit the band).
        font_size: title font size in points (at 100 dpi: 1 pt is 100/72 pixels).

    Shapes:
        returns (H, W, 3) uint8, (W, H) = ``layout.size``
    """
    # Agg is the only backend used here: no display, and pyplot's global state stays untouched.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.transforms import Bbox

    width, height = layout.size
    dpi = 100
    figure = Figure(figsize=(width / dpi, height / dpi), dpi=dpi, facecolor="white")
    canvas = FigureCanvasAgg(figure)
    for (row, col), image in tiles.items():
        x0, y0, x1, y1 = layout.image_box(row, col)
        if image.shape != (layout.tile_height, layout.tile_width, 3):
            raise ValueError(
                f"compose: tile ({row}, {col}) is {image.shape}, expected "
                f"({layout.tile_height}, {layout.tile_width}, 3)"
            )
        # figimage's offsets count from the bottom-left corner; the image is drawn top row first.
        figure.figimage(image, xo=x0, yo=height - y1, origin="upper")
    renderer = canvas.get_renderer()
    for (row, col), text in (titles or {}).items():
        x0, y0, x1, y1 = layout.title_box(row, col)
        label = figure.text(
            (x0 + x1) / 2 / width, 1 - (y0 + y1) / 2 / height, text,
            ha="center", va="center", fontsize=font_size,
        )  # fmt: skip
        # Shrink a title that is wider than its tile (down to 60 %), then clip it to its band.
        extent = label.get_window_extent(renderer)
        if extent.width > x1 - x0:
            label.set_fontsize(max(font_size * (x1 - x0) / extent.width, font_size * 0.6))
        label.set_clip_box(Bbox.from_extents(x0, height - y1, x1, height - y0))
        label.set_clip_on(True)
    if header and layout.header_height:
        label = figure.text(
            0.5, 1 - layout.header_height / 2 / height, header,
            ha="center", va="center", fontsize=font_size + 1, linespacing=1.3,
        )  # fmt: skip
        # Shrink a header that does not fit its band (a picture of few, small tiles), so that all
        # of it stays readable instead of being cut at the picture's edges.
        for _ in range(3):  # text does not scale exactly with its font size: measure again
            extent = label.get_window_extent(renderer)
            scale = min(1.0, (width - 2 * layout.gap) / extent.width, layout.header_height / extent.height)
            if scale >= 1.0:
                break
            label.set_fontsize(label.get_fontsize() * scale * 0.98)
    canvas.draw()
    picture = np.asarray(canvas.buffer_rgba())[..., :3].copy()  # (H, W, 4) -> (H, W, 3)
    if picture.shape[:2] != (height, width):
        raise RuntimeError(f"compose: matplotlib drew {picture.shape[:2]}, expected {(height, width)}")
    return picture


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
