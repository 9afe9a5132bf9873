"""Downloading a published archive: checksum, safe extraction, atomic placement.

Steps, all inside a temporary folder created in ``root`` (same file system, so the final rename is
atomic): stream the zip to disk while hashing it; compare the SHA-256 when one is known or given;
reject any member that would escape the target (absolute paths, ``..`` components, drive letters,
symlinks); extract; check the unpacked folder has the expected layout (marker and file lists) and
that every ``.h5`` member is HDF5 and every listed file passes the loaders' own checks; rename it
to ``root/<folder>``. On any failure the temporary folder is removed, so no partial archive is
ever left behind, and the error names the URL or member at fault. (A SIGTERM is only turned into
that clean-up by the ``pointea-data`` command, which installs the handler; see :mod:`.cli`.)

Limits that hold against a broken or hostile server or archive:
- ``timeout``: connecting and every read give up after it, and the body must arrive at no less
  than :data:`STALL_BYTES` per ``timeout`` seconds (a server trickling 1 byte/s counts as stalled);
- ``deadline``: the whole download, headers included, ends after it (a watchdog shuts the
  socket down, so no read can outlast it);
- the size: the body must match its ``Content-Length`` (a short body is reported as truncated,
  not as a bad zip) and stay under :data:`MAX_ARCHIVE_BYTES`; the unpacked size declared by the
  zip must stay under :func:`unpacked_limit` (4x the zip, at least 64 MiB, at most 8 GiB), and
  the bytes actually written are counted against the same limit while extracting.

The official URLs below are the ones the PointNet authors published; they are configurable because
mirrors come and go. Their SHA-256 digests are not recorded here (no trustworthy source was
available when this was written): without ``sha256`` the digest of what was downloaded is
reported instead so it can be pinned.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import re
import shutil
import socket
import stat
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import TracebackType

import h5py

from pointea.data.modelnet40 import ModelNet40
from pointea.data.arguments import check_seconds
from pointea.data.shapenetpart import ShapeNetPart
from pointea.errors import DataError

__all__ = [
    "ArchiveSpec",
    "ARCHIVES",
    "MAX_ARCHIVE_BYTES",
    "STALL_BYTES",
    "check_sha256",
    "check_zip_members",
    "download_archive",
    "unpacked_limit",
]

#: The largest download accepted (the published zips are about 420 MB and 350 MB).
MAX_ARCHIVE_BYTES = 4 * 1024**3
#: The body must bring at least this many bytes per ``timeout`` seconds.
STALL_BYTES = 1024
#: Unpacked bytes allowed per zip byte, with a floor (small zips of compressible HDF5 files) and
#: an absolute cap.
UNPACKED_RATIO = 4
MIN_UNPACKED_BYTES = 64 * 1024**2
MAX_UNPACKED_BYTES = 8 * 1024**3
#: Upper bounds of ``timeout`` (a day) and ``deadline`` (a week), in seconds.
MAX_TIMEOUT = 86_400.0
MAX_DEADLINE = 604_800.0

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
    """Names file, file lists, and every listed file read and checked as the loaders do."""
    num_classes = len(ModelNet40.read_class_names(folder))
    for split in ModelNet40.SPLITS:
        for path in ModelNet40.split_files(folder, split):
            ModelNet40.read_file(path, num_classes)


def _validate_shapenetpart(folder: Path) -> None:
    """Categories file, file lists, and every listed file read and checked as the loaders do."""
    ShapeNetPart.read_categories(folder)
    for split in ShapeNetPart.SPLITS:
        for path in ShapeNetPart.split_files(folder, split):
            ShapeNetPart.read_file(path)


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


def check_sha256(digest: str) -> str:
    """``digest`` (surrounding blanks dropped) in lower case when it is 64 hexadecimal digits;
    else :class:`DataError`."""
    digest = digest.strip()
    if not re.fullmatch(r"[0-9a-fA-F]{64}", digest):
        raise DataError(
            f"sha256 must be 64 hexadecimal digits, got {digest!r} ({len(digest)} characters)"
        )
    return digest.lower()


def unpacked_limit(archive_bytes: int) -> int:
    """The most bytes a zip of ``archive_bytes`` may unpack to (see the module notes)."""
    return min(max(UNPACKED_RATIO * archive_bytes, MIN_UNPACKED_BYTES), MAX_UNPACKED_BYTES)


class _Watchdog:
    """Ends a download at its deadline: shuts down every socket it watches when time is up,
    which wakes any blocked read (headers or body) with end-of-file."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._timer.cancel()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            expired = self.expired
        if expired:
            _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # already closed
        pass


