"""Downloading a published archive: checksum, safe extraction, atomic placement.

Steps, all inside a temporary folder created in ``root`` (same file system, so the final rename is
atomic): stream the zip to disk while hashing it; compare the SHA-256 when one is known or given;
reject any member that would escape the target (absolute paths, ``..`` components, drive letters,
symlinks); extract; check the unpacked folder has the expected layout (marker and file lists);
rename it to ``root/<folder>``. On any failure the temporary folder is removed, so no partial
archive is ever left behind, and the error names the URL or member at fault.

The official URLs below are the ones the PointNet authors published; they are configurable because
mirrors come and go. Their SHA-256 digests are not recorded here (no trustworthy source was
available when this was written): without ``sha256`` the digest of what was downloaded is
reported instead so it can be pinned.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import stat
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pointea.data.errors import DataError
from pointea.data.modelnet40 import ModelNet40
from pointea.data.shapenetpart import ShapeNetPart

__all__ = ["ArchiveSpec", "ARCHIVES", "download_archive", "check_zip_members"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ArchiveSpec:
    """Where an archive comes from and what it must unpack to."""

    url: str
    folder: str  # the canonical folder name under root
    find: Callable[[Path], Path | None]  # locates the layout inside the unpacked tree
    validate: Callable[[Path], object]  # raises DataError when the layout is incomplete
    sha256: str | None = None


def _validate_modelnet40(folder: Path) -> None:
    ModelNet40.read_class_names(folder)
    for split in ModelNet40.SPLITS:
        ModelNet40.split_files(folder, split)


def _validate_shapenetpart(folder: Path) -> None:
    ShapeNetPart.read_categories(folder)
    for split in ShapeNetPart.SPLITS:
        ShapeNetPart.split_files(folder, split)


ARCHIVES: dict[str, ArchiveSpec] = {
    "modelnet40": ArchiveSpec(
        url="https://shapenet.cs.stanford.edu/media/modelnet40_ply_hdf5_2048.zip",
        folder=ModelNet40.ARCHIVE_DIR,
        find=ModelNet40.LAYOUT.find,
        validate=_validate_modelnet40,
    ),
    "shapenetpart": ArchiveSpec(
        url="https://shapenet.cs.stanford.edu/media/shapenet_part_seg_hdf5_data.zip",
        folder=ShapeNetPart.ARCHIVE_DIRS[0],  # the zip unpacks to hdf5_data/; renamed on placing
        find=ShapeNetPart.LAYOUT.find,
        validate=_validate_shapenetpart,
    ),
}


def check_zip_members(archive: zipfile.ZipFile, source: str) -> None:
    """Reject members that would land outside the extraction folder or are symlinks."""
    for info in archive.infolist():
        name = info.filename
        parts = PurePosixPath(name.replace("\\", "/")).parts
        if name.startswith(("/", "\\")) or (parts and parts[0].endswith(":")) or ".." in parts:
            raise DataError(f"{source}: member {name!r} would be written outside the target folder")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise DataError(f"{source}: member {name!r} is a symbolic link; links are not allowed")


def _fetch(url: str, dest: Path, timeout: float) -> str:
    """Stream ``url`` to ``dest``; return its SHA-256 hex digest."""
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, dest.open("wb") as out:
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
    except urllib.error.HTTPError as exc:
        raise DataError(f"download of {url} failed: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DataError(f"download of {url} failed: {reason}") from exc
    return digest.hexdigest()


def download_archive(
    name: str,
    root: str | Path,
    url: str | None = None,
    sha256: str | None = None,
    timeout: float = 60.0,
) -> Path:
    """Download, check and unpack a published archive to ``root/<folder>``; return that folder.

    Args:
        name: ``"modelnet40"`` or ``"shapenetpart"`` (keys of :data:`ARCHIVES`).
        root: where the archive folder goes (created when missing).
        url: overrides the official URL (a mirror, or a local server in tests).
        sha256: expected SHA-256 of the zip; overrides the recorded one.
        timeout: seconds to wait on the connection.

    Raises:
        DataError: unknown name, target already present, network or HTTP error, checksum
            mismatch, unsafe or malformed archive. Nothing is left behind in ``root``.
    """
    if name not in ARCHIVES:
        raise DataError(f"unknown archive {name!r}; choose one of {', '.join(ARCHIVES)}")
    spec = ARCHIVES[name]
    root = Path(root).expanduser()
    target = root / spec.folder
    if target.exists():
        raise DataError(f"{target} already exists; remove it to download again")
    source = url or spec.url
    expected = (sha256 or spec.sha256 or "").lower() or None
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".download-{name}-", dir=root))
    try:
        zip_path = work / "archive.zip"
        log.info("downloading %s", source)
        actual = _fetch(source, zip_path, timeout)
        if expected is None:
            log.warning("no known SHA-256 for %s; downloaded file has sha256 %s", source, actual)
        elif actual != expected:
            raise DataError(
                f"checksum mismatch for {source}: expected sha256 {expected}, got {actual}"
            )
        unpacked = work / "unpacked"
        try:
            with zipfile.ZipFile(zip_path) as archive:
                check_zip_members(archive, source)
                archive.extractall(unpacked)
        except zipfile.BadZipFile as exc:
            raise DataError(f"{source}: not a valid zip archive ({exc})") from exc
        # The layout sits at the top, in a known folder name, or in one top-level folder.
        candidates = [unpacked, *sorted(p for p in unpacked.iterdir() if p.is_dir())]
        found = next((f for f in map(spec.find, candidates) if f is not None), None)
        if found is None:
            raise DataError(f"{source}: the archive holds no {name} layout")
        spec.validate(found)
        found.chmod(0o755)
        found.rename(target)
        return target
    finally:
        shutil.rmtree(work, ignore_errors=True)
