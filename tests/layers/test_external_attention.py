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


def test_double_normalization_is_a_softmax_over_points_then_l1_over_slots():
    """Properties that pin the two axes down without restating the formula: a shift of one
    slot's logits at every point changes nothing (the softmax over the points absorbs it), a shift
    of one point's logits in every slot does (a softmax over the slots would absorb that); no
    point's row is degenerate: every weight is strictly positive and every row sums to 1."""
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 40, 6, generator=generator, dtype=torch.float64) * 4
    attention = double_normalize(logits)
    per_slot = torch.randn(2, 3, 1, 6, generator=generator, dtype=torch.float64) * 10  # same for all N
    per_point = torch.randn(2, 3, 40, 1, generator=generator, dtype=torch.float64) * 10  # same for all S
    assert torch.allclose(double_normalize(logits + per_slot), attention, atol=1e-12)
    assert (double_normalize(logits + per_point) - attention).abs().max() > 1e-3
    assert attention.min() > 0
    assert torch.allclose(attention.sum(dim=-1), torch.ones(2, 3, 40, dtype=torch.float64))
    # before the l1 step each slot's weights summed to 1 over the points: undoing the row sums
    # (the softmax column sums are then recovered up to one factor per point) must give columns
    # of equal mass, checked through ratios that the unknown factor cancels out of
    a, b = attention[..., 0], attention[..., 1]  # (B, H, N) two slots
    ratio = (a / b) / (a / b).mean(dim=-1, keepdim=True)  # exp(l_n0 - l_n1) up to a per-(B, H) constant
    direct = (logits[..., 0] - logits[..., 1]).exp()
    assert torch.allclose(ratio, direct / direct.mean(dim=-1, keepdim=True), rtol=1e-9)


def test_one_dominant_point_does_not_empty_the_other_rows():
    """A point with large logits takes almost all of every slot's softmax mass (the others keep
    about 5e-5 each), yet every other point's row still sums to 1: the l1 step rescues rows the
    softmax made tiny (no degenerate row) as long as their mass stays well above eps = 1e-9 (for
    logits ~30 apart it does not: docs/pct.md)."""
    logits = torch.zeros(1, 1, 10, 4)
    logits[0, 0, 3] = 10.0
    soft = logits.softmax(dim=2)
    assert soft[0, 0, 0].max() < 1e-4  # the softmax alone leaves the other points almost nothing
    attention = double_normalize(logits)
    assert torch.allclose(attention.sum(dim=-1), torch.ones(1, 1, 10), atol=1e-4)
    assert torch.allclose(attention[0, 0, 0], torch.full((4,), 0.25), atol=1e-4)  # uniform over the slots


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
