"""Chunked evaluation (pointea.models.chunked) gives the unchunked network's output exactly."""

import pytest
import torch
from torch_geometric.data import Batch, Data

from pointea import PCTClassifier, PCTNormalEstimator, PCTPartSegmenter, PCTSemanticSegmenter, PointEncoder
from pointea.layers.external_attention import ExternalAttention
from pointea.models.chunked import ChunkedPasses
from tests.conftest import TINY_ENCODER

TINY_SEGMENTATION = dict(TINY_ENCODER, sample_sizes=(), stage_channels=(), pooling="max+mean")
CHUNK_SIZES = [1, 7, 32, 50, 64, 1000]  # 7 and 50 do not divide N = 100
# Buffer budgets for one cloud of the tiny segmenter (rows of 80 floats, 320 bytes): every point
# kept, the first 40 points kept (the rest streamed), nothing kept (every chunk streamed).
BUDGETS = {"all kept": None, "40 kept": 40 * 320, "all streamed": 0}


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


@pytest.mark.parametrize("buffer_bytes", [None, 0])
@pytest.mark.parametrize("pooling", ["max", "mean", "max+mean"])
@pytest.mark.parametrize("fuse_embedding,pre_attention_layers", [(False, 0), (True, 1)])
def test_encoder_in_chunks_equals_unchunked(pooling, fuse_embedding, pre_attention_layers, buffer_bytes):
    encoder = _trained_statistics(
        PointEncoder(**dict(TINY_SEGMENTATION, pooling=pooling, fuse_embedding=fuse_embedding,
                            pre_attention_layers=pre_attention_layers, embedding_channels=32))  # fmt: skip
    )
    points = torch.rand(2, 100, 3)
    with torch.no_grad():
        expected = encoder(points)
        for chunk_size in CHUNK_SIZES:
            got = encoder(points, chunk_size=chunk_size, buffer_bytes=buffer_bytes)
            assert got.mask is None
            assert (got.features - expected.features).abs().max() <= 1e-4, chunk_size
            assert (got.global_feature - expected.global_feature).abs().max() <= 1e-4, chunk_size
            assert torch.equal(got.positions, expected.positions)


@pytest.mark.parametrize("local_neighbours", [0, 5])
@pytest.mark.parametrize("buffer_bytes", [None, 3 * 45 * 320, 0])  # all kept, 45 points (some chunks) kept, none
def test_encoder_in_chunks_on_an_uneven_pyg_batch_equals_unchunked(buffer_bytes, local_neighbours):
    """With local_neighbours a chunk's points find their neighbours in the whole cloud (in other
    chunks too), never in the padding."""
    encoder = _trained_statistics(PointEncoder(**TINY_SEGMENTATION, local_neighbours=local_neighbours))
    batch = Batch.from_data_list([Data(pos=torch.rand(n, 3)) for n in (37, 100, 64)])
    with torch.no_grad():
        expected = encoder(batch)
        for chunk_size in (9, 40, 64):  # a chunk of 40 holds no real point of the first cloud
            got = encoder(batch, chunk_size=chunk_size, buffer_bytes=buffer_bytes)
            assert torch.equal(got.mask, expected.mask)
            assert (got.features - expected.features).abs().max() <= 1e-4
            assert (got.global_feature - expected.global_feature).abs().max() <= 1e-4


@pytest.mark.parametrize("budget", BUDGETS)
@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
def test_segmenter_in_chunks_equals_unchunked(chunk_size, budget):
    model = _trained_statistics(
        PCTPartSegmenter(num_parts=6, num_categories=3, encoder=PointEncoder(**TINY_SEGMENTATION), hidden_channels=(64, 16))
    )
    points, category = torch.rand(3, 100, 3), torch.tensor([0, 2, 1])
    buffer_bytes = None if BUDGETS[budget] is None else 3 * BUDGETS[budget]  # three clouds
    with torch.no_grad():
        expected = model(points, category)
        got = model(points, category, chunk_size=chunk_size, buffer_bytes=buffer_bytes)
    assert got.shape == expected.shape == (3, 100, 6)
    assert (got - expected).abs().max() <= 1e-4


