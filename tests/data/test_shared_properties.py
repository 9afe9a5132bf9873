"""Property tests of the shared data modules: normalisation and rotations as geometric maps, HDF5
and split-file round trips, the text releases' resampling, and the one choice check.

Each property is one a plausible bug breaks: a normalisation that forgets the translation or the
scale, a rotation that reflects or shears, a split writer that drops the last partial file or
reorders shapes, a resampler that repeats points it could have kept distinct."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pointea.data.arguments import check_choice
from pointea.data.shapenetpart import resample_shape
from pointea.data.storage import SplitWriter, read_file_list, read_h5, write_h5
from pointea.data.transforms import NormalizeUnitSphere, RotateSO3, RotateUp
from pointea.errors import DataError

FEW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

CLOUDS = hnp.arrays(
    np.float64,
    st.tuples(st.integers(2, 40), st.just(3)),
    elements=st.floats(-100, 100, allow_nan=False, allow_infinity=False),
)


def _rotation(rng: np.random.Generator) -> np.ndarray:
    """A random proper rotation (3, 3): QR of a Gaussian matrix, signs fixed, det +1."""
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def _fitted_map(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The linear map (3, 3) that takes ``source`` (N, 3) rows to ``target`` rows (least squares)."""
    solution, *_ = np.linalg.lstsq(source, target, rcond=None)
    return solution.T


@FEW
@given(CLOUDS, st.integers(0, 2**32 - 1), st.floats(1e-3, 1e3))
def test_normalize_is_equivariant_to_similarity_maps(cloud: np.ndarray, seed: int, scale: float) -> None:
    """normalize(s R x + t) == R normalize(x): translation and scale are removed, rotation kept;
    the result is centred with its farthest point on the unit sphere."""
    radius = np.linalg.norm(cloud - cloud.mean(axis=0), axis=1).max()
    if radius < 1e-3:  # (nearly) coincident points: only centred, covered elsewhere
        return
    rng = np.random.default_rng(seed)
    rotation, shift = _rotation(rng), rng.uniform(-50, 50, size=3)
    normalize = NormalizeUnitSphere()
    served = normalize({"points": cloud.astype(np.float32)}, rng)["points"]
    assert served.dtype == np.float32 and served.shape == cloud.shape
    plain = served.astype(np.float64)
    moved = (scale * cloud @ rotation.T + shift).astype(np.float32)
    mapped = normalize({"points": moved}, rng)["points"].astype(np.float64)
    np.testing.assert_allclose(plain.mean(axis=0), 0, atol=1e-5)
    assert np.linalg.norm(plain, axis=1).max() == pytest.approx(1.0, abs=1e-5)
    # The one error source is float32 storage of the inputs: relative to the cloud's radius it is
    # a few float32 steps of the largest coordinate.
    steps = np.finfo(np.float32).eps * (np.abs(cloud).max() / radius + np.abs(moved).max() / (scale * radius))
    np.testing.assert_allclose(mapped, plain @ rotation.T, atol=1e-5 + 8 * steps)


@FEW
@given(st.integers(0, 2**32 - 1))
def test_rotations_are_proper_rotations_and_rotate_up_fixes_the_up_axis(seed: int) -> None:
    """Fitted from the points, each map is orthogonal with determinant +1 (no reflection, no
    shear); every pairwise distance is kept; RotateUp leaves the y axis where it is."""
    rng = np.random.default_rng(seed)
    points = rng.uniform(-1, 1, size=(30, 3)).astype(np.float32)
    for transform in (RotateUp(axis=1), RotateSO3()):
        out = transform({"points": points}, rng)["points"]
        assert out.dtype == np.float32 and out.shape == points.shape
        fitted = _fitted_map(points.astype(np.float64), out.astype(np.float64))
        np.testing.assert_allclose(fitted @ fitted.T, np.eye(3), atol=1e-4)
        assert np.linalg.det(fitted) == pytest.approx(1.0, abs=1e-4)
        distances = np.linalg.norm(points[:, None] - points[None], axis=-1)  # (N, N)
        np.testing.assert_allclose(np.linalg.norm(out[:, None] - out[None], axis=-1), distances, atol=1e-5)
        if isinstance(transform, RotateUp):
            np.testing.assert_allclose(fitted[:, 1], [0, 1, 0], atol=1e-4)
        else:  # SO(3) really moves the up axis (staying within 1e-2 has probability ~1e-5)
            assert not np.allclose(fitted[:, 1], [0, 1, 0], atol=1e-2)


