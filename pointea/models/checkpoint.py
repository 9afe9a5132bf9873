"""Networks that rebuild themselves from a Lightning checkpoint, loaded with ``weights_only=True``.

A network class that mixes in :class:`FromCheckpoint` records the arguments it was constructed with
as plain Python values (numbers, strings, tuples, nested pointea networks as records). The
training modules (:mod:`pointea.training`) store that record in every checkpoint under
``checkpoint["pointea"]``::

    {"format": 2, "task": "classification",
     "network": {"class": "pointea.models.classifier.PCTClassifier", "args": {...}, "prefix": "network."},
     "encoder": {"class": "pointea.models.encoder.PointEncoder", "args": {...}, "prefix": "network.encoder."},
     "labels": {"classes": ["airplane", ...]},
     "preprocessing": {"num_points": 1024, "sampling": "random", "normalize": False}}

``labels`` (class names; or ``categories`` and ``parts_per_category`` for part segmentation) and
``preprocessing`` (the data module's ``num_points``, ``sampling`` and ``normalize``) were added
to format 2 later, compatibly: older format-2 checkpoints lack them (see :func:`trained_labels`,
:func:`trained_preprocessing`), and ``preprocessing`` is absent when training ran without a pointea
data module.

so ``PCTClassifier.from_checkpoint(path)`` (or ``PointEncoder.from_checkpoint(path)``) rebuilds the
architecture from the record and loads its weights from ``state_dict`` (keys under ``prefix``).
Nothing but tensors and plain values is unpickled, and only registered pointea network classes are
ever constructed from a record. Every problem is a one-line :class:`CheckpointError`.
"""

from __future__ import annotations

import inspect
import pickle
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from pointea.errors import CheckpointError
from pointea.models.record_check import check_network_record, check_size, check_trained_record

__all__ = [
    "CHECKPOINT_KEY",
    "RECORD_FORMAT",
    "CheckpointError",
    "FromCheckpoint",
    "check_finite_weights",
    "load_torch_file",
    "read_checkpoint",
    "network_record",
    "record_differences",
    "pointea_record",
    "trained_labels",
    "trained_preprocessing",
    "RUNTIME_OPTIONS",
    "register_record_alias",
    "rename_legacy_keys",
]

#: Key of pointea's record in a Lightning checkpoint dict.
CHECKPOINT_KEY = "pointea"
#: Version of the record layout; bump when it changes incompatibly. Format 2: the encoder fuses
#: PCT's ``feature_1`` after the attention outputs (format 1's fusion saw another tensor with
#: the same shapes, so its weights must not load silently into format 2's networks).
RECORD_FORMAT = 2

_NESTED = "__network__"
_REGISTRY: dict[str, type[FromCheckpoint]] = {}

Net = TypeVar("Net", bound="FromCheckpoint")


def register_record_alias(qualified_name: str, cls: type[FromCheckpoint]) -> None:
    """Let records naming ``qualified_name`` (a class's former module path) rebuild ``cls``."""
    _REGISTRY[qualified_name] = cls


def rename_legacy_keys(state: dict[str, torch.Tensor], prefix: str, renames: Mapping[str, str]) -> None:
    """Rename, in place, the keys of ``state`` under ``prefix`` that start with an old name of
    ``renames`` (old key start -> new key start, both relative to ``prefix``)."""
    for key in list(state):
        for old, new in renames.items():
            if key.startswith(prefix + old):
                state[prefix + new + key[len(prefix + old) :]] = state.pop(key)
                break


def _qualified_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _short_name(qualified: str) -> str:
    return qualified.rsplit(".", 1)[-1]


