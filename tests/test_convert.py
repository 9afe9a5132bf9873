"""``pointea-convert pct-pytorch``: PCT_Pytorch's state dicts as people share them, and the one-line
errors for everything else. (That the converted network computes PCT's function is
tests/models/test_pct_reference.py; that pointea's commands take the checkpoint,
tests/training/test_converted_checkpoint.py.)"""

import pytest
import torch
from torch import nn

from pointea import PCTClassifier, PointEncoder
from pointea.convert import from_pct_pytorch, main
from pointea.models.checkpoint import CheckpointError
from tests.models.pct_reference import Pct, clouds, randomise


@pytest.fixture(scope="module")
def reference() -> Pct:
    return randomise(Pct(output_channels=12), seed=7).eval()


@pytest.fixture(scope="module")
def expected(reference) -> tuple[torch.Tensor, torch.Tensor]:
    points = clouds(2, 1024, seed=8, dtype=torch.float32)
    with torch.no_grad():
        return points, reference(points.transpose(1, 2))


def convert(source, destination, capsys) -> tuple[int, str, str]:
    code = main(["pct-pytorch", str(source), str(destination)])
    out, err = capsys.readouterr()
    return code, out, err


def test_data_parallel_model_t7_converts_to_a_checkpoint_pointea_loads(tmp_path, reference, expected, capsys):
    source = tmp_path / "model.t7"
    torch.save(nn.DataParallel(reference).state_dict(), source)  # what PCT_Pytorch's main.py saves
    assert next(iter(torch.load(source, weights_only=True))).startswith("module.")
    code, out, _ = convert(source, tmp_path / "pct.ckpt", capsys)
    assert code == 0 and "PCTClassifier(num_classes=12, attention='offset')" in out
    network = PCTClassifier.from_checkpoint(tmp_path / "pct.ckpt")
    points, logits = expected
    with torch.no_grad():
        converted = network(points)
    assert torch.equal(converted.argmax(-1), logits.argmax(-1))
    assert torch.allclose(converted, logits, atol=1e-4, rtol=1e-4)
    encoder = PointEncoder.from_checkpoint(tmp_path / "pct.ckpt")
    assert encoder.attention == "offset"
    for name, value in encoder.state_dict().items():
        assert torch.equal(value, network.encoder.state_dict()[name]), name


def test_unprefixed_state_dict_gives_the_same_weights(reference):
    plain = from_pct_pytorch(reference.state_dict())
    prefixed = from_pct_pytorch({f"module.{k}": v for k, v in reference.state_dict().items()})
    for name, value in plain.state_dict().items():
        assert torch.equal(value, prefixed.state_dict()[name]), name


def test_biases_before_batchnorm_are_folded_into_the_running_mean(reference):
    network = from_pct_pytorch(reference.state_dict())
    sa = reference.pt_last.sa2
    assert torch.equal(network.encoder.layers[1].transform.norm.running_mean,
                       sa.after_norm.running_mean - sa.trans_conv.bias)  # fmt: skip
    assert torch.equal(network.head[2].norm.running_mean, reference.bn7.running_mean - reference.linear2.bias)
    assert torch.equal(network.encoder.layers[3].attention.query_key.weight, reference.pt_last.sa4.k_conv.weight[..., 0])
    assert network.num_classes == 12 and not network.training


def one_line_error(capsys, source, destination) -> str:
    code, out, err = convert(source, destination, capsys)
    assert code == 2 and out == "" and err.startswith("pointea-convert: error: ") and err.count("\n") == 1, err
    assert not destination.exists()
    return err


def test_missing_corrupt_and_foreign_files_are_one_line_errors(tmp_path, reference, capsys):
    out = tmp_path / "out.ckpt"
    assert "checkpoint not found" in one_line_error(capsys, tmp_path / "absent.t7", out)
    good = tmp_path / "model.t7"
    torch.save(reference.state_dict(), good)
    truncated = tmp_path / "truncated.t7"
    truncated.write_bytes(good.read_bytes()[:100_000])
    assert "truncated, corrupt" in one_line_error(capsys, truncated, out)

    other = tmp_path / "other.t7"
    torch.save(nn.Sequential(nn.Conv1d(3, 64, 1), nn.BatchNorm1d(64)).state_dict(), other)
    line = one_line_error(capsys, other, out)
    assert "missing key 'conv1.weight'" in line and "unexpected key '0.weight'" in line

    pointea_weights = tmp_path / "pointea.t7"
    torch.save(from_pct_pytorch(reference.state_dict()).state_dict(), pointea_weights)
    assert "missing key 'conv1.weight'" in one_line_error(capsys, pointea_weights, out)

    checkpoint = tmp_path / "lightning.ckpt"
    torch.save({"state_dict": reference.state_dict(), "epoch": 3}, checkpoint)
    assert "'state_dict' is not a tensor" in one_line_error(capsys, checkpoint, out)


