import pytest
import torch
from torch_geometric.data import Batch, Data

from pointea import PointEncoder
from tests.conftest import TINY_ENCODER


@pytest.mark.parametrize("attention, map_shape", [("external", (2, 4, 256, 64)), ("offset", (2, 1, 256, 256))])
@pytest.mark.parametrize("num_points", [1024, 777, 512])
def test_default_encoder_shapes(attention, map_shape, num_points):
    encoder = PointEncoder(attention=attention).eval()
    out = encoder(torch.rand(2, num_points, 3), return_attention=True)
    assert out.features.shape == (2, 256, 1024)
    assert out.positions.shape == (2, 256, 3)
    assert out.global_feature.shape == (2, 1024)
    assert out.mask is None
    assert len(out.attention) == 4 and all(a.shape == map_shape for a in out.attention)


def test_positions_are_input_points():
    points = torch.rand(2, 200, 3)
    out = PointEncoder(**TINY_ENCODER).eval()(points)
    for cloud, positions in zip(points, out.positions):
        exact_match = (positions[:, None] == cloud[None]).all(dim=-1)  # (M, N)
        assert exact_match.any(dim=1).all()


def test_fewer_points_than_the_first_sample_size_is_a_clear_error():
    with pytest.raises(ValueError, match="samples 512 points per cloud .* has 300"):
        PointEncoder()(torch.rand(2, 300, 3))


@pytest.mark.parametrize("bad", [torch.rand(2, 100), torch.rand(2, 100, 6), torch.randint(0, 5, (2, 100, 3))])
def test_wrong_input_is_a_clear_error(bad):
    with pytest.raises(ValueError, match=r"expects a float tensor of shape \(B, N, 3\)"):
        PointEncoder(**TINY_ENCODER)(bad)


@pytest.mark.parametrize("attention", ["external", "offset"])
def test_dense_and_pyg_batch_give_the_same_output(attention):
    encoder = PointEncoder(attention=attention, **TINY_ENCODER)
    points = torch.rand(3, 150, 3)
    batch = Batch.from_data_list([Data(pos=cloud) for cloud in points])
    for mode in (encoder.train, encoder.eval):  # batch statistics and running statistics
        mode()
        dense, pyg = encoder(points), encoder(batch)
        assert torch.allclose(dense.features, pyg.features, atol=1e-5)
        assert torch.allclose(dense.global_feature, pyg.global_feature, atol=1e-5)


def test_pyg_batch_of_different_sizes_matches_clouds_one_by_one():
    encoder = PointEncoder(**TINY_ENCODER).eval()
    clouds = [torch.rand(n, 3) for n in (100, 170, 64)]
    together = encoder(Batch.from_data_list([Data(pos=c) for c in clouds]))
    for i, cloud in enumerate(clouds):
        alone = encoder(cloud.unsqueeze(0))
        assert torch.allclose(together.global_feature[i], alone.global_feature[0], atol=1e-5)


@pytest.mark.parametrize("local_neighbours", [0, 5])
@pytest.mark.parametrize("attention", ["external", "offset"])
def test_full_resolution_encoder_masks_padding_of_uneven_batches(attention, local_neighbours):
    """The padding (at the origin, near these clouds' points) is never attended to nor a neighbour."""
    config = dict(TINY_ENCODER, sample_sizes=(), stage_channels=(), pooling="max+mean")
    encoder = PointEncoder(attention=attention, **config, local_neighbours=local_neighbours).eval()
    clouds = [torch.rand(n, 3) for n in (40, 25)]
    out = encoder(Batch.from_data_list([Data(pos=c) for c in clouds]), return_attention=True)
    assert out.features.shape == (2, 40, 64) and out.global_feature.shape == (2, 128)
    assert out.mask.sum(dim=1).tolist() == [40, 25]
    alone = encoder(clouds[1].unsqueeze(0))
    assert torch.allclose(out.features[1, :25], alone.features[0], atol=1e-5)
    assert torch.allclose(out.global_feature[1], alone.global_feature[0], atol=1e-5)


@pytest.mark.parametrize("attention", ["external", "offset"])
def test_gradients_reach_every_parameter(attention):
    encoder = PointEncoder(attention=attention, **TINY_ENCODER)
    out = encoder(torch.rand(2, 128, 3))
    (out.features.mean() + out.global_feature.mean()).backward()
    for name, p in encoder.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("attention", ["external", "offset"])
@pytest.mark.parametrize("case", ["identical", "duplicated", "huge", "tiny"])
def test_degenerate_inputs_stay_finite(attention, case):
    points = {
        "identical": torch.ones(2, 128, 3),
        "duplicated": torch.rand(2, 16, 3).repeat(1, 8, 1),
        "huge": torch.rand(2, 128, 3) * 1e4,
        "tiny": torch.rand(2, 128, 3) * 1e-6,
    }[case]
    encoder = PointEncoder(attention=attention, **TINY_ENCODER)
    out = encoder(points, return_attention=True)
    out.global_feature.sum().backward()
    assert torch.isfinite(out.features).all() and torch.isfinite(out.global_feature).all()
    assert all(torch.isfinite(a).all() for a in out.attention)
    assert all(torch.isfinite(p.grad).all() for p in encoder.parameters() if p.grad is not None)


