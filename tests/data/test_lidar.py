"""Lidar tiles: the 16 real LAS/LAZ tiles read exactly, class maps, chunked conversion, splits, bad files."""

from __future__ import annotations

import re
import tracemalloc
import warnings
from pathlib import Path

import laspy
import numpy as np
import pytest

from pointea.data.lidar import ClassMap, LidarDataModule, convert_tile, read_tile
from pointea.data.synthetic_scenes import write_synthetic_tiles
from pointea.errors import ConfigError, DataError, SharedScenesWarning
from tests.data.conftest import shared_sample

REPO = Path(__file__).resolve().parents[2]
GROUND = str(REPO / "configs" / "class_maps" / "asprs_ground.yaml")


def _scene_arrays(data: LidarDataModule, path: Path):
    scene = data._tile(path)
    return scene, np.asarray(scene.points, dtype=np.float64) + scene.origin


def test_every_real_tile_is_read_exactly_through_the_cache(tmp_path: Path) -> None:
    sample = shared_sample("lidar_tiles_real_sample")
    data = LidarDataModule(str(sample), class_map=GROUND, cache_root=str(tmp_path))
    paths = data.tile_paths()
    assert len(paths) == 16 and {p.suffix for p in paths} == {".las", ".laz"}
    formats = set()
    for path in paths:
        las = laspy.read(path)
        formats.add(las.header.point_format.id)
        scene, xyz = _scene_arrays(data, path)
        expected = np.stack([las.x, las.y, las.z], axis=1)
        scale = np.asarray(las.header.scales)
        assert np.abs(xyz - expected).max(axis=0).tolist() <= (scale / 2 + 1e-3).tolist(), path.name
        np.testing.assert_array_equal(np.asarray(scene.labels), np.asarray(las.classification))
        np.testing.assert_array_equal(np.asarray(scene.intensity), np.asarray(las.intensity))
        if "red" in las.point_format.dimension_names:
            np.testing.assert_array_equal(np.asarray(scene.colors)[:, 0], np.asarray(las.red))
        order = np.asarray(scene.candidates.order)
        np.testing.assert_array_equal(np.sort(order), np.arange(len(las.points)))  # each point once
    assert formats == {1, 3, 6, 8}
    for plot in ("Megaplot", "MixedConifer", "Topography"):  # the same points as .las and .laz
        las, laz = (_scene_arrays(data, sample / f"{plot}{s}")[0] for s in (".las", ".laz"))
        np.testing.assert_array_equal(np.asarray(las.points), np.asarray(laz.points))
        np.testing.assert_array_equal(np.asarray(las.labels), np.asarray(laz.labels))


def test_ground_class_map_on_real_tiles_and_whole_tile_batches(tmp_path: Path) -> None:
    sample = shared_sample("lidar_tiles_real_sample")
    data = LidarDataModule(str(sample), class_map=GROUND, cache_root=str(tmp_path), test_files=["sample_c.las"],
                           train_files=["warsaw_small.las", "mvk-thin.las"], num_points=512, batch_size=2)  # fmt: skip
    assert data.class_names == ["ground", "other"] and data.in_channels == 2
    data.setup()
    batch = next(iter(data.test_dataloader()))
    codes = np.asarray(laspy.read(sample / "sample_c.las").classification)
    expected = np.where(codes == 2, 0, 1)  # sample_c has no 0/7/18: every point ground or other
    np.testing.assert_array_equal(batch["labels"][0].numpy(), expected)
    warsaw = data._tile(sample / "warsaw_small.las").class_labels(slice(None), -1)
    raw = np.asarray(laspy.read(sample / "warsaw_small.las").classification)
    assert (
        (warsaw[raw == 0] == -1).all()
        and (warsaw[raw == 2] == 0).all()
        and (warsaw[raw == 5] == 1).all()
    )
    train = next(iter(data.train_dataloader()))
    assert train["points"].shape == (2, 512, 3) and set(train["labels"].unique().tolist()) <= {
        -1,
        0,
        1,
    }


