"""Declared sizes are checked before an HDF5 dataset is read (issue 11: a 22 TiB dataset ended
``verify`` in ``MemoryError``)."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from pointea.data.cli import main
from pointea.data.storage import MAX_DATASET_BYTES, read_h5
from pointea.errors import DataError

SMALL = ["--train-per-class", "2", "--test-per-class", "1"]


def _declare(path: Path, shape: tuple[int, ...], chunks: tuple[int, ...] | None) -> None:
    """A file declaring ``data`` of ``shape`` float32 without writing it (a few KiB on disk)."""
    with h5py.File(path, "w") as handle:
        handle.create_dataset("data", shape=shape, dtype="f4", chunks=chunks)
        handle.create_dataset("label", data=np.zeros((4, 1), np.uint8))


def test_a_22_tib_dataset_is_one_line_in_verify(tmp_path: Path, capsys) -> None:
    main(["synth", "--root", str(tmp_path), "--only", "modelnet40", *SMALL])
    path = tmp_path / "modelnet40_ply_hdf5_2048" / "ply_data_test0.h5"
    _declare(path, (2**30 - 2**27, 2048, 3), chunks=(1, 2048, 3))  # 21 TiB of float32
    assert path.stat().st_size < 1 << 20
    capsys.readouterr()
    assert main(["verify", str(tmp_path)]) == 1
    problems = [line for line in capsys.readouterr().out.splitlines() if "PROBLEM" in line]
    assert len(problems) == 1
    assert str(path) in problems[0] and "'data' declares shape (939524096, 2048, 3)" in problems[0]
    assert "GiB allowed per dataset" in problems[0]


def test_a_contiguous_dataset_larger_than_its_file_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "f.h5"
    _declare(path, (1000, 2048, 3), chunks=None)  # 24 MiB declared, never written
    assert 1000 * 2048 * 3 * 4 < MAX_DATASET_BYTES
    with pytest.raises(DataError, match=r"'data' declares shape \(1000, 2048, 3\) .* but the whole file holds \d+ bytes"):
        read_h5(path, ["data"])


def test_empty_and_scalar_datasets_are_arrays_or_one_line(tmp_path: Path) -> None:
    path = tmp_path / "f.h5"
    with h5py.File(path, "w") as handle:
        handle.create_dataset("null", data=h5py.Empty("f4"))
        handle["scalar"] = 3.5
        handle["text"] = b"abc"
    assert read_h5(path, ["scalar"])["scalar"].shape == ()
    assert read_h5(path, ["text"])["text"].shape == ()
    with pytest.raises(DataError, match=r"'null' is an empty dataset \(no dataspace\)"):
        read_h5(path, ["null"])