class _WatchedOpen:
    """A urllib handler mix-in: every connection it opens registers its socket with a watchdog."""

    watchdog: _Watchdog

    def do_open(self, http_class: type, req: urllib.request.Request, **kwargs: object) -> object:
        watchdog = self.watchdog

        class Watched(http_class):  # type: ignore[misc, valid-type]
            def connect(self) -> None:
                super().connect()
                watchdog.watch(self.sock)

        return super().do_open(Watched, req, **kwargs)  # type: ignore[misc]


class _HTTPHandler(_WatchedOpen, urllib.request.HTTPHandler):
    pass


class _HTTPSHandler(_WatchedOpen, urllib.request.HTTPSHandler):
    pass


def _opener(watchdog: _Watchdog) -> urllib.request.OpenerDirector:
    handlers = [_HTTPHandler(), _HTTPSHandler()]
    for handler in handlers:
        handler.watchdog = watchdog
    return urllib.request.build_opener(*handlers)


def _content_length(response: http.client.HTTPResponse) -> int | None:
    """The body's announced length; None when chunked (the length header is then ignored)."""
    if getattr(response, "chunked", False):
        return None
    value = response.headers.get("Content-Length")
    return int(value) if value is not None and value.strip().isdigit() else None


def _fetch(url: str, dest: Path, timeout: float, deadline: float) -> str:
    """Stream ``url`` to ``dest`` under the read timeout and the overall deadline; return its
    SHA-256 hex digest. Every failure is a one-line :class:`DataError` naming ``url``."""
    digest = hashlib.sha256()
    received = 0
    failed = f"download of {url} failed"
    watchdog = _Watchdog(deadline)
    try:
        opener = _opener(watchdog)
        with watchdog, opener.open(url, timeout=timeout) as response, dest.open("wb") as out:
            expected = _content_length(response)
            if expected is not None and expected > MAX_ARCHIVE_BYTES:
                raise DataError(
                    f"{failed}: the server announces {expected} bytes, more than the "
                    f"{MAX_ARCHIVE_BYTES} bytes allowed for an archive"
                )
            window_start, window_bytes = time.monotonic(), 0
            while chunk := response.read1(1 << 16):
                digest.update(chunk)
                out.write(chunk)
                received += len(chunk)
                window_bytes += len(chunk)
                if received > MAX_ARCHIVE_BYTES:
                    raise DataError(f"{failed}: more than the {MAX_ARCHIVE_BYTES} bytes allowed")
                now = time.monotonic()
                if now - window_start >= timeout:
                    if window_bytes < STALL_BYTES:
                        raise DataError(
                            f"{failed}: stalled, {window_bytes} bytes in the last "
                            f"{now - window_start:.1f} s (timeout {timeout:g} s needs at least "
                            f"{STALL_BYTES} bytes per {timeout:g} s)"
                        )
                    window_start, window_bytes = now, 0
            if watchdog.expired:
                raise DataError(f"{failed}: not finished within the deadline of {deadline:g} s")
            if expected is not None and received != expected:
                raise DataError(
                    f"{failed}: truncated, got {received} of {expected} bytes (the server closed "
                    "the connection early)"
                )
    except DataError:
        raise
    except urllib.error.HTTPError as exc:
        raise DataError(f"{failed}: HTTP {exc.code} {exc.reason}") from exc
    except (http.client.HTTPException, urllib.error.URLError, OSError) as exc:
        raise DataError(f"{failed}: {_explain(exc, watchdog, timeout, received)}") from exc
    return digest.hexdigest()


def _explain(exc: BaseException, watchdog: _Watchdog, timeout: float, received: int) -> str:
    """What went wrong with a connection, in words."""
    if watchdog.expired:
        return f"not finished within the deadline of {watchdog.seconds:g} s"
    reason = getattr(exc, "reason", exc) if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return f"no data for {timeout:g} s (timeout)"
    if isinstance(exc, http.client.IncompleteRead):
        return f"truncated, the transfer was cut after {received + len(exc.partial)} bytes"
    if isinstance(exc, http.client.RemoteDisconnected):
        return "the server closed the connection without a reply"
    if isinstance(exc, http.client.BadStatusLine):
        return f"the reply is not HTTP (it starts {str(exc.args[0] if exc.args else '')[:40]!r})"
    if isinstance(exc, http.client.HTTPException):
        return f"the reply is not valid HTTP ({type(exc).__name__}: {exc})"
    return str(reason)


