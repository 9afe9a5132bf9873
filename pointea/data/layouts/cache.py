"""A one-time conversion of a text or mesh release into the HDF5 layout, reused while unchanged.

The cache is a folder in the HDF5 archive layout the loaders already read (ModelNet40's
``modelnet40_ply_hdf5_2048`` or ShapeNetPart's ``shapenet_part_seg_hdf5_data``), plus
``manifest.json``: every source file the conversion read (relative path, size, mtime in ns) and
the conversion's parameters. A cache is reused only when its manifest equals the current one, so
editing, adding or removing a listed file, or asking for more points, converts again. Stat-ing
12,311 files takes well under a second; hashing 7 GB of text would not.

Atomic: the new cache is built in a temporary sibling folder, the manifest is written last, and
the folder is renamed into place (an older cache is moved aside first and then deleted). A crash
or Ctrl-C leaves at most a ``.<name>-*`` temporary folder, never a half-written cache.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pointea.errors import DataError

__all__ = ["CACHE_FOLDER", "MANIFEST", "source_manifest", "ensure_cache"]

#: Sub-folder of the data root that holds the converted layouts.
CACHE_FOLDER = "pointea_cache"
MANIFEST = "manifest.json"
#: Bump when the converted content changes for the same sources and parameters.
FORMAT_VERSION = 1

log = logging.getLogger(__name__)


def source_manifest(
    source: Path, files: Sequence[Path], parameters: Mapping[str, Any]
) -> dict[str, Any]:
    """What a cache was built from: ``files`` (relative to ``source``) with size and mtime."""
    entries = []
    for path in files:
        try:
            stat = path.stat()
        except OSError as exc:
            raise DataError(f"{path}: cannot read this file ({exc})") from exc
        entries.append([path.relative_to(source).as_posix(), stat.st_size, stat.st_mtime_ns])
    # No absolute path: a data root moved with its pointea_cache/ keeps its cache.
    return {"format": FORMAT_VERSION, "parameters": dict(parameters), "files": entries}


def _read_manifest(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def ensure_cache(
    folder: Path, manifest: Mapping[str, Any], build: Callable[[Path], None], what: str
) -> Path:
    """The cache ``folder`` built from ``manifest``: reused when current, else built by ``build``.

    Args:
        folder: where the cache lives (e.g. ``root/pointea_cache/modelnet40_normal_resampled_2048``).
        manifest: from :func:`source_manifest`.
        build: writes the converted layout into the (temporary) folder it is given.
        what: the source, for the log line.

    Raises:
        DataError: the cache location cannot be written (pass another ``cache_root``), or
            ``build`` raised it for a bad source file.
    """
    if _read_manifest(folder) == json.loads(json.dumps(manifest)):
        return folder
    reason = "source changed" if (folder / MANIFEST).is_file() else "first use"
    log.info(
        "converting %s to %s (%s; once, reused while the source is unchanged)", what, folder, reason
    )
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    except OSError as exc:
        raise DataError(
            f"{folder.parent}: cannot write the converted cache here ({exc}); pass cache_root "
            "(--data.init_args.cache_root DIR) to put it elsewhere"
        ) from exc
    staging.chmod(0o755)  # mkdtemp makes it private; the cache is an ordinary data folder
    old = None
    try:
        build(staging)
        (staging / MANIFEST).write_text(json.dumps(manifest))
        if folder.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{folder.name}-old-", dir=folder.parent))
            folder.rename(old / folder.name)
        staging.rename(folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return folder
