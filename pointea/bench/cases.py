"""What a benchmark measures: model cases, the grid of them, and whether each will fit in memory.

A :class:`ModelCase` knows how to build its network and a random input for it, so the worker
subprocess that measures it (:mod:`pointea.bench.measure`) and the parent that plans the grid build
the same thing. Besides the network, attention kind and size, a case may be a *variant* of the
plain fp32 eager case: chunked forward evaluation, activation checkpointing, bf16 autocast or
``torch.compile``.

Before a case runs, its memory is estimated against the memory available then
(:func:`plan_stages`): self-attention (``attention="offset"``) builds float32 (B, H, M, M) maps in
every layer, M being the points that reach the attention layers (all N in the segmenter, the last
sample size in the classifier). In a training step each layer keeps two of them for the backward
pass (the softmax output and the normalised map) and the peak adds a few transient ones (the
energy before the softmax going forward; gradients of the maps going back). Every other tensor is
linear in N: for those, the peak of the same case measured earlier in the run at a smaller N is
extrapolated linearly. The estimate only decides whether to skip a case before running it; the
measured peak is what the report shows.

Shape legend: B clouds per batch, N points per cloud, H heads, M points through attention.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn

from pointea.layers.offset_attention import ATTENTION_KINDS, AttentionKind
from pointea.models.classifier import PCTClassifier
from pointea.models.segmenter import PCTPartSegmenter

__all__ = [
    "ModelKind",
    "MODEL_KINDS",
    "PRECISIONS",
    "STAGES",
    "ModelCase",
    "build_grid",
    "MAPS_KEPT_PER_LAYER",
    "TRANSIENT_MAPS",
    "MEMORY_HEADROOM",
    "attention_map_bytes",
    "estimate_case_bytes",
    "extrapolate_peak_bytes",
    "available_memory_bytes",
    "plan_stages",
    "format_gib",
]

ModelKind = Literal["segmenter", "classifier"]
MODEL_KINDS: tuple[str, ...] = ("segmenter", "classifier")
#: Precisions a case runs in: plain float32, or bf16 autocast (CPU and CUDA).
PRECISIONS: tuple[str, ...] = ("fp32", "bf16")
#: The measured stages, in the order they run.
STAGES: tuple[str, ...] = ("forward", "train")
#: N x N maps one self-attention layer keeps for backward (softmax output, normalised map).
MAPS_KEPT_PER_LAYER = 2
#: N x N maps alive at once on top of the kept ones (energy going forward, map gradients going back).
TRANSIENT_MAPS = 4
#: Fraction of the available memory a case's estimate may use before it is skipped.
MEMORY_HEADROOM = 0.9
_FLOAT32_BYTES = 4


@dataclass(frozen=True)
class ModelCase:
    """One network at one input size, plain or as a variant.

    Args:
        model: ``"segmenter"`` (:class:`PCTPartSegmenter`, every point through attention) or
            ``"classifier"`` (:class:`PCTClassifier`, attention on the sampled points).
        attention: ``"external"`` or ``"offset"``.
        num_points: points N per cloud.
        batch_size: clouds B per batch.
        chunk_size: the forward pass (not fwd+bwd) evaluates the segmenter in chunks of this many
            points (:mod:`pointea.models.chunked`); ``None``: whole.
        checkpointing: activation checkpointing in the fwd+bwd pass.
        precision: ``"fp32"`` or ``"bf16"`` (autocast).
        compiled: the network compiled with ``torch.compile`` (its first call, compilation
            included, is timed apart as ``compile_seconds``).
    """

    model: ModelKind
    attention: AttentionKind
    num_points: int
    batch_size: int = 1
    chunk_size: int | None = None
    checkpointing: bool = False
    precision: str = "fp32"
    compiled: bool = False

    def __post_init__(self) -> None:
        if self.model not in MODEL_KINDS:
            raise ValueError(f"ModelCase: model must be one of {MODEL_KINDS}, got {self.model!r}")
        if self.attention not in ATTENTION_KINDS:
            raise ValueError(f"ModelCase: attention must be one of {ATTENTION_KINDS}, got {self.attention!r}")
        if self.num_points < 1 or self.batch_size < 1:
            raise ValueError(
                f"ModelCase: num_points and batch_size must be positive, got {self.num_points}, {self.batch_size}"
            )
        if self.precision not in PRECISIONS:
            raise ValueError(f"ModelCase: precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.chunk_size is not None and (self.model != "segmenter" or self.attention != "external"):
            raise ValueError("ModelCase: chunk_size applies to the external-attention segmenter only")

    @property
    def variant(self) -> str:
        """What sets the case apart from the plain fp32 eager one, e.g. ``"chunked 65536, ckpt"``;
        ``"plain"`` for none."""
        parts = []
        if self.chunk_size is not None:
            parts.append(f"chunked {self.chunk_size}")
        if self.checkpointing:
            parts.append("ckpt")
        if self.precision != "fp32":
            parts.append(self.precision)
        if self.compiled:
            parts.append("compiled")
        return ", ".join(parts) or "plain"

    @property
    def is_plain(self) -> bool:
        """Whether the case is the plain fp32 eager one."""
        return self.variant == "plain"

    @property
    def label(self) -> str:
        """A short human-readable name, e.g. ``segmenter/offset/N=8192/B=1`` (plus the variant)."""
        suffix = "" if self.is_plain else f" [{self.variant}]"
        return f"{self.model}/{self.attention}/N={self.num_points}/B={self.batch_size}{suffix}"

    def plain(self) -> "ModelCase":
        """The plain fp32 eager case of the same network and size."""
        return ModelCase(self.model, self.attention, self.num_points, self.batch_size)

    def to_dict(self) -> dict[str, Any]:
        """The case as plain JSON-able values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelCase":
        """Inverse of :meth:`to_dict` (fields missing from older reports take their defaults)."""
        return cls(**{key: data[key] for key in cls.__dataclass_fields__ if key in data})

    def build_model(self) -> nn.Module:
        """The network with its default (PCT) hyper-parameters, freshly initialised."""
        if self.model == "segmenter":
            return PCTPartSegmenter(attention=self.attention, activation_checkpointing=self.checkpointing)
        model = PCTClassifier(attention=self.attention)
        model.encoder.activation_checkpointing = self.checkpointing
        return model

    def make_inputs(self, device: torch.device | str = "cpu") -> tuple[Tensor, ...]:
        """Random inputs for :meth:`build_model`'s network.

        Shapes:
            returns ((B, N, 3) points,) for the classifier; ((B, N, 3) points, (B,) category) for
            the segmenter
        """
        points = torch.rand(self.batch_size, self.num_points, 3, device=device)
        if self.model == "segmenter":
            return points, torch.zeros(self.batch_size, dtype=torch.long, device=device)
        return (points,)


