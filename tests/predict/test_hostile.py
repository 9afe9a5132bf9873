"""pointea-predict against hostile files and careless output folders (issue 19): one bad file never
takes the run down, no output is silently replaced, every refusal is one line."""

from __future__ import annotations

import json
import struct
import time
from pathlib import Path

import numpy as np
import pytest

from pointea.io.folder_lock import FolderLock
from pointea.predict.cli import main
from pointea.predict.out_folder import LOCK_NAME
from tests.predict.conftest import SHARED_DATA, predict, read_csv

LIDAR = SHARED_DATA / "lidar_tiles_real_sample"


def unreadable(err: str) -> dict[str, str]:
    listed = err[err.index("unreadable:") :].splitlines()[1:]
    return dict(line.strip().split(": ", 1) for line in listed if line.startswith("  "))


def write_hostile(folder: Path) -> dict[str, str]:
    """Each hostile file of issue 19 that pointea-predict met, and a word its reason must hold."""
    folder.mkdir(parents=True, exist_ok=True)
    header = ("# .PCD v0.7\nVERSION 0.7\nFIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nCOUNT 1 1 1\nWIDTH 2000000000\n"
              "HEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS 2000000000\nDATA binary\n")  # fmt: skip
    (folder / "huge.pcd").write_bytes(header.encode() + np.zeros(30, np.float32).tobytes())
    (folder / "garbage.las").write_bytes(b"LASF" + np.random.default_rng(0).bytes(400))
    las = bytearray((LIDAR / "mvk-thin.las").read_bytes())  # a real scan ...
    struct.pack_into("<I", las, 100, 0xFFFFFFF0)  # ... whose header declares 4 billion VLRs
    (folder / "vlrs.las").write_bytes(bytes(las))
    (folder / "faces.ply").write_text(
        "ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\n"
        "element face 1\nproperty list uchar int vertex_indices\nend_header\n0 0 0\n1 0 0\n0 1 0\n3 0 1 99\n"
    )
    (folder / "wide.txt").write_text(" ".join(["1.5"] * 1_000_000) + "\n")
    np.save(folder / "one.npy", np.ones((1, 3), np.float32))
    np.save(folder / "copies.npy", np.tile(np.eye(3, dtype=np.float32), (400, 1)))  # 1200 points, 3 distinct
    return {"huge.pcd": "", "garbage.las": "", "vlrs.las": "", "faces.ply": "", "wide.txt": "",
            "one.npy": "1 distinct point,", "copies.npy": "3 distinct points"}  # fmt: skip


@pytest.mark.slow
def test_good_files_are_predicted_among_every_hostile_file(classifier_checkpoint, real_clouds, tmp_path, capsys):
    if not LIDAR.is_dir():
        pytest.fail(f"real lidar sample not found at {LIDAR} (set POINTEA_SHARED_DATA)")
    folder = tmp_path / "mixed"
    hostile = write_hostile(folder)
    good = [folder / "a.npy", folder / "b.xyz", folder / "scan.las"]
    np.save(good[0], real_clouds[0])
    np.savetxt(good[1], real_clouds[1], fmt="%.6f")
    good[2].write_bytes((LIDAR / "mvk-thin.las").read_bytes())
    started = time.monotonic()
    status, out, err = predict(capsys, classifier_checkpoint, folder, "--out", tmp_path / "out", "--read-timeout", 10)
    assert time.monotonic() - started < 150  # the looping LAS files are cut off by the read bound
    assert status == 1
    assert "Traceback" not in err and "bad_alloc" not in err.split("unreadable:")[0]
    assert sorted(row["file"] for row in read_csv(tmp_path / "out" / "predictions.csv")) == sorted(map(str, good))
    reasons = unreadable(err)
    assert set(reasons) == {str(folder / name) for name in hostile}
    for name, word in hostile.items():
        assert word in reasons[str(folder / name)], reasons[str(folder / name)]
        assert "\n" not in reasons[str(folder / name)]
    report = json.loads((tmp_path / "out" / "predictions.json").read_text())
    assert {entry["file"] for entry in report["unreadable"]} == set(reasons)


