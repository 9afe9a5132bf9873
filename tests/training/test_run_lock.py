"""A run folder belongs to one ``pointea fit`` at a time (issue 11, case 5: two runs into the same
``default_root_dir`` both exited 0 and one silently lost its ``last.ckpt``)."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from pointea.training import cli_main
from pointea.training.run_lock import LOCK_NAME, RunFolderBusy, RunLock
from tests.training.conftest import REPO, tiny_config


def start_fit(config):
    return subprocess.Popen(
        [sys.executable, "-m", "pointea.training.cli", "fit", "--config", str(config)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def wait_for(path, process, seconds=240):
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert process.poll() is None, process.communicate()[1][-2000:]
        assert time.monotonic() < deadline, "the first run never started training"
        time.sleep(0.2)


def test_a_second_fit_into_a_busy_folder_is_refused_and_a_dead_runs_lock_is_taken_over(tmp_path, classification_root):
    run = tmp_path / "run"
    started = tmp_path / "started"
    hold = {"class_path": "tests.training.callbacks.HoldFor", "init_args": {"path": str(started), "seconds": 300}}
    first_config = tiny_config(tmp_path / "first.yaml", "classification", classification_root, run, callbacks=[hold])
    second_config = tiny_config(tmp_path / "second.yaml", "classification", classification_root, run)
    first = start_fit(first_config)
    try:
        wait_for(started, first)
        second = subprocess.run(
            [sys.executable, "-m", "pointea.training.cli", "fit", "--config", str(second_config)],
            cwd=REPO, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert second.returncode == 1, second.stderr[-2000:]
        last_line = second.stderr.strip().splitlines()[-1]
        assert last_line.startswith(f"pointea: error: run folder {run} is in use by another `pointea fit` (pid {first.pid} ")
        assert "Traceback" not in second.stderr
        assert not (run / "checkpoints").exists()  # the second run wrote nothing there
        assert first.poll() is None  # and the first one carries on
    finally:
        os.kill(first.pid, signal.SIGKILL)  # dies holding the lock, as a killed or crashed run does
        first.communicate()
    assert json.loads((run / LOCK_NAME).read_text())["pid"] == first.pid  # its record stays behind

    cli_main(["fit", "--config", str(second_config)])  # the operating system dropped the dead run's lock
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert (run / LOCK_NAME).read_text() == ""  # released at the end of the run


def test_the_lock_in_one_process(tmp_path, caplog):
    with RunLock(tmp_path / "run") as lock:
        assert json.loads(lock.path.read_text())["pid"] == os.getpid()
        with pytest.raises(RunFolderBusy, match=rf"pid {os.getpid()} on "):
            RunLock(tmp_path / "run").acquire()  # a second holder, even in the same process
    assert "lock" not in caplog.text  # a lock nobody else held is not worth a line
    (tmp_path / "run" / LOCK_NAME).write_text(json.dumps({"pid": 999999999, "started": "then"}))
    with pytest.warns(UserWarning, match="taking over .*pid 999999999"):
        with RunLock(tmp_path / "run"):  # a record without a held lock: its process ended without releasing
            pass
