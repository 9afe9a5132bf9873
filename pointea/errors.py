"""Every exception and warning type pointea raises, in one module that imports nothing.

Each is reported by the commands as one line naming the file or argument and what was expected,
never as a traceback from deep inside h5py, NumPy or torch. Lower layers raise them; the command
line tools catch them.
"""

from __future__ import annotations

__all__ = [
    "DataError",
    "ResampledWarning",
    "SharedScenesWarning",
    "CheckpointError",
    "ConfigError",
    "RunFolderBusy",
    "TrainingDiverged",
    "CompareError",
    "ExportError",
    "UsageError",
    "InputError",
]


class DataError(Exception):
    """A data folder or file is missing, unreadable or does not match the expected layout.

    Every problem with files on disk (a missing folder, a listed file that is absent, a corrupt
    file, wrong keys, shapes or value ranges) is raised as this, with one message that names the
    file or argument and says what was expected.
    """


class ResampledWarning(UserWarning):
    """A file had fewer points than asked for; points were drawn again with replacement."""


class SharedScenesWarning(UserWarning):
    """A validation or test scene is also a training scene: its scores include data the network trained on."""


class CheckpointError(ValueError):
    """A checkpoint file is missing, unreadable, or does not hold the network asked for."""


class ConfigError(ValueError):
    """A config value the classes it configures refuse (a size out of range, a conflicting setting)."""


class RunFolderBusy(RuntimeError):
    """Another live ``pointea fit`` holds the run folder."""


class TrainingDiverged(RuntimeError):
    """The loss, a gradient, an output or a weight became NaN or Inf."""


class CompareError(Exception):
    """A user error of ``pointea-compare``, reported in one line before any training."""


class ExportError(ValueError):
    """A bad argument or check input of ``pointea-export``, reported in one line."""


class UsageError(ValueError):
    """A bad argument of ``pointea-predict``, reported in one line."""


class InputError(Exception):
    """Bad input to a viewer: a missing file, an index out of range, a checkpoint of the other
    task. The message is one line saying what is wrong and, where it helps, what to do."""
