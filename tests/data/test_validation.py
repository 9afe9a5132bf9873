"""Coordinates that float32 cannot carry through the pipeline (issue 11, case 4): ``verify`` and the
loaders report them (file, dataset, row, value, bound), and normalisation never turns them into
zeros."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pointea.data.cli import main
from pointea.data.storage import write_h5
from pointea.data.modelnet40 import ModelNet40
from pointea.data.transforms import NormalizeUnitSphere
from pointea.data.validation import MAX_ABS_COORDINATE, check_points
from pointea.errors import DataError

SMALL = ["--train-per-class", "2", "--test-per-class", "1"]


def test_verify_reports_coordinates_near_1e20_with_file_row_value_and_bound(tmp_path: Path, capsys) -> None:
    main(["synth", "--root", str(tmp_path), "--only", "modelnet40", *SMALL])
    path = tmp_path / "modelnet40_ply_hdf5_2048" / "ply_data_test0.h5"
    rng = np.random.default_rng(0)
    points = rng.uniform(-1, 1, (12, 64, 3)) * 1e20  # every shape huge, as in the report
    points[:3] = rng.uniform(-1, 1, (3, 64, 3))  # the first three fine
    points[3, 7, 1] = -3e20
    write_h5(path, {"data": points.astype(np.float32), "label": np.zeros((12, 1), np.uint8)})
    capsys.readouterr()
    assert main(["verify", str(tmp_path)]) == 1
    problems = [line for line in capsys.readouterr().out.splitlines() if "PROBLEM" in line]
    assert len(problems) == 1
    line = problems[0]
    assert str(path) in line and "'data' row 3" in line and "-3e+20" in line and "1e+06" in line
    with pytest.raises(DataError, match=r"'data' row 3 .* holds coordinate -3e\+20"):
        ModelNet40(tmp_path, "test")


def test_the_bound_is_checked_before_the_float32_cast() -> None:
    points = np.random.default_rng(0).uniform(-1, 1, (2, 8, 3))
    points[1, 2, 0] = 1e300  # float32 would make this inf and report "NaN/Inf"
    with pytest.raises(DataError, match=r"row 1 .* holds coordinate 1e\+300, beyond the allowed bound"):
        check_points(Path("f.h5"), points)
    # just inside the bound is accepted, and comes back as float32
    points[1, 2, 0] = MAX_ABS_COORDINATE
    assert check_points(Path("f.h5"), points).dtype == np.float32


@pytest.mark.parametrize("scale", [1.0, 1e10, 1e20, 1e30, 1e38 / 4])
def test_normalize_gives_the_same_unit_cloud_at_any_float32_scale(scale: float) -> None:
    cloud = np.random.default_rng(1).uniform(-1, 1, (256, 3)).astype(np.float32) + np.float32(0.3)
    expected = NormalizeUnitSphere()({"points": cloud}, np.random.default_rng())["points"]
    scaled = (cloud.astype(np.float64) * scale).astype(np.float32)
    out = NormalizeUnitSphere()({"points": scaled}, np.random.default_rng())["points"]
    assert out.dtype == np.float32 and np.isfinite(out).all()
    assert np.abs(out).max() > 0.5  # not the all-zeros cloud float32 gave for 1e20
    np.testing.assert_allclose(np.linalg.norm(out, axis=1).max(), 1.0, rtol=1e-5)
    np.testing.assert_allclose(out, expected, atol=1e-5)


@pytest.mark.parametrize("bad", [np.nan, np.inf, 1e200])
def test_normalize_refuses_what_it_cannot_scale_with_one_line(bad: float) -> None:
    cloud = np.random.default_rng(2).uniform(-1, 1, (16, 3))
    cloud[4, 2] = bad
    with pytest.raises(DataError, match=r"^NormalizeUnitSphere: the cloud's radius is (nan|inf) .*expected finite") as info:
        NormalizeUnitSphere()({"points": cloud}, np.random.default_rng())
    assert "\n" not in str(info.value)
