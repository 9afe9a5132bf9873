import pytest
import torch

from pointea.layers import ExternalAttention, OffsetAttentionLayer, SelfAttention


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


def test_offset_formula_residual_of_transformed_offset():
    layer = OffsetAttentionLayer(8, heads=2, memory_slots=4).eval()
    x = torch.randn(1, 6, 8)
    attended, _ = layer.attention(x)
    expected = x + layer.transform(x - attended)
    assert torch.allclose(layer(x)[0], expected)


@pytest.mark.parametrize("kind", ["external", "offset"])
def test_layer_is_permutation_equivariant(kind):
    layer = OffsetAttentionLayer(16, attention=kind, memory_slots=8).eval()
    x = torch.randn(2, 15, 16)
    perm = torch.randperm(15)
    assert torch.allclose(layer(x)[0][:, perm], layer(x[:, perm])[0], atol=1e-5)


def test_unknown_kind_is_a_clear_error():
    with pytest.raises(ValueError, match=r"attention must be one of \('external', 'offset'\), got 'linear'"):
        OffsetAttentionLayer(16, attention="linear")
