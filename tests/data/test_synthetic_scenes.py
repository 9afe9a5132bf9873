"""Procedural rooms and lidar tiles: deterministic, in their real layouts, with the classes promised."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pointea.data.s3dis import S3DIS_CLASSES, read_pointcept_room
from pointea.data.synthetic_scenes import (
    ASPRS_CAR,
    RoomSettings,
    generate_room,
    generate_tile,
    write_synthetic_rooms,
    write_synthetic_tiles,
)

SMALL = RoomSettings(density=150.0)


def test_rooms_are_deterministic_and_differ_by_seed() -> None:
    first, again, other = generate_room(3, SMALL), generate_room(3, SMALL), generate_room(4, SMALL)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert first[0].shape != other[0].shape or not np.array_equal(first[0], other[0])


def test_rooms_hold_every_s3dis_class_where_it_belongs() -> None:
    seen = np.zeros(len(S3DIS_CLASSES), dtype=int)
    for seed in range(8):
        coord, color, segment = generate_room(seed, SMALL)
        assert coord.dtype == np.float32 and color.dtype == np.uint8 and segment.dtype == np.int16
        assert coord.shape[0] == color.shape[0] == segment.shape[0]
        seen += np.bincount(segment, minlength=len(S3DIS_CLASSES))
        z = coord[:, 2]
        floor, ceiling = (
            segment == S3DIS_CLASSES.index("floor"),
            segment == S3DIS_CLASSES.index("ceiling"),
        )
        assert abs(float(z[floor].mean())) < 0.02 and float(z[ceiling].mean()) > 2.6
        table = segment == S3DIS_CLASSES.index("table")
        assert -0.03 <= z[table].min() and z[table].max() < 0.8  # 5 mm scanner noise
        # colours differ by class: the floor is darker than the ceiling
        assert color[floor].mean() < color[ceiling].mean()
    assert (seen > 0).all(), dict(zip(S3DIS_CLASSES, seen))


def test_rooms_are_written_once_in_the_pointcept_layout(tmp_path: Path) -> None:
    root = write_synthetic_rooms(tmp_path, seed=1, rooms_per_area=1, areas=(1, 5), settings=SMALL)
    coord = root / "Area_5" / "room_1" / "coord.npy"
    stamp = coord.stat().st_mtime_ns
    write_synthetic_rooms(tmp_path, seed=1, rooms_per_area=1, areas=(1, 5), settings=SMALL)
    assert coord.stat().st_mtime_ns == stamp  # a complete set is kept
    scene = read_pointcept_room(coord.parent, "Area_5/room_1")
    expected = generate_room(np.random.SeedSequence(1).spawn(2)[1], SMALL)
    np.testing.assert_array_equal(np.asarray(scene.points), expected[0])
    np.testing.assert_array_equal(scene.class_labels(slice(None), -1), expected[2])
    assert not list(tmp_path.rglob("*.tmp"))


def test_tiles_are_las_files_with_asprs_codes(tmp_path: Path) -> None:
    import laspy

    from pointea.io import read_points

    write_synthetic_tiles(tmp_path, seed=0, tiles=2, size=30.0, density=4.0)
    las = laspy.read(tmp_path / "tile_2.las")
    codes = set(np.unique(np.asarray(las.classification)).tolist())
    assert {2, 3, 5, 6, ASPRS_CAR} <= codes and {7, 18} <= codes
    assert las.header.point_format.id == 6 and las.header.offsets[0] > 100_000
    assert float(las.x.min()) >= las.header.offsets[0] - 1
    ground = np.asarray(las.classification) == 2
    roofs = np.asarray(las.classification) == 6
    assert np.asarray(las.z)[roofs].mean() > np.asarray(las.z)[ground].mean() + 2
    cloud = read_points(tmp_path / "tile_2.las")  # the same reader users' files go through
    assert cloud.points.shape[0] == len(las.points)
    tile = generate_tile(np.random.SeedSequence(0).spawn(2)[1], 30.0, 4.0)
    np.testing.assert_array_equal(np.asarray(las.classification), tile["classification"])


def test_pointea_data_writes_the_procedural_scenes(tmp_path: Path) -> None:
    from pointea.data.cli import main

    assert main(["synth-scenes", "--rooms", str(tmp_path / "r"), "--tiles", str(tmp_path / "t"),
                 "--rooms-per-area", "1", "--num-tiles", "1"]) == 0  # fmt: skip
    assert (tmp_path / "r" / "Area_6" / "room_1" / "segment.npy").is_file()
    assert (tmp_path / "t" / "tile_1.las").is_file()
    assert main(["synth-scenes"]) == 1  # nothing asked for: one error line