def _plain(value: Any, where: str) -> Any:
    """``value`` as plain Python data (nested pointea networks as records), or raise."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (tuple, list)):
        return type(value)(_plain(v, f"{where}[{i}]") for i, v in enumerate(value))
    if isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
        return {k: _plain(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, FromCheckpoint):
        return {_NESTED: value.constructor_record()}
    raise CheckpointError(
        f"cannot record constructor argument {where}={value!r} ({type(value).__name__}) in a "
        "checkpoint: only numbers, strings, tuples, lists, dicts and pointea networks can be rebuilt"
    )


class FromCheckpoint:
    """Mixin for :class:`torch.nn.Module` networks: records constructor arguments, rebuilds from them.

    The arguments are captured in ``__new__``, so the network's ``__init__`` and its signature stay
    untouched. Subclasses register themselves; only registered classes are rebuilt from records.
    """

    _constructor_args: dict[str, Any] | None
    #: State-dict key starts of older pointea versions and their current names (old -> new),
    #: applied when a checkpoint is loaded; empty when the layout never changed.
    LEGACY_STATE_KEYS: Mapping[str, str] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _REGISTRY[_qualified_name(cls)] = cls

    def __new__(cls, *args: Any, **kwargs: Any) -> FromCheckpoint:
        self = super().__new__(cls)
        try:
            bound = inspect.signature(cls.__init__).bind(None, *args, **kwargs)
        except TypeError:  # __init__ reports the bad call itself
            arguments = None
        else:
            bound.apply_defaults()
            arguments = dict(list(bound.arguments.items())[1:])  # drop `self`
        object.__setattr__(self, "_constructor_args", arguments)
        return self

    def constructor_record(self) -> dict[str, Any]:
        """``{"class": qualified name, "args": plain constructor arguments}``.

        Raises:
            CheckpointError: an argument is not plain data (e.g. a custom module object).
        """
        if self._constructor_args is None:
            raise CheckpointError(f"{type(self).__name__} was not constructed through its class")
        name = type(self).__name__
        return {
            "class": _qualified_name(type(self)),
            "args": {k: _plain(v, f"{name}.{k}") for k, v in self._constructor_args.items()},
        }

    @classmethod
    def from_record(cls: type[Net], record: Mapping[str, Any]) -> Net:
        """Construct the network a :meth:`constructor_record` describes (untrained weights), after
        checking the record's types and the network's size (:mod:`pointea.models.record_check`)."""
        check_size(lambda: _build(record), "network")
        network = _build(record)
        if not isinstance(network, cls):
            raise CheckpointError(
                f"the record describes a {_short_name(record['class'])}, not a {cls.__name__}"
            )
        return network

    @classmethod
    def from_checkpoint(cls: type[Net], path: str | Path, map_location: str | torch.device = "cpu") -> Net:
        """Rebuild this network from a pointea Lightning checkpoint and load its trained weights.

        ``PointEncoder.from_checkpoint`` takes the encoder of a classifier's or part segmenter's
        checkpoint; ``PCTClassifier`` / ``PCTPartSegmenter`` need a checkpoint of their own task.
        The file is read with ``torch.load(..., weights_only=True)``. Returns the network in eval
        mode.

        Raises:
            CheckpointError: missing or corrupt file, no pointea record, a checkpoint of another
                network (wrong task), or weights that do not fit the recorded architecture.
        """
        return cls.from_loaded_checkpoint(read_checkpoint(path, map_location), path)

    @classmethod
    def from_loaded_checkpoint(cls: type[Net], checkpoint: Mapping[str, Any], path: str | Path) -> Net:
        """:meth:`from_checkpoint` for a checkpoint already read with :func:`read_checkpoint`
        (``path`` only names it in errors)."""
        entry = network_record(checkpoint, path, cls)
        network = cls.from_record(entry)
        prefix = entry["prefix"]
        state = {k[len(prefix) :]: v for k, v in checkpoint["state_dict"].items() if k.startswith(prefix)}
        rename_legacy_keys(state, "", type(network).LEGACY_STATE_KEYS)
        _load_weights(network, state, path)
        return network.eval()


def _build(record: Mapping[str, Any]) -> Any:
    cls = check_network_record(record, "network", _REGISTRY)
    args = {k: _build(v[_NESTED]) if isinstance(v, Mapping) and _NESTED in v else v for k, v in record["args"].items()}
    try:
        return cls(**args)
    except (TypeError, ValueError) as error:  # a record from another pointea version, or edited
        raise CheckpointError(f"cannot rebuild {cls.__name__} from the checkpoint's record: {error}") from error


def _load_weights(network: nn.Module, state: dict[str, torch.Tensor], path: str | Path) -> None:
    expected = network.state_dict()
    missing = sorted(expected.keys() - state.keys())
    unexpected = sorted(state.keys() - expected.keys())
    resized = sorted(k for k in expected.keys() & state.keys() if expected[k].shape != state[k].shape)
    found = {"missing weights": missing, "unexpected weights": unexpected, "resized weights": resized}
    problems = [f"{len(keys)} {what} (e.g. {keys[0]})" for what, keys in found.items() if keys]
    if problems:
        raise CheckpointError(
            f"{path}: its weights do not fit the recorded {type(network).__name__} architecture: "
            + ", ".join(problems)
        )
    network.load_state_dict(state)


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def _check_zip_crcs(path: Path, legacy_ok: bool) -> None:
    """Verify the CRC-32 of every member of a zip-format torch file (what ``torch.save`` writes).

    ``torch.load`` does not check them, so bytes overwritten inside a tensor's data load silently
    as wrong weights. Files in torch's legacy (non-zip) format (torch < 1.6, or
    ``_use_new_zipfile_serialization=False``) have no checksums: refused unless ``legacy_ok``, and
    then loaded with a warning that they could not be verified.
    """
    if not zipfile.is_zipfile(path):
        if not legacy_ok:
            raise CheckpointError(
                f"cannot read checkpoint {path}: the file is truncated, corrupt or not a PyTorch checkpoint (it is "
                "not in torch's zip format, the only one pointea and Lightning write; torch's legacy format has "
                "no checksums to verify)"
            )
        warnings.warn(
            f"{path} is in torch's legacy (non-zip) format, which has no checksums: it is loaded unverified",
            stacklevel=3,
        )
        return
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()  # reads every member; the first one whose CRC does not match, or None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:  # e.g. a broken member header
        raise CheckpointError(
            f"cannot read checkpoint {path}: the file is truncated, corrupt or not a PyTorch checkpoint "
            f"({_one_line(error)})"
        ) from error
    if bad is not None:
        raise CheckpointError(
            f"cannot read checkpoint {path}: the file is corrupt (member {bad!r} fails its CRC-32 check); "
            "use another copy or re-train"
        )


def load_torch_file(path: str | Path, map_location: str | torch.device = "cpu", legacy_ok: bool = False) -> Any:
    """Load any file written by ``torch.save`` with ``weights_only=True``; one-line errors.

    Every entry point that reads a checkpoint (pointea's own or another code base's) goes through
    here, so they all refuse the same broken files the same way. The zip members' CRC-32 checksums
    are verified first, so a file with corrupted bytes inside a tensor is refused, not loaded with
    wrong weights. ``legacy_ok`` admits torch's old non-zip format (other code bases' files, e.g.
    PCT_Pytorch's ``model.t7``) with a warning, since it cannot be verified.

    Raises:
        CheckpointError: the file is missing, unreadable (truncated, corrupt, failing a checksum,
            not a torch file, or holding objects other than tensors and plain data).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    _check_zip_crcs(path, legacy_ok)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except (
        RuntimeError, pickle.UnpicklingError, EOFError, zipfile.BadZipFile, ValueError, OSError, KeyError, IndexError
    ) as error:  # a text or garbage file fails deep in the unpickler (e.g. KeyError from a tiny text file)
        raise CheckpointError(
            f"cannot read checkpoint {path}: the file is truncated, corrupt or not a PyTorch checkpoint "
            f"({_one_line(error)})"
        ) from error