def _streamed_points(model, points, chunk_size, buffer_bytes):
    """How many points ChunkedPasses would stream for this model and input."""
    passes = ChunkedPasses(model.encoder, points, None, None, chunk_size, buffer_bytes, model.head.hidden_width)
    return points.shape[1] - passes.kept


@pytest.mark.parametrize("local_neighbours", [0, 6])
@pytest.mark.parametrize("budget", BUDGETS)
@pytest.mark.parametrize("network", ["semantic", "normals", "features"])
def test_semantic_segmenter_and_normal_estimator_in_chunks_equal_unchunked(network, budget, local_neighbours):
    in_channels = 4 if network == "features" else 0
    encoder = PointEncoder(**TINY_SEGMENTATION, in_channels=in_channels, local_neighbours=local_neighbours)
    if network == "normals":
        model = PCTNormalEstimator(encoder=encoder, hidden_channels=(64, 16))
    else:
        model = PCTSemanticSegmenter(num_classes=5, encoder=encoder, hidden_channels=(64, 16))
    model = _trained_statistics(model)
    points = torch.rand(1, 100, 3)
    features = torch.rand(1, 100, 4) if network == "features" else None
    with torch.no_grad():
        expected = model(points, features)
        streamed = _streamed_points(model, points, 16, BUDGETS[budget])
        assert streamed == {"all kept": 0, "40 kept": 68, "all streamed": 100}[budget]  # 2 chunks of 16 kept
        got = model(points, features, chunk_size=16, buffer_bytes=BUDGETS[budget])
    assert got.shape == expected.shape
    assert (got - expected).abs().max() <= 1e-4
    if network == "normals":
        assert torch.allclose(got.norm(dim=-1), torch.ones(1, 100), atol=1e-5)


@pytest.mark.parametrize("buffer_bytes", [None, 0])
def test_classifier_on_a_full_resolution_encoder_in_chunks_equals_unchunked(buffer_bytes):
    """The classifier's logits are its head over the encoder's pooled feature: the chunked
    encoder's global feature gives the unchunked classifier's logits."""
    model = _trained_statistics(PCTClassifier(num_classes=4, encoder=PointEncoder(**TINY_SEGMENTATION)))
    points = torch.rand(2, 100, 3)
    with torch.no_grad():
        expected = model(points)
        pooled = model.encoder(points, chunk_size=30, buffer_bytes=buffer_bytes).global_feature
        got = model.head(pooled)
    assert (got - expected).abs().max() <= 1e-4
    assert not torch.equal(expected[0], expected[1])  # two different clouds, two different outputs


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
    with torch.no_grad(), pytest.raises(ValueError, match="buffer_bytes must be a non-negative integer"):
        model(points, category, chunk_size=8, buffer_bytes=-1)
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
    """With every point kept, chunked evaluation keeps R = max(W, H_0) floats per point (the
    attention outputs, the fusion's input width W, whose rows the head's first linear map reuses)
    besides the (B, N, K) output; every other tensor is one chunk's."""
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
        per_point = [4 * n * 6, 4 * n * max(width, hidden[0])]
        sizes = sorted(size for _, size in mode.storages if size > points.nbytes)  # the input's checks aside
        for size in per_point:
            sizes.remove(size)  # each N-sized tensor once
        largest_chunk[n] = max(sizes)
    widest = max(hidden[0], model.encoder.out_channels, width)
    assert largest_chunk[16000] == largest_chunk[4000] <= 1000 * widest * 4  # one chunk of the widest layer


def test_memory_stays_within_the_buffer_budget_for_any_number_of_points():
    """Past the budget the buffer stops growing: besides the (B, N, K) output, nothing grows with N."""
    model = _trained_statistics(
        PCTSemanticSegmenter(num_classes=6, encoder=PointEncoder(**TINY_SEGMENTATION), hidden_channels=(48, 16))
    )
    budget = 3000 * 80 * 4  # 3,000 rows of W = 80 floats: chunks of 1,000 -> the first 3,000 points kept
    largest = {}
    for n in (4000, 16000):
        points = torch.rand(1, n, 3)
        with torch.no_grad(), _Allocations((points, *model.parameters())) as mode:
            got = model(points, chunk_size=1000, buffer_bytes=budget)
        sizes = sorted(size for _, size in mode.storages if size > points.nbytes)
        sizes.remove(4 * n * 6)  # the logits
        largest[n] = max(sizes)
        with torch.no_grad():
            assert (got - model(points)).abs().max() <= 1e-4
    assert largest[16000] == largest[4000] == budget  # the buffer, the same at 4,000 and 16,000 points


