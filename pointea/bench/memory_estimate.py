"""Will a case fit? An estimate of self-attention's N x N maps against the memory available.

Self-attention (``attention="offset"``) builds float32 (B, H, M, M) maps in every layer, M being
the points that reach the attention layers (all N in the segmenter, the last sample size in the
classifier). In a training step each layer keeps two of them for the backward pass (the softmax
output and the normalised map) and the peak adds a few transient ones (the energy before the
softmax going forward; gradients of the maps going back). External attention's (B, H, M, S) maps
are linear in M and are not counted. The estimate only decides whether to skip a case before
running it; the measured peak is what the report shows.

Shape legend: B clouds, H heads, M points through attention, S memory slots.
"""

from __future__ import annotations

from pathlib import Path

import torch

from pointea.bench.case import ModelCase
from pointea.models.encoder import PointEncoder

__all__ = [
    "MAPS_KEPT_PER_LAYER",
    "TRANSIENT_MAPS",
    "attention_map_bytes",
    "estimate_case_bytes",
    "available_memory_bytes",
    "format_gib",
]

#: N x N maps one self-attention layer keeps for backward (softmax output, normalised map).
MAPS_KEPT_PER_LAYER = 2
#: N x N maps alive at once on top of the kept ones (energy going forward, map gradients going back).
TRANSIENT_MAPS = 4
_FLOAT32_BYTES = 4


def _attention_geometry(case: ModelCase) -> tuple[int, int, int]:
    """(M points through attention, H heads, L layers) of ``case``'s network."""
    encoder: PointEncoder = case.build_model().encoder  # type: ignore[assignment]
    points = encoder.sample_sizes[-1] if encoder.sample_sizes else case.num_points
    return points, encoder.layers[0].attention.heads, len(encoder.layers)


def attention_map_bytes(case: ModelCase) -> int:
    """Bytes of one float32 (B, H, M, M) self-attention map of ``case``; 0 for external attention."""
    if case.attention != "offset":
        return 0
    points, heads, _layers = _attention_geometry(case)
    return case.batch_size * heads * points * points * _FLOAT32_BYTES


def estimate_case_bytes(case: ModelCase, training: bool = True) -> int:
    """Estimated bytes of the N x N maps alive at the peak of a forward (``training=False``, no
    gradients) or a forward+backward pass of ``case``; 0 for external attention."""
    if case.attention != "offset":
        return 0
    points, heads, layers = _attention_geometry(case)
    one_map = case.batch_size * heads * points * points * _FLOAT32_BYTES
    if training:
        return one_map * (MAPS_KEPT_PER_LAYER * layers + TRANSIENT_MAPS)
    return one_map * (TRANSIENT_MAPS - 1)


def available_memory_bytes(device: str) -> int | None:
    """Free memory on ``device`` now: CUDA's free memory, or the OS's ``MemAvailable`` on CPU
    (``None`` where neither can be read)."""
    if device.startswith("cuda"):
        free, _total = torch.cuda.mem_get_info(torch.device(device))
        return int(free)
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024  # kB
    return None


def format_gib(num_bytes: float) -> str:
    """``num_bytes`` as e.g. ``"12.0 GiB"``."""
    return f"{num_bytes / 2**30:.1f} GiB"
