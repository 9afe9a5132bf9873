import pytest
import torch

from pointea.layers.pooling import GlobalPool, pooled_channels


def _pool(pooling, *updates):
    pool = GlobalPool(pooling)
    for features, mask in updates:
        pool.update(features, mask)
    return pool.result()


@pytest.mark.parametrize("pooling", ["max", "mean", "max+mean"])
def test_chunks_pool_to_the_whole_cloud_and_padding_never_counts(pooling):
    features = torch.randn(2, 30, 5)
    mask = torch.ones(2, 30, dtype=torch.bool)
    mask[1, 17:] = False  # the second cloud has 17 points
    padded = features.masked_fill(~mask.unsqueeze(-1), 1e6)  # padding that would win a max and move a mean
    whole = _pool(pooling, (padded, mask))
    chunks = _pool(pooling, (padded[:, :7], mask[:, :7]), (padded[:, 7:20], mask[:, 7:20]), (padded[:, 20:], mask[:, 20:]))
    assert whole.shape == (2, pooled_channels(pooling, 5))
    assert torch.allclose(chunks, whole, atol=1e-6)
    alone = _pool(pooling, (features[1:, :17], None))  # the second cloud on its own, unpadded
    assert torch.allclose(whole[1:], alone, atol=1e-6)
    expected = {"max": [features[1, :17].amax(0)], "mean": [features[1, :17].mean(0)]}
    reference = torch.cat([v for k in pooling.split("+") for v in expected[k]])
    assert torch.allclose(whole[1], reference, atol=1e-6)


def test_unknown_pooling_is_a_clear_error():
    with pytest.raises(ValueError, match=r"pooling must be one of \('max', 'mean', 'max\+mean'\), got 'sum'"):
        GlobalPool("sum")
