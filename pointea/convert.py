"""PCT's published PyTorch weights as a pointea model, and the ``pointea-convert`` command.

PCT_Pytorch (github.com/Strawberry-Eat-Mango/PCT_Pytorch) trains its classifier ``Pct`` inside
``nn.DataParallel`` and shares ``torch.save(model.state_dict(), "model.t7")``: keys prefixed
``module.``, Conv1d (kernel 1) weights ``(out, in, 1)``. :func:`from_pct_pytorch` maps such a state
dict (with or without the prefix) onto ``PCTClassifier(attention="offset")``, which computes the
same function (see docs/pct.md and tests/models/test_pct_reference.py):

- every Conv1d/Linear + BatchNorm pair becomes an LBR (the Conv1d weight loses its kernel axis);
- PCT's query and key convolutions are one shared weight: it becomes ``query_key`` (and must be
  the same values under both names);
- the biases PCT puts before a BatchNorm (``trans_conv`` in every attention layer, ``linear2``)
  are folded into that BatchNorm's running mean (``BN(Wx + b) = BN'(Wx)`` with ``mean' = mean -
  b``; in training mode BatchNorm removes a constant anyway, so this is exact in both modes);
- the number of classes is read from ``linear3``.

:func:`write_checkpoint` writes the network as a pointea Lightning checkpoint, the same dict
``pointea fit`` writes (weights under ``network.``, pointea's network record under ``"pointea"``),
so ``PCTClassifier.from_checkpoint``, ``PointEncoder.from_checkpoint``, ``pointea test/predict
--ckpt_path`` and the viewers take it::

    pointea-convert pct-pytorch checkpoints/best/models/model.t7 pct.ckpt

Exit status: 0 on success, 2 on bad input (one ``error:`` line: a missing or corrupt file, a state
dict of another architecture).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from pointea.models.checkpoint import CheckpointError, check_finite_weights, load_torch_file
from pointea.models.classifier import PCTClassifier

__all__ = ["from_pct_pytorch", "write_checkpoint", "convert_pct_pytorch", "main"]

_DATA_PARALLEL = "module."
_BATCH_NORM = ("weight", "bias", "running_mean", "running_var")


@dataclass(frozen=True)
class _Lbr:
    """One PCT conv/linear + BatchNorm pair and the pointea LBR it becomes."""

    target: str  # pointea LBR, e.g. "encoder.fuse"
    weight: str  # PCT's conv/linear weight key
    norm: str  # PCT's BatchNorm prefix
    bias: str | None = None  # PCT's bias before the BatchNorm, folded into its running mean


def _pct_layout(num_layers: int = 4) -> tuple[list[_Lbr], list[tuple[str, str]], list[tuple[str, str]]]:
    """PCT_Pytorch's ``Pct`` in pointea's terms: (LBR pairs, plain copies, shared q/k weights)."""
    lbrs = [
        _Lbr("encoder.embedding.0", "conv1.weight", "bn1"),
        _Lbr("encoder.embedding.1", "conv2.weight", "bn2"),
    ]
    for stage in range(2):
        lbrs += [
            _Lbr(f"encoder.stages.{stage}.embed.{i}", f"gather_local_{stage}.conv{i + 1}.weight",
                 f"gather_local_{stage}.bn{i + 1}")
            for i in range(2)
        ]  # fmt: skip
    lbrs += [_Lbr(f"encoder.pre_attention.{i}", f"pt_last.conv{i + 1}.weight", f"pt_last.bn{i + 1}") for i in range(2)]
    copies, shared = [], []
    for i in range(num_layers):
        sa, layer = f"pt_last.sa{i + 1}", f"encoder.layers.{i}"
        lbrs.append(_Lbr(f"{layer}.transform", f"{sa}.trans_conv.weight", f"{sa}.after_norm", f"{sa}.trans_conv.bias"))
        copies += [(f"{layer}.attention.value.weight", f"{sa}.v_conv.weight"),
                   (f"{layer}.attention.value.bias", f"{sa}.v_conv.bias")]  # fmt: skip
        shared.append((f"{sa}.q_conv.weight", f"{sa}.k_conv.weight"))
    lbrs += [
        _Lbr("encoder.fuse", "conv_fuse.0.weight", "conv_fuse.1"),
        _Lbr("head.0", "linear1.weight", "bn6"),
        _Lbr("head.2", "linear2.weight", "bn7", "linear2.bias"),
    ]
    copies += [("head.4.weight", "linear3.weight"), ("head.4.bias", "linear3.bias")]
    return lbrs, copies, shared


def _expected_keys(lbrs: list[_Lbr], copies: list[tuple[str, str]], shared: list[tuple[str, str]]) -> list[str]:
    keys = []
    for lbr in lbrs:
        keys += [lbr.weight, *(f"{lbr.norm}.{name}" for name in _BATCH_NORM)]
        keys += [lbr.bias] if lbr.bias else []
    keys += [source for _, source in copies] + [key for pair in shared for key in pair]
    return keys


def _strip_prefix(state: Mapping[str, object], source: str) -> dict[str, Tensor]:
    if not isinstance(state, Mapping) or not state:
        raise CheckpointError(
            f"{source} holds {type(state).__name__}, not a state dict: expected what "
            "torch.save(model.state_dict()) writes for PCT_Pytorch's Pct"
        )
    not_tensors = [k for k, v in state.items() if not isinstance(v, Tensor)]
    if not_tensors:
        raise CheckpointError(
            f"{source} is not a PCT_Pytorch Pct state dict: {not_tensors[0]!r} is not a tensor "
            "(a pointea or Lightning checkpoint does not need converting)"
        )
    if all(str(k).startswith(_DATA_PARALLEL) for k in state):  # saved from nn.DataParallel
        return {k[len(_DATA_PARALLEL) :]: v for k, v in state.items()}
    return dict(state)  # type: ignore[arg-type]


def from_pct_pytorch(state_dict: Mapping[str, Tensor], source: str = "the state dict") -> PCTClassifier:
    """``PCTClassifier(num_classes=K, attention="offset")`` holding PCT_Pytorch's ``Pct`` weights.

    Args:
        state_dict: ``Pct``'s state dict, keys with or without ``nn.DataParallel``'s ``module.``.
        source: how errors name the state dict (e.g. its file).

    Returns:
        The network in eval mode, in the state dict's floating dtype (float32 for PCT's files).

    Raises:
        CheckpointError: one line: not a state dict, a missing or unexpected key (the first of
            each named), a tensor of the wrong shape, query/key weights that differ, or NaN/Inf
            weights.
    """
    state = _strip_prefix(state_dict, source)
    check_finite_weights(state, source)  # a diverged PCT run's weights would convert and predict class 0
    lbrs, copies, shared = _pct_layout()
    expected = _expected_keys(lbrs, copies, shared)
    optional = {f"{lbr.norm}.num_batches_tracked" for lbr in lbrs}
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in set(expected) | optional]
    if missing or unexpected:
        found = [f"missing key {missing[0]!r} ({len(missing)} missing)" if missing else "",
                 f"unexpected key {unexpected[0]!r} ({len(unexpected)} unexpected)" if unexpected else ""]  # fmt: skip
        raise CheckpointError(
            f"{source} is not a state dict of PCT_Pytorch's Pct classifier: " + ", ".join(f for f in found if f)
        )
    for query, key in shared:
        if state[query].shape != state[key].shape or not torch.equal(state[query], state[key]):
            raise CheckpointError(
                f"{source}: {query} and {key} differ, but PCT's queries and keys share one weight; "
                "this is not a state dict of PCT_Pytorch's Pct"
            )

    head = state["linear3.weight"]
    if head.dim() != 2:
        raise CheckpointError(f"{source}: linear3.weight has shape {tuple(head.shape)}, expected (classes, 256)")
    network = PCTClassifier(num_classes=head.shape[0], attention="offset").to(head.dtype)
    target = network.state_dict()
    converted: dict[str, Tensor] = {}

    def put(key: str, value: Tensor, source_key: str) -> None:
        """``value`` under pointea's ``key``; a Conv1d weight (out, in, 1) loses its kernel axis."""
        raw = value
        if value.dim() == 3 and value.shape[-1] == 1 and target[key].dim() == 2:
            value = value.squeeze(-1)  # (out, in, 1) -> (out, in)
        if value.shape != target[key].shape:
            pct_shape = tuple(target[key].shape) + ((1,) if raw.dim() == 3 else ())  # Conv1d: (out, in, 1)
            raise CheckpointError(f"{source}: {source_key} has shape {tuple(raw.shape)}, PCT's Pct has {pct_shape}")
        converted[key] = value

    for lbr in lbrs:
        put(f"{lbr.target}.linear.weight", state[lbr.weight], lbr.weight)
        for name in _BATCH_NORM:
            put(f"{lbr.target}.norm.{name}", state[f"{lbr.norm}.{name}"], f"{lbr.norm}.{name}")
        tracked = f"{lbr.norm}.num_batches_tracked"
        put(f"{lbr.target}.norm.num_batches_tracked", state.get(tracked, torch.zeros((), dtype=torch.long)), tracked)
        if lbr.bias is not None:
            put(f"{lbr.target}.norm.running_mean", state[lbr.bias], lbr.bias)  # checks the bias's shape
            converted[f"{lbr.target}.norm.running_mean"] = state[f"{lbr.norm}.running_mean"] - state[lbr.bias]
    for key, source_key in copies:
        put(key, state[source_key], source_key)
    for layer, (query, _) in enumerate(shared):
        put(f"encoder.layers.{layer}.attention.query_key.weight", state[query], query)

    uncovered = sorted(target.keys() - converted.keys())
    if uncovered:  # a mapping bug, not a user error: say so plainly
        raise RuntimeError(f"pointea.convert leaves {uncovered[0]} of PCTClassifier unset")
    network.load_state_dict(converted)
    return network.eval()


