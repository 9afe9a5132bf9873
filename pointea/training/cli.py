"""The ``pointea`` command: Lightning's CLI with pointea's defaults.

    pointea fit      --config configs/modelnet40.yaml
    pointea test     --config configs/modelnet40.yaml --ckpt_path best
    pointea predict  --config configs/modelnet40.yaml --ckpt_path best
    pointea validate --config configs/modelnet40.yaml --ckpt_path last
    pointea fit      --config configs/modelnet40.yaml --ckpt_path last      # resume

What it adds to :class:`~pytorch_lightning.cli.LightningCLI`:

- The model (``PointCloudClassifier`` or ``PartSegmentation``) and the data module are chosen by
  ``class_path`` in the config. The data module's label-space facts are linked into the model on
  instantiation, never repeated in YAML: ``num_classes`` and ``class_names`` (ModelNet40),
  ``num_parts``, ``num_categories`` and ``parts_per_category`` (ShapeNetPart).
- Checkpoints in ``<trainer.default_root_dir>/checkpoints``: ``best-epoch=NNN.ckpt`` by the
  model's validation metric (``checkpoint.*``) and ``last.ckpt``, the latest state, rewritten at
  every epoch end (``last_checkpoint.*``; set ``last_checkpoint.every_n_train_steps`` to also save
  within long epochs). ``--ckpt_path best`` and ``last`` work in a fresh process (see
  :mod:`pointea.training.checkpoint_path`); Ctrl-C during ``fit`` saves ``last.ckpt``
  (:class:`InterruptCheckpoint`), so ``fit --ckpt_path last`` resumes where it stopped.
- Logging: a CSV logger (and TensorBoard when it is installed) under
  ``<trainer.default_root_dir>``, unless ``trainer.logger`` is set.
- ``predict`` writes ``<trainer.default_root_dir>/predictions/predictions.csv`` (and ``.npz`` for
  per-point parts), see :class:`PredictionWriter`.
- ``seed_everything`` defaults to 0.
- ``fit`` holds ``<trainer.default_root_dir>/pointea.lock`` while it runs (:class:`RunLock`): a
  second ``fit`` into the same folder is refused instead of overwriting its checkpoints.
- Training stops at the first non-finite loss, gradient or output (:mod:`pointea.training.divergence`).
- Every user error (config, data, checkpoint, architecture numbers, a diverged run, a busy run
  folder) ends with one ``pointea: error: ...`` line (naming the config key where jsonargparse
  knows it) and exit code 1, never a traceback; tracebacks are for bugs.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import warnings
from collections.abc import Sequence
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.cli import ArgsType, LightningArgumentParser, LightningCLI
from pytorch_lightning.loggers import CSVLogger, Logger, TensorBoardLogger
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO
from pytorch_lightning.utilities import rank_zero_info

from pointea.errors import ConfigError, DataError
from pointea.models.checkpoint import CheckpointError, read_checkpoint
from pointea.training.checkpoint_io import AtomicCheckpointIO
from pointea.training.checkpoint_path import last_checkpoint_path, resolve_checkpoint_path
from pointea.training.divergence import TrainingDiverged
from pointea.training.interrupt_checkpoint import InterruptCheckpoint
from pointea.training.module import PointCloudModule
from pointea.training.predictions import PredictionWriter
from pointea.training.run_lock import RunFolderBusy, RunLock

__all__ = ["ConfigError", "PointeaCLI", "cli_main", "load_config"]

# data module attribute -> model argument it is linked to (links whose source or target the chosen
# classes lack are skipped by jsonargparse, so one CLI serves both tasks).
DATA_LINKS = {
    "num_classes": "network.init_args.num_classes",
    "class_names": "class_names",
    "num_parts": "network.init_args.num_parts",
    "num_categories": "network.init_args.num_categories",
    "parts_per_category": "parts_per_category",
    # scenes (pointea.data.scenes.SceneDataModule -> SemanticSegmentation)
    "in_channels": "network.init_args.in_channels",
    "ignore_index": "ignore_index",
}


LAST = ModelCheckpoint.CHECKPOINT_NAME_LAST


class _NoTips(logging.Filter):
    """Drops Lightning's advertising tips (litlogger, litmodels) from its info log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Tip:" not in str(record.msg)


for _name in ("pytorch_lightning.utilities.rank_zero", "lightning_fabric.utilities.rank_zero", "lightning.pytorch.utilities.rank_zero"):
    logging.getLogger(_name).addFilter(_NoTips())


