"""The networks check every user-facing number where it enters (issue 11, case 1)."""

import pytest

from pointea import PCTClassifier, PCTPartSegmenter, PointEncoder
from tests.conftest import TINY_ENCODER

SEGMENTATION_ENCODER = dict(TINY_ENCODER, sample_sizes=(), stage_channels=(), channels=16)


@pytest.mark.parametrize(
    "name, bad, expected",
    [
        ("neighbours", 0, "neighbours must be an integer >= 1, got 0"),
        ("neighbours", -3, "neighbours must be an integer >= 1, got -3"),
        ("sample_sizes", (64, 0), "every entry of sample_sizes must be an integer >= 1, got (64, 0)"),
        ("stage_channels", (32, -1), "every entry of stage_channels must be an integer >= 1, got (32, -1)"),
        ("embedding_channels", 0, "embedding_channels must be an integer >= 1, got 0"),
        ("channels", 0, "channels must be an integer >= 1, got 0"),
        ("num_layers", 0, "num_layers must be an integer >= 1, got 0"),
        ("heads", 0, "heads must be None or an integer >= 1, got 0"),
        ("memory_slots", -1, "memory_slots must be an integer >= 1, got -1"),
        ("expansion", 0, "expansion must be an integer >= 1, got 0"),
        ("out_channels", 0, "out_channels must be an integer >= 1, got 0"),
        ("attention_dropout", 1.0, "attention_dropout must be a number in [0, 1), got 1.0"),
        ("pre_attention_layers", -1, "pre_attention_layers must be an integer >= 0, got -1"),
        ("neighbours", 1.5, "neighbours must be an integer >= 1, got 1.5"),
        ("local_neighbours", -1, "local_neighbours must be an integer >= 0, got -1"),
        ("local_neighbours", 4.0, "local_neighbours must be an integer >= 0, got 4.0"),
    ],
)
def test_encoder_numbers(name, bad, expected):
    with pytest.raises(ValueError) as error:
        PointEncoder(**{**TINY_ENCODER, name: bad})
    assert str(error.value) == f"PointEncoder: {expected}"


@pytest.mark.parametrize(
    "name, bad, expected",
    [
        ("num_classes", 0, "num_classes must be an integer >= 2, got 0"),
        ("num_classes", 1, "num_classes must be an integer >= 2, got 1"),
        ("hidden_channels", (32, 0), "every entry of hidden_channels must be an integer >= 1, got (32, 0)"),
        ("dropout", -0.5, "dropout must be a number in [0, 1), got -0.5"),
        ("dropout", 1, "dropout must be a number in [0, 1), got 1"),
    ],
)
def test_classifier_numbers(name, bad, expected):
    with pytest.raises(ValueError) as error:
        PCTClassifier(**{"num_classes": 4, "encoder": PointEncoder(**TINY_ENCODER), name: bad})
    assert str(error.value) == f"PCTClassifier: {expected}"


@pytest.mark.parametrize(
    "name, bad, expected",
    [
        ("num_parts", 0, "num_parts must be an integer >= 2, got 0"),
        ("num_categories", 0, "num_categories must be an integer >= 1, got 0"),
        ("category_channels", -8, "category_channels must be an integer >= 1, got -8"),
        ("hidden_channels", (0,), "every entry of hidden_channels must be an integer >= 1, got (0,)"),
        ("dropout", 2.0, "dropout must be a number in [0, 1), got 2.0"),
    ],
)
def test_segmenter_numbers(name, bad, expected):
    with pytest.raises(ValueError) as error:
        PCTPartSegmenter(**{"encoder": PointEncoder(**SEGMENTATION_ENCODER), name: bad})
    assert str(error.value) == f"PCTPartSegmenter: {expected}"
