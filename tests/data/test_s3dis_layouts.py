"""S3DIS's raw release (the real sample and hostile copies of it) and PointNet's HDF5 blocks."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from pointea.data.s3dis import RAW_FOLDER, S3DIS_CLASSES, S3DISDataModule, read_annotation
from pointea.data.synthetic_scenes import RoomSettings, generate_room
from pointea.errors import DataError
from tests.data.conftest import shared_sample

ROOM = Path(RAW_FOLDER) / "Area_1" / "conferenceRoom_1"


def _raw_module(root: Path, cache: Path, **options) -> S3DISDataModule:
    data = S3DISDataModule(str(root), layout="raw", test_area=1, cache_root=str(cache), **options)
    data.setup("test")
    return data


def test_the_real_sample_is_read_exactly_and_cached_once(tmp_path: Path) -> None:
    sample = shared_sample("s3dis_partial_sample")
    annotations = sorted((sample / ROOM / "Annotations").glob("*.txt"))
    data = _raw_module(sample, tmp_path)
    (scene,) = data.test_scenes()
    assert scene.name == "Area_1/conferenceRoom_1" and data.report == []
    expected = [np.loadtxt(path) for path in annotations]  # the slow, obvious reading
    assert len(scene) == sum(rows.shape[0] for rows in expected) > 200_000
    np.testing.assert_array_equal(
        np.asarray(scene.points), np.concatenate(expected)[:, :3].astype(np.float32)
    )
    np.testing.assert_array_equal(
        np.asarray(scene.colors), np.concatenate(expected)[:, 3:].astype(np.uint8)
    )
    names = [path.stem.rsplit("_", 1)[0] for path in annotations]
    labels = np.concatenate(
        [np.full(r.shape[0], S3DIS_CLASSES.index(n)) for r, n in zip(expected, names)]
    )
    np.testing.assert_array_equal(scene.class_labels(slice(None), -1), labels)
    cached = tmp_path / "pointea_cache" / "s3dis_raw" / "Area_1" / "conferenceRoom_1" / "coord.npy"
    stamp = cached.stat().st_mtime_ns
    again = _raw_module(sample, tmp_path)
    assert cached.stat().st_mtime_ns == stamp and len(again.test_scenes()[0]) == len(scene)
    batch = next(iter(data.test_dataloader()))
    assert batch["points"].shape == (1, len(scene), 3) and batch["features"].shape == (
        1,
        len(scene),
        6,
    )


@pytest.fixture
def hostile_room(tmp_path: Path) -> Path:
    """A copy of two real annotation files, room laid out as the release does."""
    sample = shared_sample("s3dis_partial_sample")
    room = tmp_path / "s3dis" / ROOM / "Annotations"
    room.mkdir(parents=True)
    for name in ("chair_1.txt", "board_1.txt"):
        shutil.copy(sample / ROOM / "Annotations" / name, room / name)
    return tmp_path / "s3dis"


def test_stray_characters_are_repaired_and_bad_lines_skipped_and_reported(
    hostile_room: Path, tmp_path: Path
) -> None:
    chair = hostile_room / ROOM / "Annotations" / "chair_1.txt"
    lines = chair.read_bytes().splitlines(keepends=True)
    original = len(lines)
    x, y, z, r, g, b = lines[9].split()
    lines[9] = b" ".join([x, y, z[:2] + b"\x10" + z[2:], r, g, b]) + b"\n"  # as in Area_5/office_19
    lines[20] = b"-20.1 36.8\n"  # truncated
    chair.write_bytes(b"".join(lines) + b"-20.241 36.870 0.2")  # a truncated last line, no newline
    (hostile_room / ROOM / "Annotations" / "stairs_1.txt").write_text("1 2 3 10 20 30\n")
    (hostile_room / ROOM / "Annotations" / "ceiling_1.txt").write_text("")
    data = _raw_module(hostile_room, tmp_path / "cache")
    (scene,) = data.test_scenes()
    report = "\n".join(data.report)
    assert f"{chair}:10: stray characters removed" in report
    assert (
        f"{chair}:21: not six numbers" in report
        and f"{chair}:{original + 1}: not six numbers" in report
    )
    assert "ceiling_1.txt: empty annotation file, skipped" in report
    assert "stairs_1.txt: class 'stairs' is not one of S3DIS's 13; read as clutter" in report
    assert len(data.report) == 5
    board = sum(1 for _ in open(hostile_room / ROOM / "Annotations" / "board_1.txt"))
    assert len(scene) == board + (original - 1) + 1  # chair minus one bad line, plus stairs
    labels = scene.class_labels(slice(None), -1)
    assert (labels == S3DIS_CLASSES.index("clutter")).sum() == 1  # stairs are clutter
    repaired = np.asarray(scene.points)[board + 9]  # board_1 sorts first
    assert repaired[2] == np.float32(float(z))
    with pytest.raises(DataError, match=r"chair_1.txt:21: expected six numbers"):  # repairs stay
        _raw_module(hostile_room, tmp_path / "strict", bad_lines="error")


def test_a_changed_source_converts_again(hostile_room: Path, tmp_path: Path) -> None:
    first = len(_raw_module(hostile_room, tmp_path).test_scenes()[0])
    with open(hostile_room / ROOM / "Annotations" / "board_1.txt", "a") as handle:
        handle.write("0 0 0 1 2 3\n")
    assert len(_raw_module(hostile_room, tmp_path).test_scenes()[0]) == first + 1
    assert read_annotation(hostile_room / ROOM / "Annotations" / "board_1.txt")[1] == []


def _pointnet_blocks(
    coord: np.ndarray, color: np.ndarray, segment: np.ndarray, rng
) -> tuple[np.ndarray, np.ndarray]:
    """PointNet's room2blocks_plus_normalized (1 m blocks, stride 1, 4096 points per block).

    Shapes: returns data (B, 4096, 9) float32, label (B, 4096) uint8
    """
    coord = coord - coord.min(axis=0)
    extent = coord.max(axis=0)
    data, label = [], []
    for bx in np.arange(0, extent[0], 1.0):
        for by in np.arange(0, extent[1], 1.0):
            inside = np.flatnonzero(
                (coord[:, 0] >= bx)
                & (coord[:, 0] <= bx + 1)
                & (coord[:, 1] >= by)
                & (coord[:, 1] <= by + 1)
            )
            if inside.size < 100:
                continue
            pick = rng.choice(inside, 4096, replace=inside.size < 4096)
            block = np.zeros((4096, 9), np.float32)
            block[:, :3] = coord[pick] - [bx + 0.5, by + 0.5, 0]
            block[:, 3:6] = color[pick] / 255.0
            block[:, 6:9] = coord[pick] / extent
            data.append(block)
            label.append(segment[pick])
    return np.stack(data), np.stack(label).astype(np.uint8)


def test_pointnet_hdf5_blocks_are_reassembled_into_rooms(tmp_path: Path) -> None:
    base = tmp_path / "indoor3d_sem_seg_hdf5_data"
    base.mkdir()
    rng = np.random.default_rng(0)
    blocks, rooms, expected = [], [], {}
    for area in (1, 5):
        coord, color, segment = generate_room(area, RoomSettings(density=120.0))
        data, label = _pointnet_blocks(coord.astype(np.float64), color, segment, rng)
        blocks.append((data, label))
        rooms += [f"Area_{area}_office_{area}"] * data.shape[0]
        expected[area] = (
            data[..., 6:9].reshape(-1, 3) * (coord.max(axis=0) - coord.min(axis=0)),
            label.reshape(-1),
        )
    data, label = np.concatenate([d for d, _ in blocks]), np.concatenate([lab for _, lab in blocks])
    half = data.shape[0] // 2
    for k, rows in enumerate((slice(0, half), slice(half, None))):
        with h5py.File(base / f"ply_data_all_{k}.h5", "w") as handle:
            handle.create_dataset("data", data=data[rows])
            handle.create_dataset("label", data=label[rows])
    (base / "all_files.txt").write_text(
        "".join(f"{base.name}/ply_data_all_{k}.h5\n" for k in (0, 1))
    )
    (base / "room_filelist.txt").write_text("".join(f"{room}\n" for room in rooms))
    module = S3DISDataModule(
        str(tmp_path), cache_root=str(tmp_path / "cache"), num_points=256, batch_size=2
    )
    module.setup("test")
    (scene,) = module.test_scenes()
    assert scene.name == "Area_5/office_5"
    points, labels = expected[5]
    np.testing.assert_allclose(np.asarray(scene.points), points, atol=2e-3)
    np.testing.assert_array_equal(scene.class_labels(slice(None), -1), labels)
    (base / "room_filelist.txt").write_text("Area_1_office_1\n")
    with pytest.raises(DataError, match="room_filelist.txt: lists 1 blocks"):
        S3DISDataModule(str(tmp_path), cache_root=str(tmp_path / "cache2")).setup("test")


@pytest.mark.parametrize(
    ("array", "value", "expected"),
    [
        ("coord", np.nan, r"office_1: point 7 of Area_5/office_1 has coordinates \[.*nan.*\]; expected finite"),
        ("coord", np.inf, r"office_1: point 7 of Area_5/office_1 has coordinates \[.*inf.*\]; expected finite"),
        ("coord", 1e20, r"office_1: Area_5/office_1: a coordinate of magnitude 1e\+20 beyond 1e\+18"),
        ("color", np.nan, r"office_1/color.npy: row 7 is \[.*nan.*\]; expected finite colours"),
    ],
)
def test_a_pointcept_room_with_a_non_finite_value_is_refused_naming_it(
    tmp_path: Path, array: str, value: float, expected: str
) -> None:
    # One bad number in a memory-mapped room would otherwise spread to every feature of every
    # crop around it (NaN bounds make the normalised coordinates NaN), silently.
    room = tmp_path / "Area_5" / "office_1"
    room.mkdir(parents=True)
    coord, color, segment = generate_room(5, RoomSettings(density=40.0))
    arrays = {"coord": coord.astype(np.float32), "color": color.astype(np.float32) / 255.0}
    arrays[array][7, 1] = value
    for name, values in (*arrays.items(), ("segment", segment.astype(np.int64))):
        np.save(room / f"{name}.npy", values)
    module = S3DISDataModule(str(tmp_path), cache_root=str(tmp_path / "cache"), num_points=256)
    with pytest.raises(DataError, match=expected):
        module.setup("test")