def test_a_buffer_that_cannot_be_allocated_is_a_one_line_error():
    encoder = PointEncoder(**TINY_SEGMENTATION).eval()
    positions = torch.zeros(1, 1, 3).expand(1, 10**13, 3)  # a view: nothing allocated yet
    with pytest.raises(MemoryError, match=r"keeps 80 floats per point \(the attention outputs\) for 10000000000000 of N=10000000000000 points: .* GiB for B=1, .* smaller buffer_bytes"):
        ChunkedPasses(encoder, positions, None, None, chunk_size=1024, buffer_bytes=10**18)


def _assert_same_strongest(got: torch.Tensor, maps: torch.Tensor, mask: torch.Tensor | None = None) -> None:
    """``got`` (B, H, N) is the argmax over S of ``maps`` (B, H, N, S); a disagreement is allowed
    only at a near-tie of the two slots (chunked sums round differently), never elsewhere."""
    expected = maps.argmax(dim=-1)  # (B, H, N)
    if mask is not None:
        assert torch.equal(got == -1, ~mask[:, None].expand_as(got))
        expected = expected.masked_fill(~mask[:, None], -1)
    differ = got != expected
    if differ.any():
        chosen = maps.gather(-1, got.clamp(min=0)[..., None])[..., 0]  # (B, H, N)
        assert (maps.max(dim=-1).values - chosen)[differ].max() <= 1e-5
    assert differ.float().mean() <= 0.01


@pytest.mark.parametrize("budget", BUDGETS)
def test_strongest_slots_in_chunks_are_the_unchunked_maps_argmax(budget):
    encoder = _trained_statistics(PointEncoder(**TINY_SEGMENTATION))
    points = torch.rand(2, 100, 3)
    buffer_bytes = None if BUDGETS[budget] is None else 2 * BUDGETS[budget]  # two clouds
    with torch.no_grad():
        maps = encoder(points, return_attention=True).attention  # L x (B, H, N, S)
        for layer in range(len(encoder.layers)):
            for chunk_size in (7, 32, 1000):
                got = encoder.strongest_slots(points, layer=layer, chunk_size=chunk_size, buffer_bytes=buffer_bytes)
                assert got.shape == maps[layer].shape[:3] and got.dtype == torch.long
                _assert_same_strongest(got, maps[layer])
        assert torch.equal(encoder.strongest_slots(points, chunk_size=9), encoder.strongest_slots(points, layer=len(encoder.layers) - 1, chunk_size=9))


def test_strongest_slots_of_an_uneven_pyg_batch_are_minus_one_at_padding():
    encoder = _trained_statistics(PointEncoder(**TINY_SEGMENTATION))
    batch = Batch.from_data_list([Data(pos=torch.rand(n, 3)) for n in (37, 100, 64)])
    with torch.no_grad():
        unchunked = encoder(batch, return_attention=True)
        got = encoder.strongest_slots(batch, layer=0, chunk_size=40, buffer_bytes=3 * 45 * 320)
    _assert_same_strongest(got, unchunked.attention[0], unchunked.mask)


def test_strongest_slots_refuse_what_chunks_cannot_do():
    encoder = _trained_statistics(PointEncoder(**TINY_SEGMENTATION))
    points = torch.rand(1, 50, 3)
    with torch.no_grad(), pytest.raises(ValueError, match="layer must be 0..1, got 2"):
        encoder.strongest_slots(points, layer=2)
    with pytest.raises(ValueError, match="PointEncoder.strongest_slots: chunked evaluation is exact in eval mode"):
        encoder.strongest_slots(points)  # gradients on
    offset = PointEncoder(**dict(TINY_SEGMENTATION, attention="offset")).eval()
    with torch.no_grad(), pytest.raises(ValueError, match="needs attention='external'"):
        offset.strongest_slots(points)