def test_chunked_conversion_matches_and_stays_within_a_chunk(tmp_path: Path) -> None:
    write_synthetic_tiles(tmp_path / "tiles", seed=2, tiles=1, size=120.0, density=20.0)
    tile = tmp_path / "tiles" / "tile_1.las"
    whole, chunked = tmp_path / "whole", tmp_path / "chunked"
    whole.mkdir(), chunked.mkdir()
    peaks = []
    for folder, chunk in ((whole, 10_000_000), (chunked, 20_000)):
        tracemalloc.start()
        record = convert_tile(tile, folder, cell=10.0, chunk_points=chunk)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    for name in ("coord", "classification", "intensity", "order", "start"):
        np.testing.assert_array_equal(
            np.load(whole / f"{name}.npy"), np.load(chunked / f"{name}.npy")
        )
    # memory follows the chunk, not the tile: 15 chunks of 20,000 points peak far below one of 300,000
    assert record["points"] > 250_000 and peaks[1] < peaks[0] / 4, peaks
    order, start = np.load(chunked / "order.npy"), np.load(chunked / "start.npy")
    coord = np.load(chunked / "coord.npy")
    k = int(np.argmax(np.diff(start)))  # the fullest cell holds only points inside it
    members = coord[order[start[k] : start[k + 1]]]
    ix, iy = divmod(k, record["shape"][1])
    assert record["cell"] == 10.0 and not (chunked / "keys.npy").exists()
    assert (
        np.floor(members[:, 0] / 10.0) == ix
    ).all()  # cells start at the origin, the lower corner
    assert (np.floor(members[:, 1] / 10.0) == iy).all()


def test_class_maps_merge_rename_and_ignore() -> None:
    cmap = ClassMap({"terrain": 2, "green": [3, 4, 5]}, ignore=[0, 7])
    lookup = cmap.lookup(-1)
    assert cmap.names == ["terrain", "green"]
    assert (
        lookup[2] == 0 and lookup[3] == lookup[5] == 1 and lookup[0] == lookup[7] == lookup[6] == -1
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("classes: {}\n", "bad.yaml: maps no class"),
        ("classes: {a: [2], b: [2]}\n", "code 2 is mapped to both 'a' and 'b'"),
        ("clases: {a: [2]}\n", "unknown key"),
        ("classes: {a: [300]}\n", "code 300 is not an ASPRS code"),
        ("classes: {a: [2], a: [3]}\n", r"line 1: 'a' given twice"),  # PyYAML kept the last
        ("classes: {a: [2]}\nclasses: {b: [3]}\n", r"line 2: 'classes' given twice"),
        ("classes: {1: [2], '1': [3]}\n", "class name '1' is given twice"),
        ("classes: {a: [2, 2]}\n", "code 2 is given twice for class 'a'"),
        ("classes: {a: '23'}\n", r"class 'a' has no code \('23'\)"),  # was read as codes '2', '3'
        ("classes: [2, 3]\n", "'classes' must map class names to codes"),
        ("classes: {a: [2]}\nignore: '0,1'\n", "'ignore' must be a code or a list of codes"),
        ("classes: {a: [-1]}\n", "code -1 is not an ASPRS code"),
        ("classes: {a: [99999999999]}\n", "code 99999999999 is not an ASPRS code"),
        ("", "expected a mapping with 'classes'"),
        ("- 2\n", "expected a mapping with 'classes'.*got list"),
        ("classes:\t{a: [2]}\n", r"not a YAML class map \(line 1: "),
    ],
)
def test_class_maps_refuse_nonsense(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "bad.yaml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        ClassMap.from_yaml(tmp_path / "bad.yaml")


def test_class_map_edges(tmp_path: Path) -> None:
    (tmp_path / "one.yaml").write_text("classes: {a: [2]}\nignore: 7\n")  # a bare TypeError before
    assert ClassMap.from_yaml(tmp_path / "one.yaml").ignore == (7,)
    (tmp_path / "binary.yaml").write_bytes(b"\xff\xfe\x00garbage")  # a bare UnicodeDecodeError before
    with pytest.raises(ConfigError, match=r"binary.yaml: not a YAML class map \(not UTF-8"):
        ClassMap.from_yaml(tmp_path / "binary.yaml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("classes: {a: [2], a: [3]}\n", r"bad.yaml: not a YAML class map \(line 1: 'a' given twice\)"),  # was "'a' given twice"
        ("classes: {a: [2], b: [2]}\n", r"bad.yaml: code 2 is mapped to both 'a' and 'b'"),
    ],
)
def test_a_bad_class_map_through_pointea_fit_names_the_map(tmp_path: Path, text: str, message: str) -> None:
    from pointea.training import cli_main

    (tmp_path / "bad.yaml").write_text(text)
    with pytest.raises(SystemExit) as exit_:
        cli_main(["fit", "--config", str(REPO / "configs" / "demo_lidar.yaml"), "--trainer.default_root_dir",
                  str(tmp_path / "run"), "--data.init_args.root", str(tmp_path / "tiles"),
                  "--data.init_args.class_map", str(tmp_path / "bad.yaml")])  # fmt: skip
    assert re.search(f"^pointea: error: .*{message}", str(exit_.value.code)), exit_.value.code


