"""Every size, count and probability a layer takes is checked where it enters: a one-line
ValueError naming the class, the argument and the allowed range, never a segfault in a C++ kernel
(issue 11, case 1: ``neighbours=0`` crashed the process with exit 139)."""

import subprocess
import sys

import pytest
import torch

from pointea.layers import LBR, ExternalAttention, OffsetAttentionLayer, SampleAndGroup, SelfAttention
from pointea.layers.sampling import fps, knn
from tests.training.conftest import REPO

CASES = [
    (LBR, dict(in_channels=3, out_channels=8), ["in_channels", "out_channels"]),
    (SampleAndGroup, dict(in_channels=3, out_channels=8, num_samples=4, neighbours=2),
     ["in_channels", "out_channels", "num_samples", "neighbours"]),
    (ExternalAttention, dict(channels=8, heads=2, memory_slots=4, expansion=1), ["channels", "heads", "memory_slots",
                                                                               "expansion"]),
    (SelfAttention, dict(channels=8, heads=1, qk_reduction=4), ["channels", "heads", "qk_reduction"]),
    (OffsetAttentionLayer, dict(channels=8, heads=2, memory_slots=4, expansion=1),
     ["channels", "heads", "memory_slots", "expansion"]),
]  # fmt: skip


def assert_one_line(error: pytest.ExceptionInfo, *words: str) -> None:
    message = str(error.value)
    assert "\n" not in message
    for word in words:
        assert word in message, (word, message)


@pytest.mark.parametrize("cls, good, names", CASES, ids=[c[0].__name__ for c in CASES])
@pytest.mark.parametrize("bad", [0, -5, 2.5, True, "4"])
def test_sizes_out_of_range_name_the_argument_and_the_range(cls, good, names, bad):
    cls(**good)  # the good values build
    for name in names:
        with pytest.raises(ValueError) as error:
            cls(**{**good, name: bad})
        assert_one_line(error, cls.__name__, name, ">= 1", repr(bad))


@pytest.mark.parametrize("cls", [ExternalAttention, SelfAttention, OffsetAttentionLayer])
@pytest.mark.parametrize("dropout", [-0.1, 1.0, 7, float("nan")])
def test_dropout_must_be_a_probability_below_one(cls, dropout):
    with pytest.raises(ValueError) as error:
        cls(8, dropout=dropout)
    assert_one_line(error, cls.__name__, "dropout", "[0, 1)")


def test_offset_attention_heads_zero_is_refused_not_replaced_by_the_default():
    with pytest.raises(ValueError, match="OffsetAttentionLayer: heads must be None or an integer >= 1, got 0"):
        OffsetAttentionLayer(8, heads=0)
    assert OffsetAttentionLayer(8, heads=None).attention.heads == 4


def test_self_attention_needs_at_least_one_query_channel():
    with pytest.raises(ValueError, match="channels=2 must be >= qk_reduction=4"):
        SelfAttention(2)


@pytest.mark.parametrize("k", [0, -1])
def test_knn_k_below_one_is_an_error_not_a_crash(k):
    pos = torch.rand(20, 3)
    with pytest.raises(ValueError, match=rf"knn: k must be an integer >= 1, got {k}"):
        knn(pos, pos, k)


@pytest.mark.parametrize("samples", [0, -3])
def test_fps_num_samples_below_one_is_an_error(samples):
    with pytest.raises(ValueError, match=rf"fps: num_samples must be an integer >= 1, got {samples}"):
        fps(torch.rand(20, 3), samples)


def test_neighbours_zero_no_longer_kills_the_process():
    """In a subprocess, so that a regression (a segfault) fails this test instead of the suite."""
    code = (
        "import torch\nfrom pointea.layers.sampling import knn\n"
        "try:\n    knn(torch.rand(10, 3), torch.rand(10, 3), 0)\n"
        "except ValueError as error:\n    print(error)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, (done.returncode, done.stderr[-1000:])
    assert done.stdout.strip() == "knn: k must be an integer >= 1, got 0"
