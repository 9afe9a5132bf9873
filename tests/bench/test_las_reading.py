"""The LAZ streaming bench on a small tile: every reader reads every point, ratios are reported."""

from __future__ import annotations

from pathlib import Path

import laspy
import numpy as np

from pointea.bench.las_reading import measure_las_reading, write_laz_tile


def test_the_generated_tile_is_a_real_laz_file(tmp_path: Path) -> None:
    path = write_laz_tile(tmp_path / "tile.laz", 25_000, chunk=10_000)
    las = laspy.read(path)
    assert len(las.points) == 25_000 and las.header.point_format.id == 6
    assert set(np.unique(np.asarray(las.classification)).tolist()) == {2, 3, 4, 5, 6}
    assert np.all(np.diff(np.asarray(las.gps_time)) > 0)  # written chunk after chunk, in order


def test_every_reader_reads_every_point(tmp_path: Path) -> None:
    result = measure_las_reading(points=30_000, repeat=1, chunk=8_000, folder=str(tmp_path))
    readers = result["readers"]
    assert set(readers) == {
        "laspy chunk_iterator",
        "pointea tile (convert_tile)",
        "pointea read_points",
    }
    assert readers["laspy chunk_iterator"]["ratio_to_laspy"] == 1.0
    assert all(row["points_per_s"] > 0 and row["seconds"] > 0 for row in readers.values())
    assert not list(tmp_path.iterdir())  # the temporary tile is gone
