"""Networks rebuilt from pointea's Lightning checkpoints (weights_only), and the errors when they cannot be."""

import struct
import zipfile

import numpy as np
import pytest
import torch

from pointea import PCTClassifier, PCTPartSegmenter, PointEncoder
from pointea.data import ModelNet40
from pointea.models.checkpoint import CheckpointError, read_checkpoint
from pointea.training import PointCloudClassifier
from tests.conftest import TINY_ENCODER


def checkpoints(config):
    return config.parent / "run" / "checkpoints"


def test_classifier_from_checkpoint_reproduces_the_written_predictions(classification_run, classification_root):
    from pointea.training import cli_main

    cli_main(["predict", "--config", str(classification_run), "--ckpt_path", "best"])
    rows = np.genfromtxt(classification_run.parent / "run" / "predictions" / "predictions.csv",
                         delimiter=",", names=True, dtype=None, encoding=None)  # fmt: skip
    network = PCTClassifier.from_checkpoint(sorted(checkpoints(classification_run).glob("best-*.ckpt"))[0])
    assert not network.training
    test_set = ModelNet40(classification_root, "test")
    points = torch.from_numpy(test_set.points[rows["index"]])  # (M, 128, 3): the eval pipeline serves them as stored
    with torch.no_grad():
        probabilities = network(points).softmax(-1)
    names = np.array(test_set.class_names)
    assert names[probabilities.argmax(-1)].tolist() == rows["label_1"].tolist()
    assert np.allclose(probabilities.max(-1).values.numpy(), rows["probability_1"], atol=1e-5)
    assert rows["true_label"].tolist() == names[test_set.shape_labels["label"][rows["index"]]].tolist()


def test_encoder_from_checkpoint_holds_the_trained_weights(classification_run, segmentation_run):
    for config in (classification_run, segmentation_run):
        path = checkpoints(config) / "last.ckpt"
        state = torch.load(path, weights_only=True)["state_dict"]
        encoder = PointEncoder.from_checkpoint(path)
        for name, value in encoder.state_dict().items():
            assert torch.equal(value, state[f"network.encoder.{name}"]), name
        assert encoder.attention == "external" and encoder.out_channels == TINY_ENCODER["out_channels"]


def test_part_segmenter_from_checkpoint(segmentation_run):
    network = PCTPartSegmenter.from_checkpoint(checkpoints(segmentation_run) / "last.ckpt")
    assert network.num_parts == 50 and network.num_categories == 16
    assert network(torch.rand(2, 128, 3), torch.tensor([0, 15])).shape == (2, 128, 50)


def test_checkpoint_of_the_other_task_is_a_clear_error(classification_run, segmentation_run):
    with pytest.raises(CheckpointError, match="part_segmentation checkpoint of a PCTPartSegmenter, not of a PCTCl"):
        PCTClassifier.from_checkpoint(checkpoints(segmentation_run) / "last.ckpt")
    with pytest.raises(CheckpointError, match="classification checkpoint of a PCTClassifier"):
        PCTPartSegmenter.from_checkpoint(checkpoints(classification_run) / "last.ckpt")


