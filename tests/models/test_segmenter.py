import pytest
import torch

from pointea import PCTPartSegmenter, PointEncoder
from tests.conftest import TINY_ENCODER

TINY_SEGMENTATION = dict(TINY_ENCODER, sample_sizes=(), stage_channels=(), pooling="max+mean")


@pytest.mark.parametrize("attention", ["external", "offset"])
@pytest.mark.parametrize("num_points", [2048, 333])
def test_default_segmenter_keeps_full_resolution(attention, num_points):
    model = PCTPartSegmenter(attention=attention).eval()
    logits, encoding = model(torch.rand(2, num_points, 3), torch.tensor([0, 15]), return_attention=True)
    assert logits.shape == (2, num_points, 50)
    assert encoding.attention[0].shape[2] == num_points


def test_category_changes_the_prediction():
    model = PCTPartSegmenter(num_parts=6, num_categories=3, encoder=PointEncoder(**TINY_SEGMENTATION)).eval()
    points = torch.rand(1, 50, 3)
    assert not torch.allclose(model(points, torch.tensor([0])), model(points, torch.tensor([2])))


def test_segmenter_is_permutation_equivariant():
    model = PCTPartSegmenter(num_parts=6, num_categories=3, encoder=PointEncoder(**TINY_SEGMENTATION)).eval()
    points, perm = torch.rand(2, 60, 3), torch.randperm(60)
    category = torch.tensor([1, 2])
    assert torch.allclose(model(points, category)[:, perm], model(points[:, perm], category), atol=1e-5)


def test_gradients_reach_every_parameter():
    model = PCTPartSegmenter(num_parts=6, num_categories=3, encoder=PointEncoder(**TINY_SEGMENTATION))
    logits = model(torch.rand(2, 40, 3), torch.tensor([0, 1]))
    torch.nn.functional.cross_entropy(logits.reshape(-1, 6), torch.randint(0, 6, (80,))).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_bad_category_is_a_clear_error():
    model = PCTPartSegmenter(encoder=PointEncoder(**TINY_SEGMENTATION))
    with pytest.raises(ValueError, match=r"category ids must lie in \[0, 16\), got \[0, 16\]"):
        model(torch.rand(2, 30, 3), torch.tensor([0, 16]))
    with pytest.raises(ValueError, match=r"category must be a \(B,\) integer tensor"):
        model(torch.rand(2, 30, 3), torch.tensor([0.0, 1.0]))


def test_downsampling_encoder_is_rejected():
    with pytest.raises(ValueError, match="full-resolution encoder"):
        PCTPartSegmenter(encoder=PointEncoder(**TINY_ENCODER))


def test_context_applied_once_per_cloud_equals_pct_concatenation():
    """The first head layer equals PCT's LBR over concat(point feature, global, category embedding)."""
    model = PCTPartSegmenter(num_parts=6, num_categories=3, encoder=PointEncoder(**TINY_SEGMENTATION)).eval()
    points, category = torch.rand(2, 40, 3), torch.tensor([0, 2])
    encoding = model.encoder(points)
    embedding = model.category_embedding(torch.nn.functional.one_hot(category, 3).float())
    context = torch.cat([encoding.global_feature, embedding], dim=-1).unsqueeze(1).expand(-1, 40, -1)
    concatenated = torch.cat([encoding.features, context], dim=-1)  # (B, N, C + G + E), as in PCT
    first = model.head.hidden[0]
    weight = torch.cat([first.linear.weight, model.head.context_projection.weight], dim=1)
    pct_first = first.activation(first.norm((concatenated @ weight.T).reshape(-1, weight.shape[0])))
    x = pct_first.view(2, 40, -1)
    for lbr in model.head.hidden[1:]:
        x = lbr(x)
    assert torch.allclose(model(points, category), model.head.output(x), atol=1e-5)