@FEW
@given(
    st.integers(1, 60),
    st.integers(1, 25),
    st.sampled_from([np.float32, np.uint8, np.int64]),
)
def test_split_writer_round_trips_every_shape_in_order(count: int, per_file: int, dtype) -> None:
    """However many shapes and whatever the chunk size: ceil(count / per_file) files, each
    with its id list, whose rows read back concatenated are the shapes added, in order."""
    rng = np.random.default_rng(count * 100 + per_file)
    data = (rng.uniform(0, 200, size=(count, 4, 3))).astype(dtype)  # (M, N, 3)
    labels = np.arange(count, dtype=np.uint8).reshape(count, 1) % 7  # (M, 1)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        writer = SplitWriter(folder, "train", shapes_per_file=per_file)
        for index in range(count):
            writer.add(f"shape_{index}", {"data": data[index], "label": labels[index]})
        names = writer.close()
        assert len(names) == -(-count // per_file) and writer.count == count
        (folder / "list.txt").write_text("".join(f"junk/prefix/{name}\n" for name in names))
        files = read_file_list(folder / "list.txt")
        arrays = [read_h5(path, required=("data", "label")) for path in files]
        np.testing.assert_array_equal(np.concatenate([a["data"] for a in arrays]), data)
        np.testing.assert_array_equal(np.concatenate([a["label"] for a in arrays]), labels)
        assert all(a["data"].dtype == dtype for a in arrays)
        ids = [json.loads((folder / f"ply_data_train_{i}_id2file.json").read_text()) for i in range(len(names))]
        assert sum(ids, []) == [f"shape_{index}" for index in range(count)]
        assert [len(chunk) for chunk in ids] == [len(a["data"]) for a in arrays]


@FEW
@given(st.integers(1, 300), st.integers(1, 300), st.integers(0, 2**32 - 1))
def test_resample_shape_keeps_points_distinct_when_it_can(count: int, wanted: int, seed: int) -> None:
    """Exactly ``wanted`` valid indices; all distinct when the shape has enough points, otherwise
    every point at least once (none lost) and only the shortfall repeated."""
    index = resample_shape(count, wanted, np.random.default_rng(seed))
    assert index.shape == (wanted,) and np.issubdtype(index.dtype, np.integer)
    assert index.min() >= 0 and index.max() < count
    uses = np.bincount(index, minlength=count)  # (count,)
    if count >= wanted:
        assert uses.max() == 1
    else:
        assert uses.min() >= 1 and uses.sum() - count == wanted - count


@FEW
@given(
    hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=3, max_side=5)),
    hnp.arrays(np.int16, hnp.array_shapes(min_dims=0, max_dims=2, max_side=5)),
)
def test_h5_round_trip_keeps_values_dtypes_and_shapes(points: np.ndarray, labels: np.ndarray) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "file.h5"
        write_h5(path, {"data": points, "label": labels})
        arrays = read_h5(path, required=("data",), optional=("label", "absent"))
    assert set(arrays) == {"data", "label"}
    for key, original in (("data", points), ("label", labels)):
        assert arrays[key].dtype == original.dtype and arrays[key].shape == original.shape
        np.testing.assert_array_equal(arrays[key], original)


NAMES = st.text("abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=8)


@given(st.one_of(NAMES, st.text(max_size=12)), st.lists(NAMES, min_size=1, max_size=5, unique=True))
def test_check_choice_accepts_exactly_the_choices(value: str, choices: list[str]) -> None:
    if value in choices:
        assert check_choice("option", value, choices) is value
        return
    for error in (ValueError, DataError):
        with pytest.raises(error) as raised:
            check_choice("data.option", value, choices, error)
        message = str(raised.value)
        assert message.startswith("data.option must be one of ") and repr(value) in message
        assert all(choice in message for choice in choices) and "\n" not in message
