"""pointea-export: every format, run by its own runtime, matches eager PyTorch on real clouds at
other batch sizes and numbers of points than it was traced with."""

from __future__ import annotations

import json
import re
import resource
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import torch

from pointea.export import FORMATS, TOLERANCE, export_model, load_runtime, main
from pointea.predict import Preprocessing, load_trained_model
from tests.predict.conftest import REPO

SUFFIX = {"onnx": ".onnx", "torchscript": ".pt", "exported": ".pt2"}


def inputs(model, clouds: list[np.ndarray], num_points: int | None) -> list[np.ndarray]:
    points = np.stack([Preprocessing(num_points)(c, f"c{i}")[1] for i, c in enumerate(clouds)])  # (B, N, 3)
    if model.task == "classification":
        return [points]
    return [points, np.arange(len(clouds), dtype=np.int64) * 5 % 16]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("task", ["classification", "part_segmentation"])
def test_every_format_matches_eager_pytorch_on_real_clouds(fmt, task, classifier_checkpoint, segmenter_checkpoint, real_clouds, tmp_path):
    model = load_trained_model(classifier_checkpoint if task == "classification" else segmenter_checkpoint)
    out = tmp_path / f"model{SUFFIX[fmt]}"
    export_model(model, fmt, out)
    run = load_runtime(fmt, out)
    # traced with 2 clouds of 128 points; run with other batch sizes and numbers of points
    for clouds, num_points in ((list(real_clouds[:4]), 128), (list(real_clouds[4:5]), None), (list(real_clouds[:3]), 300)):
        arrays = inputs(model, clouds, num_points)
        with torch.no_grad():
            eager = model.network(*(torch.from_numpy(a) for a in arrays)).numpy()
        exported = run(*arrays)
        assert exported.shape == eager.shape
        assert np.abs(exported - eager).max() <= TOLERANCE
        assert np.array_equal(exported.argmax(-1), eager.argmax(-1))
    if task == "classification":
        assert_metadata(fmt, out, model)


def assert_metadata(fmt, out, model) -> None:
    """The file carries the label names and preprocessing, and (ONNX) only standard operators."""
    if fmt == "onnx":
        import onnx

        proto = onnx.load(str(out))
        meta = {p.key: p.value for p in proto.metadata_props}
        assert {node.domain for node in proto.graph.node} <= {"", "ai.onnx"}  # no custom FPS/kNN operator
        assert [i.name for i in proto.graph.input] == ["points"]
    elif fmt == "torchscript":
        extra = {"pointea.json": ""}
        torch.jit.load(str(out), _extra_files=extra)
        meta = json.loads(extra["pointea.json"])
    else:
        with zipfile.ZipFile(out) as archive:
            (name,) = [n for n in archive.namelist() if n.endswith("pointea.json")]
            meta = json.loads(archive.read(name))
    assert json.loads(meta["class_names"]) == model.class_names and meta["num_points"] == "128"


def test_command_checks_parity_and_prints_both_latencies(classifier_checkpoint, real_clouds, tmp_path, capsys):
    archive_clouds = tmp_path / "clouds"
    archive_clouds.mkdir()
    for i in range(3):
        np.save(archive_clouds / f"c{i}.npy", real_clouds[i])
    status = main([str(classifier_checkpoint), "--format", "onnx", "--out", str(tmp_path / "m.onnx"), "--check", str(archive_clouds)])
    out = capsys.readouterr().out
    assert status == 0
    assert "argmax equal: ok" in out and f"on {archive_clouds}, inputs (3, 128, 3), (1, 2048, 3)" in out
    assert "latency, one cloud of 128 points: eager PyTorch" in out and "onnxruntime / eager = " in out


def test_command_refuses_bad_input_in_one_line(classifier_checkpoint, tmp_path, capsys):
    cases = {
        (str(tmp_path / "missing.ckpt"), "--format", "onnx", "--out", str(tmp_path / "m.onnx")): "checkpoint not found",
        (str(classifier_checkpoint), "--format", "exported", "--out", str(tmp_path / "m.onnx")): "must end in .pt2",
        (str(classifier_checkpoint), "--format", "onnx", "--out", str(tmp_path / "m.onnx"), "--check", str(tmp_path / "x.h5")): "no such file",
    }
    for argv, message in cases.items():
        assert main(list(argv)) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err
    with pytest.raises(SystemExit):
        main([str(classifier_checkpoint), "--format", "tflite", "--out", str(tmp_path / "m")])


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_refuses_clouds_below_the_sample_size_in_its_own_runtime(fmt, classifier_checkpoint, real_clouds, tmp_path):
    model = load_trained_model(classifier_checkpoint)
    out = tmp_path / f"model{SUFFIX[fmt]}"
    export_model(model, fmt, out)
    run = load_runtime(fmt, out)
    assert run(real_clouds[:2, :64]).shape == (2, 12)  # exactly the sample size: answered
    expected = {
        "onnx": "pointea: this network samples 64 points per cloud",  # the check node's name, in onnxruntime's error
        "torchscript": "pointea: this network samples 64 points per cloud (sample_sizes[0]), got clouds of",
        "exported": "points.size()[1] >= 64",  # torch.export's own guard on the dynamic dimension
    }[fmt]
    for count in (63, 31, 10, 1, 0):
        with pytest.raises(Exception, match=re.escape(expected)):
            run(np.ascontiguousarray(real_clouds[:1, :count]))


def test_check_turns_every_unreadable_cloud_into_one_line(classifier_checkpoint, real_clouds, tmp_path, capsys):
    import h5py

    (tmp_path / "garbage.xyz").write_bytes(b"\x00\xff garbage \x01\n" * 50)
    np.savetxt(tmp_path / "nan.xyz", np.where(np.arange(300)[:, None] % 7 == 0, np.nan, real_clouds[0][:300]))
    with h5py.File(tmp_path / "flat.h5", "w") as archive:
        archive["data"] = real_clouds[:2, :, :2]  # width 2
    header = ("# .PCD v0.7\nVERSION 0.7\nFIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nCOUNT 1 1 1\nWIDTH 2000000000\n"
              "HEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS 2000000000\nDATA binary\n")  # fmt: skip
    (tmp_path / "huge.pcd").write_bytes(header.encode() + np.zeros(30, np.float32).tobytes())
    for name in ("garbage.xyz", "nan.xyz", "flat.h5", "huge.pcd"):
        argv = [str(classifier_checkpoint), "--format", "torchscript", "--out", str(tmp_path / "m.pt"), "--check", str(tmp_path / name)]
        assert main(argv) == 2, name
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith(f"pointea-export: error: --check {tmp_path / name}"), err


@pytest.mark.slow
@pytest.mark.parametrize("fmt", FORMATS)
def test_an_export_that_hits_a_file_size_limit_keeps_the_earlier_file(fmt, classifier_checkpoint, tmp_path):
    out = tmp_path / f"model{SUFFIX[fmt]}"
    out.write_bytes(b"an earlier export" * 1000)
    before = out.read_bytes()
    limit = 64 * 1024  # the tiny network's file is larger than this

    def small_disk() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    done = subprocess.run(
        [sys.executable, "-m", "pointea.export", str(classifier_checkpoint), "--format", fmt, "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=600, preexec_fn=small_disk,
    )  # fmt: skip
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])  # not SIGABRT (-6)
    assert done.stderr.strip().splitlines()[-1] == (
        f"pointea-export: error: --out {out}: cannot write it (File too large); any earlier file there is intact"
    )
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]  # no temporary left behind
