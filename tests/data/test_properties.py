"""Property-based tests of the HDF5 readers and their checks (issue 11): random shapes, dtypes,
NaN/Inf, tiny and huge values, empty datasets and damaged bytes, written to real files. Each file
either loads, with every documented guarantee holding, or raises pointea's one-line ``DataError``;
never another exception."""

from __future__ import annotations

import tempfile
from pathlib import Path

import h5py
import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pointea.data.storage import read_h5
from pointea.data.modelnet40 import ModelNet40
from pointea.data.shapenetpart import ShapeNetPart
from pointea.data.transforms import NormalizeUnitSphere
from pointea.data.validation import MAX_ABS_COORDINATE, check_points
from pointea.errors import DataError

FEW = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])

DTYPES = st.sampled_from(
    [np.float16, np.float32, np.float64, np.int8, np.uint8, np.int32, np.int64, np.uint64, np.bool_, np.complex64, "S4"]
)
FLOATS = st.sampled_from([np.float16, np.float32, np.float64])


def _shape(points: tuple[int, ...] = ()) -> st.SearchStrategy[tuple[int, ...]]:
    """Random shapes of rank 0..3 (sizes 0..4), often the expected ones (M, N, 3) or (M, 1)."""
    anything = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)
    return st.one_of(anything, st.just(points)) if points else anything


def _array(dtype: st.SearchStrategy, shape: st.SearchStrategy) -> st.SearchStrategy[np.ndarray | None]:
    """An array of random values (NaN, Inf, subnormal and huge floats included), or None for a
    dataset with no dataspace (``h5py.Empty``)."""
    return st.one_of(st.none(), hnp.arrays(dtype, shape))


def _dataset_value(array: np.ndarray | None) -> object:
    return h5py.Empty("f4") if array is None else array


def _write(folder: Path, arrays: dict[str, np.ndarray | None]) -> Path:
    path = folder / "ply_data_test0.h5"
    with h5py.File(path, "w") as handle:
        for key, array in arrays.items():
            handle.create_dataset(key, data=_dataset_value(array))
    return path


def _assert_one_line(error: DataError, path: Path) -> None:
    message = str(error)
    assert message and "\n" not in message
    assert str(path) in message or "NormalizeUnitSphere" in message


@st.composite
def classification_files(draw: st.DrawFn) -> dict[str, np.ndarray | None]:
    m, n = draw(st.integers(0, 3)), draw(st.integers(0, 5))
    arrays = {
        "data": draw(_array(st.one_of(FLOATS, DTYPES), _shape((m, n, 3)))),
        "label": draw(_array(st.one_of(st.just(np.uint8), DTYPES), _shape((m, 1)))),
    }
    drop = draw(st.sampled_from([None, "data", "label"]))
    return {key: value for key, value in arrays.items() if key != drop}


@FEW
@given(arrays=classification_files(), num_classes=st.integers(1, 40))
def test_classification_files_load_or_fail_with_one_line(arrays: dict, num_classes: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = _write(Path(folder), arrays)
        try:
            content = ModelNet40.read_file(path, num_classes, normals=True)
        except DataError as error:
            _assert_one_line(error, path)
            return
    points, labels = content.points, content.labels
    assert points.dtype == np.float32 and points.ndim == 3 and points.shape[2] == 3
    assert points.shape[0] >= 1 and points.shape[1] >= 1
    assert np.isfinite(points).all() and np.abs(points).max() <= MAX_ABS_COORDINATE
    assert labels.dtype == np.int64 and labels.shape == (points.shape[0],)
    assert labels.min() >= 0 and labels.max() < num_classes


@st.composite
def segmentation_files(draw: st.DrawFn) -> dict[str, np.ndarray | None]:
    m, n = draw(st.integers(0, 3)), draw(st.integers(0, 5))
    return {
        "data": draw(_array(st.one_of(FLOATS, DTYPES), _shape((m, n, 3)))),
        "label": draw(_array(st.one_of(st.just(np.uint8), DTYPES), _shape((m, 1)))),
        "pid": draw(_array(st.one_of(st.just(np.uint8), DTYPES), _shape((m, n)))),
    }


@FEW
@given(arrays=segmentation_files())
def test_segmentation_files_load_or_fail_with_one_line(arrays: dict) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = _write(Path(folder), arrays)
        try:
            content = ShapeNetPart.read_file(path)
        except DataError as error:
            _assert_one_line(error, path)
            return
    points, categories, parts = content.points, content.categories, content.parts
    assert points.dtype == np.float32 and np.isfinite(points).all() and points.shape[1] >= 1
    assert categories.shape == (points.shape[0],) and parts.shape == points.shape[:2]
    first, last = ShapeNetPart.FIRST_PART[categories], ShapeNetPart.LAST_PART[categories]
    assert ((parts >= first[:, None]) & (parts <= last[:, None])).all()


@FEW
@given(
    array=hnp.arrays(
        st.one_of(FLOATS, DTYPES),
        _shape((2, 3, 3)),
        elements=None,
    ),
    scale=st.sampled_from([1e-300, 1e-30, 1.0, 1e6, 1e7, 1e20, 1e300]),
)
def test_check_points_and_normalize_never_raise_anything_else(array: np.ndarray, scale: float) -> None:
    if np.issubdtype(array.dtype, np.floating):
        with np.errstate(all="ignore"):
            array = (array.astype(np.float64) * scale).astype(array.dtype)
    try:
        points = check_points(Path("random.h5"), array)
    except DataError as error:
        _assert_one_line(error, Path("random.h5"))
        return
    for cloud in points:
        out = NormalizeUnitSphere()({"points": cloud}, np.random.default_rng(0))["points"]
        assert out.dtype == np.float32 and np.isfinite(out).all()
        radius = np.linalg.norm(out, axis=1).max()
        assert radius == pytest.approx(1.0, abs=1e-5)  # check_points refuses coincident clouds


@FEW
@given(cut=st.integers(0, 4000), flips=st.lists(st.tuples(st.integers(0, 4000), st.integers(1, 255)), max_size=8))
def test_damaged_bytes_load_or_fail_with_one_line(cut: int, flips: list[tuple[int, int]]) -> None:
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        path = _write(Path(folder), {"data": rng.uniform(-1, 1, (2, 8, 3)).astype(np.float32),
                                     "label": np.zeros((2, 1), np.uint8)})  # fmt: skip
        raw = bytearray(path.read_bytes())
        for offset, value in flips:
            if offset < len(raw):
                raw[offset] ^= value
        path.write_bytes(bytes(raw[: max(cut, 1)] if cut < len(raw) else raw))
        try:
            arrays = read_h5(path, ["data", "label"])
        except DataError as error:
            _assert_one_line(error, path)
            return
    assert set(arrays) == {"data", "label"} and all(isinstance(a, np.ndarray) for a in arrays.values())
