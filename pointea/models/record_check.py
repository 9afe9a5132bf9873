"""Checking a checkpoint's pointea record before any network is built from it.

A checkpoint's checksums only say its bytes are the ones written; the record inside can still be
edited (or written by a buggy tool) to hold wrong types, or sizes no machine holds: a record asking
for 2^20 channels makes the constructors allocate terabytes. So before anything is built:

- :func:`check_network_record`: the record's shape (a class name, a mapping of arguments, nested
  networks as records) and every argument against its constructor's type annotations;
- :func:`check_size`: the network is first built on PyTorch's ``meta`` device (no memory behind
  its tensors), and one whose parameters and buffers exceed :data:`MAX_ELEMENTS` is refused;
- :func:`check_trained_record`: the labels and preprocessing records (names are strings, part
  ids small integers, ``num_points`` a point count a cloud can have).

Each problem is a one-line :class:`~pointea.errors.CheckpointError` naming the record entry.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from pointea.errors import CheckpointError

__all__ = ["MAX_ELEMENTS", "MAX_POINTS", "check_network_record", "check_size", "check_trained_record"]

#: Most parameter and buffer elements a rebuilt network may hold (4 GiB of float32; PCT has 2.9M).
MAX_ELEMENTS = 1 << 30
#: Most points per cloud a preprocessing record may ask for.
MAX_POINTS = 1 << 24
#: Most label ids (classes, parts) a label record may name.
MAX_LABELS = 1 << 16

NESTED = "__network__"


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def check_network_record(record: Any, where: str, registry: Mapping[str, type]) -> type:
    """The registered class ``record`` describes, after checking the record's shape and every
    argument's type (nested network records included).

    Raises:
        CheckpointError: a malformed record, an unknown class, an argument of the wrong type.
    """
    if not isinstance(record, Mapping):
        raise CheckpointError(f"the checkpoint's record {where} is a {type(record).__name__}, expected a mapping")
    name = record.get("class")
    if not isinstance(name, str) or name not in registry:
        raise CheckpointError(f"the record {where} names {_describe(name)}, which is not a pointea network class")
    cls = registry[name]
    args = record.get("args")
    if not isinstance(args, Mapping) or not all(isinstance(key, str) for key in args):
        raise CheckpointError(f"the record {where}.args is {_describe(args)}, expected a mapping of argument names")
    if "prefix" in record and not isinstance(record["prefix"], str):
        raise CheckpointError(f"the record {where}.prefix is {_describe(record['prefix'])}, expected a string")
    hints = _hints(cls)
    parameters = inspect.signature(cls.__init__).parameters
    for key, value in args.items():
        if key not in parameters:
            continue  # the constructor reports it (an argument of another pointea version)
        if isinstance(value, Mapping) and NESTED in value:
            check_network_record(value[NESTED], f"{where}.{key}", registry)
        elif key in hints and not _matches(value, hints[key]):
            raise CheckpointError(
                f"the record {where}.{key} is {_describe(value)} ({type(value).__name__}), expected "
                f"{_hint_name(hints[key])}"
            )
    return cls


def check_size(build: Callable[[], torch.nn.Module], where: str) -> None:
    """Build the network on the ``meta`` device and refuse it when it would hold more than
    :data:`MAX_ELEMENTS` parameter and buffer elements.

    Raises:
        CheckpointError: the network is too large (or cannot be built from the record).
    """
    with torch.device("meta"):
        network = build()
    elements = sum(t.numel() for t in network.parameters()) + sum(t.numel() for t in network.buffers())
    if elements > MAX_ELEMENTS:
        raise CheckpointError(
            f"the record {where} describes a {type(network).__name__} of {elements:.3g} parameters "
            f"({4 * elements / 2**30:.3g} GiB in float32), more than the {MAX_ELEMENTS:.3g} pointea builds: the "
            "record is damaged or edited"
        )


def check_trained_record(record: Mapping[str, Any], path: Any) -> None:
    """The task, labels and preprocessing entries of a pointea record, checked.

    Raises:
        CheckpointError: an entry of the wrong type or out of range.
    """

    def refuse(entry: str, value: Any, expected: str) -> CheckpointError:
        return CheckpointError(f"{path}: the pointea record's {entry} is {_describe(value)}, expected {expected}")

    if "task" in record and not isinstance(record["task"], str):
        raise refuse("task", record["task"], "a task name")
    labels = record.get("labels")
    if labels is not None:
        if not isinstance(labels, Mapping):
            raise refuse("labels", labels, "a mapping")
        for key in ("classes", "categories"):
            names = labels.get(key)
            if names is not None and not (_names(names)):
                raise refuse(f"labels.{key}", names, f"a list of at most {MAX_LABELS} names")
        parts = labels.get("parts_per_category")
        if parts is not None:
            if not isinstance(parts, Mapping) or not all(isinstance(k, str) for k in parts) or len(parts) > MAX_LABELS:
                raise refuse("labels.parts_per_category", parts, "a mapping of category names to part ids")
            for name, ids in parts.items():
                if not _ids(ids):
                    raise refuse(f"labels.parts_per_category[{name!r}]", ids, f"a list of part ids in [0, {MAX_LABELS})")
    preprocessing = record.get("preprocessing")
    if preprocessing is not None:
        if not isinstance(preprocessing, Mapping):
            raise refuse("preprocessing", preprocessing, "a mapping")
        count = preprocessing.get("num_points")
        if count is not None and not (_integer(count) and 1 <= count <= MAX_POINTS):
            raise refuse("preprocessing.num_points", count, f"a number of points in [1, {MAX_POINTS}]")
        sampling = preprocessing.get("sampling")
        if sampling is not None and not isinstance(sampling, str):
            raise refuse("preprocessing.sampling", sampling, "'random' or 'fps'")
        normalize = preprocessing.get("normalize")
        if normalize is not None and not isinstance(normalize, bool):
            raise refuse("preprocessing.normalize", normalize, "true or false")


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _names(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and len(value) <= MAX_LABELS and all(isinstance(v, str) for v in value)


def _ids(value: Any) -> bool:
    return (
        isinstance(value, (list, tuple))
        and len(value) <= MAX_LABELS
        and all(_integer(v) and 0 <= v < MAX_LABELS for v in value)
    )


def _hints(cls: type) -> dict[str, Any]:
    """The constructor's resolved type annotations ({} where they cannot be resolved)."""
    try:
        return typing.get_type_hints(cls.__init__)
    except Exception:  # noqa: BLE001 - annotations naming what the module imports only for type checkers
        return {}


def _matches(value: Any, hint: Any) -> bool:
    """Whether a plain record value fits a type annotation (unknown annotations accept anything)."""
    if hint is Any or hint is object:
        return True
    if hint is type(None):
        return value is None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, option) for option in typing.get_args(hint))
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return _integer(value)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin in (tuple, list, Sequence, typing.Sequence) or hint in (tuple, list):
        if not isinstance(value, (tuple, list)):
            return False
        args = typing.get_args(hint)
        if not args:
            return True
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            return len(value) == len(args) and all(_matches(v, a) for v, a in zip(value, args))
        return all(_matches(v, args[0]) for v in value)
    if origin in (dict, Mapping, typing.Mapping) or hint in (dict, Mapping):
        return isinstance(value, Mapping)
    if isinstance(hint, type) and issubclass(hint, torch.nn.Module):
        return False  # a network argument must be a nested network record
    return True


def _hint_name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")
