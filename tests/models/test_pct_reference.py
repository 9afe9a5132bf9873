"""``attention="offset"`` is PCT: pointea's classifier and part segmenter against PCT's published
networks (tests/models/pct_reference.py), with every weight and BatchNorm statistic random.

The classifier's weights travel through :func:`pointea.convert.from_pct_pytorch`, the converter
users run on PCT_Pytorch's files; the part segmenter's through :func:`transplant_partseg` below
(PCT publishes no PyTorch part-segmentation weights to convert, so that mapping lives here).
"""

import copy

import pytest
import torch
from torch import nn
from torch_geometric.data import Batch, Data

from pointea import PCTPartSegmenter
from pointea.convert import from_pct_pytorch
from pointea.layers.lbr import LBR
from pointea.layers.sampling import fps, knn
from tests.models.pct_reference import (
    Pct,
    PctPartSeg,
    clouds,
    furthest_point_sample,
    randomise,
    square_distance,
)

POINTS = 1024
TOLERANCE_FLOAT64 = 1e-8


@pytest.fixture(scope="module")
def reference() -> Pct:
    return randomise(Pct(output_channels=40), seed=1).double().eval()


@pytest.fixture(scope="module")
def points() -> torch.Tensor:
    return clouds(2, POINTS, seed=2)  # (2, 1024, 3) float64


@pytest.fixture(scope="module")
def expected(reference, points) -> torch.Tensor:
    return pct_logits(reference, points)  # (2, 40)


def pct_logits(model: nn.Module, points: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor:
    """PCT's networks take channels-first clouds, (B, 3, N), as PCT's main.py feeds them."""
    with torch.no_grad():
        return model(points.transpose(1, 2), *rest)


def test_classifier_equals_pct_pytorch_in_float64(reference, points, expected):
    network = from_pct_pytorch(reference.state_dict())
    assert network.encoder.attention == "offset" and next(network.parameters()).dtype == torch.float64
    with torch.no_grad():
        logits = network(points)
    assert (logits - expected).abs().max() <= TOLERANCE_FLOAT64
    # the logits depend on the cloud (a network that ignored its input would pass trivially)
    assert (expected[0] - expected[1]).abs().max() > 1e-3  # far above the tolerance


def test_classifier_equals_pct_pytorch_on_a_pyg_batch(reference, points, expected):
    network = from_pct_pytorch(reference.state_dict())
    batch = Batch.from_data_list([Data(pos=cloud) for cloud in points])
    with torch.no_grad():
        logits = network(batch)
    assert (logits - expected).abs().max() <= TOLERANCE_FLOAT64


def test_classifier_predicts_as_pct_pytorch_in_float32(reference, points):
    single = Pct(output_channels=40).eval()
    single.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in reference.state_dict().items()})
    network = from_pct_pytorch(single.state_dict())
    assert next(network.parameters()).dtype == torch.float32
    expected = pct_logits(single, points.float())
    with torch.no_grad():
        logits = network(points.float())
    assert torch.equal(logits.argmax(dim=-1), expected.argmax(dim=-1))
    assert torch.allclose(logits, expected, atol=1e-3, rtol=1e-3)


def test_pct_sampling_is_pointeas_away_from_the_origin(points):
    """PCT's FPS (start 0, squared distances) picks pointea's indices, and its kNN (matrix-product
    distances, unsorted topk) pointea's neighbour sets, on clouds with no point near the origin."""
    cloud = points[0]
    ours = fps(cloud, 512)
    assert torch.equal(furthest_point_sample(cloud.unsqueeze(0), 512)[0], ours)
    centres = cloud[ours]
    theirs = torch.topk(square_distance(centres.unsqueeze(0), cloud.unsqueeze(0))[0], 32, largest=False).indices
    assert torch.equal(knn(cloud, centres, 32).sort(dim=-1).values, theirs.sort(dim=-1).values)


def test_pct_fps_never_picks_points_near_the_origin_but_pointea_may():
    """The deviation docs/pct.md measures: pointnet2_ops' CUDA FPS skips points with squared norm
    <= 1e-3; pointea's FPS (torch_cluster, and its pure-torch fallback) does not."""
    cloud = clouds(1, 64, seed=3)[0]
    cloud[10] = torch.tensor([0.01, 0.0, 0.02], dtype=cloud.dtype)  # squared norm 5e-4
    pct = furthest_point_sample(cloud.unsqueeze(0), 64)[0]
    assert 10 not in pct.tolist() and len(set(pct.tolist())) == 63  # all 63 others, then repeats
    assert sorted(fps(cloud, 64).tolist()) == list(range(64))
    without_skip = furthest_point_sample(cloud.unsqueeze(0), 64, skip_sq_norm=-1.0)[0]
    assert torch.equal(without_skip, fps(cloud, 64))