def _launched_as_worker() -> bool:
    """Whether this process is a non-zero rank that a DDP launcher started (they share rank 0's folder)."""
    return any(os.environ.get(key, "0") != "0" for key in ("RANK", "LOCAL_RANK", "NODE_RANK"))


def _checkpoint_dir(default_root_dir: str | None) -> str:
    return str(Path(default_root_dir or os.getcwd()) / "checkpoints")


def default_loggers(save_dir: str) -> list[Logger]:
    """A CSV logger, and a TensorBoard logger when ``tensorboard`` is installed."""
    loggers: list[Logger] = [CSVLogger(save_dir, name="csv")]
    if find_spec("tensorboard") is not None or find_spec("tensorboardX") is not None:
        loggers.append(TensorBoardLogger(save_dir, name="tensorboard"))
    return loggers


class PointeaCLI(LightningCLI):
    """LightningCLI for pointea's modules and data modules (see the module docstring)."""

    def __init__(self, args: ArgsType = None, run: bool = True, exit_on_error: bool = True) -> None:
        """``run=False, exit_on_error=False`` parses and instantiates without running, raising
        ``argparse.ArgumentError`` on a bad config (for tools such as the viewers)."""
        super().__init__(
            model_class=PointCloudModule,
            datamodule_class=pl.LightningDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            seed_everything_default=0,
            auto_configure_optimizers=False,
            trainer_defaults={"callbacks": [InterruptCheckpoint()]},
            parser_kwargs={
                "description": "pointea: train and evaluate point transformers with external attention",
                "exit_on_error": exit_on_error,
            },
            args=args,
            run=run,
        )

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        # Two checkpoints in one folder: the best by the model's validation metric, and the latest
        # state as last.ckpt at every epoch end (Lightning's own save_last only follows new bests).
        # last.ckpt is written at the end of each training epoch, after that epoch's validation if
        # it has one: left to Lightning, a ModelCheckpoint saves after validation only once
        # trainer.check_val_every_n_epoch > 1, so the epochs without validation wrote none.
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.add_lightning_class_args(ModelCheckpoint, "last_checkpoint")
        parser.set_defaults(
            {
                "checkpoint.mode": "max",
                "checkpoint.save_top_k": 1,
                "checkpoint.filename": "best-{epoch:03d}",
                "last_checkpoint.filename": LAST,
                "last_checkpoint.save_top_k": 1,
                "last_checkpoint.enable_version_counter": False,
                "last_checkpoint.save_on_train_epoch_end": True,
            }
        )
        for key in ("checkpoint", "last_checkpoint"):
            parser.link_arguments("trainer.default_root_dir", f"{key}.dirpath", compute_fn=_checkpoint_dir)
        parser.link_arguments("model.monitor", "checkpoint.monitor", apply_on="instantiate")
        parser.add_lightning_class_args(PredictionWriter, "prediction_writer")
        for source, target in DATA_LINKS.items():
            parser.link_arguments(f"data.{source}", f"model.init_args.{target}", apply_on="instantiate")

    def _prepare_subcommand_parser(self, klass: type, subcommand: str, **kwargs: Any) -> LightningArgumentParser:
        parser = super()._prepare_subcommand_parser(klass, subcommand, **kwargs)
        if subcommand == "fit":
            parser.add_argument(
                "--overwrite",
                action="store_true",
                help="start afresh in a run folder that holds an earlier run's checkpoints, deleting them (default: "
                "refuse; resume it with --ckpt_path last)",
            )
        return parser

    def parse_arguments(self, parser: LightningArgumentParser, args: ArgsType) -> None:
        super().parse_arguments(parser, args)
        subcommand = self.config.get("subcommand")
        ckpt_path = self.config[subcommand].get("ckpt_path") if subcommand else None
        if ckpt_path and Path(ckpt_path).is_file():
            read_checkpoint(ckpt_path)  # Lightning's CLI loads it next: a corrupt file fails here in one line

    def before_instantiate_classes(self) -> None:
        if self.subcommand != "fit":
            return
        trainer = self._get(self.config, "trainer", default={})
        epochs = trainer.get("max_epochs")
        valid = epochs is None or epochs == -1 or (isinstance(epochs, int) and epochs >= 1)
        if isinstance(epochs, bool) or not valid:
            raise ConfigError(f"trainer.max_epochs must be an integer >= 1 (or -1: no limit), got {epochs!r}")
        init_args = self._get(self.config, "model", default={}).get("init_args") or {}
        if epochs == -1 and init_args.get("scheduler") is None:
            raise ConfigError(
                "trainer.max_epochs -1 (no limit) needs model.init_args.scheduler: the default cosine schedule runs "
                "over max_epochs"
            )
        data_args = self._get(self.config, "data", default={}).get("init_args") or {}
        batch_size = data_args.get("batch_size")
        if isinstance(batch_size, int) and not isinstance(batch_size, bool) and batch_size == 1:
            raise ConfigError(
                "data.init_args.batch_size must be >= 2 for fit: BatchNorm needs more than one cloud per "
                "training batch (batch_size 1 is fine for test and predict)"
            )

    def instantiate_classes(self) -> None:
        try:
            super().instantiate_classes()
        except ValueError as error:
            if isinstance(error, CheckpointError):
                raise
            # The classes check their arguments where they enter (one-line ValueErrors naming them);
            # jsonargparse wraps them in its union-type reports.
            raise ConfigError(_config_error_line(error)) from error
        self._check_points_fit_the_network()

    def _check_points_fit_the_network(self) -> None:
        """The data module must serve at least as many points as the encoder samples first, checked
        here rather than by a traceback from the first training step."""
        encoder = getattr(getattr(self.model, "network", None), "encoder", None)
        num_points = getattr(self.datamodule, "num_points", None)
        min_points = getattr(encoder, "min_points", None)
        if isinstance(num_points, int) and isinstance(min_points, int) and num_points < min_points:
            raise ConfigError(
                f"data.init_args.num_points={num_points} is fewer than the {min_points} points the encoder samples "
                "first (its sample_sizes[0]): raise num_points or lower the encoder's sample_sizes"
            )

    def instantiate_trainer(self, **kwargs: Any) -> pl.Trainer:
        config = self._get(self.config_init, "trainer", default={})
        if config.get("logger") in (None, True):
            kwargs["logger"] = default_loggers(config.get("default_root_dir") or os.getcwd())
        trainer = super().instantiate_trainer(**kwargs)
        if type(trainer.strategy.checkpoint_io) is TorchCheckpointIO:  # Lightning's default writer
            trainer.strategy.checkpoint_io = AtomicCheckpointIO()
        return trainer

    def _checked_ckpt_path(self) -> None:
        """Resolve ``best``/``last`` and check the file holds this model's task and architecture."""
        config = self.config_init[self.subcommand]
        ckpt_path = config.get("ckpt_path")
        callback = self.trainer.checkpoint_callback
        if ckpt_path is None:
            if self.subcommand == "fit":
                self._check_no_earlier_run(callback)
            return
        no_last = callback is None or callback.dirpath is None or not last_checkpoint_path(callback).is_file()
        if self.subcommand == "fit" and ckpt_path == "last" and no_last:
            # Lightning's behaviour (one command to start or resume a job), said out loud: a typo in
            # default_root_dir must not pass silently for a resume.
            where = callback.dirpath if callback is not None else self.trainer.default_root_dir
            rank_zero_info(f"pointea: --ckpt_path last: no last.ckpt in {where}, so this is a new run from epoch 0")
            config["ckpt_path"] = None
            self._check_no_earlier_run(callback)
            return
        if self.subcommand == "fit" and ckpt_path is None:
            self._check_no_earlier_run(callback)
        path = resolve_checkpoint_path(ckpt_path, callback)
        record = getattr(self.datamodule, "preprocessing_record", None)
        self.model.check_checkpoint(read_checkpoint(path), path, record() if callable(record) else None)
        if ckpt_path in ("best", "last"):
            rank_zero_info(f"pointea: --ckpt_path {ckpt_path} is {path}")
        config["ckpt_path"] = path

    before_fit = before_validate = before_test = before_predict = _checked_ckpt_path

    def _check_no_earlier_run(self, callback: ModelCheckpoint | None) -> None:
        """A new ``fit`` into a folder that holds checkpoints of an earlier run: refuse, or with
        ``--overwrite`` delete them, so a run folder never mixes two runs' checkpoints."""
        if _launched_as_worker() or callback is None or callback.dirpath is None:
            return
        folder = Path(callback.dirpath)
        earlier = sorted(folder.glob("*.ckpt")) if folder.is_dir() else []
        if not earlier:
            return
        if not self.config[self.subcommand].get("overwrite"):
            raise ConfigError(
                f"{folder} holds the checkpoints of an earlier run ({', '.join(p.name for p in earlier[:3])}"
                f"{', ...' if len(earlier) > 3 else ''}): resume it with --ckpt_path last, start afresh with --overwrite "
                "(deletes them), or train into another --trainer.default_root_dir"
            )
        for path in earlier:
            path.unlink()
        rank_zero_info(f"pointea: --overwrite: deleted the earlier run's {len(earlier)} checkpoints in {folder}")

    def _run_subcommand(self, subcommand: str) -> None:
        if subcommand != "fit" or _launched_as_worker():
            super()._run_subcommand(subcommand)
            return
        with RunLock(self.trainer.default_root_dir):
            super()._run_subcommand(subcommand)


