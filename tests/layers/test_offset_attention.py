import pytest
import torch
from torch import nn

from pointea import PCTClassifier, PointEncoder
from pointea.layers import ExternalAttention, OffsetAttentionLayer, SelfAttention
from tests.conftest import TINY_ENCODER
from tests.models.pct_reference import SA_Layer, randomise


@pytest.mark.parametrize("kind, attention_type, map_shape", [
    ("external", ExternalAttention, (2, 4, 10, 16)),
    ("offset", SelfAttention, (2, 1, 10, 10)),
])
def test_switch_picks_the_attention_and_returns_its_map(kind, attention_type, map_shape):
    layer = OffsetAttentionLayer(32, attention=kind, memory_slots=16)
    assert isinstance(layer.attention, attention_type)
    out, attention = layer(torch.randn(2, 10, 32), return_attention=True)
    assert out.shape == (2, 10, 32)
    assert attention.shape == map_shape


def _transplant(reference: SA_Layer) -> OffsetAttentionLayer:
    """PCT's published SA_Layer (tests/models/pct_reference.py) as pointea's offset layer."""
    channels = reference.v_conv.weight.shape[0]
    layer = OffsetAttentionLayer(channels, attention="offset").double()
    with torch.no_grad():
        layer.attention.query_key.weight.copy_(reference.k_conv.weight.squeeze(-1))  # (C/4, C, 1) -> (C/4, C)
        layer.attention.value.weight.copy_(reference.v_conv.weight.squeeze(-1))
        layer.attention.value.bias.copy_(reference.v_conv.bias)
        layer.transform.linear.weight.copy_(reference.trans_conv.weight.squeeze(-1))
        layer.transform.norm.load_state_dict(reference.after_norm.state_dict())
        layer.transform.norm.running_mean.sub_(reference.trans_conv.bias)  # its bias before BatchNorm
    return layer


@pytest.mark.parametrize("training", [False, True])
def test_offset_layer_is_pcts_published_sa_layer(training):
    """Against PCT's own code (q/k shared, softmax then l1 over the query axis, offset, LBR,
    residual) with random weights and BatchNorm statistics; in training mode BatchNorm uses the
    batch's statistics, which cancel trans_conv's bias just as folding it into the mean does."""
    reference = randomise(SA_Layer(32), seed=11).double().train(training)
    layer = _transplant(reference).train(training)
    x = torch.randn(3, 40, 32, dtype=torch.float64)
    expected = reference(x.transpose(1, 2)).transpose(1, 2)  # PCT is channels-first: (B, C, N)
    assert (layer(x)[0] - expected).abs().max() < 1e-10


@pytest.mark.parametrize("kind", ["external", "offset"])
def test_output_is_the_input_plus_a_nonnegative_offset_term(kind):
    """F_out = F_in + ReLU(BN(...)): never below the input, and above it somewhere."""
    layer = OffsetAttentionLayer(16, attention=kind, memory_slots=8).eval()
    x = torch.randn(2, 30, 16)
    out, _ = layer(x)
    assert (out - x).min() >= 0
    assert (out - x).max() > 0


@pytest.mark.parametrize("kind", ["external", "offset"])
def test_the_layer_transforms_the_offset_not_the_attention_output(kind, monkeypatch):
    """With an attention that returns its input the offset is 0 at every point, so every point gets
    the same shift: a layer that transformed the attention output itself would not."""
    layer = randomise(OffsetAttentionLayer(16, attention=kind, memory_slots=8), seed=3).eval()
    monkeypatch.setattr(layer.attention, "forward", lambda x, mask=None, return_attention=False: (x, None))
    x = torch.randn(2, 30, 16)
    shift = layer(x)[0] - x  # (B, N, C)
    assert torch.allclose(shift, shift[:, :1].expand_as(shift), atol=1e-6)
    norm = layer.transform.norm  # and that shift is the LBR of zero: ReLU(BN(0))
    expected = torch.relu(norm.bias - norm.weight * norm.running_mean / (norm.running_var + norm.eps).sqrt())
    assert torch.allclose(shift[0, 0], expected, atol=1e-6)


@pytest.mark.parametrize("kind", ["external", "offset"])
def test_padding_neither_moves_real_points_nor_gets_an_offset(kind):
    layer = randomise(OffsetAttentionLayer(16, attention=kind, memory_slots=8), seed=5).eval()
    x = torch.randn(1, 12, 16)
    padded = torch.cat([x, torch.randn(1, 5, 16) * 50], dim=1)
    mask = torch.tensor([[True] * 12 + [False] * 5])
    out, _ = layer(padded, mask=mask)
    assert torch.allclose(out[:, :12], layer(x)[0], atol=1e-5)
    assert torch.equal(out[:, 12:], padded[:, 12:])  # the padding's own values, untouched


@pytest.mark.parametrize("kind", ["external", "offset"])
def test_layer_is_permutation_equivariant(kind):
    layer = OffsetAttentionLayer(16, attention=kind, memory_slots=8).eval()
    x = torch.randn(2, 15, 16)
    perm = torch.randperm(15)
    assert torch.allclose(layer(x)[0][:, perm], layer(x[:, perm])[0], atol=1e-5)


def test_unknown_kind_is_a_clear_error():
    with pytest.raises(ValueError, match=r"attention must be one of \('external', 'offset'\) \('self' means 'offset'\), got 'linear'"):
        OffsetAttentionLayer(16, attention="linear")


def test_self_is_the_same_kind_as_offset_and_stored_as_offset():
    torch.manual_seed(0)
    offset = PointEncoder(**TINY_ENCODER, attention="offset").eval()
    torch.manual_seed(0)
    alias = PointEncoder(**TINY_ENCODER, attention="self").eval()
    assert alias.attention == "offset" and isinstance(alias.layers[0].attention, SelfAttention)
    points = torch.rand(2, 128, 3)
    assert torch.equal(alias(points).global_feature, offset(points).global_feature)
    assert PCTClassifier(attention="self", encoder=offset).encoder is offset  # no conflict: one kind
    assert isinstance(OffsetAttentionLayer(8, attention="self").attention, SelfAttention)
    with pytest.raises(ValueError, match="conflicts"):
        PCTClassifier(attention="self", encoder=PointEncoder(**TINY_ENCODER))


def test_randomise_touches_the_layer():
    """The helper the tests above rely on gives BatchNorm statistics away from the identity."""
    norm = randomise(OffsetAttentionLayer(8), seed=1).transform.norm
    assert isinstance(norm, nn.BatchNorm1d) and not torch.allclose(norm.running_var, torch.ones(8))
