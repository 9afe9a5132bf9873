"""Writing a prediction into a copy of a LAS/LAZ file (``pointea.io.las.write_las_classification``):
on every real tile of ``../shared/data/lidar_tiles_real_sample`` (LAS 1.0-1.4, point formats 1/3/6/8,
``.las`` and ``.laz``) only the class-code bits change, byte for byte."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.conftest import missing_real_data
from tests.io.conftest import shared_data

from pointea.errors import DataError
from pointea.io.las import write_las_classification

laspy = pytest.importorskip("laspy")

_NAMES = sorted(p.name for p in (shared_data() or Path("/nonexistent")).glob("lidar_tiles_real_sample/*.la[sz]"))


def _tile(name: str) -> Path:
    root = shared_data()
    if root is None or not (root / "lidar_tiles_real_sample").is_dir():
        missing_real_data("real sample lidar_tiles_real_sample not found beside the repository (../shared/data)")
    return root / "lidar_tiles_real_sample" / name


def _class_position(format_id: int) -> tuple[int, int]:
    """(byte in the point record, mask of the class-code bits): ASPRS LAS 1.4 R15, tables 7 and 12."""
    return (16, 0xFF) if format_id >= 6 else (15, 0x1F)


def _records(path: Path) -> tuple[np.ndarray, int]:
    """Every point record's bytes, decompressed. Shapes: returns (N, record length) uint8."""
    data = laspy.read(path)
    raw = data.points.array  # structured (N,)
    return np.frombuffer(raw.tobytes(), np.uint8).reshape(len(raw), raw.itemsize).copy(), data.header.point_format.id


def _predictions(path: Path) -> np.ndarray:
    with laspy.open(path) as reader:
        count, format_id = reader.header.point_count, reader.header.point_format.id
    rng = np.random.default_rng(len(path.name))
    return rng.integers(0, _class_position(format_id)[1] + 1, count)


def test_the_sample_holds_every_layout_the_writer_promises() -> None:
    if not _NAMES:
        _tile("")
    formats, versions, suffixes = set(), set(), set()
    for name in _NAMES:
        with laspy.open(_tile(name)) as reader:
            formats.add(reader.header.point_format.id)
            versions.add(str(reader.header.version))
        suffixes.add(Path(name).suffix)
    assert {1, 3, 6, 8} <= formats and {"1.0", "1.2", "1.4"} <= versions and suffixes == {".las", ".laz"}


@pytest.mark.parametrize("name", [n for n in _NAMES if n.endswith(".las")] or ["missing.las"])
def test_las_copy_differs_only_in_the_class_bits(name: str, tmp_path: Path) -> None:
    source = _tile(name)
    prediction = _predictions(source)
    out = write_las_classification(source, prediction, tmp_path / name, chunk_points=4096)
    before, after = source.read_bytes(), out.read_bytes()
    assert len(before) == len(after)
    with laspy.open(source) as reader:
        offset = reader.header.offset_to_point_data
        length = reader.header.point_format.size
        count, format_id = reader.header.point_count, reader.header.point_format.id
    byte, bits = _class_position(format_id)
    a = np.frombuffer(before, np.uint8).copy()
    b = np.frombuffer(after, np.uint8).copy()
    positions = offset + np.arange(count) * length + byte  # (N,) file offsets of the class bytes
    assert np.array_equal(b[positions] & bits, prediction.astype(np.uint8))
    a[positions] &= ~np.uint8(bits)
    b[positions] &= ~np.uint8(bits)
    assert a.tobytes() == b.tobytes()  # header, VLRs, every other bit of every record, trailing bytes
    assert np.array_equal(np.asarray(laspy.read(out).classification), prediction)  # laspy agrees


@pytest.mark.parametrize("name", [n for n in _NAMES if n.endswith(".laz")] or ["missing.laz"])
def test_laz_copy_keeps_every_field_but_the_classification(name: str, tmp_path: Path) -> None:
    source = _tile(name)
    prediction = _predictions(source)
    out = write_las_classification(source, prediction, tmp_path / name, chunk_points=10_000)
    with laspy.open(out) as reader:
        assert reader.header.are_points_compressed
    before, format_id = _records(source)
    after, _ = _records(out)
    byte, bits = _class_position(format_id)
    assert np.array_equal(after[:, byte] & bits, prediction.astype(np.uint8))
    before[:, byte] &= ~np.uint8(bits)
    after[:, byte] &= ~np.uint8(bits)
    assert before.tobytes() == after.tobytes()
    header_size = int.from_bytes(source.read_bytes()[94:96], "little")  # the public header's own size field
    assert source.read_bytes()[:header_size] == out.read_bytes()[:header_size]  # public header, byte for byte
    vlrs = [(v.user_id, v.record_id, v.description, bytes(v.record_data_bytes())) for v in laspy.read(source).header.vlrs]
    assert vlrs == [(v.user_id, v.record_id, v.description, bytes(v.record_data_bytes())) for v in laspy.read(out).header.vlrs]