def test_another_width_or_unshared_queries_are_refused(reference):
    state = dict(reference.state_dict())
    state["pt_last.sa3.q_conv.weight"] = state["pt_last.sa3.q_conv.weight"] + 1e-3
    with pytest.raises(CheckpointError, match="pt_last.sa3.q_conv.weight and pt_last.sa3.k_conv.weight differ"):
        from_pct_pytorch(state)
    state = dict(reference.state_dict())
    state["conv_fuse.0.weight"] = torch.zeros(1024, 1024, 1)  # PCT's fusion without feature_1
    with pytest.raises(CheckpointError, match=r"conv_fuse.0.weight has shape \(1024, 1024, 1\), PCT's Pct has \(1024, 1280, 1\)"):
        from_pct_pytorch(state)


def test_num_batches_tracked_may_be_absent(reference):
    state = {k: v for k, v in reference.state_dict().items() if not k.endswith("num_batches_tracked")}
    network = from_pct_pytorch(state)
    assert int(network.encoder.fuse.norm.num_batches_tracked) == 0


def test_a_diverged_pct_state_dict_is_refused(reference):
    state = dict(reference.state_dict())
    state["linear3.weight"] = state["linear3.weight"].clone()
    state["linear3.weight"][0, 0] = float("nan")
    with pytest.raises(CheckpointError, match="non-finite weights .* linear3.weight"):
        from_pct_pytorch(state)


def test_a_text_file_a_folder_and_the_source_itself_are_one_line_errors(tmp_path, reference, capsys):
    text = tmp_path / "notes.ckpt"
    text.write_text("hello\n")  # used to fail deep in the unpickler with KeyError: 101
    assert main(["pct-pytorch", str(text), str(tmp_path / "out.ckpt")]) == 2
    assert "cannot read checkpoint" in capsys.readouterr().err
    source = tmp_path / "model.t7"
    torch.save(reference.state_dict(), source)
    assert main(["pct-pytorch", str(source), str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
    assert main(["pct-pytorch", str(source), str(source)]) == 2
    assert "is the file being converted" in capsys.readouterr().err
    assert from_pct_pytorch(torch.load(source, weights_only=True)) is not None  # the source is untouched


def test_legacy_format_files_convert_with_a_warning_but_pointea_checkpoints_must_be_zip(tmp_path, reference):
    from pointea.models.checkpoint import read_checkpoint

    legacy = tmp_path / "model.t7"
    torch.save(reference.state_dict(), legacy, _use_new_zipfile_serialization=False)  # PCT_Pytorch on torch < 1.6
    with pytest.warns(UserWarning, match="legacy .* no checksums"):
        main(["pct-pytorch", str(legacy), str(tmp_path / "converted.ckpt")])
    checkpoint = torch.load(tmp_path / "converted.ckpt", weights_only=True)
    torch.save(checkpoint, tmp_path / "legacy.ckpt", _use_new_zipfile_serialization=False)
    with pytest.raises(CheckpointError, match="not in torch's zip format"):
        read_checkpoint(tmp_path / "legacy.ckpt")


def test_every_truncation_of_a_legacy_t7_is_one_line(tmp_path, reference, capsys):
    """PCT_Pytorch's files are in torch's legacy format, which has no checksums: a cut file fails in
    the unpickler in several ways (``struct.error`` among them), each one line."""
    whole = tmp_path / "model.t7"
    torch.save(nn.DataParallel(reference).state_dict(), whole, _use_new_zipfile_serialization=False)
    data = whole.read_bytes()
    cut = tmp_path / "cut.t7"
    lengths = sorted({*range(0, 2048, 5), *range(2048, len(data), len(data) // 60), len(data) - 1})
    for length in lengths:
        cut.write_bytes(data[:length])
        with pytest.warns(UserWarning, match="legacy"):
            status = main(["pct-pytorch", str(cut), str(tmp_path / "out.ckpt")])
        err = capsys.readouterr().err
        assert status == 2 and err.count("\n") == 1 and err.startswith(f"pointea-convert: error: cannot read checkpoint {cut}"), (length, err)
    assert not (tmp_path / "out.ckpt").exists()


def test_a_file_size_limit_while_writing_is_one_line_and_keeps_the_earlier_file(tmp_path, reference):
    import resource
    import subprocess
    import sys

    from tests.training.conftest import REPO

    source = tmp_path / "model.t7"
    torch.save(nn.DataParallel(reference).state_dict(), source)
    out = tmp_path / "pct.ckpt"
    out.write_bytes(b"an earlier checkpoint")

    def small_disk() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))  # PCT's weights take 11 MB

    done = subprocess.run([sys.executable, "-m", "pointea.convert", "pct-pytorch", str(source), str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=600, preexec_fn=small_disk)  # fmt: skip
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.strip().splitlines()[-1] == (
        f"pointea-convert: error: cannot write checkpoint {out}: File too large (an earlier file of that name is intact)"
    )
    assert out.read_bytes() == b"an earlier checkpoint"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.t7", "pct.ckpt"]