def test_clouds_below_the_floor_are_refused_unless_resampled_and_marked(classifier_checkpoint, real_clouds, tmp_path, capsys):
    np.save(tmp_path / "one.npy", real_clouds[0][:1])
    np.save(tmp_path / "few.npy", real_clouds[0][:40])  # 40 points: below the 64 the network samples
    np.save(tmp_path / "short.npy", real_clouds[0][:100])  # enough distinct points, fewer than the 128 served
    np.save(tmp_path / "full.npy", real_clouds[0])
    files = [tmp_path / name for name in ("one.npy", "few.npy", "short.npy", "full.npy")]
    status, out, err = predict(capsys, classifier_checkpoint, *files, "--out", tmp_path / "refused")
    assert status == 1 and "clouds of fewer than 64 distinct points refused" in out
    assert {Path(r["file"]).name: r["resampled"] for r in read_csv(tmp_path / "refused" / "predictions.csv")} == {
        "short.npy": "1", "full.npy": "0"}  # fmt: skip
    reasons = unreadable(err)
    assert reasons[str(files[0])] == "1 distinct point, fewer than the 64 the network needs: pass --resample to predict it from repeated points anyway"
    assert reasons[str(files[1])].startswith("40 distinct points")
    status, out, err = predict(capsys, classifier_checkpoint, *files, "--out", tmp_path / "resampled", "--resample")
    assert status == 0 and "clouds of fewer than 64 distinct points resampled" in out
    marked = {Path(r["file"]).name: r["resampled"] for r in read_csv(tmp_path / "resampled" / "predictions.csv")}
    assert marked == {"one.npy": "1", "few.npy": "1", "short.npy": "1", "full.npy": "0"}
    assert "(resampled)" in out  # the table says so too


def test_ctrl_c_while_writing_leaves_no_partial_file(segmenter_checkpoint, real_clouds, tmp_path, capsys, monkeypatch):
    for i in range(3):
        np.save(tmp_path / f"s{i}.npy", real_clouds[i])
    savez, calls = np.savez_compressed, []

    def interrupted(file, **arrays):
        calls.append(file)
        if len(calls) == 2:  # the second file: half written, then Ctrl-C
            file.write(b"PK\x03\x04 half a zip")
            raise KeyboardInterrupt
        savez(file, **arrays)

    monkeypatch.setattr(np, "savez_compressed", interrupted)
    out = tmp_path / "out"
    status, _, err = predict(capsys, segmenter_checkpoint, *[tmp_path / f"s{i}.npy" for i in range(3)],
                             "--category", "Chair", "--out", out, "--workers", 0)  # fmt: skip
    assert status == 130
    assert err.strip().splitlines()[-1].startswith("pointea-predict: interrupted:") and "Traceback" not in err
    left = sorted(p.name for p in out.iterdir())
    assert left == [LOCK_NAME, "s0.parts.npz", "s0.parts.ply", "s1.parts.ply"]  # complete files only, no temporary
    assert np.load(out / "s0.parts.npz")["parts"].shape == (2048,)
    assert (out / LOCK_NAME).read_text() == ""  # released
    monkeypatch.setattr(np, "savez_compressed", savez)
    status, _, _ = predict(capsys, segmenter_checkpoint, tmp_path / "s1.npy", "--category", "Chair", "--out", out)
    assert status == 0  # an interrupted run's folder is not a finished one: the next run may use it


def test_a_finished_or_busy_out_is_never_replaced(classifier_checkpoint, real_clouds, tmp_path, capsys):
    np.save(tmp_path / "a.npy", real_clouds[0])
    np.save(tmp_path / "b.npy", real_clouds[1])
    out = tmp_path / "out"
    assert predict(capsys, classifier_checkpoint, tmp_path / "a.npy", "--out", out)[0] == 0
    first = {name: (out / name).read_bytes() for name in ("predictions.csv", "predictions.json")}
    status, _, err = predict(capsys, classifier_checkpoint, tmp_path / "b.npy", "--out", out)
    assert status == 2 and err.count("\n") == 1
    assert err.startswith(f"pointea-predict: error: --out {out} holds the predictions of an earlier run") and "--overwrite" in err
    assert {name: (out / name).read_bytes() for name in first} == first
    with FolderLock(out, LOCK_NAME, "pointea-predict"):  # another run holds the folder
        status, _, err = predict(capsys, classifier_checkpoint, tmp_path / "b.npy", "--out", out, "--overwrite")
    assert status == 2 and err.count("\n") == 1 and "is in use by another `pointea-predict` (pid" in err
    assert {name: (out / name).read_bytes() for name in first} == first
    assert predict(capsys, classifier_checkpoint, tmp_path / "b.npy", "--out", out, "--overwrite")[0] == 0
    assert [Path(r["file"]).name for r in read_csv(out / "predictions.csv")] == ["b.npy"]


