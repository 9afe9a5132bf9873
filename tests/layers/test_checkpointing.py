"""Activation checkpointing: same gradients and the same BatchNorm running statistics as without."""

import pytest
import torch

from pointea import PCTPartSegmenter, PointEncoder
from pointea.layers.checkpointing import checkpoint
from pointea.layers.lbr import LBR
from pointea.models.checkpoint import record_differences
from tests.conftest import TINY_ENCODER

TINY_SEGMENTATION = dict(TINY_ENCODER, sample_sizes=(), stage_channels=(), pooling="max+mean")


def _state_and_gradients(model: torch.nn.Module, run) -> tuple[dict, dict]:
    torch.manual_seed(1)  # the same dropout masks in both runs
    run(model).backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters()}
    return {k: v.clone() for k, v in model.state_dict().items()}, grads


def _compare(plain: torch.nn.Module, checkpointed: torch.nn.Module, run) -> None:
    checkpointed.load_state_dict(plain.state_dict())
    state, grads = _state_and_gradients(plain, run)
    state_ckpt, grads_ckpt = _state_and_gradients(checkpointed, run)
    for name, grad in grads.items():
        assert (grads_ckpt[name] - grad).abs().max() <= 1e-5, name
    for name, value in state.items():  # running_mean/var and num_batches_tracked updated once
        assert torch.allclose(state_ckpt[name].float(), value.float(), atol=1e-6, rtol=0), name


def test_checkpointed_lbr_updates_running_statistics_once():
    lbr = LBR(3, 8)
    x = torch.randn(40, 3, requires_grad=True)
    checkpoint(lbr, lbr, x).sum().backward()
    assert int(lbr.norm.num_batches_tracked) == 1
    expected = 0.1 * lbr.linear(x).detach().mean(dim=0)  # momentum 0.1 from zero
    assert torch.allclose(lbr.norm.running_mean, expected, atol=1e-6)


@pytest.mark.parametrize("attention", ["external", "offset"])
def test_segmenter_gradients_and_running_statistics_equal_with_and_without_checkpointing(attention):
    encoder = dict(TINY_SEGMENTATION, attention=attention)
    plain = PCTPartSegmenter(num_parts=6, num_categories=3, encoder=PointEncoder(**encoder)).train()
    checkpointed = PCTPartSegmenter(
        num_parts=6, num_categories=3, encoder=PointEncoder(**encoder), activation_checkpointing=True
    ).train()
    assert checkpointed.encoder.activation_checkpointing
    points, category = torch.rand(2, 50, 3), torch.tensor([0, 2])
    target = torch.randint(0, 6, (100,))
    _compare(
        plain,
        checkpointed,
        lambda m: torch.nn.functional.cross_entropy(m(points, category).reshape(-1, 6), target),
    )


def test_local_neighbour_embedding_gradients_equal_with_and_without_checkpointing():
    """The edges' LBRs (B, N, K, C) are checkpointed like the per-point ones, padding included."""
    from torch_geometric.data import Batch, Data

    encoder = dict(TINY_SEGMENTATION, local_neighbours=5)
    plain = PointEncoder(**encoder).train()
    checkpointed = PointEncoder(**encoder, activation_checkpointing=True).train()
    batch = Batch.from_data_list([Data(pos=torch.rand(n, 3)) for n in (40, 27)])
    _compare(plain, checkpointed, lambda m: (m(batch).features ** 2).sum())


def test_sampling_encoder_gradients_equal_with_and_without_checkpointing():
    plain = PointEncoder(**dict(TINY_ENCODER, pooling="max+mean")).train()
    checkpointed = PointEncoder(**dict(TINY_ENCODER, pooling="max+mean"), activation_checkpointing=True).train()
    points = torch.rand(2, 128, 3)
    _compare(plain, checkpointed, lambda m: (m(points).global_feature ** 2).sum())


def test_checkpointing_is_a_runtime_option_not_part_of_the_architecture():
    with_it = PCTPartSegmenter(activation_checkpointing=True).constructor_record()
    without = PCTPartSegmenter().constructor_record()
    assert record_differences(with_it, without) == []
    legacy = dict(without, args={k: v for k, v in without["args"].items() if k != "activation_checkpointing"})
    assert record_differences(legacy, with_it) == []
