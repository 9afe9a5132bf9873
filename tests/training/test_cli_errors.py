"""Every ``pointea`` user error is one ``pointea: error: ...`` line, exit code 1, no usage text and
no traceback (issue 11: config errors printed 80-125 lines before the one that mattered;
``neighbours 0`` killed the process with a segfault; ``max_epochs 0`` said "which is not set" and
``-5`` gave a traceback)."""

import subprocess
import sys

import pytest

from pointea.training import cli_main
from tests.training.conftest import REPO, tiny_config

ENCODER = "--model.init_args.network.init_args.encoder.init_args"


@pytest.fixture
def config(tmp_path, classification_root):
    return tiny_config(tmp_path / "c.yaml", "classification", classification_root, tmp_path / "run")


def error_line(args, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli_main(args)
    message = exit_info.value.code
    assert isinstance(message, str) and message.startswith("pointea: error: ") and "\n" not in message, message
    assert capsys.readouterr().err == ""  # nothing printed before it: no usage, no traceback
    return message


def test_neighbours_zero_from_the_command_line_is_one_line_not_a_segfault(config):
    done = subprocess.run(
        [sys.executable, "-m", "pointea.training.cli", "fit", "--config", str(config), f"{ENCODER}.neighbours", "0"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 1, (done.returncode, done.stderr[-2000:])
    errors = [line for line in done.stderr.splitlines() if "error" in line.lower()]
    assert errors == ["pointea: error: PointEncoder: neighbours must be an integer >= 1, got 0"]
    assert "Traceback" not in done.stderr and "usage:" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == errors[0]


@pytest.mark.parametrize(
    "args, expected",
    [
        ([f"{ENCODER}.neighbours", "-3"], "PointEncoder: neighbours must be an integer >= 1, got -3"),
        ([f"{ENCODER}.sample_sizes", "[64, 0]"], "PointEncoder: every entry of sample_sizes must be an integer >= 1"),
        ([f"{ENCODER}.heads", "0"], "PointEncoder: heads must be None or an integer >= 1, got 0"),
        ([f"{ENCODER}.attention_dropout", "1.5"], "PointEncoder: attention_dropout must be a number in [0, 1), got 1.5"),
        (["--model.init_args.votes", "0"], "PointCloudClassifier: votes must be an integer >= 1, got 0"),
        (["--trainer.max_epochs", "0"], "trainer.max_epochs must be an integer >= 1 (or -1: no limit), got 0"),
        (["--trainer.max_epochs", "-5"], "trainer.max_epochs must be an integer >= 1 (or -1: no limit), got -5"),
        (["--trainer.max_epochs", "-1"], "trainer.max_epochs -1 (no limit) needs model.init_args.scheduler"),
        (["--trainer.max_epochs", "many"], "trainer.max_epochs: Expected a <class 'int'>. Got value: many"),
    ],
)
def test_bad_numbers_are_one_line(config, capsys, args, expected):
    assert error_line(["fit", "--config", str(config), *args], capsys).startswith(f"pointea: error: {expected}")


def test_a_yaml_key_typo_is_one_line(config, capsys):
    config.write_text(config.read_text().replace("max_epochs:", "max_epoch:"))
    message = error_line(["fit", "--config", str(config)], capsys)
    assert message == (
        "pointea: error: Subcommand 'fit' does not accept option 'trainer.max_epoch' "
        "(`pointea fit --help` lists the options)"
    )


def test_a_missing_config_file_is_one_line(tmp_path, capsys):
    message = error_line(["test", "--config", str(tmp_path / "absent.yaml")], capsys)
    assert message == (
        f"pointea: error: config: File does not exist: '{tmp_path / 'absent.yaml'}' "
        "(`pointea test --help` lists the options)"
    )


def test_an_unknown_command_is_one_line(capsys):
    message = error_line(["train"], capsys)
    assert "invalid choice: 'train'" in message and "`pointea --help` lists the commands" in message


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--data.init_args.batch_size", "1"], "data.init_args.batch_size must be >= 2 for fit"),
        (["--data.init_args.num_points", "16"], "data.init_args.num_points=16 is fewer than the 64 points the encoder"),
        (["--data.init_args.batch_size", "100"], "the train split of"),  # 48 training shapes: no full batch
    ],
)
def test_fits_that_would_train_nothing_or_crash_in_the_first_step_are_one_line(config, capsys, args, expected):
    """Found by a hostile try-out: these ran to a 60-line traceback in the first training step, or
    (fewer shapes than a batch) trained nothing and exited 0 without a checkpoint."""
    message = error_line(["fit", "--config", str(config), *args], capsys)
    assert expected in message


def test_resuming_from_a_folder_without_last_says_it_starts_afresh(config, tmp_path, caplog):
    with caplog.at_level("INFO"):
        cli_main(["fit", "--config", str(config), "--ckpt_path", "last",
                  "--trainer.default_root_dir", str(tmp_path / "typo")])  # fmt: skip
    assert "no last.ckpt in" in caplog.text and "new run from epoch 0" in caplog.text
    assert (tmp_path / "typo" / "checkpoints" / "last.ckpt").is_file()


def test_an_error_raised_from_none_is_its_own_line_not_the_error_it_replaced():
    # A reader that turns a library's error into its own one line (``raise DataError(...) from
    # None`` inside ``except``) must be what the user reads, not the library error it replaced.
    from pointea.errors import ConfigError
    from pointea.training.cli import _config_error_line

    def read_map():
        try:
            raise KeyError("'a' given twice")
        except KeyError:
            raise ConfigError("map.yaml: not a YAML class map (line 1: 'a' given twice)") from None

    try:
        try:
            read_map()
        except ConfigError as error:
            raise ValueError('Parser key "class_map":\n  problem') from error
    except ValueError as outer:
        assert _config_error_line(outer) == "class_map: map.yaml: not a YAML class map (line 1: 'a' given twice)"