#: How torch re-raises an error of a DataLoader worker: its type, then the worker's whole traceback.
_WORKER_ERROR = re.compile(r"Caught \w+ in (DataLoader worker process \d+|pin memory thread)")


def _one_line(error: BaseException) -> str:
    """The first non-empty line of an error's message; for an error raised in a DataLoader worker
    (which torch re-raises as ``Caught DataError in DataLoader worker process 0.`` and the worker's
    traceback), the worker's own message: the traceback's last line, without the type's name."""
    text = str(error)
    if _WORKER_ERROR.match(text):
        name = f"{type(error).__module__}.{type(error).__qualname__}: "
        for line in reversed(text.splitlines()):
            if line.startswith(name) and line[len(name) :].strip():
                return line[len(name) :].strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def _config_error_line(error: BaseException) -> str:
    """One line for a jsonargparse error: the config key it is about and the innermost reason.

    jsonargparse nests one error per config level (``Parser key "model"`` ... ``Parser key
    "attention"``) around the reason, each the cause of the one above; the reason (a class's own
    one-line ValueError, a type mismatch, a missing file) is the innermost cause.
    """
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    keys: list[str] = []
    for link in chain:
        match = re.match(r'Parser key "([^"]+)":', str(link))
        if match and (not keys or keys[-1] != match.group(1)):
            keys.append(match.group(1))
    reason = _one_line(chain[-1]) if str(chain[-1]).strip() else _one_line(error)
    if keys and not str(chain[-1]).startswith("Parser key"):
        return f"{'.init_args.'.join(keys)}: {reason}"
    return reason


