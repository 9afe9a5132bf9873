"""A headless picture: clouds rendered offscreen into the tiles of a grid, titled, saved as PNG.

Shape legend: H, W picture height and width.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from visualize.camera import Camera
from visualize.cloud import Cloud
from visualize.grid import GridLayout, compose
from visualize.render import TileRenderer

__all__ = ["Tile", "point_size_for", "render_picture", "save_png"]


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


def render_picture(layout: GridLayout, tiles: Mapping[tuple[int, int], Tile], header: str = "") -> np.ndarray:
    """Render every tile with one offscreen renderer and compose the titled grid.

    Shapes:
        returns (H, W, 3) uint8, (W, H) = ``layout.size``
    """
    images: dict[tuple[int, int], np.ndarray] = {}
    with TileRenderer(layout.tile_width, layout.tile_height) as renderer:
        for cell, tile in tiles.items():
            images[cell] = renderer.render(tile.cloud, tile.camera, point_size=tile.point_size)
    return compose(layout, images, {cell: tile.title for cell, tile in tiles.items()}, header=header)


def save_png(image: np.ndarray, path: str | Path) -> Path:
    """Write an (H, W, 3) uint8 image as an optimised PNG, creating the folder; returns the path."""
    from PIL import Image  # matplotlib's own image dependency

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(image)).save(path, format="PNG", optimize=True)
    return path