def test_corrupt_missing_and_foreign_files(tmp_path, classification_run):
    good = (checkpoints(classification_run) / "last.ckpt").read_bytes()
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(good[: len(good) // 2])
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(b"not a checkpoint at all")
    for path in (truncated, garbage):
        with pytest.raises(CheckpointError, match="truncated, corrupt or not a PyTorch checkpoint") as error:
            PointEncoder.from_checkpoint(path)
        assert "\n" not in str(error.value)
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        PointEncoder.from_checkpoint(tmp_path / "absent.ckpt")
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": {"layer.weight": torch.zeros(2)}}, foreign)
    with pytest.raises(CheckpointError, match="no pointea network record"):
        PCTClassifier.from_checkpoint(foreign)
    pickled = tmp_path / "pickled.ckpt"
    torch.save({"state_dict": {}, "object": torch.nn.Linear(1, 1)}, pickled)  # not loadable with weights_only
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        read_checkpoint(pickled)


def test_weights_that_do_not_fit_the_record(tmp_path, classification_run):
    checkpoint = torch.load(checkpoints(classification_run) / "last.ckpt", weights_only=True)
    checkpoint["pointea"]["network"]["args"]["hidden_channels"] = (48,)  # record no longer matches the weights
    edited = tmp_path / "edited.ckpt"
    torch.save(checkpoint, edited)
    with pytest.raises(CheckpointError, match="weights do not fit the recorded PCTClassifier architecture: .*resized"):
        PCTClassifier.from_checkpoint(edited)


def test_module_refuses_a_checkpoint_of_another_architecture(classification_run):
    checkpoint = read_checkpoint(checkpoints(classification_run) / "last.ckpt")
    wider = PointCloudClassifier(PCTClassifier(num_classes=12, encoder=PointEncoder(**{**TINY_ENCODER, "channels": 48}),
                                               hidden_channels=(32,)))  # fmt: skip
    with pytest.raises(CheckpointError, match=r"different architecture .*encoder\.channels: 32 != 48"):
        wider.check_checkpoint(checkpoint)


def test_unrecordable_constructor_argument_fails_when_the_module_is_built():
    class Custom(PointEncoder):
        pass

    odd = PCTClassifier(num_classes=3, encoder=PointEncoder(**TINY_ENCODER), dropout=np.float32(0.5))
    with pytest.raises(CheckpointError, match="cannot record constructor argument PCTClassifier.dropout"):
        PointCloudClassifier(odd)
    assert isinstance(Custom.from_record(Custom(**TINY_ENCODER).constructor_record()), Custom)


def overwrite_middle(source, target, count=64, seed=0, inside_largest_tensor=True):
    """``source`` with ``count`` random bytes overwritten in the middle of its largest tensor's data
    (or of the file) (issue 11, case 3)."""
    data = bytearray(source.read_bytes())
    middle = len(data) // 2
    if inside_largest_tensor:
        storages = [m for m in zipfile.ZipFile(source).infolist() if "/data/" in m.filename]  # tensor data, not data.pkl
        largest = max(storages, key=lambda member: member.file_size)
        name_length, extra_length = struct.unpack("<HH", data[largest.header_offset + 26 : largest.header_offset + 30])
        start = largest.header_offset + 30 + name_length + extra_length  # the member's data
        middle = start + largest.file_size // 2 - count // 2
    data[middle : middle + count] = np.random.default_rng(seed).integers(0, 256, count, dtype=np.uint8).tobytes()
    target.write_bytes(bytes(data))
    return target


def test_bytes_overwritten_inside_a_tensor_fail_the_crc_check(tmp_path, classification_run):
    from pointea.models.checkpoint import load_torch_file
    from pointea.training import cli_main

    good = checkpoints(classification_run) / "last.ckpt"
    corrupt = overwrite_middle(good, tmp_path / "corrupt.ckpt")
    unchecked = torch.load(corrupt, weights_only=True)  # what loading did before: no error, wrong weights
    original = torch.load(good, weights_only=True)["state_dict"]
    assert any(not torch.equal(unchecked["state_dict"][k], v) for k, v in original.items())
    for load in (load_torch_file, read_checkpoint, PCTClassifier.from_checkpoint, PointEncoder.from_checkpoint):
        with pytest.raises(CheckpointError, match=r"the file is corrupt \(member '.*' fails its CRC-32 check\)") as error:
            load(corrupt)
        assert "\n" not in str(error.value)
    for command in ("test", "validate", "predict", "fit"):
        with pytest.raises(SystemExit) as exit_info:
            cli_main([command, "--config", str(classification_run), "--ckpt_path", str(corrupt)])
        assert exit_info.value.code.startswith(f"pointea: error: cannot read checkpoint {corrupt}: the file is corrupt")
    anywhere = overwrite_middle(good, tmp_path / "anywhere.ckpt", inside_largest_tensor=False)  # e.g. a member header
    with pytest.raises(CheckpointError, match="cannot read checkpoint .*corrupt"):
        PCTClassifier.from_checkpoint(anywhere)


def test_a_corrupt_best_file_is_refused_through_ckpt_path_best(tmp_path, classification_run):
    from pointea.training import cli_main

    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "config.yaml").write_text(classification_run.read_text().replace(str(classification_run.parent / "run"),
                                                                             str(copy / "run")))  # fmt: skip
    (copy / "run" / "checkpoints").mkdir(parents=True)
    for path in checkpoints(classification_run).glob("*.ckpt"):
        target = copy / "run" / "checkpoints" / path.name
        overwrite_middle(path, target) if path.name.startswith("best") else target.write_bytes(path.read_bytes())
    with pytest.raises(SystemExit, match="fails its CRC-32 check"):
        cli_main(["test", "--config", str(copy / "config.yaml"), "--ckpt_path", "best"])


def test_test_refuses_an_unknown_record_format_as_from_checkpoint_does(tmp_path, classification_run):
    from pointea.training import cli_main

    checkpoint = torch.load(checkpoints(classification_run) / "last.ckpt", weights_only=True)
    checkpoint["pointea"]["format"] = 99
    future = tmp_path / "future.ckpt"
    torch.save(checkpoint, future)
    expected = f"{future} has pointea record format 99; this version reads format 2"
    with pytest.raises(CheckpointError, match=expected):
        PCTClassifier.from_checkpoint(future)
    for command in ("test", "fit"):
        with pytest.raises(SystemExit) as exit_info:
            cli_main([command, "--config", str(classification_run), "--ckpt_path", str(future)])
        assert exit_info.value.code == f"pointea: error: {expected}"


def test_module_refuses_a_checkpoint_trained_on_other_names_or_inputs(classification_run):
    # The same architecture trained on other class names (or, for scenes, other input features
    # or another lidar class map) would load and score every class under another's name.
    path = checkpoints(classification_run) / "last.ckpt"
    checkpoint = read_checkpoint(path)
    names = checkpoint["pointea"]["labels"]["classes"]
    network = PCTClassifier.from_checkpoint(path)
    PointCloudClassifier(network, class_names=list(names)).check_checkpoint(checkpoint, path)
    PointCloudClassifier(network).check_checkpoint(checkpoint, path)  # no names configured: nothing to compare
    renamed = [*names[:-1], "water"]
    with pytest.raises(CheckpointError, match=r"other labels classes .*: labels classes\[%d\]: '%s' != 'water'; use"
                       % (len(names) - 1, names[-1])):  # fmt: skip
        PointCloudClassifier(network, class_names=renamed).check_checkpoint(checkpoint, path)
    checkpoint["pointea"]["preprocessing"] = {"features": ["height", "intensity"], "class_map": {"classes": {"ground": [2]}}}
    module = PointCloudClassifier(network, class_names=list(names))
    module.check_checkpoint(checkpoint, path, {"features": ("height", "intensity"), "num_points": 9})
    with pytest.raises(CheckpointError, match=r"other features .*: features\[0\]: 'height' != 'intensity'; use"):
        module.check_checkpoint(checkpoint, path, {"features": ["intensity", "height"]})
    with pytest.raises(CheckpointError, match=r"other class_map .*: class_map\.classes\.ground: \[2\] != \[2, 8\]; use"):
        module.check_checkpoint(checkpoint, path, {"class_map": {"classes": {"ground": [2, 8]}}})