def load_config(config: str | Path, overrides: Sequence[str] = ()) -> PointeaCLI:
    """A config's classes as ``pointea fit`` builds them (data-to-model links included), with
    nothing run: for the tools that take a training config (the viewers, ``pointea-normals-pca``).

    ``overrides`` are more command-line arguments (``--data.init_args.root``, ``DIR``). It is quiet:
    no logger, none of Lightning's start-up lines (restored after), none of the notices about a CLI
    driven from Python.

    Raises:
        ConfigError: one line: ``config not found: PATH``, or ``cannot use config PATH: <key>:
            <reason>`` for a config pointea refuses (the reason as ``pointea fit`` gives it).
    """
    path = Path(config)
    if not path.is_file():
        raise ConfigError(f"config not found: {path}")
    quiet = [logging.getLogger(name) for name in ("pytorch_lightning", "lightning_fabric")]
    levels = [logger.level for logger in quiet]
    for logger in quiet:
        logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="(?s).*args parameter is intended to run from within Python.*")
            warnings.filterwarnings("ignore", message="(?s).*deprecated in v4.*")
            warnings.filterwarnings("ignore", message="(?s).*JsonargparseDeprecationWarning.*")
            return PointeaCLI(
                args=["--config", str(path), "--trainer.logger", "false", *overrides], run=False, exit_on_error=False
            )
    except (argparse.ArgumentError, ConfigError) as error:
        reason = str(error) if isinstance(error, ConfigError) else _config_error_line(error)  # ConfigError: one line already
        raise ConfigError(f"cannot use config {path}: {reason}") from error
    finally:
        for logger, level in zip(quiet, levels):
            logger.setLevel(level)


def cli_main(args: ArgsType = None) -> None:
    """Run the ``pointea`` command (``args=None`` reads ``sys.argv``).

    User errors leave with ``SystemExit("pointea: error: <one line>")`` (exit code 1).
    """
    try:
        PointeaCLI(args=args, exit_on_error=False)
    except argparse.ArgumentError as error:  # the command line or a config file
        given = list(sys.argv[1:] if args is None else args)
        command = next((a for a in given if a in ("fit", "validate", "test", "predict")), None)
        hint = f"`pointea {command} --help` lists the options" if command else "`pointea --help` lists the commands"
        sys.exit(f"pointea: error: {_config_error_line(error)} ({hint})")
    except (DataError, CheckpointError, ConfigError, TrainingDiverged, RunFolderBusy) as error:
        sys.exit(f"pointea: error: {_one_line(error)}")


if __name__ == "__main__":
    cli_main()
