"""Crafted checkpoints (valid checksums, an edited pointea record) are refused in one line before
any network is built (issue 19): wrong types, and sizes no machine holds."""

from __future__ import annotations

import copy
import time

import numpy as np
import pytest
import torch

from pointea.errors import CheckpointError
from pointea.models import PCTClassifier
from pointea.predict import load_trained_model
from pointea.predict.cli import main


def edited(checkpoint_path, tmp_path, edit) -> str:
    checkpoint = copy.deepcopy(torch.load(checkpoint_path, weights_only=True))
    edit(checkpoint["pointea"])
    path = tmp_path / "edited.ckpt"
    torch.save(checkpoint, path)
    return str(path)


def encoder_args(record):
    return record["network"]["args"]["encoder"]["__network__"]["args"]


EDITS = {
    "huge channels": (lambda r: encoder_args(r).update(channels=1 << 20), "GiB in float32"),
    "huge classes": (lambda r: r["network"]["args"].update(num_classes=1 << 30), "GiB in float32"),
    "channels as text": (lambda r: encoder_args(r).update(channels="256"), "network.encoder.channels is '256' (str), expected int"),
    "sample sizes of floats": (lambda r: encoder_args(r).update(sample_sizes=[64.5]), "network.encoder.sample_sizes is [64.5]"),
    "attention as a number": (lambda r: encoder_args(r).update(attention=3), "network.encoder.attention is 3"),
    "args as a list": (lambda r: r["network"].update(args=[1, 2]), "network.args is [1, 2], expected a mapping"),
    "class as a list": (lambda r: r["network"].update({"class": ["x"]}), "names ['x'], which is not a pointea network class"),
    "network as text": (lambda r: r.update(network="PCTClassifier"), "record"),
    "classes as a number": (lambda r: r["labels"].update(classes=5), "labels.classes is 5, expected a list"),
    "wrong class count": (lambda r: r["labels"].update(classes=["a", "b"]), "names 2 classes for a network of 12"),
    "points as text": (lambda r: r["preprocessing"].update(num_points="many"), "preprocessing.num_points is 'many'"),
    "a trillion points": (lambda r: r["preprocessing"].update(num_points=10**12), "preprocessing.num_points is 1000000000000"),
    "normalize as text": (lambda r: r["preprocessing"].update(normalize="yes"), "preprocessing.normalize is 'yes'"),
}


@pytest.mark.parametrize("case", sorted(EDITS))
def test_an_edited_record_is_one_line_before_anything_is_built(case, classifier_checkpoint, real_clouds, tmp_path, capsys):
    edit, message = EDITS[case]
    path = edited(classifier_checkpoint, tmp_path, edit)
    started = time.monotonic()
    with pytest.raises(CheckpointError) as error:
        load_trained_model(path)
    assert time.monotonic() - started < 20  # refused, not allocated
    assert message in str(error.value) and "\n" not in str(error.value)
    np.save(tmp_path / "a.npy", real_clouds[0])
    assert main([path, str(tmp_path / "a.npy"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("pointea-predict: error:") and message in err


def test_the_network_alone_refuses_a_huge_record(classifier_checkpoint, tmp_path):
    path = edited(classifier_checkpoint, tmp_path, EDITS["huge channels"][0])
    with pytest.raises(CheckpointError, match="more than the 1.07e\\+09 pointea builds"):
        PCTClassifier.from_checkpoint(path)
    assert PCTClassifier.from_checkpoint(classifier_checkpoint).num_classes == 12  # the real record still loads