# Part segmentation ------------------------------------------------------------------------------


def _copy_lbr(lbr: LBR, conv: nn.Module, norm: nn.BatchNorm1d, weight: torch.Tensor | None = None) -> None:
    """PCT's Conv1d/Linear + BatchNorm into an LBR; a bias before the BatchNorm goes into its mean."""
    lbr.linear.weight.copy_((conv.weight if weight is None else weight).reshape(lbr.linear.weight.shape))
    lbr.norm.load_state_dict(norm.state_dict())
    if getattr(conv, "bias", None) is not None:
        lbr.norm.running_mean.sub_(conv.bias)


def transplant_partseg(reference: PctPartSeg) -> PCTPartSegmenter:
    """The Jittor original's part segmenter, restated in torch, as ``PCTPartSegmenter(attention="offset")``."""
    dtype = reference.conv1.weight.dtype
    network = PCTPartSegmenter(num_parts=reference.convs3.out_channels, attention="offset").to(dtype).eval()
    encoder = network.encoder
    with torch.no_grad():
        _copy_lbr(encoder.embedding[0], reference.conv1, reference.bn1)
        _copy_lbr(encoder.embedding[1], reference.conv2, reference.bn2)
        for layer, sa in zip(encoder.layers, (reference.sa1, reference.sa2, reference.sa3, reference.sa4)):
            assert sa.q_conv.weight is sa.k_conv.weight
            layer.attention.query_key.weight.copy_(sa.k_conv.weight.squeeze(-1))  # (C/4, C, 1) -> (C/4, C)
            layer.attention.value.weight.copy_(sa.v_conv.weight.squeeze(-1))
            layer.attention.value.bias.copy_(sa.v_conv.bias)
            _copy_lbr(layer.transform, sa.trans_conv, sa.after_norm)
        _copy_lbr(encoder.fuse, reference.conv_fuse[0], reference.conv_fuse[1])
        _copy_lbr(network.category_embedding, reference.label_conv[0], reference.label_conv[1])
        # convs1 sees concat(point feature 1024, max 1024, mean 1024, label 64): pointea applies
        # the point part per point and the rest once per cloud.
        first = reference.convs1.weight.squeeze(-1)  # (512, 3136)
        point_channels = encoder.out_channels
        _copy_lbr(network.head.hidden[0], reference.convs1, reference.bns1, weight=first[:, :point_channels])
        network.head.context_projection.weight.copy_(first[:, point_channels:])
        _copy_lbr(network.head.hidden[1], reference.convs2, reference.bns2)
        network.head.output.weight.copy_(reference.convs3.weight.squeeze(-1))
        network.head.output.bias.copy_(reference.convs3.bias)
    return network


@pytest.fixture(scope="module")
def segmentation_reference() -> PctPartSeg:
    return randomise(PctPartSeg(), seed=4).double().eval()


def test_part_segmenter_equals_pct_partseg_in_float64(segmentation_reference):
    network = transplant_partseg(segmentation_reference)
    assert sum(p.numel() for p in network.parameters()) == sum(
        p.numel() for p in segmentation_reference.parameters()
    ) - 4 * 128 - 512 - 256  # the folded biases: trans_conv in 4 layers, convs1, convs2
    points, category = clouds(2, 256, seed=5), torch.tensor([3, 11])
    one_hot = nn.functional.one_hot(category, 16).to(points.dtype)
    expected = pct_logits(segmentation_reference, points, one_hot).transpose(1, 2)  # (B, 50, N) -> (B, N, 50)
    with torch.no_grad():
        logits = network(points, category)
    assert (logits - expected).abs().max() <= TOLERANCE_FLOAT64
    assert (expected[0] - expected[1]).abs().max() > 1e-3  # far above the tolerance


def test_part_segmenter_predicts_as_pct_partseg_in_float32(segmentation_reference):
    single = copy.deepcopy(segmentation_reference).float()
    network = transplant_partseg(single)
    points, category = clouds(2, 256, seed=6, dtype=torch.float32), torch.tensor([0, 15])
    expected = pct_logits(single, points, nn.functional.one_hot(category, 16).float()).transpose(1, 2)
    with torch.no_grad():
        logits = network(points, category)
    assert torch.equal(logits.argmax(dim=-1), expected.argmax(dim=-1))
    assert torch.allclose(logits, expected, atol=1e-3, rtol=1e-3)