def write_checkpoint(network: PCTClassifier, path: str | Path) -> Path:
    """Write ``network`` as a pointea classification checkpoint, as ``pointea fit`` writes them.

    The file is written next to ``path`` and then renamed, so a failed write leaves no partial
    checkpoint. Returns ``path``.
    """
    import pytorch_lightning as pl

    from pointea.training import PointCloudClassifier
    from pointea.training.checkpoint_io import write_checkpoint_file

    module = PointCloudClassifier(network)
    checkpoint = {
        "epoch": 0,
        "global_step": 0,
        "pytorch-lightning_version": pl.__version__,
        "state_dict": module.state_dict(),
    }
    module.on_save_checkpoint(checkpoint)  # pointea's network record, exactly as in training
    return write_checkpoint_file(checkpoint, path)


def convert_pct_pytorch(source: str | Path, destination: str | Path) -> PCTClassifier:
    """Read a PCT_Pytorch state dict file (``weights_only``), convert it and write a pointea
    checkpoint to ``destination``; returns the network.

    Raises:
        CheckpointError: see :func:`from_pct_pytorch` and
            :func:`~pointea.models.checkpoint.load_torch_file`.
    """
    source, destination = Path(source), Path(destination)
    if destination.is_dir():
        raise CheckpointError(f"{destination} is a folder: name the checkpoint file to write, e.g. {destination / 'pct.ckpt'}")
    if destination.exists() and source.exists() and destination.resolve() == source.resolve():
        raise CheckpointError(f"{destination} is the file being converted: write the pointea checkpoint elsewhere")
    # PCT_Pytorch's files from torch < 1.6 are in the legacy format: loaded with a warning (no checksums).
    try:
        state = load_torch_file(source, legacy_ok=True)
    except CheckpointError:
        raise
    except Exception as error:  # noqa: BLE001 - torch's legacy unpickler fails in many ways on a cut file
        raise CheckpointError(
            f"cannot read checkpoint {source}: the file is truncated, corrupt or not a PyTorch checkpoint "
            f"({type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else 'no message'})"
        ) from None
    network = from_pct_pytorch(state, source=str(source))
    write_checkpoint(network, destination)
    return network


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pointea-convert", description="Turn another code base's trained weights into a pointea checkpoint."
    )
    formats = parser.add_subparsers(dest="format", required=True)
    pct = formats.add_parser(
        "pct-pytorch",
        help="PCT_Pytorch's Pct classifier (torch.save(model.state_dict()), e.g. model.t7)",
        description="Convert PCT_Pytorch's Pct weights into a PCTClassifier(attention='offset') checkpoint.",
    )
    pct.add_argument("source", help="the PCT_Pytorch state dict file (model.t7)")
    pct.add_argument("destination", help="the pointea checkpoint to write (.ckpt)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        network = convert_pct_pytorch(args.source, args.destination)
    except CheckpointError as error:
        print(f"pointea-convert: error: {error}", file=sys.stderr)
        return 2
    parameters = sum(p.numel() for p in network.parameters())
    print(
        f"wrote {args.destination}: PCTClassifier(num_classes={network.num_classes}, attention='offset'), "
        f"{parameters / 1e6:.3f} M parameters, from {args.source}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