def read_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a Lightning checkpoint with :func:`load_torch_file`; a one-line error when that fails.

    Raises:
        CheckpointError: the file is missing or unreadable (see :func:`load_torch_file`), or has
            no ``state_dict``.
    """
    checkpoint = load_torch_file(path, map_location)
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise CheckpointError(f"{path} is not a Lightning checkpoint: it has no 'state_dict'")
    check_finite_weights(checkpoint["state_dict"], path)
    return checkpoint


def check_finite_weights(state: Mapping[str, Any], path: str | Path) -> None:
    """Raise a one-line :class:`CheckpointError` if a floating-point tensor of ``state`` holds NaN or Inf.

    A diverged model's logits are all NaN, and NaN logits argmax to class 0, so evaluating such a
    checkpoint would report an accuracy (the share of class 0) instead of failing.
    """
    bad = [k for k, v in state.items() if torch.is_tensor(v) and v.is_floating_point() and not bool(v.isfinite().all())]
    if bad:
        raise CheckpointError(
            f"{path} holds non-finite weights (NaN or Inf) in {len(bad)} tensor(s), e.g. {bad[0]}: the run that "
            "wrote it diverged; use an earlier checkpoint"
        )


def pointea_record(checkpoint: Mapping[str, Any], path: str | Path) -> dict[str, Any]:
    """``checkpoint["pointea"]``, checked: present, with a network, in the format this version reads.

    Raises:
        CheckpointError: no pointea record, or one of another format.
    """
    record = checkpoint.get(CHECKPOINT_KEY)
    if not isinstance(record, Mapping) or "network" not in record:
        raise CheckpointError(
            f"{path} has no pointea network record: it was not written by a pointea training module "
            "(pointea.training), so its architecture is unknown"
        )
    if record.get("format") != RECORD_FORMAT:
        raise CheckpointError(
            f"{path} has pointea record format {record.get('format')!r}; this version reads format {RECORD_FORMAT}"
        )
    check_trained_record(record, path)
    return dict(record)


def network_record(checkpoint: Mapping[str, Any], path: str | Path, cls: type) -> dict[str, Any]:
    """The record in ``checkpoint`` that ``cls`` can be rebuilt from (the network, or its encoder).

    Raises:
        CheckpointError: no pointea record, or a record of another network class (wrong task).
    """
    record = pointea_record(checkpoint, path)
    for key in ("network", "encoder"):
        entry = record.get(key)
        if isinstance(entry, Mapping) and isinstance(entry.get("class"), str) and entry["class"] in _REGISTRY:
            if issubclass(_REGISTRY[entry["class"]], cls):
                return dict(entry)
    held = _short_name(check_network_record(record["network"], "network", _REGISTRY).__name__)
    raise CheckpointError(
        f"{path} is a {record.get('task', 'unknown')} checkpoint of a {held}, not of a {cls.__name__}: "
        f"load it with {held}.from_checkpoint, or its encoder with PointEncoder.from_checkpoint"
    )


def trained_labels(checkpoint: Mapping[str, Any], path: str | Path) -> dict[str, Any] | None:
    """The label names the network was trained with: ``{"classes": [...]}`` (classification; the
    list is ``None`` when training had no names) or ``{"categories": [...], "parts_per_category":
    {category: [part ids]}}`` (part segmentation); ``None`` for checkpoints written before pointea
    recorded them.

    Raises:
        CheckpointError: no valid pointea record (see :func:`pointea_record`).
    """
    labels = pointea_record(checkpoint, path).get("labels")
    return dict(labels) if isinstance(labels, Mapping) else None


def trained_preprocessing(checkpoint: Mapping[str, Any], path: str | Path) -> dict[str, Any] | None:
    """How training served clouds: ``{"num_points": int, "sampling": "random" | "fps", "normalize":
    bool}`` (see :mod:`pointea.data.transforms`); ``None`` for checkpoints written before pointea recorded
    it, or trained without a pointea data module.

    Raises:
        CheckpointError: no valid pointea record (see :func:`pointea_record`).
    """
    preprocessing = pointea_record(checkpoint, path).get("preprocessing")
    return dict(preprocessing) if isinstance(preprocessing, Mapping) else None


#: Constructor arguments that change how a network runs, not its weights or results: a checkpoint
#: trained with one value loads into a network configured with another (or one recorded before the
#: argument existed).
RUNTIME_OPTIONS = frozenset({"activation_checkpointing"})


def record_differences(expected: Any, found: Any, where: str = "") -> list[str]:
    """Human-readable differences between two records, e.g. ``["encoder.channels: 32 != 64"]``;
    sequences of one length differ element by element (``["classes[0]: 'clutter' != 'ceiling'"]``),
    of other lengths as wholes. Tuples and lists of the same items are the same (a record read
    back from a checkpoint holds lists)."""
    if isinstance(expected, Mapping) and isinstance(found, Mapping):
        if _NESTED in expected and _NESTED in found:
            return record_differences(expected[_NESTED], found[_NESTED], where)
        if "class" in expected and "args" in expected and "class" in found and "args" in found:
            if expected["class"] != found["class"]:
                return [f"{where or 'network'}: {_short_name(expected['class'])} != {_short_name(found['class'])}"]
            return record_differences(expected["args"], found["args"], where)
        differences = []
        for key in sorted((expected.keys() | found.keys()) - RUNTIME_OPTIONS):
            name = f"{where}.{key}" if where else key
            differences += record_differences(expected.get(key), found.get(key), name)
        return differences
    if isinstance(expected, (tuple, list)) and isinstance(found, (tuple, list)):
        expected, found = list(expected), list(found)
        if len(expected) == len(found):
            return [d for i, (a, b) in enumerate(zip(expected, found)) for d in record_differences(a, b, f"{where}[{i}]")]
    return [] if expected == found else [f"{where}: {expected!r} != {found!r}"]
