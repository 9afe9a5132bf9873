import torch

from pointea.layers.self_attention import SelfAttention


def pct_reference(layer: SelfAttention, x: torch.Tensor) -> torch.Tensor:
    """PCT's SA_Layer attention part, channels-first with bmm, as in the authors' code."""
    xc = x.transpose(1, 2)  # (B, C, N)
    x_q = (layer.query_key.weight @ xc).transpose(1, 2)  # (B, N, C/4)
    x_k = layer.query_key.weight @ xc  # (B, C/4, N)
    x_v = layer.value.weight @ xc + layer.value.bias[:, None]  # (B, C, N)
    energy = torch.bmm(x_q, x_k)
    attention = torch.softmax(energy, dim=-1)
    attention = attention / (1e-9 + attention.sum(dim=1, keepdim=True))
    return torch.bmm(x_v, attention).transpose(1, 2)  # (B, N, C)


def test_single_head_equals_pct_formula():
    layer = SelfAttention(16, heads=1)
    x = torch.randn(2, 11, 16)
    out, attention = layer(x, return_attention=True)
    assert torch.allclose(out, pct_reference(layer, x), atol=1e-5)
    assert attention.shape == (2, 1, 11, 11)
    assert torch.allclose(attention.sum(dim=-1), torch.ones(2, 1, 11), atol=1e-5)


def test_multi_head_shapes_and_equivariance():
    layer = SelfAttention(16, heads=2)
    x = torch.randn(2, 13, 16)
    perm = torch.randperm(13)
    out, attention = layer(x, return_attention=True)
    out_p, attention_p = layer(x[:, perm], return_attention=True)
    assert attention.shape == (2, 2, 13, 13)
    assert torch.allclose(out[:, perm], out_p, atol=1e-5)
    assert torch.allclose(attention[:, :, perm][:, :, :, perm], attention_p, atol=1e-6)


def test_padding_mask_leaves_real_points_unchanged():
    layer = SelfAttention(16)
    x = torch.randn(1, 9, 16)
    padded = torch.cat([x, torch.randn(1, 4, 16) * 50], dim=1)
    mask = torch.tensor([[True] * 9 + [False] * 4])
    out, _ = layer(x)
    out_padded, attention = layer(padded, mask=mask, return_attention=True)
    assert torch.allclose(out_padded[:, :9], out, atol=1e-5)
    assert torch.all(attention[:, :, :9, 9:] == 0)  # real points never read padding


def test_float64_is_computed_in_float64():
    """The softmax runs in at least float32 (for bf16/fp16), but never rounds float64 down."""
    layer = SelfAttention(16, heads=1).double()
    x = torch.randn(2, 11, 16, dtype=torch.float64)
    out, attention = layer(x, return_attention=True)
    assert out.dtype == attention.dtype == torch.float64
    assert (out - pct_reference(layer, x)).abs().max() < 1e-12