def build_grid(
    points: tuple[int, ...],
    models: tuple[str, ...] = MODEL_KINDS,
    attentions: tuple[str, ...] = ATTENTION_KINDS,
    batch_size: int = 1,
    variants: tuple[dict[str, Any], ...] = ({},),
) -> list[ModelCase]:
    """Every (model, N, attention, variant) case, with the cases of one (model, N) adjacent so
    they run back to back on the same machine state.

    ``variants`` are keyword arguments of :class:`ModelCase` (``{}``: the plain case); a variant
    that does not apply to a network (chunking to the classifier or to self-attention) is left out
    for it. Self-attention only gets the plain case and the precision/compile variants.
    """
    grid = []
    for model in models:
        for n in points:
            for attention in attentions:
                for variant in variants:
                    if variant.get("chunk_size") is not None and (model != "segmenter" or attention != "external"):
                        continue
                    if variant.get("checkpointing") and attention != "external":
                        continue
                    case = ModelCase(model, attention, n, batch_size, **variant)  # type: ignore[arg-type]
                    if case not in grid:
                        grid.append(case)
    return grid


def _attention_geometry(case: ModelCase) -> tuple[int, int, int]:
    """(M points through attention, H heads, L layers) of ``case``'s network."""
    encoder = case.build_model().encoder
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


def extrapolate_peak_bytes(case: ModelCase, earlier: list[dict[str, Any]], stage: str) -> int:
    """The peak of ``stage`` of the same case (network, variant, batch) measured at the largest
    smaller N in ``earlier`` results, scaled linearly to ``case``'s N; 0 when there is none."""
    best: tuple[int, int] | None = None
    for result in earlier:
        other = ModelCase.from_dict(result["case"])
        peak = (result.get(stage) or {}).get("peak_bytes")
        same = ModelCase.from_dict({**other.to_dict(), "num_points": case.num_points}) == case
        if same and peak and other.num_points < case.num_points and (best is None or other.num_points > best[0]):
            best = (other.num_points, int(peak))
    return 0 if best is None else best[1] * case.num_points // best[0]


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


def plan_stages(
    case: ModelCase, available_bytes: int | None, earlier: list[dict[str, Any]] | None = None
) -> tuple[tuple[str, ...], str | None]:
    """Which stages of ``case`` fit in ``available_bytes`` (``None``: unknown, run everything).

    Each stage needs the larger of the N x N map estimate (:func:`estimate_case_bytes`) and the
    linear extrapolation from ``earlier`` results (:func:`extrapolate_peak_bytes`). Returns the
    stages to run and, when some are dropped, why (``"out of memory (needs ~X GiB, Y GiB
    available): ..."``).
    """
    if available_bytes is None:
        return STAGES, None
    earlier = earlier or []
    limit = MEMORY_HEADROOM * available_bytes
    needs_train = max(estimate_case_bytes(case, training=True), extrapolate_peak_bytes(case, earlier, "train"))
    needs_forward = max(estimate_case_bytes(case, training=False), extrapolate_peak_bytes(case, earlier, "forward"))
    if needs_train <= limit and needs_forward <= limit:
        return STAGES, None
    if needs_forward <= limit:
        return ("forward",), (
            f"out of memory (fwd+bwd needs ~{format_gib(needs_train)}, "
            f"{format_gib(available_bytes)} available): fwd+bwd not run"
        )
    return (), f"out of memory (needs ~{format_gib(needs_forward)}, {format_gib(available_bytes)} available): not run"


def format_gib(num_bytes: float) -> str:
    """``num_bytes`` as e.g. ``"12.0 GiB"``."""
    return f"{num_bytes / 2**30:.1f} GiB"
