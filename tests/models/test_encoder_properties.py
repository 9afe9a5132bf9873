"""Property-based tests of the encoder's input checks (issue 11): for random shapes, dtypes,
NaN/Inf, tiny and huge values and empty inputs, the encoder either works (finite output of the
right shape) or raises pointea's one-line ValueError; nothing else (no crash, no obscure error
from inside sampling, no silent NaN)."""

import math

import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from pointea import PointEncoder
from pointea.models.encoder import max_coordinate

SMALL = dict(embedding_channels=8, stage_channels=(16, 16), neighbours=4, channels=16, num_layers=1, memory_slots=4,
             out_channels=16)  # fmt: skip
ENCODERS = {
    (attention, stages): PointEncoder(
        **{**SMALL, "attention": attention, "sample_sizes": (12, 6) if stages else (),
           "stage_channels": SMALL["stage_channels"] if stages else (), "channels": 16 if stages else 8,
           "pre_attention_layers": 2 if stages else 0}
    ).eval()
    for attention in ("external", "offset") for stages in (True, False)
}  # fmt: skip

FLOATS = [torch.float16, torch.bfloat16, torch.float32, torch.float64]
DTYPES = FLOATS * 3 + [torch.int64, torch.bool]  # mostly float input, which must then work or be refused
SCALES = [0.0, 1e-38, 1e-30, 1e-6, 1.0, 1e4, 1e12, 1e17, 9.9e17, 1e18, 1e19, 1e30, 1e300]
POISON = [None, None, None, math.nan, math.inf, -math.inf]


def one_line_pointea_error(error: ValueError) -> None:
    message = str(error)
    assert message.startswith("PointEncoder") and "\n" not in message, message


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    encoder_key=st.sampled_from(sorted(ENCODERS)),
    cloud_shape=st.tuples(st.integers(0, 3), st.integers(0, 40), st.just(3)),  # (B, N, 3)
    other_shape=st.lists(st.integers(0, 5), min_size=1, max_size=4).map(tuple),  # anything
    use_other_shape=st.sampled_from([False, False, False, True]),
    dtype=st.sampled_from(DTYPES),
    scale=st.sampled_from(SCALES),
    poison=st.sampled_from(POISON),
    seed=st.integers(0, 2**16),
)
def test_encoder_works_or_raises_one_line(
    encoder_key, cloud_shape, other_shape, use_other_shape, dtype, scale, poison, seed
):
    encoder = ENCODERS[encoder_key]
    shape = other_shape if use_other_shape else cloud_shape
    generator = torch.Generator().manual_seed(seed)
    points = (torch.rand(shape, generator=generator, dtype=torch.float64) * 2 - 1) * scale
    if poison is not None and points.numel():
        points.view(-1)[torch.randint(points.numel(), (1,), generator=generator)] = poison
    points = points.to(dtype)  # float16 turns magnitudes beyond 65504 into inf, as a user's cast would
    try:
        with torch.no_grad():
            out = encoder(points)
    except ValueError as error:
        one_line_pointea_error(error)
        event("refused: " + " ".join(str(error).split()[1:4]))
        return
    event("works")
    # It worked: then the input was a valid (B, N, 3) float batch within the limits, and the output is finite.
    assert points.is_floating_point() and points.dim() == 3 and points.shape[-1] == 3
    assert bool((points.abs() <= max_coordinate(torch.float32)).all())  # also false for NaN
    batch, num_points, _ = points.shape
    encoded = encoder.sample_sizes[-1] if encoder.sample_sizes else num_points
    assert out.features.shape == (batch, encoded, encoder.out_channels)
    assert out.global_feature.shape == (batch, encoder.global_channels)
    assert out.features.isfinite().all() and out.global_feature.isfinite().all()


@pytest.mark.parametrize("stages", [True, False])
def test_every_valid_cloud_size_encodes(stages):
    """The boundary the property test samples around: a cloud needs sample_sizes[0] points."""
    encoder = ENCODERS[("external", stages)]
    smallest = encoder.min_points
    assert encoder(torch.rand(2, smallest, 3)).features.isfinite().all()
    if smallest > 1:
        with pytest.raises(ValueError, match=f"samples {smallest} points per cloud"):
            encoder(torch.rand(2, smallest - 1, 3))
