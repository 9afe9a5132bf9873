"""The ``pointea-data`` command: synth, verify (accepting and rejecting), download errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pointea.data.cli import main
from pointea.data.storage import write_h5

SMALL = ["--train-per-class", "2", "--test-per-class", "1", "--train-per-category", "2",
         "--val-per-category", "1", "--test-per-category", "1"]  # fmt: skip


def test_synth_then_verify_accepts_both_sets(tmp_path: Path, capsys) -> None:
    assert main(["synth", "--root", str(tmp_path), "--seed", "1", *SMALL]) == 0
    assert (tmp_path / "modelnet40_ply_hdf5_2048" / "shape_names.txt").is_file()
    assert (tmp_path / "shapenet_part_seg_hdf5_data" / "all_object_categories.txt").is_file()
    capsys.readouterr()
    assert main(["verify", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "ModelNet40 layout" in out and "ShapeNetPart layout" in out and "verdict: OK" in out
    assert "all within their category" in out and "checksums:" in out
    # a second synth into the same root refuses to overwrite
    assert main(["synth", "--root", str(tmp_path), "--only", "modelnet40", *SMALL]) == 1
    assert "already holds a ModelNet40 layout" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        ("truncate", "cannot read this HDF5 file"),
        ("delete", "does not exist"),
        ("nan", "NaN/Inf coordinates"),
        ("label", "expected 0..11"),
        ("keys", "missing dataset(s) 'label'"),
    ],
)
def test_verify_rejects_each_broken_case_and_names_the_file(tmp_path: Path, capsys, damage: str, expected: str) -> None:
    main(["synth", "--root", str(tmp_path), "--only", "modelnet40", *SMALL])
    path = tmp_path / "modelnet40_ply_hdf5_2048" / "ply_data_test0.h5"
    points = np.random.default_rng(0).uniform(-1, 1, (12, 64, 3)).astype(np.float32)
    labels = np.zeros((12, 1), np.uint8)
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:4096])
    elif damage == "delete":
        path.unlink()
    elif damage == "nan":
        points[4, 0] = np.nan
        write_h5(path, {"data": points, "label": labels})
    elif damage == "label":
        write_h5(path, {"data": points, "label": labels + 12})
    else:
        write_h5(path, {"data": points})
    capsys.readouterr()
    assert main(["verify", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    problems = [line for line in out.splitlines() if "PROBLEM" in line]
    assert len(problems) == 1 and expected in problems[0] and "ply_data_test0.h5" in problems[0]
    assert "train: ply_data_train0.h5" in out  # the good split is still reported
    assert "verdict: FAILED (1 problem(s))" in out


def test_verify_of_a_folder_without_data(tmp_path: Path, capsys) -> None:
    assert main(["verify", str(tmp_path)]) == 1
    assert "no ModelNet40 layout" in capsys.readouterr().out


def test_download_error_is_one_line_and_exit_1(tmp_path: Path, capsys) -> None:
    code = main(["download", "modelnet40", "--root", str(tmp_path), "--url", "http://127.0.0.1:9/x.zip",
                 "--timeout", "2"])  # fmt: skip
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: download of http://127.0.0.1:9/x.zip failed")
    assert list(tmp_path.iterdir()) == []


def test_usage_errors_exit_2() -> None:
    with pytest.raises(SystemExit) as info:
        main(["download", "imagenet", "--root", "x"])
    assert info.value.code == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["synth", "--root", "x", "--train-per-class", "0"], "argument --train-per-class: must be an integer in 1..10000, got 0"),
        (["synth", "--root", "x", "--test-per-category", "99999999"], "argument --test-per-category: must be an integer in 1..10000, got 99999999"),
        (["synth", "--root", "x", "--seed", "-1"], "argument --seed: must be an integer in 0..4294967295, got -1"),
        (["synth", "--root", "x", "--val-per-category", "two"], "argument --val-per-category: must be an integer in 1..10000, got 'two'"),
        (["download", "modelnet40", "--root", "x", "--timeout", "0"], "argument --timeout: must be a number of seconds in (0, 86400], got '0'"),
        (["download", "modelnet40", "--root", "x", "--timeout", "nan"], "argument --timeout: must be a number of seconds in (0, 86400], got 'nan'"),
        (["download", "modelnet40", "--root", "x", "--deadline", "-5"], "argument --deadline: must be a number of seconds in (0, 604800], got '-5'"),
        (["download", "modelnet40", "--root", "x", "--sha256", "not-hex"], "argument --sha256: must be 64 hexadecimal digits, got 'not-hex' (7 characters)"),
    ],
)  # fmt: skip
def test_numbers_and_digests_are_checked_where_they_enter(tmp_path: Path, monkeypatch, capsys, argv: list[str], message: str) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    prog = f"pointea-data {argv[0]}"
    assert capsys.readouterr().err.splitlines() == [f"{prog}: error: {message}", f"{prog} --help lists the options"]
    assert list(tmp_path.iterdir()) == []  # nothing written, nothing downloaded
