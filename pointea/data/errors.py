"""The one exception type of the data package.

Every problem with files on disk (a missing folder, a listed file that is absent, a corrupt HDF5
file, wrong keys, shapes or value ranges) is raised as :class:`DataError` with one message that
names the file or argument and says what was expected, so users never see a bare traceback from
inside h5py or numpy.
"""

from __future__ import annotations

__all__ = ["DataError"]


class DataError(Exception):
    """A data folder or file is missing, unreadable or does not match the expected layout."""
