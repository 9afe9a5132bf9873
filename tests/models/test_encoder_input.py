"""What the encoder does with input a careless user gives it (issue 11, case 4): NaN/Inf and
absurdly large coordinates are one-line errors (they used to fail deep in sampling.py with
``shape '[256, 8]' is invalid``), half-precision input is cast, a batch of 0 clouds is empty."""

import pytest
import torch
from torch_geometric.data import Batch, Data

from pointea import PCTClassifier, PCTNormalEstimator, PCTPartSegmenter, PCTSemanticSegmenter, PointEncoder
from pointea.models.encoder import max_coordinate
from tests.conftest import TINY_ENCODER


@pytest.fixture
def encoder():
    return PointEncoder(**TINY_ENCODER).eval()


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_points_are_one_line_errors(encoder, value):
    points = torch.rand(2, 128, 3)
    points[1, 17, 2] = value
    with pytest.raises(ValueError) as error:
        encoder(points)
    assert str(error.value) == (
        "PointEncoder: 1 point(s) have NaN or Inf coordinates (the first at index (1, 17)); drop or repair those clouds"
    )


def test_non_finite_points_in_a_pyg_batch(encoder):
    clouds = [Data(pos=torch.rand(100, 3)), Data(pos=torch.rand(90, 3))]
    clouds[1].pos[5, 0] = float("nan")
    with pytest.raises(ValueError, match=r"1 point\(s\) have NaN or Inf coordinates \(the first at index 105\)"):
        encoder(Batch.from_data_list(clouds))


def test_coordinates_beyond_what_float32_distances_hold_are_one_line_errors(encoder):
    points = torch.rand(2, 128, 3) * 1e20
    with pytest.raises(ValueError) as error:
        encoder(points)
    message = str(error.value)
    assert "\n" not in message and "exceeds 1e+18" in message and "normalize" in message


def test_the_coordinate_limit_keeps_squared_distances_finite():
    for dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
        limit = max_coordinate(dtype)
        far = torch.tensor([[limit] * 3, [-limit] * 3], dtype=torch.float64)
        assert ((far[0] - far[1]) ** 2).sum() < torch.finfo(dtype).max  # the widest pair's squared distance fits
        assert 10 * limit > (torch.finfo(dtype).max / 12) ** 0.5  # and the limit is the largest power of ten that does
    assert max_coordinate(torch.float32) == 1e18


@pytest.mark.parametrize("scale", [1e17, 1e-30])
def test_large_and_tiny_clouds_within_the_limit_encode_finitely(encoder, scale):
    out = encoder(torch.rand(2, 128, 3) * scale)
    assert out.global_feature.shape == (2, 64) and out.global_feature.isfinite().all()


TINY_SEGMENTATION = dict(TINY_ENCODER, sample_sizes=(), stage_channels=(), pooling="max+mean")
# Every network, called on (points, features): the dtype of both must not matter (issue 16: the
# part segmenter's category term took points.dtype and crashed on float64/bfloat16/float16 points).
NETWORKS = {
    "encoder": (lambda: PointEncoder(**TINY_ENCODER, in_channels=2), lambda m, p, f: m(p, f).global_feature),
    "classifier": (lambda: PCTClassifier(4, encoder=PointEncoder(**TINY_ENCODER)), lambda m, p, f: m(p)),
    "part_segmenter": (
        lambda: PCTPartSegmenter(6, 3, encoder=PointEncoder(**TINY_SEGMENTATION, in_channels=2)),
        lambda m, p, f: m(p, torch.tensor([0, 2]), features=f),
    ),
    "semantic_segmenter": (
        lambda: PCTSemanticSegmenter(5, encoder=PointEncoder(**TINY_SEGMENTATION, in_channels=2)),
        lambda m, p, f: m(p, f),
    ),
    "normal_estimator": (
        lambda: PCTNormalEstimator(encoder=PointEncoder(**TINY_SEGMENTATION, in_channels=2)),
        lambda m, p, f: m(p, f),
    ),
}


@pytest.mark.parametrize("network", NETWORKS)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_other_float_dtypes_are_cast_to_the_networks(network, dtype):
    build, call = NETWORKS[network]
    model = build().eval()
    points, features = torch.rand(2, 128, 3), torch.rand(2, 128, 2)
    with torch.no_grad():
        expected = call(model, points.to(dtype).float(), features.to(dtype).float())  # the same values, as float32
        out = call(model, points.to(dtype), features.to(dtype))
    assert out.dtype == torch.float32
    assert torch.equal(out, expected)


@pytest.mark.parametrize("network", NETWORKS)
def test_half_input_under_autocast_runs_every_network(network):
    build, call = NETWORKS[network]
    model = build().eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = call(model, torch.rand(2, 128, 3, dtype=torch.bfloat16), torch.rand(2, 128, 2, dtype=torch.bfloat16))
    assert out.isfinite().all()


def test_half_input_under_autocast_runs(encoder):
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = encoder(torch.rand(2, 128, 3, dtype=torch.bfloat16))
    assert out.global_feature.shape == (2, 64) and out.global_feature.isfinite().all()


@pytest.mark.parametrize("attention", ["external", "offset"])
def test_a_batch_of_no_clouds_gives_an_empty_output(attention):
    encoder = PointEncoder(**{**TINY_ENCODER, "attention": attention}).eval()
    out = encoder(torch.rand(0, 128, 3), return_attention=True)
    assert out.features.shape == (0, 32, 64) and out.positions.shape == (0, 32, 3)
    assert out.global_feature.shape == (0, 64)
    keys = 8 if attention == "external" else 32  # memory slots, or the 32 encoded points
    heads = 4 if attention == "external" else 1
    assert [a.shape for a in out.attention] == [(0, heads, 32, keys)] * 2
    classifier = PCTClassifier(num_classes=5, encoder=encoder, hidden_channels=(16,)).eval()
    assert classifier(torch.rand(0, 128, 3)).shape == (0, 5)  # as nn.Linear does for an empty batch


def test_a_full_resolution_encoder_keeps_the_point_count_of_an_empty_batch():
    encoder = PointEncoder(**{**TINY_ENCODER, "sample_sizes": (), "stage_channels": (), "channels": 16}).eval()
    assert encoder(torch.rand(0, 77, 3)).features.shape == (0, 77, 64)