def test_a_map_that_maps_none_of_the_codes_found(tmp_path: Path) -> None:
    sample = shared_sample("lidar_tiles_real_sample")
    (tmp_path / "water.yaml").write_text("classes: {water: [9]}\n")
    data = LidarDataModule(str(sample), class_map=str(tmp_path / "water.yaml"), cache_root=str(tmp_path),
                           train_files=["autzen-thin.las"], test_files=["Topography.las"])  # fmt: skip
    with pytest.raises(DataError, match=r"maps none of the codes found: \[1, 2\]"):
        data.setup("fit")
    assert data.skipped == [
        ("train", "autzen-thin.las", "no point of a class in the map (every point ignored)")
    ]


def test_never_classified_tiles_are_skipped_and_counted(tmp_path: Path) -> None:
    write_synthetic_tiles(tmp_path, seed=0, tiles=3, size=30.0, density=4.0)
    las = laspy.read(tmp_path / "tile_1.las")
    las.classification = np.zeros(len(las.points), np.uint8)  # written, never classified
    las.write(tmp_path / "tile_1.las")
    data = LidarDataModule(
        str(tmp_path),
        cache_root=str(tmp_path / "c"),
        test_files=["tile_3.las"],
        num_points=256,
        batch_size=2,
    )
    data.setup("fit")
    assert [s.name for s in data.scenes["train"]] == ["tile_2.las"]
    assert data.skipped[0][:2] == ("train", "tile_1.las")
    # a split left with no usable tile: the error names each skipped tile once, however often asked
    only = LidarDataModule(str(tmp_path), cache_root=str(tmp_path / "c"), train_files=["tile_1.las"],
                           test_files=["tile_3.las"], num_points=256, batch_size=2)  # fmt: skip
    for _ in range(3):
        with pytest.raises(DataError, match=r"the train split has no usable scene .*; skipped: tile_1.las;"):
            only.setup("fit")
    assert [entry[1] for entry in only.skipped] == ["tile_1.las"]


def test_a_tile_both_trained_on_and_scored_is_warned_about(tmp_path: Path) -> None:
    """Overlapping file lists were accepted without a word: the scores then include training
    points. The same tile reached by another spelling of its path counts too; validation on the
    test tiles (no val_files) warns once for both."""
    write_synthetic_tiles(tmp_path, seed=0, tiles=3, size=30.0, density=4.0)
    (tmp_path / "sub").mkdir()
    options = dict(cache_root=str(tmp_path / "c"), num_points=256, batch_size=2)
    shared = LidarDataModule(str(tmp_path), train_files=["tile_1.las", "tile_2.las"],
                             test_files=["sub/../tile_2.las", "tile_3.las"], **options)  # fmt: skip
    with pytest.warns(SharedScenesWarning, match=r"1 of the 2 val scenes are training scenes too \(sub/../tile_2.las;"):
        shared.setup("fit")
    with warnings.catch_warnings():
        warnings.simplefilter("error", SharedScenesWarning)
        shared.setup("test")  # the same scenes as validation: said once
        disjoint = LidarDataModule(str(tmp_path), train_files=["tile_1.las", "tile_2.las"], test_files=["tile_3.las"],
                                   **options)  # fmt: skip
        disjoint.setup("fit")
        disjoint.setup("test")
    other_val = LidarDataModule(str(tmp_path), train_files=["tile_1.las", "tile_2.las"], val_files=["tile_3.las"],
                                test_files=["tile_1.las"], **options)  # fmt: skip
    other_val.setup("fit")
    with pytest.warns(SharedScenesWarning, match=r"1 of the 1 test scenes are training scenes too \(tile_1.las;") as caught:
        other_val.setup("test")
        other_val.setup("test")
    assert len(caught) == 1


