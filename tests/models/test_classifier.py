import pytest
import torch

from pointea import PCTClassifier, PointEncoder
from pointea.models.summary import count_parameters
from tests.conftest import TINY_ENCODER

PCT_PUBLISHED_PARAMETERS = 2.88e6


def test_offset_variant_has_pct_published_size():
    parameters = count_parameters(PCTClassifier(num_classes=40, attention="offset"))
    assert abs(parameters - PCT_PUBLISHED_PARAMETERS) / PCT_PUBLISHED_PARAMETERS < 0.03


@pytest.mark.parametrize("attention", ["external", "offset"])
def test_logits_shape(attention):
    model = PCTClassifier(num_classes=7, attention=attention).eval()
    assert model(torch.rand(3, 600, 3)).shape == (3, 7)


def test_configured_encoder_and_attention_maps():
    model = PCTClassifier(num_classes=5, encoder=PointEncoder(attention="offset", **TINY_ENCODER))
    logits, encoding = model(torch.rand(2, 100, 3), return_attention=True)
    assert logits.shape == (2, 5)
    assert [a.shape for a in encoding.attention] == [(2, 1, 32, 32)] * 2


def test_conflicting_attention_is_a_clear_error():
    with pytest.raises(ValueError, match="conflicts with the given encoder"):
        PCTClassifier(attention="external", encoder=PointEncoder(attention="offset", **TINY_ENCODER))


def test_gradients_reach_every_parameter():
    model = PCTClassifier(num_classes=4, encoder=PointEncoder(**TINY_ENCODER), hidden_channels=(32,))
    torch.nn.functional.cross_entropy(model(torch.rand(4, 100, 3)), torch.tensor([0, 1, 2, 3])).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
