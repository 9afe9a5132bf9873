"""Chunked evaluation (pointea.models.chunked) gives the unchunked network's output exactly."""

import pytest
import torch
from torch_geometric.data import Batch, Data

from pointea import PCTPartSegmenter, PointEncoder
from pointea.layers.external_attention import ExternalAttention
from tests.conftest import TINY_ENCODER

TINY_SEGMENTATION = dict(TINY_ENCODER, sample_sizes=(), stage_channels=(), pooling="max+mean")
CHUNK_SIZES = [1, 7, 32, 50, 64, 1000]  # 7 and 50 do not divide N = 100


def _trained_statistics(model: torch.nn.Module) -> torch.nn.Module:
    """Give every BatchNorm non-trivial running statistics, so eval mode is not the identity."""
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.2, 0.2)
    return model.eval()


def test_logsumexp_statistics_of_chunks_give_the_whole_softmax():
    attention = ExternalAttention(16, heads=4, memory_slots=8).eval()
    x = torch.randn(2, 30, 16)
    total = torch.logaddexp(attention.softmax_statistics(x[:, :11]), attention.softmax_statistics(x[:, 11:]))
    whole, maps = attention(x, return_attention=True)
    part, part_maps = attention(x[:, 11:], return_attention=True, logsumexp=total)
    assert torch.allclose(part, whole[:, 11:], atol=1e-6)
    assert torch.allclose(part_maps, maps[:, :, 11:], atol=1e-7)


@pytest.mark.parametrize("pooling", ["max", "mean", "max+mean"])
@pytest.mark.parametrize("fuse_embedding,pre_attention_layers", [(False, 0), (True, 1)])
def test_encoder_in_chunks_equals_unchunked(pooling, fuse_embedding, pre_attention_layers):
    encoder = _trained_statistics(
        PointEncoder(**dict(TINY_SEGMENTATION, pooling=pooling, fuse_embedding=fuse_embedding,
                            pre_attention_layers=pre_attention_layers, embedding_channels=32))  # fmt: skip
    )
    points = torch.rand(2, 100, 3)
    with torch.no_grad():
        expected = encoder(points)
        for chunk_size in CHUNK_SIZES:
            got = encoder(points, chunk_size=chunk_size)
            assert got.mask is None
            assert (got.features - expected.features).abs().max() <= 1e-4, chunk_size
            assert (got.global_feature - expected.global_feature).abs().max() <= 1e-4, chunk_size
            assert torch.equal(got.positions, expected.positions)


def test_encoder_in_chunks_on_an_uneven_pyg_batch_equals_unchunked():
    encoder = _trained_statistics(PointEncoder(**TINY_SEGMENTATION))
    batch = Batch.from_data_list([Data(pos=torch.rand(n, 3)) for n in (37, 100, 64)])
    with torch.no_grad():
        expected = encoder(batch)
        for chunk_size in (9, 40, 64):  # a chunk of 40 holds no real point of the first cloud
            got = encoder(batch, chunk_size=chunk_size)
            assert torch.equal(got.mask, expected.mask)
            assert (got.features - expected.features).abs().max() <= 1e-4
            assert (got.global_feature - expected.global_feature).abs().max() <= 1e-4


@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
def test_segmenter_in_chunks_equals_unchunked(chunk_size):
    model = _trained_statistics(
        PCTPartSegmenter(num_parts=6, num_categories=3, encoder=PointEncoder(**TINY_SEGMENTATION))
    )
    points, category = torch.rand(3, 100, 3), torch.tensor([0, 2, 1])
    with torch.no_grad():
        expected = model(points, category)
        got = model(points, category, chunk_size=chunk_size)
    assert got.shape == expected.shape == (3, 100, 6)
    assert (got - expected).abs().max() <= 1e-4


