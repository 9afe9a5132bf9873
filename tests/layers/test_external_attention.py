import pytest
import torch

from pointea.layers.external_attention import ExternalAttention, double_normalize


def naive_double_normalize(logits: torch.Tensor) -> torch.Tensor:
    """Element by element: softmax over points n, then l1 over slots s, for every (b, h)."""
    B, H, N, S = logits.shape
    out = torch.zeros(B, H, N, S, dtype=torch.float64)
    for b in range(B):
        for h in range(H):
            soft = torch.zeros(N, S, dtype=torch.float64)
            for s in range(S):
                column = [float(logits[b, h, n, s]) for n in range(N)]
                peak = max(column)
                exps = [torch.exp(torch.tensor(v - peak, dtype=torch.float64)) for v in column]
                total = sum(exps)
                for n in range(N):
                    soft[n, s] = exps[n] / total
            for n in range(N):
                out[b, h, n] = soft[n] / (1e-9 + soft[n].sum())
    return out


def naive_external_attention(layer: ExternalAttention, x: torch.Tensor) -> torch.Tensor:
    """The module's formula without any reshaping tricks: one head at a time."""
    B, N, _ = x.shape
    projected = layer.project_in(x)
    D = projected.shape[-1] // layer.heads
    heads_out = []
    for h in range(layer.heads):
        f = projected[..., h * D : (h + 1) * D]  # (B, N, D)
        logits = f @ layer.memory_key.weight.T  # (B, N, S)
        a = torch.softmax(logits, dim=1)
        a = a / (1e-9 + a.sum(dim=2, keepdim=True))
        heads_out.append(a @ layer.memory_value.weight.T)  # (B, N, D)
    return layer.project_out(torch.cat(heads_out, dim=-1))


def test_double_normalisation_matches_naive_formula():
    logits = torch.randn(2, 3, 7, 5) * 3
    assert torch.allclose(double_normalize(logits).double(), naive_double_normalize(logits), atol=1e-6)


def test_module_matches_naive_per_head_formula_and_rows_sum_to_one():
    layer = ExternalAttention(channels=12, heads=3, memory_slots=5, expansion=2)
    x = torch.randn(2, 9, 12)
    out, attention = layer(x, return_attention=True)
    assert out.shape == (2, 9, 12)
    assert attention.shape == (2, 3, 9, 5)
    assert torch.allclose(out, naive_external_attention(layer, x), atol=1e-5)
    assert torch.allclose(attention.sum(dim=-1), torch.ones(2, 3, 9), atol=1e-5)
    # softmax over points: before the l1 step every slot's column summed to 1 over N, so
    # the map is not simply uniform and no row is degenerate
    assert attention.min() >= 0


def test_no_attention_map_unless_asked():
    out, attention = ExternalAttention(8, heads=2, memory_slots=4)(torch.randn(1, 5, 8))
    assert attention is None and out.shape == (1, 5, 8)


def test_permutation_equivariance():
    layer = ExternalAttention(16, heads=4, memory_slots=8)
    x = torch.randn(3, 20, 16)
    perm = torch.randperm(20)
    out, attention = layer(x, return_attention=True)
    out_p, attention_p = layer(x[:, perm], return_attention=True)
    assert torch.allclose(out[:, perm], out_p, atol=1e-5)
    assert torch.allclose(attention[:, :, perm], attention_p, atol=1e-6)


def test_padding_mask_leaves_real_points_unchanged():
    layer = ExternalAttention(16, heads=2, memory_slots=8)
    x = torch.randn(1, 10, 16)
    padded = torch.cat([x, torch.randn(1, 6, 16) * 100], dim=1)  # 6 junk padding points
    mask = torch.tensor([[True] * 10 + [False] * 6])
    out, attention = layer(x, return_attention=True)
    out_padded, attention_padded = layer(padded, mask=mask, return_attention=True)
    assert torch.allclose(out_padded[:, :10], out, atol=1e-5)
    assert torch.allclose(attention_padded[:, :, :10], attention, atol=1e-6)
    assert torch.all(attention_padded[:, :, 10:] == 0)


def test_gradients_reach_every_parameter():
    layer = ExternalAttention(16, heads=4, memory_slots=8, expansion=2)
    out, _ = layer(torch.randn(2, 12, 16))
    out.square().mean().backward()
    for name, p in layer.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_bf16_keeps_normalisation_in_float32():
    logits = torch.randn(1, 1, 4096, 8).bfloat16()
    attention = double_normalize(logits)
    assert attention.dtype == torch.float32
    assert torch.allclose(attention.sum(-1), torch.ones(1, 1, 4096))


def test_heads_must_divide_channels():
    with pytest.raises(ValueError, match="divisible by heads=5"):
        ExternalAttention(16, heads=5)


def test_float64_is_computed_in_float64():
    logits = torch.randn(1, 2, 7, 3, dtype=torch.float64) * 5
    attention = double_normalize(logits)
    assert attention.dtype == torch.float64
    assert (attention - naive_double_normalize(logits)).abs().max() < 1e-12