def test_bad_files_are_one_line_naming_them(tmp_path: Path) -> None:
    write_synthetic_tiles(tmp_path / "tiles", seed=0, tiles=2, size=30.0, density=4.0)
    good = tmp_path / "tiles" / "tile_1.las"
    truncated = tmp_path / "bad" / "truncated.las"
    truncated.parent.mkdir()
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(DataError, match=r"truncated.las: (truncated|not a readable)"):
        convert_tile(truncated, tmp_path / "bad")
    alien = tmp_path / "bad" / "alien.las"
    raw = bytearray(good.read_bytes())
    raw[104] = 42  # the header's point data format id: no such format
    alien.write_bytes(bytes(raw))
    with pytest.raises(DataError, match=r"alien.las: not a readable .las file"):
        read_tile(alien)
    (tmp_path / "bad" / "text.laz").write_text("x y z\n")
    with pytest.raises(DataError, match=r"text.laz: not a (readable .laz|LAS) file"):
        read_tile(tmp_path / "bad" / "text.laz")
    data = LidarDataModule(str(tmp_path / "tiles"), cache_root=str(tmp_path / "c"), test_files=["tile_2.las"],
                           max_scene_points=100)  # fmt: skip
    with pytest.raises(DataError, match=r"tile_2.las: \d+ points, more than max_scene_points=100"):
        data.setup("test")
    with pytest.raises(DataError, match="missing.las: listed in test_files but not found"):
        LidarDataModule(str(tmp_path / "tiles"), test_files=["missing.las"]).setup("test")
    with pytest.raises(DataError, match="no .las or .laz file found"):
        LidarDataModule(str(tmp_path / "nothing")).setup("fit")


