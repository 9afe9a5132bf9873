"""Tile layout and composition of titled pictures."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from visualize.picture import GridLayout, compose


def test_layout_size_and_boxes_tile_without_overlap() -> None:
    layout = GridLayout(rows=3, cols=4, tile_width=50, tile_height=40, title_height=20, header_height=30, gap=5)
    width, height = layout.size
    assert (width, height) == (4 * 50 + 5 * 5, 30 + 3 * (20 + 40) + 4 * 5)
    boxes = [layout.image_box(r, c) for r, c in itertools.product(range(3), range(4))]
    boxes += [layout.title_box(r, c) for r, c in itertools.product(range(3), range(4))]
    covered = np.zeros((height, width), dtype=int)
    for x0, y0, x1, y1 in boxes:
        assert 0 <= x0 < x1 <= width and 30 <= y0 < y1 <= height
        covered[y0:y1, x0:x1] += 1
    assert covered.max() == 1  # no overlaps
    # Titles sit right above their images; columns share x, rows share y.
    assert layout.title_box(1, 2)[3] == layout.image_box(1, 2)[1]
    assert layout.image_box(0, 2)[0] == layout.image_box(2, 2)[0]
    assert layout.image_box(1, 0)[1] == layout.image_box(1, 3)[1]


def test_layout_rejects_outside_tiles_and_bad_sizes() -> None:
    layout = GridLayout(rows=2, cols=2, tile_width=10, tile_height=10)
    with pytest.raises(IndexError):
        layout.image_box(2, 0)
    with pytest.raises(ValueError, match="rows"):
        GridLayout(rows=0, cols=1, tile_width=10, tile_height=10)


def test_compose_copies_tiles_pixel_exact_and_draws_titles() -> None:
    layout = GridLayout(rows=2, cols=3, tile_width=48, tile_height=32, title_height=18, header_height=24)
    rng = np.random.default_rng(0)
    tiles = {(r, c): rng.integers(0, 256, size=(32, 48, 3), dtype=np.uint8) for r in range(2) for c in range(3) if (r, c) != (1, 1)}
    picture = compose(layout, tiles, {(0, 0): "layer 1 · head 1"}, header="header")
    assert picture.shape == (layout.size[1], layout.size[0], 3) and picture.dtype == np.uint8
    for (r, c), tile in tiles.items():
        x0, y0, x1, y1 = layout.image_box(r, c)
        np.testing.assert_array_equal(picture[y0:y1, x0:x1], tile)
    x0, y0, x1, y1 = layout.image_box(1, 1)
    assert (picture[y0:y1, x0:x1] == 255).all()  # a missing tile stays white
    x0, y0, x1, y1 = layout.title_box(0, 0)
    assert (picture[y0:y1, x0:x1] < 128).any()  # the title's text is drawn
    x0, y0, x1, y1 = layout.title_box(0, 1)
    assert (picture[y0:y1, x0:x1] == 255).all()  # no title, no ink
    assert (picture[: layout.header_height] < 128).any()


def test_compose_rejects_a_tile_of_the_wrong_size() -> None:
    layout = GridLayout(rows=1, cols=1, tile_width=8, tile_height=8)
    with pytest.raises(ValueError, match="expected"):
        compose(layout, {(0, 0): np.zeros((8, 9, 3), dtype=np.uint8)})


def test_compose_shrinks_a_long_header_to_fit_a_narrow_picture() -> None:
    layout = GridLayout(rows=1, cols=2, tile_width=200, tile_height=64)  # an offset-attention picture: 1 head
    header = "random init (seed 0), untrained | offset attention | test #0: airplane, predicted lamp (3%)\ncolour: attention of the red query point 10 to each point (viridis per tile), on the 256 attention points"
    picture = compose(layout, {}, header=header)
    band = (picture[: layout.header_height] < 128).any(axis=-1)  # (header_height, W) ink
    assert band.any()
    columns = np.flatnonzero(band.any(axis=0))
    assert columns.min() > 0 and columns.max() < layout.size[0] - 1  # nothing cut at the edges
    rows = np.flatnonzero(band.any(axis=1))
    assert rows.min() > 0 and rows.max() < layout.header_height - 1