def test_default_segmenter_in_chunks_equals_unchunked():
    model = _trained_statistics(PCTPartSegmenter())
    points, category = torch.rand(1, 700, 3), torch.tensor([5])
    with torch.no_grad():
        assert (model(points, category, chunk_size=256) - model(points, category)).abs().max() <= 1e-4


def test_chunked_evaluation_refuses_training_gradients_and_sampling_encoders():
    model = PCTPartSegmenter(num_parts=6, num_categories=3, encoder=PointEncoder(**TINY_SEGMENTATION))
    points, category = torch.rand(1, 20, 3), torch.tensor([0])
    with pytest.raises(ValueError, match="eval mode"):
        with torch.no_grad():
            model(points, category, chunk_size=8)
    model.eval()
    with pytest.raises(ValueError, match=r"torch.no_grad\(\)"):
        model(points, category, chunk_size=8)
    with torch.no_grad(), pytest.raises(ValueError, match="chunk_size must be a positive integer"):
        model(points, category, chunk_size=0)
    with torch.no_grad(), pytest.raises(ValueError, match="not available with chunk_size"):
        model(points, category, chunk_size=8, return_encoding=True)
    with torch.no_grad(), pytest.raises(ValueError, match=r"full-resolution encoder \(sample_sizes=\(\)\)"):
        PointEncoder(**TINY_ENCODER).eval()(torch.rand(1, 80, 3), chunk_size=8)


def test_self_attention_is_refused_with_the_memory_its_maps_need_before_allocating():
    model = PCTPartSegmenter(attention="offset").eval()
    points = torch.rand(1, 1, 3).expand(1, 1_048_576, 3)  # a view: no N-sized allocation either
    with torch.no_grad(), pytest.raises(ValueError, match=r"B=1, N=1048576 would need 4096\.0 GiB per map"):
        model(points, torch.tensor([0]), chunk_size=4096)


class _Allocations(torch.utils._python_dispatch.TorchDispatchMode):
    """Records the storage (address, bytes) of every tensor an operation returns, except the given
    tensors' (inputs, parameters); a view is its storage's, counted once."""

    def __init__(self, inputs: tuple[torch.Tensor, ...]) -> None:
        super().__init__()
        self.skip = {t.untyped_storage().data_ptr() for t in inputs}
        self.storages: set[tuple[int, int]] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(t, torch.Tensor) and t.untyped_storage().data_ptr() not in self.skip:
                self.storages.add((t.untyped_storage().data_ptr(), t.untyped_storage().nbytes()))
        return out


@pytest.mark.parametrize("hidden", [(512, 256), (48, 16)])
def test_memory_beyond_one_chunk_is_the_output_and_one_buffer(hidden):
    """Chunked evaluation keeps W floats per point (the attention outputs, the fusion's input width;
    the head's first linear map reuses them when it is no wider) besides the (B, N, K) output;
    every other tensor is one chunk's."""
    model = _trained_statistics(
        PCTPartSegmenter(num_parts=6, num_categories=3, encoder=PointEncoder(**TINY_SEGMENTATION), hidden_channels=hidden)
    )
    width = model.encoder.fuse.linear.in_features  # W = 2 layers x 32 + the 16-channel feature_1
    assert width == 80
    largest_chunk = {}
    for n in (4000, 16000):
        points, category = torch.rand(1, n, 3), torch.tensor([1])
        with torch.no_grad(), _Allocations((points, category, *model.parameters())) as mode:
            model(points, category, chunk_size=1000)
        per_point = [4 * n * 6, 4 * n * width] + ([4 * n * hidden[0]] if hidden[0] > width else [])
        sizes = sorted(size for _, size in mode.storages if size > points.nbytes)  # the input's checks aside
        for size in per_point:
            sizes.remove(size)  # each N-sized tensor once
        largest_chunk[n] = max(sizes)
    widest = max(hidden[0], model.encoder.out_channels, width)
    assert largest_chunk[16000] == largest_chunk[4000] <= 1000 * widest * 4  # one chunk of the widest layer
