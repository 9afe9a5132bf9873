"""pointea-predict on real clouds in every file format, and on what careless users give it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from pointea.data.shapenetpart import ShapeNetPart
from pointea.data.synthetic import CLASS_NAMES as SYNTHETIC_CLASSES
from pointea.models.checkpoint import CHECKPOINT_KEY, trained_labels, trained_preprocessing
from pointea.predict import Preprocessing, load_trained_model
from pointea.predict.cli import main
from pointea.predict.files import read_cloud
from pointea.io import write_points
from pointea.models.category_parts import CategoryParts
from tests.predict.conftest import predict, read_csv


def write_formats(folder: Path, clouds: np.ndarray) -> list[Path]:
    """Each cloud in another format: .npy, comma-separated .txt, space-separated .xyz, binary .ply."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, cloud in enumerate(clouds):
        path = folder / f"cloud{i}{['.npy', '.txt', '.xyz', '.ply'][i % 4]}"
        if path.suffix == ".npy":
            np.save(path, cloud)
        elif path.suffix == ".txt":
            np.savetxt(path, np.hstack([cloud, np.zeros_like(cloud)]), delimiter=",", fmt="%.6f")  # xyz + normals
        elif path.suffix == ".xyz":
            np.savetxt(path, cloud, fmt="%.6f")
        else:
            write_points(path, cloud)
        paths.append(path)
    return paths


def expected_top1(model, path: Path) -> tuple[str, float]:
    """The network's own answer on the file, preprocessed as documented."""
    served = Preprocessing(model.num_points, model.sampling, model.min_points)(read_cloud(path), path.stem)[1]
    with torch.no_grad():
        probabilities = model.network(torch.from_numpy(served)[None]).softmax(-1)[0]
    return model.class_names[int(probabilities.argmax())], float(probabilities.max())


def test_checkpoint_records_label_names_and_preprocessing(classifier_checkpoint, segmenter_checkpoint):
    checkpoint = torch.load(classifier_checkpoint, weights_only=True)
    assert trained_labels(checkpoint, classifier_checkpoint) == {"classes": list(SYNTHETIC_CLASSES)}
    assert trained_preprocessing(checkpoint, classifier_checkpoint) == {"num_points": 128, "sampling": "random", "normalize": False}
    checkpoint = torch.load(segmenter_checkpoint, weights_only=True)
    labels = trained_labels(checkpoint, segmenter_checkpoint)
    assert labels["categories"] == list(ShapeNetPart.CATEGORIES)
    assert labels["parts_per_category"] == {k: list(v) for k, v in ShapeNetPart.PARTS_PER_CATEGORY.items()}
    model = load_trained_model(segmenter_checkpoint)
    assert (model.task, model.num_points, model.min_points) == ("part_segmentation", 128, 1)


def test_checkpoint_without_the_new_records_still_predicts(classifier_checkpoint, real_clouds, tmp_path, capsys):
    checkpoint = torch.load(classifier_checkpoint, weights_only=True)
    del checkpoint[CHECKPOINT_KEY]["labels"], checkpoint[CHECKPOINT_KEY]["preprocessing"]
    old = tmp_path / "old.ckpt"
    torch.save(checkpoint, old)
    np.save(tmp_path / "a.npy", real_clouds[0])
    status, out, _ = predict(capsys, old, tmp_path / "a.npy", "--out", tmp_path / "out", "--num-points", 128)
    assert status == 0
    assert "labels are shown as ids" in out
    assert read_csv(tmp_path / "out" / "predictions.csv")[0]["label_1"].startswith("class ")


def test_classifies_a_folder_of_every_format_as_the_network_does(classifier_checkpoint, real_clouds, tmp_path, capsys):
    paths = write_formats(tmp_path / "clouds", real_clouds[:5])
    out = tmp_path / "out"
    argv = [classifier_checkpoint, tmp_path / "clouds", "--out", out, "--top-k", 3, "--batch-size", 2]
    status, stdout, _ = predict(capsys, *argv, "--workers", 1)
    assert status == 0
    assert "centre on the centroid, scale into the unit sphere, 128 points as a random subset" in stdout
    rows = read_csv(out / "predictions.csv")
    assert [row["file"] for row in rows] == [str(p) for p in paths]
    model = load_trained_model(classifier_checkpoint)
    for row, path in zip(rows, paths):
        assert row["points"] == "2048"
        probabilities = [float(row[f"probability_{k}"]) for k in (1, 2, 3)]
        assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) <= 1 + 1e-5
        label, probability = expected_top1(model, path)
        assert row["label_1"] == label and float(row["probability_1"]) == pytest.approx(probability, abs=2e-6)
        assert path.name in stdout
    report = json.loads((out / "predictions.json").read_text())
    assert [p["top_k"][0]["label"] for p in report["predictions"]] == [row["label_1"] for row in rows]
    # the batch size and reading inline change nothing (eval-mode network, seeded subsets)
    assert predict(capsys, *argv[:-2], "--batch-size", 5, "--workers", 0, "--out", tmp_path / "again")[0] == 0
    again = json.loads((tmp_path / "again" / "predictions.json").read_text())
    for first, second in zip(report["predictions"], again["predictions"]):
        assert [t["label"] for t in first["top_k"]] == [t["label"] for t in second["top_k"]]
        assert np.allclose([t["probability"] for t in first["top_k"]], [t["probability"] for t in second["top_k"]], atol=1e-5)