def test_an_overwrite_removes_the_earlier_runs_files(segmenter_checkpoint, real_clouds, tmp_path, capsys):
    np.save(tmp_path / "a.npy", real_clouds[0])
    np.save(tmp_path / "b.npy", real_clouds[1])
    out = tmp_path / "out"
    assert predict(capsys, segmenter_checkpoint, tmp_path / "a.npy", "--category", "Chair", "--out", out)[0] == 0
    assert predict(capsys, segmenter_checkpoint, tmp_path / "b.npy", "--category", "Chair", "--out", out, "--overwrite")[0] == 0
    assert sorted(p.name for p in out.glob("*.parts.*")) == ["b.parts.npz", "b.parts.ply"]


def test_out_folders_that_cannot_be_written_are_one_line_before_any_work(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    missing = tmp_path / "no-such.ckpt"  # the --out check comes first: the checkpoint is never opened
    cases = {
        tmp_path / "file": "is a file, expected a folder",
        tmp_path / "file" / "sub": f"{tmp_path / 'file'} is a file, so no folder can be made under it",
        Path("/proc/pointea-out"): "cannot write there",
    }
    for out, message in cases.items():
        status, _, err = predict(capsys, missing, tmp_path, "--out", out)
        assert status == 2 and err.count("\n") == 1 and message in err and f"--out {out}" in err, err


def test_bad_categories_table_and_huge_num_points_are_one_line(segmenter_checkpoint, real_clouds, tmp_path, capsys):
    np.save(tmp_path / "a.npy", real_clouds[0])
    table = tmp_path / "categories.csv"
    table.write_bytes("a.npy,Chaise longue \xe9t\xe9\n".encode("latin-1"))
    status, _, err = predict(capsys, segmenter_checkpoint, tmp_path / "a.npy", "--categories", table, "--out", tmp_path / "o")
    assert status == 2 and err.count("\n") == 1 and f"--categories {table}: not UTF-8 text (byte 0xe9" in err
    with pytest.raises(SystemExit) as exit_info:
        main([str(segmenter_checkpoint), str(tmp_path / "a.npy"), "--num-points", "1000000000"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "--num-points: at most 16777216 points per cloud, got 1000000000" in err


def test_a_write_error_is_one_line(classifier_checkpoint, real_clouds, tmp_path, capsys, monkeypatch):
    np.save(tmp_path / "a.npy", real_clouds[0])
    import pointea.io.atomic as atomic

    real = atomic.os.replace

    def full(source, target):
        raise OSError(28, "No space left on device", str(target))

    monkeypatch.setattr(atomic.os, "replace", full)
    status, _, err = predict(capsys, classifier_checkpoint, tmp_path / "a.npy", "--out", tmp_path / "o")
    monkeypatch.setattr(atomic.os, "replace", real)
    assert status == 2 and err.strip().splitlines()[-1] == (
        f"pointea-predict: error: cannot write {tmp_path / 'o' / 'predictions.csv'}: No space left on device"
    )
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == [LOCK_NAME]  # no temporary left


def test_a_recursive_glob_through_a_link_back_up_ends(tmp_path):
    """``dir/**/*.txt`` with two links ``dir/sub/up{1,2} -> ..`` lists each file once, in a bounded
    time (the link-following glob walked 2^40 paths); the links are not followed."""
    import subprocess
    import sys

    (tmp_path / "dir" / "sub").mkdir(parents=True)
    (tmp_path / "dir" / "a.txt").write_text("0 0 0\n")
    (tmp_path / "dir" / "sub" / "b.txt").write_text("1 1 1\n")
    (tmp_path / "dir" / "sub" / "up1").symlink_to("..")
    (tmp_path / "dir" / "sub" / "up2").symlink_to("..")
    code = (
        "import sys; from pointea.predict.files import expand_paths; "
        "print([str(p) for p in expand_paths([sys.argv[1]]).files])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "dir" / "**" / "*.txt")],
        capture_output=True, text=True, timeout=60, cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str([str(tmp_path / "dir" / "a.txt"), str(tmp_path / "dir" / "sub" / "b.txt")])