def test_constructor_rejects_inconsistent_stages():
    with pytest.raises(ValueError, match="one entry per stage"):
        PointEncoder(sample_sizes=(512, 256), stage_channels=(128,))
    with pytest.raises(ValueError, match="must not increase"):
        PointEncoder(sample_sizes=(256, 512))
    with pytest.raises(ValueError, match="neighbours=64 exceeds"):
        PointEncoder(sample_sizes=(128, 32), neighbours=64)


def test_pct_segmentation_encoder_options_are_checked():
    with pytest.raises(ValueError, match="pre_attention_layers=0 .* channels=32 must equal its width 16"):
        PointEncoder(**{**TINY_ENCODER, "sample_sizes": (), "stage_channels": ()}, pre_attention_layers=0)
    with pytest.raises(ValueError, match="pre_attention_layers must be an integer >= 0"):
        PointEncoder(**TINY_ENCODER, pre_attention_layers=-1)


@pytest.mark.parametrize("fuse_embedding, fused", [(True, 2 * 32 + 32), (False, 2 * 32)])
def test_fusion_width_follows_pct(fuse_embedding, fused):
    """PCT's classifier fuses the attention outputs and the last stage's output (feature_1);
    its segmenter the attention outputs alone."""
    encoder = PointEncoder(**TINY_ENCODER, fuse_embedding=fuse_embedding)
    assert encoder.fuse.linear.in_features == fused
    assert len(encoder.pre_attention) == 2


LOCAL = dict(TINY_ENCODER, sample_sizes=(), stage_channels=(), pre_attention_layers=0, channels=16)


@pytest.mark.parametrize("in_channels", [0, 2])
def test_local_neighbours_embed_each_point_with_its_nearest_points(in_channels):
    """The input embedding with local_neighbours K: the two LBRs on concat(x_j - x_i, x_i) of the K
    nearest inputs j of point i (itself included), max over them; computed here by brute force."""
    encoder = PointEncoder(**LOCAL, in_channels=in_channels, local_neighbours=4).eval()
    with torch.no_grad():
        for module in encoder.modules():
            if isinstance(module, torch.nn.BatchNorm1d):  # running statistics that are not the identity
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    points, features = torch.rand(2, 30, 3), torch.rand(2, 30, in_channels) if in_channels else None
    inputs = points if features is None else torch.cat([points, features], dim=-1)  # (B, N, D)
    nearest = torch.cdist(points, points).topk(4, largest=False).indices  # (B, N, 4)
    expected = torch.stack([
        torch.stack([
            encoder.embedding(torch.cat([inputs[b, nearest[b, i]] - inputs[b, i], inputs[b, i].expand(4, -1)], dim=-1)).amax(0)
            for i in range(30)
        ]) for b in range(2)
    ])  # fmt: skip
    with torch.no_grad():
        embedding, *_ = encoder.embed(points, features, None)
    assert encoder.embedding[0].linear.in_features == 2 * (3 + in_channels)
    assert torch.allclose(embedding, expected, atol=1e-5)
    assert PointEncoder(**LOCAL, in_channels=in_channels).embedding[0].linear.in_features == 3 + in_channels  # PCT's


def test_local_neighbours_make_a_point_see_its_neighbourhood():
    """Moving one point changes the embedding of its neighbours with local_neighbours, and of no
    other point without them (PCT's embedding is per point)."""
    points = torch.rand(1, 50, 3)
    moved = points.clone()
    moved[0, 0] += 0.05
    near = torch.cdist(points[0, :1], points[0]).topk(6, largest=False).indices[0, 1:]  # 5 nearest others
    for k, changed in ((8, True), (0, False)):
        encoder = PointEncoder(**LOCAL, local_neighbours=k).eval()
        with torch.no_grad():
            before, after = encoder.embed(points, None, None)[0], encoder.embed(moved, None, None)[0]
        difference = (before[0, near] - after[0, near]).abs().amax(dim=-1)  # (5,)
        assert bool((difference > 1e-6).any()) == changed, k


def test_fewer_points_than_local_neighbours_is_a_clear_error():
    encoder = PointEncoder(**LOCAL, local_neighbours=16)
    with pytest.raises(ValueError) as error:
        encoder(torch.rand(2, 10, 3))
    assert str(error.value) == (
        "PointEncoder embeds each point with its 16 nearest (local_neighbours), but a cloud has 10 points; "
        "resample clouds to at least 16 points (pointea.data transforms do) or lower local_neighbours"
    )