def test_same_cloud_in_two_formats_gets_the_same_prediction(classifier_checkpoint, real_clouds, tmp_path, capsys):
    np.save(tmp_path / "chair.npy", real_clouds[2])
    np.savetxt(tmp_path / "chair.txt", real_clouds[2], fmt="%.9g")
    assert predict(capsys, classifier_checkpoint, tmp_path / "chair.npy", tmp_path / "chair.txt", "--out", tmp_path / "o")[0] == 0
    first, second = read_csv(tmp_path / "o" / "predictions.csv")
    assert {k: v for k, v in first.items() if k not in ("index", "file")} == {k: v for k, v in second.items() if k not in ("index", "file")}


def test_unreadable_files_are_listed_and_every_readable_file_predicted(classifier_checkpoint, real_clouds, tmp_path, capsys):
    folder = tmp_path / "mixed"
    folder.mkdir()
    np.save(folder / "good.npy", real_clouds[0])
    (folder / "garbage.txt").write_text("this is not\na point cloud\n")
    (folder / "binary.xyz").write_bytes(b"\x00\x01\x02" * 100)
    np.save(folder / "empty.npy", np.zeros((0, 3), dtype=np.float32))
    np.save(folder / "flat.npy", np.zeros(7, dtype=np.float32))
    np.save(folder / "nan.npy", np.full((200, 3), np.nan, dtype=np.float32))
    (folder / "truncated.ply").write_bytes(b"ply\nformat binary_little_endian 1.0\nelement vertex 500\nproperty float x\n"
                                           b"property float y\nproperty float z\nend_header\n" + b"\0" * 100)  # fmt: skip
    (folder / "notes.md").write_text("not a point file: skipped")
    status, out, err = predict(capsys, classifier_checkpoint, folder, tmp_path / "missing.npy", "--out", tmp_path / "out")
    assert status == 1
    assert [row["file"] for row in read_csv(tmp_path / "out" / "predictions.csv")] == [str(folder / "good.npy")]
    assert "skipped 1 files of other types" in out
    listed = err[err.index("unreadable:") :].splitlines()[1:]
    reasons = dict(line.strip().split(": ", 1) for line in listed)
    assert set(reasons) == {str(tmp_path / "missing.npy")} | {
        str(folder / name) for name in ("garbage.txt", "binary.xyz", "empty.npy", "flat.npy", "nan.npy", "truncated.ply")
    }
    assert reasons[str(tmp_path / "missing.npy")] == "no such file or folder"
    assert "no points" in reasons[str(folder / "empty.npy")]
    assert "NaN" in reasons[str(folder / "nan.npy")]
    assert "truncated" in reasons[str(folder / "truncated.ply")]
    assert "Traceback" not in err