def test_chunk_size_changes_no_byte(tmp_path: Path) -> None:
    source = _tile("autzen_trim.las")  # 110,000 points: several chunks of 7,000, the last one short
    prediction = _predictions(source)
    small = write_las_classification(source, prediction, tmp_path / "small.las", chunk_points=7_000)
    whole = write_las_classification(source, prediction, tmp_path / "whole.las")
    assert small.read_bytes() == whole.read_bytes()


def test_codes_the_format_cannot_hold_are_refused_and_nothing_is_left(tmp_path: Path) -> None:
    source = _tile("Megaplot.las")  # point format 1: five bits of class code
    with laspy.open(source) as reader:
        count = reader.header.point_count
    codes = np.full(count, 32)
    with pytest.raises(DataError, match=r"Megaplot.las: class codes \[32, 32\] do not fit point format 1"):
        write_las_classification(source, codes, tmp_path / "out.las")
    with pytest.raises(DataError, match=rf"holds {count} points, the prediction {count - 1} labels"):
        write_las_classification(source, np.zeros(count - 1, np.int64), tmp_path / "out.las")
    assert list(tmp_path.iterdir()) == []


def test_a_truncated_tile_is_a_one_line_error_without_output(tmp_path: Path) -> None:
    source = _tile("sample_c.las")
    with laspy.open(source) as reader:
        count = reader.header.point_count
    cut = tmp_path / "cut.las"
    cut.write_bytes(source.read_bytes()[:-1000])  # the last records are missing
    out = tmp_path / "out" / "cut.las"
    with pytest.raises(DataError, match="cut.las: truncated file"):
        write_las_classification(cut, np.zeros(count, np.int64), out)
    assert not out.exists() and not any(out.parent.iterdir())


@pytest.mark.parametrize("name", ["mvk-thin.las", "Megaplot.laz"])
def test_a_copy_onto_its_own_source_is_refused_and_the_source_kept(name: str, tmp_path: Path) -> None:
    """It replaced the source, whose own classification was lost."""
    source = tmp_path / name
    source.write_bytes(_tile(name).read_bytes())
    before = source.read_bytes()
    with laspy.open(source) as reader:
        count = reader.header.point_count
    with pytest.raises(DataError, match=rf"{name}: is the input itself"):
        write_las_classification(source, np.full(count, 2), tmp_path / "." / name)
    assert source.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == [name]


@pytest.mark.parametrize(("suffix_in", "suffix_out"), [(".laz", ".laz"), (".laz", ".las"), (".las", ".laz")])
def test_evlrs_and_extra_bytes_survive_every_laspy_rewrite(suffix_in: str, suffix_out: str, tmp_path: Path) -> None:
    """A LAZ source's EVLRs were dropped: laspy reads them at open, and read_evlrs() then gives None."""
    from laspy.vlrs.vlrlist import VLRList

    las = laspy.read(_tile("wontcompress3.las"))  # LAS 1.4, point format 6
    las.add_extra_dims([laspy.ExtraBytesParams("height_above", np.float32)])
    las.height_above = np.linspace(0, 1, len(las.points), dtype=np.float32)
    evlrs = VLRList()
    evlrs.append(laspy.VLR(user_id="pointea_test", record_id=42, description="kept", record_data=b"EVLR" * 100))
    las.evlrs = evlrs
    source = tmp_path / f"source{suffix_in}"
    las.write(source)
    out = write_las_classification(source, np.full(len(las.points), 5), tmp_path / f"out{suffix_out}")
    copy = laspy.read(out)
    assert [(v.user_id, v.record_id, bytes(v.record_data)) for v in copy.evlrs] == [("pointea_test", 42, b"EVLR" * 100)]
    assert np.array_equal(copy.height_above, las.height_above) and (np.asarray(copy.classification) == 5).all()


def test_corrupt_compressed_points_are_one_line_without_output(tmp_path: Path) -> None:
    raw = bytearray(_tile("Megaplot.laz").read_bytes())
    raw[2000:2064] = np.random.default_rng(0).bytes(64)
    source = tmp_path / "flipped.laz"
    source.write_bytes(bytes(raw))
    with pytest.raises(DataError, match=r"flipped.laz: cannot copy it into .*out.las \(LazrsError: "):
        write_las_classification(source, np.zeros(81590, np.int64), tmp_path / "out.las")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flipped.laz"]