def _extract(archive: zipfile.ZipFile, unpacked: Path, source: str, limit: int) -> None:
    """Extract every member (already checked by :func:`check_zip_members`), refusing an archive
    that declares, or turns out to hold, more than ``limit`` unpacked bytes."""
    declared = sum(info.file_size for info in archive.infolist())
    if declared > limit:
        raise DataError(
            f"{source}: the archive declares {declared} bytes unpacked, more than the {limit} "
            "allowed for its size (4x the zip, at least 64 MiB, at most 8 GiB); not unpacked"
        )
    written = 0
    for info in archive.infolist():
        target = unpacked / info.filename
        if info.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(info) as member, target.open("wb") as out:
            while chunk := member.read(1 << 20):
                written += len(chunk)
                if written > limit:
                    raise DataError(
                        f"{source}: member {info.filename!r} unpacks past the {limit} bytes "
                        "allowed (its declared sizes are wrong); not unpacked"
                    )
                out.write(chunk)


def _check_hdf5_members(folder: Path, source: str) -> None:
    """Every ``.h5`` file under ``folder`` must be an HDF5 file."""
    for path in sorted(folder.rglob("*.h5")):
        if not (path.is_file() and h5py.is_hdf5(path)):
            raise DataError(f"{source}: member {path.relative_to(folder)} is not an HDF5 file")


def _make_root(root: Path) -> None:
    if root.exists() and not root.is_dir():
        raise DataError(f"root {root} is a file, expected a folder to unpack the archive into")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create the root folder {root} ({exc.strerror or exc})") from exc


def download_archive(
    name: str,
    root: str | Path,
    url: str | None = None,
    sha256: str | None = None,
    timeout: float = 60.0,
    deadline: float = 7200.0,
) -> Path:
    """Download, check and unpack a published archive to ``root/<folder>``; return that folder.

    Args:
        name: ``"modelnet40"`` or ``"shapenetpart"`` (keys of :data:`ARCHIVES`).
        root: where the archive folder goes (created when missing).
        url: overrides the official URL (a mirror, or a local server in tests).
        sha256: expected SHA-256 of the zip (64 hex digits, checked first); overrides the
            recorded one.
        timeout: seconds to wait on connecting or any read; also the window in which at least
            :data:`STALL_BYTES` must arrive.
        deadline: seconds the whole download may take.

    Raises:
        DataError: unknown name, bad argument, target already present, root not a folder,
            network or HTTP error, timeout, deadline, truncated body, checksum mismatch, unsafe,
            oversized or malformed archive, a member that is not HDF5 or fails the loaders'
            checks. Nothing is left behind in ``root``.
    """
    if name not in ARCHIVES:
        raise DataError(f"unknown archive {name!r}; choose one of {', '.join(ARCHIVES)}")
    spec = ARCHIVES[name]
    try:
        timeout = check_seconds("timeout", timeout, MAX_TIMEOUT)
        deadline = check_seconds("deadline", deadline, MAX_DEADLINE)
    except ValueError as exc:
        raise DataError(str(exc)) from None
    expected = sha256 or spec.sha256
    expected = check_sha256(expected) if expected is not None else None
    root = Path(root).expanduser()
    target = root / spec.folder
    if target.exists():
        raise DataError(f"{target} already exists; remove it to download again")
    source = url or spec.url
    _make_root(root)
    try:
        work = Path(tempfile.mkdtemp(prefix=f".download-{name}-", dir=root))
    except OSError as exc:
        raise DataError(f"cannot write in {root} ({exc.strerror or exc})") from exc
    try:
        zip_path = work / "archive.zip"
        log.info("downloading %s", source)
        actual = _fetch(source, zip_path, timeout, deadline)
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
                _extract(archive, unpacked, source, unpacked_limit(zip_path.stat().st_size))
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise DataError(f"{source}: not a valid zip archive ({exc})") from exc
        except (NotImplementedError, RuntimeError) as exc:  # unknown compression, encryption
            raise DataError(f"{source}: cannot unpack this zip archive ({exc})") from exc
        # The layout sits at the top, in a known folder name, or in one top-level folder.
        unpacked.mkdir(exist_ok=True)  # an archive of no members unpacks to nothing
        candidates = [unpacked, *sorted(p for p in unpacked.iterdir() if p.is_dir())]
        found = next((f for f in map(spec.find, candidates) if f is not None), None)
        if found is None:
            raise DataError(f"{source}: the archive holds no {name} layout")
        _check_hdf5_members(found, source)
        try:
            spec.validate(found)
        except DataError as exc:
            raise DataError(f"{source}: not installed, {exc}") from exc
        found.chmod(0o755)
        found.rename(target)
        return target
    finally:
        shutil.rmtree(work, ignore_errors=True)