def test_empty_folder_and_unmatched_glob(classifier_checkpoint, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    status, _, err = predict(capsys, classifier_checkpoint, tmp_path / "empty", str(tmp_path / "*.ply"), "--out", tmp_path / "o")
    assert status == 1
    assert "folder holds no point files" in err and "the pattern matches no file" in err
    assert "nothing to predict" in err


def test_a_glob_picks_its_files(classifier_checkpoint, real_clouds, tmp_path, capsys):
    for i in range(3):
        np.save(tmp_path / f"shape{i}.npy", real_clouds[i])
    np.save(tmp_path / "other.npy", real_clouds[3])
    assert predict(capsys, classifier_checkpoint, str(tmp_path / "shape*.npy"), "--out", tmp_path / "o")[0] == 0
    assert [Path(r["file"]).name for r in read_csv(tmp_path / "o" / "predictions.csv")] == ["shape0.npy", "shape1.npy", "shape2.npy"]


def test_bad_checkpoints_end_with_one_error_line(classifier_checkpoint, real_clouds, tmp_path, capsys):
    np.save(tmp_path / "a.npy", real_clouds[0])
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(b"not a checkpoint")
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": {"weight": torch.zeros(2)}}, foreign)
    expected = {tmp_path / "missing.ckpt": "checkpoint not found", garbage: "cannot read checkpoint", foreign: "no pointea network record"}
    for checkpoint, message in expected.items():
        status, _, err = predict(capsys, checkpoint, tmp_path / "a.npy", "--out", tmp_path / "o")
        assert status == 2
        assert err.strip().count("\n") == 0 and err.startswith("pointea-predict: error:") and message in err


@pytest.mark.parametrize(
    "argv",
    [["--top-k", "0"], ["--num-points", "0"], ["--num-points", "-5"], ["--num-points", "many"], ["--votes", "0"],
     ["--batch-size", "0"], ["--workers", "-1"], ["--category", "Chair", "--categories", "c.csv"]],
)  # fmt: skip
def test_bad_arguments_are_refused_by_the_parser(classifier_checkpoint, argv, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([str(classifier_checkpoint), str(tmp_path), *argv])
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_arguments_that_do_not_fit_the_checkpoint(classifier_checkpoint, real_clouds, tmp_path, capsys):
    np.save(tmp_path / "a.npy", real_clouds[0])
    status, _, err = predict(capsys, classifier_checkpoint, tmp_path / "a.npy", "--num-points", 10)
    assert status == 2 and "--num-points 10 is below the 64 points the network samples" in err
    status, _, err = predict(capsys, classifier_checkpoint, tmp_path / "a.npy", "--category", "Chair")
    assert status == 2 and "for part segmentation" in err


def test_top_k_beyond_the_classes_shows_all_of_them(classifier_checkpoint, real_clouds, tmp_path, capsys):
    np.save(tmp_path / "a.npy", real_clouds[0])
    status, out, _ = predict(capsys, classifier_checkpoint, tmp_path / "a.npy", "--top-k", 50, "--out", tmp_path / "o")
    assert status == 0 and "--top-k 50 is more than the 12 classes" in out
    row = read_csv(tmp_path / "o" / "predictions.csv")[0]
    assert sorted(row[f"label_{k}"] for k in range(1, 13)) == sorted(SYNTHETIC_CLASSES)
    assert sum(float(row[f"probability_{k}"]) for k in range(1, 13)) == pytest.approx(1.0, abs=1e-4)


def test_all_points_and_voting(classifier_checkpoint, real_clouds, tmp_path, capsys):
    np.save(tmp_path / "a.npy", real_clouds[0][:300])
    status, out, _ = predict(capsys, classifier_checkpoint, tmp_path / "a.npy", "--num-points", "all", "--votes", 3, "--out", tmp_path / "o")
    assert status == 0 and "every point of each file" in out
    model = load_trained_model(classifier_checkpoint)
    points = Preprocessing(None, min_points=64)(real_clouds[0][:300], "a")[1]
    with torch.no_grad():
        from pointea.models.voting import ScaleVoting

        expected = ScaleVoting(3)(model.network, torch.from_numpy(points)[None])[0]
    row = read_csv(tmp_path / "o" / "predictions.csv")[0]
    assert row["label_1"] == model.class_names[int(expected.argmax())]
    assert float(row["probability_1"]) == pytest.approx(float(expected.max()), abs=2e-6)
    np.save(tmp_path / "small.npy", real_clouds[0][:40])  # fewer than the 64 points the network samples
    status, _, err = predict(capsys, classifier_checkpoint, tmp_path / "small.npy", "--num-points", "all", "--out", tmp_path / "o2")
    assert status == 1 and "40 distinct points, fewer than the 64 the network needs: pass --resample" in err


def test_segments_every_input_point(segmenter_checkpoint, real_clouds, tmp_path, capsys):
    paths = write_formats(tmp_path / "scans", real_clouds[:2])
    out = tmp_path / "out"
    status, stdout, _ = predict(capsys, segmenter_checkpoint, *paths, "--category", "airplane", "--out", out)
    assert status == 0
    model = load_trained_model(segmenter_checkpoint)
    airplane = list(ShapeNetPart.PARTS_PER_CATEGORY["Airplane"])
    rows = read_csv(out / "predictions.csv")
    for row, path, cloud in zip(rows, paths, real_clouds):
        saved = np.load(out / f"{path.stem}.parts.npz")
        raw = read_cloud(path)
        assert np.array_equal(saved["points"], raw) and saved["parts"].shape == (len(raw),) == (2048,)
        assert set(np.unique(saved["parts"])) <= set(airplane) and str(saved["category"]) == "Airplane"
        assert [int(row[f"part_{p}"]) for p in airplane] == np.bincount(saved["parts"], minlength=50)[airplane].tolist()
        assert np.allclose(read_cloud(out / f"{path.stem}.parts.ply"), raw)
        # the sampled points carry the network's own restricted-argmax labels
        normalised, served = Preprocessing(128)(raw, path.stem)
        with torch.no_grad():
            logits = model.network(torch.from_numpy(served)[None], torch.tensor([0]))
        labels = CategoryParts(ShapeNetPart.PARTS_PER_CATEGORY).restricted_argmax(logits, torch.tensor([0]))[0].numpy()
        where = [int(np.flatnonzero((normalised == p).all(axis=1))[0]) for p in served]
        assert np.array_equal(saved["parts"][where], labels)


def test_unknown_category_and_a_categories_table(segmenter_checkpoint, real_clouds, tmp_path, capsys):
    paths = write_formats(tmp_path, real_clouds[:2])
    status, _, err = predict(capsys, segmenter_checkpoint, *paths, "--category", "Spaceship")
    assert status == 2 and "unknown category 'Spaceship'" in err and "Airplane, Bag" in err
    table = tmp_path / "categories.csv"
    table.write_text(f"file,category\n{paths[0].name},chair\n")
    status, _, err = predict(capsys, segmenter_checkpoint, *paths, "--categories", table, "--out", tmp_path / "o")
    assert status == 1 and f"{paths[1]}: no category for it in {table}" in err
    (row,) = read_csv(tmp_path / "o" / "predictions.csv")
    assert row["category"] == "Chair" and sum(int(row[f"part_{p}"]) for p in (12, 13, 14, 15)) == 2048
    table.write_text(f"{paths[0].name},Spaceship\n")
    status, _, err = predict(capsys, segmenter_checkpoint, *paths, "--categories", table)
    assert status == 2 and "line 1" in err
    status, _, err = predict(capsys, segmenter_checkpoint, *paths)
    assert status == 2 and "--category NAME or --categories CSV" in err


def test_segments_whole_clouds_with_num_points_all(segmenter_checkpoint, real_clouds, tmp_path, capsys):
    np.save(tmp_path / "a.npy", real_clouds[0][:500])
    np.save(tmp_path / "b.npy", real_clouds[1][:700])
    status, _, _ = predict(capsys, segmenter_checkpoint, tmp_path / "a.npy", tmp_path / "b.npy", "--category", "Table",
                           "--num-points", "all", "--out", tmp_path / "o")  # fmt: skip
    assert status == 0
    model = load_trained_model(segmenter_checkpoint)
    table = ShapeNetPart.CATEGORIES.index("Table")
    for name, count in (("a", 500), ("b", 700)):
        saved = np.load(tmp_path / "o" / f"{name}.parts.npz")
        normalised = Preprocessing(None)(saved["points"], name)[0]
        with torch.no_grad():
            logits = model.network(torch.from_numpy(normalised)[None], torch.tensor([table]))
        expected = CategoryParts(ShapeNetPart.PARTS_PER_CATEGORY).restricted_argmax(logits, torch.tensor([table]))[0]
        assert saved["parts"].shape == (count,) and np.array_equal(saved["parts"], expected.numpy())


def test_whole_clouds_beyond_the_chunk_size_run_in_chunks_with_the_same_labels(segmenter_checkpoint, real_clouds, tmp_path, capsys, monkeypatch):
    import pointea.predict.cli as cli

    np.save(tmp_path / "scan.npy", real_clouds[0][:900])
    argv = [segmenter_checkpoint, tmp_path / "scan.npy", "--category", "Lamp", "--num-points", "all"]
    assert predict(capsys, *argv, "--out", tmp_path / "whole")[0] == 0
    from pointea.models.segmenter import PCTPartSegmenter

    chunk_sizes = []
    forward = PCTPartSegmenter.forward
    monkeypatch.setattr(cli, "DEFAULT_CHUNK_SIZE", 256)  # 900 points: 4 chunks
    monkeypatch.setattr(PCTPartSegmenter, "forward", lambda self, *a, **k: chunk_sizes.append(k.get("chunk_size")) or forward(self, *a, **k))
    assert predict(capsys, *argv, "--out", tmp_path / "chunked")[0] == 0
    assert chunk_sizes == [256]
    whole, chunked = (np.load(tmp_path / d / "scan.parts.npz")["parts"] for d in ("whole", "chunked"))
    assert whole.shape == (900,) and np.array_equal(whole, chunked)