def test_a_tile_cut_after_its_header_is_refused_not_read_as_empty(tmp_path: Path) -> None:
    """laspy read a file cut inside its VLRs or points as 0 points (read_tile: an empty scene)."""
    sample = shared_sample("lidar_tiles_real_sample")
    raw = (sample / "autzen-thin.las").read_bytes()
    for name, size in (("vlrs.las", 300), ("points.las", len(raw) // 2)):
        (tmp_path / name).write_bytes(raw[:size])
        with pytest.raises(DataError, match=rf"{name}: (LAS header of|truncated)"):
            read_tile(tmp_path / name)
        with pytest.raises(DataError, match=rf"{name}: (LAS header of|truncated)"):
            convert_tile(tmp_path / name, tmp_path)
    laz = (sample / "Megaplot.laz").read_bytes()
    (tmp_path / "cut.laz").write_bytes(laz[: len(laz) // 2])
    with pytest.raises(DataError, match="cut.laz: LAZ chunk table"):
        read_tile(tmp_path / "cut.laz")
    vlrs = bytearray(raw)
    vlrs[100:104] = (0xFFFFFFF0).to_bytes(4, "little")  # 4 billion VLRs: laspy looped for minutes
    (tmp_path / "vlrs.las").write_bytes(bytes(vlrs))
    with pytest.raises(DataError, match="vlrs.las: truncated or corrupt: the header declares 4,294,967,280 VLRs"):
        read_tile(tmp_path / "vlrs.las")


def _with_header(tmp_path: Path, name: str, fmt: str, offset: int, *values) -> Path:
    """A copy of the real autzen-thin.las (LAS 1.2) with public-header bytes at ``offset`` replaced."""
    import struct

    raw = bytearray((shared_sample("lidar_tiles_real_sample") / "autzen-thin.las").read_bytes())
    struct.pack_into(fmt, raw, offset, *values)
    (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / name).write_bytes(bytes(raw))
    return tmp_path / name


@pytest.mark.parametrize(
    "bounds",
    [(0.0,) * 6, (1e9, 0.0, 1e9, 0.0, 1e9, 0.0), (-1e300, -1e300, -1e300, 1e300, 1e300, 1e300)],
    ids=["zeros", "max-below-min", "absurd"],
)
def test_a_header_whose_bounds_are_wrong_costs_no_precision(tmp_path: Path, bounds) -> None:
    """The header's lower corner was the float32 coordinates' origin: bounds of zeros (written by
    some tools) put the points 6e5 m from it (6 cm steps); absurd ones made them inf or NaN."""
    max_x, min_x, max_y, min_y, max_z, min_z = bounds
    path = _with_header(tmp_path, "tiles/t.las", "<6d", 179, max_x, min_x, max_y, min_y, max_z, min_z)
    truth = laspy.read(path).xyz  # (N, 3) float64
    data = LidarDataModule(str(tmp_path / "tiles"), cache_root=str(tmp_path / "c"), train_files=["t.las"],
                           test_files=["t.las"], num_points=256, batch_size=1, crops_per_epoch=2)  # fmt: skip
    data.setup("fit")
    for scene in (data._tile(path), read_tile(path)):
        error = np.abs(np.asarray(scene.points, dtype=np.float64) + scene.origin - truth).max()
        assert error < 1e-3, (scene, error)
    assert data._tile(path).candidates.cell == 10.0  # the grid of the points, not of the header


def test_a_header_that_cannot_be_believed_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"zero.las: LAS header x scale 0.0 .* expected a finite, non-zero scale"):
        read_tile(_with_header(tmp_path, "zero.las", "<d", 131, 0.0))  # every x was its offset
    with pytest.raises(DataError, match=r"nan.las: LAS header x scale 0.01 and offset nan"):
        read_tile(_with_header(tmp_path, "nan.las", "<d", 155, float("nan")))
    with pytest.raises(DataError, match=r"few.las: .* bytes after the 100 points its header declares, room for 10,553"):
        read_tile(_with_header(tmp_path, "few.las", "<I", 107, 100))  # 100 of 10,653 points were read


@pytest.mark.parametrize("cell", [0.0, -1.0, float("nan"), float("inf")])  # inf: one cell for any tile, accepted
def test_the_index_cell_must_be_a_finite_positive_size(cell: float) -> None:
    with pytest.raises(ConfigError, match="cell must be a positive number of metres"):
        LidarDataModule("tiles", cell=cell)


def test_one_file_name_given_as_a_string_is_that_file(tmp_path: Path) -> None:
    """A string was read as a list of its characters ("tiles/t: listed in train_files but not found")."""
    write_synthetic_tiles(tmp_path, seed=0, tiles=2, size=20.0, density=2.0)
    splits = LidarDataModule(str(tmp_path), train_files="tile_1.las", test_files="tile_2.las").split_paths()
    assert [p.name for p in splits["train"]] == ["tile_1.las"] and [p.name for p in splits["test"]] == ["tile_2.las"]


def test_corrupt_compressed_points_are_one_line(tmp_path: Path) -> None:
    """lazrs raises its own LazrsError (a RuntimeError), which was a bare traceback."""
    raw = bytearray((shared_sample("lidar_tiles_real_sample") / "Megaplot.laz").read_bytes())
    raw[2000:2064] = np.random.default_rng(0).bytes(64)
    path = tmp_path / "flipped.laz"
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError, match=r"flipped.laz: truncated or corrupt \(LazrsError: "):
        read_tile(path)
    (tmp_path / "out").mkdir()
    with pytest.raises(DataError, match=r"flipped.laz: truncated or corrupt after 0 of 81590 points \(LazrsError: "):
        convert_tile(path, tmp_path / "out")


def test_seeded_hold_out_is_disjoint_and_repeatable(tmp_path: Path) -> None:
    write_synthetic_tiles(tmp_path, seed=0, tiles=8, size=20.0, density=2.0)
    splits = LidarDataModule(
        str(tmp_path), val_fraction=0.25, test_fraction=0.25, seed=3
    ).split_paths()
    again = LidarDataModule(
        str(tmp_path), val_fraction=0.25, test_fraction=0.25, seed=3
    ).split_paths()
    other = LidarDataModule(
        str(tmp_path), val_fraction=0.25, test_fraction=0.25, seed=4
    ).split_paths()
    assert splits == again and splits != other
    assert [len(splits[s]) for s in ("train", "val", "test")] == [4, 2, 2]
    assert len(set().union(*splits.values())) == 8


def test_synthetic_tiles_are_written_on_first_use(tmp_path: Path) -> None:
    data = LidarDataModule(str(tmp_path / "demo"), synthetic=True, synthetic_tiles=3, synthetic_size=30.0,
                           num_points=256, batch_size=2)  # fmt: skip
    data.prepare_data()  # writes the tiles and converts each once (rank 0 only under DDP)
    converted = sorted(p.name for p in (tmp_path / "demo" / "pointea_cache" / "lidar").iterdir())
    assert converted == ["tile_1.las", "tile_2.las", "tile_3.las"]
    data.setup()
    assert data.class_names == ["ground", "vegetation", "building", "car"]
    batch = next(iter(data.test_dataloader()))
    assert batch["points"].shape[0] == 1 and batch["features"].shape[-1] == 2


def test_the_real_data_checks_config_names_real_tiles(tmp_path: Path, monkeypatch) -> None:
    """docs/results/lidar_ground_real.yaml: its tiles exist, its splits are disjoint, its map reads."""
    import yaml

    sample = shared_sample("lidar_tiles_real_sample")
    options = yaml.safe_load((REPO / "docs" / "results" / "lidar_ground_real.yaml").read_text())["data"]["init_args"]
    monkeypatch.chdir(REPO)  # the config names its class map relative to the repository
    data = LidarDataModule(**{**options, "root": str(sample), "cache_root": str(tmp_path)})
    splits = data.split_paths()
    assert len(splits["train"]) == 7 and len(splits["test"]) == 2
    assert not set(splits["train"]) & set(splits["test"]) and data.class_names == ["ground", "other"]
