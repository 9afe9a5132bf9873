"""``download_archive`` against a local HTTP server serving archives the tests build."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from pointea.data.modelnet40 import write_modelnet40_archive
from pointea.data.cli import main as cli_main
from pointea.data.download import download_archive, unpacked_limit
from pointea.data.storage import write_h5
from pointea.data.modelnet40 import ModelNet40
from pointea.errors import DataError


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(base URL, served folder) of a threaded HTTP server on 127.0.0.1, an OS-chosen port."""
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(QuietHandler, directory=str(served))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", served
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def build_zip(tmp_path: Path, served: Path, name: str = "modelnet40.zip") -> Path:
    """A zip holding a tiny ModelNet40 layout under its published folder name."""
    rng = np.random.default_rng(0)
    splits = {s: (rng.uniform(-1, 1, (4, 32, 3)), np.arange(4) % 2) for s in ("train", "test")}
    source = write_modelnet40_archive(tmp_path / "src" / ModelNet40.ARCHIVE_DIR, splits, ["a", "b"])
    archive = served / name
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(source.iterdir()):
            zf.write(path, f"{ModelNet40.ARCHIVE_DIR}/{path.name}")
    return archive


def left_in(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def test_good_archive_is_checked_and_placed(tmp_path: Path, server) -> None:
    url, served = server
    archive = build_zip(tmp_path, served)
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    root = tmp_path / "data"
    target = download_archive("modelnet40", root, url=f"{url}/{archive.name}", sha256=digest)
    assert target == root / ModelNet40.ARCHIVE_DIR
    assert left_in(root) == [ModelNet40.ARCHIVE_DIR]  # no temporary folder left
    assert len(ModelNet40(root, "train")) == 4
    with pytest.raises(DataError, match="already exists"):
        download_archive("modelnet40", root, url=f"{url}/{archive.name}")


def test_checksum_mismatch_leaves_nothing_behind(tmp_path: Path, server) -> None:
    url, served = server
    archive = build_zip(tmp_path, served)
    root = tmp_path / "data"
    with pytest.raises(DataError, match=r"checksum mismatch .*expected sha256 0{64}"):
        download_archive("modelnet40", root, url=f"{url}/{archive.name}", sha256="0" * 64)
    assert left_in(root) == []


@pytest.mark.parametrize("member", ["../escape.txt", "/abs/escape.txt", "ok/../../escape.txt", "C:/escape.txt"])
def test_members_escaping_the_target_are_rejected(tmp_path: Path, server, member: str) -> None:
    url, served = server
    archive = build_zip(tmp_path, served, "evil.zip")
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr(zipfile.ZipInfo(member), b"pwned")
    root = tmp_path / "deep" / "data"
    with pytest.raises(DataError, match="would be written outside the target folder"):
        download_archive("modelnet40", root, url=f"{url}/{archive.name}")
    assert left_in(root) == []
    assert not any(p.name == "escape.txt" for p in tmp_path.rglob("*"))


def test_symlink_members_are_rejected(tmp_path: Path, server) -> None:
    url, served = server
    archive = build_zip(tmp_path, served, "link.zip")
    link = zipfile.ZipInfo(f"{ModelNet40.ARCHIVE_DIR}/passwd")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr(link, "/etc/passwd")
    root = tmp_path / "data"
    with pytest.raises(DataError, match="is a symbolic link"):
        download_archive("modelnet40", root, url=f"{url}/{archive.name}")
    assert left_in(root) == []


def test_server_404_is_one_clear_error(tmp_path: Path, server) -> None:
    url, _ = server
    root = tmp_path / "data"
    with pytest.raises(DataError, match=r"download of .*/missing\.zip failed: HTTP 404"):
        download_archive("modelnet40", root, url=f"{url}/missing.zip")
    assert left_in(root) == []


def test_archive_without_the_layout_or_not_a_zip(tmp_path: Path, server) -> None:
    url, served = server
    with zipfile.ZipFile(served / "other.zip", "w") as zf:
        zf.writestr("readme.txt", "nothing here")
    (served / "page.zip").write_text("<html>moved</html>")
    root = tmp_path / "data"
    with pytest.raises(DataError, match="holds no modelnet40 layout"):
        download_archive("modelnet40", root, url=f"{url}/other.zip")
    with pytest.raises(DataError, match="not a valid zip archive"):
        download_archive("modelnet40", root, url=f"{url}/page.zip")
    with pytest.raises(DataError, match="unknown archive"):
        download_archive("scannet", root)
    assert left_in(root) == []


def test_shapenetpart_zip_folder_is_renamed_to_the_canonical_name(tmp_path: Path, server, shapenet_root: Path) -> None:
    url, served = server
    with zipfile.ZipFile(served / "parts.zip", "w") as zf:
        for path in sorted((shapenet_root / "hdf5_data").iterdir()):
            zf.write(path, f"hdf5_data/{path.name}")  # as the published zip does
    root = tmp_path / "data"
    target = download_archive("shapenetpart", root, url=f"{url}/parts.zip")
    assert target.name == "shapenet_part_seg_hdf5_data" and left_in(root) == [target.name]


# Broken and hostile servers (issue 11). Each is a raw TCP server on 127.0.0.1 that this test
# starts and stops; every test is bounded in time. -----------------------------------------------

Respond = Callable[[socket.socket, threading.Event], None]


def _read_request(conn: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 1 << 16:
        chunk = conn.recv(4096)
        if not chunk:
            return
        data += chunk


@contextlib.contextmanager
def raw_server(respond: Respond) -> Iterator[str]:
    """The URL of a TCP server on 127.0.0.1 that reads each request and calls ``respond(conn,
    stop)``; ``stop`` is set when the block ends, and every thread is joined."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    stop = threading.Event()
    handlers: list[threading.Thread] = []

    def handle(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            try:
                _read_request(conn)
                respond(conn, stop)
            except OSError:
                pass

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=handle, args=(conn,), daemon=True)
            thread.start()
            handlers.append(thread)

    server_thread = threading.Thread(target=serve, daemon=True)
    server_thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/archive.zip"
    finally:
        stop.set()
        server_thread.join(5)
        listener.close()
        for thread in handlers:
            thread.join(5)


def _headers(**fields: object) -> bytes:
    lines = ["HTTP/1.1 200 OK", "Content-Type: application/zip", "Connection: close"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in fields.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _closes_early(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(_headers(Content_Length=5000) + b"PK" + b"x" * 998)


def _cuts_a_chunked_transfer(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(_headers(Transfer_Encoding="chunked") + b"400\r\n" + b"x" * 1024 + b"\r\n400\r\n" + b"x" * 100)


def _not_http(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")


def _hangs_up(conn: socket.socket, stop: threading.Event) -> None:
    pass


def _says_nothing(conn: socket.socket, stop: threading.Event) -> None:
    stop.wait(10)


def _trickles_1_byte_per_step(step: float) -> Respond:
    def respond(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(_headers(Content_Length=100_000))
        while not stop.wait(step):
            conn.sendall(b"x")

    return respond


def _streams_forever(conn: socket.socket, stop: threading.Event) -> None:
    """20 KiB/s, far above the stall rule, of an announced gigabyte."""
    conn.sendall(_headers(Content_Length=10**9))
    while not stop.wait(0.1):
        conn.sendall(b"x" * 2048)


def _trickles_its_headers(conn: socket.socket, stop: threading.Event) -> None:
    for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"y" * 10_000:
        if stop.wait(0.05):
            return
        conn.sendall(bytes([byte]))


def _download(root: Path, url: str, **options: float) -> tuple[str, float]:
    """The one-line error of a download that must fail, and how long it took."""
    start = time.monotonic()
    with pytest.raises(DataError) as info:
        download_archive("modelnet40", root, url=url, **options)
    elapsed = time.monotonic() - start
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"download of {url} failed: ")
    assert left_in(root) == []  # no temporary folder, no archive.zip
    return message.removeprefix(f"download of {url} failed: "), elapsed


@pytest.mark.parametrize(
    ("respond", "expected"),
    [
        (_closes_early, "truncated, got 1000 of 5000 bytes (the server closed the connection early)"),
        (_cuts_a_chunked_transfer, "truncated, the transfer was cut after 1124 bytes"),
        (_not_http, "the reply is not HTTP (it starts 'SSH-2.0-OpenSSH_9.2p1 Debian-2\\r\\n')"),
        (_hangs_up, "the server closed the connection without a reply"),
    ],
)  # fmt: skip
def test_broken_replies_are_one_line_naming_what_went_wrong(tmp_path: Path, respond: Respond, expected: str) -> None:
    with raw_server(respond) as url:
        reason, elapsed = _download(tmp_path / "data", url, timeout=5)
    assert reason == expected and elapsed < 5


def test_a_silent_server_hits_the_read_timeout(tmp_path: Path) -> None:
    with raw_server(_says_nothing) as url:
        reason, elapsed = _download(tmp_path / "data", url, timeout=1)
    assert reason == "no data for 1 s (timeout)" and 0.9 < elapsed < 4


def test_a_1_byte_per_second_server_is_a_stall_within_the_timeout(tmp_path: Path) -> None:
    with raw_server(_trickles_1_byte_per_step(0.2)) as url:  # 5 bytes/s, fast enough for a read timeout
        reason, elapsed = _download(tmp_path / "data", url, timeout=1)
    assert reason.startswith("stalled, ") and "needs at least 1024 bytes per 1 s" in reason
    assert 0.9 < elapsed < 4


@pytest.mark.parametrize("respond", [_streams_forever, _trickles_its_headers])
def test_the_overall_deadline_holds_for_body_and_headers(tmp_path: Path, respond: Respond) -> None:
    with raw_server(respond) as url:
        reason, elapsed = _download(tmp_path / "data", url, timeout=2, deadline=1.5)
    assert reason == "not finished within the deadline of 1.5 s" and 1.4 < elapsed < 4


def test_the_digest_is_checked_before_anything_is_fetched(tmp_path: Path) -> None:
    requests: list[int] = []
    with raw_server(lambda conn, stop: requests.append(1)) as url:
        for digest in ("not-hex", "0" * 63, "g" * 64):
            with pytest.raises(DataError, match=r"^sha256 must be 64 hexadecimal digits, got "):
                download_archive("modelnet40", tmp_path / "data", url=url, sha256=digest)
    assert requests == [] and not (tmp_path / "data").exists()


def test_a_root_that_is_a_file_is_one_line(tmp_path: Path, capsys) -> None:
    root = tmp_path / "data"
    root.write_text("a file")
    with pytest.raises(DataError, match=r"^root .*data is a file, expected a folder"):
        download_archive("modelnet40", root, url="http://127.0.0.1:9/x.zip")
    assert cli_main(["download", "modelnet40", "--root", str(root), "--url", "http://127.0.0.1:9/x.zip"]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [f"error: root {root} is a file, expected a folder to unpack the archive into"]


def test_a_zip_bomb_is_refused_before_it_is_unpacked(tmp_path: Path, server) -> None:
    url, served = server
    archive = build_zip(tmp_path, served, "bomb.zip")
    with zipfile.ZipFile(archive, "a", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{ModelNet40.ARCHIVE_DIR}/padding.bin", bytes(100 * 1024**2))
    size = archive.stat().st_size
    assert size < 1024**2  # 100 MiB of zeros in a zip of about 100 KiB
    root = tmp_path / "data"
    with pytest.raises(DataError, match=rf"declares 10\d{{7}} bytes unpacked, more than the {unpacked_limit(size)} allowed"):
        download_archive("modelnet40", root, url=f"{url}/{archive.name}")
    assert unpacked_limit(size) == 64 * 1024**2
    assert left_in(root) == []


@pytest.mark.parametrize("damage", ["garbage", "extra", "nan"])
def test_members_must_be_hdf5_and_pass_the_loaders_checks(tmp_path: Path, server, damage: str) -> None:
    url, served = server
    archive = build_zip(tmp_path, served, f"{damage}.zip")
    member = f"{ModelNet40.ARCHIVE_DIR}/ply_data_test0.h5"
    rebuilt = served / "rebuilt.zip"
    with zipfile.ZipFile(archive) as old, zipfile.ZipFile(rebuilt, "w") as new:
        for info in old.infolist():
            data = old.read(info)
            if info.filename == member and damage == "garbage":
                data = b"<html>this is not HDF5</html>" * 10
            if info.filename == member and damage == "nan":
                points = np.random.default_rng(0).uniform(-1, 1, (4, 32, 3)).astype(np.float32)
                points[2, 3] = np.nan
                path = tmp_path / "nan.h5"
                write_h5(path, {"data": points, "label": np.zeros((4, 1), np.uint8)})
                data = path.read_bytes()
            new.writestr(info, data)
        if damage == "extra":
            new.writestr(f"{ModelNet40.ARCHIVE_DIR}/ply_data_extra.h5", b"junk")
    root = tmp_path / "data"
    expected = {
        "garbage": r"member ply_data_test0\.h5 is not an HDF5 file",
        "extra": r"member ply_data_extra\.h5 is not an HDF5 file",
        "nan": r"not installed, .*ply_data_test0\.h5: 'data' has NaN/Inf coordinates",
    }[damage]
    with pytest.raises(DataError, match=expected):
        download_archive("modelnet40", root, url=f"{url}/{rebuilt.name}")
    assert left_in(root) == []


def _partial_download_dirs(root: Path) -> list[Path]:
    return list(root.glob(".download-*")) if root.is_dir() else []


def _holds_back_the_rest(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(_headers(Content_Length=10**6) + b"x" * 65536)
    stop.wait(30)


def _archive_started(root: Path) -> bool:
    """A partial ``archive.zip`` of at least the first 64 KiB is on disk."""
    zips = [p / "archive.zip" for p in _partial_download_dirs(root)]
    return any(z.is_file() and z.stat().st_size >= 65536 for z in zips)


def test_sigterm_mid_download_cleans_up_with_one_line_and_exit_143(tmp_path: Path) -> None:
    """A real process: SIGTERM's default action would kill it before any clean-up."""
    root = tmp_path / "data"
    repo = Path(__file__).resolve().parents[2]
    with raw_server(_holds_back_the_rest) as url:
        process = subprocess.Popen(
            [sys.executable, "-m", "pointea.data.cli", "download", "modelnet40", "--root", str(root), "--url", url, "--timeout", "30"],
            cwd=repo, env={**os.environ, "PYTHONPATH": str(repo)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 90  # importing torch can take a while on a busy machine
            while not _archive_started(root):
                assert process.poll() is None and time.monotonic() < deadline, "the download never started"
                time.sleep(0.05)
            process.send_signal(signal.SIGTERM)
            _, err = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert process.returncode == 143
    lines = [line for line in err.splitlines() if line and not line.startswith("downloading ")]
    assert lines == ["error: download interrupted by SIGTERM; the partial download was removed"]
    assert _partial_download_dirs(root) == []


def test_ctrl_c_mid_download_cleans_up_with_one_line_and_exit_130(tmp_path: Path, capsys) -> None:
    root = tmp_path / "data"
    with raw_server(_holds_back_the_rest) as url:

        def interrupt_once_started() -> None:
            deadline = time.monotonic() + 30
            while not _archive_started(root) and time.monotonic() < deadline:
                time.sleep(0.05)
            os.kill(os.getpid(), signal.SIGINT)  # delivered to the main thread, blocked in a read

        watcher = threading.Thread(target=interrupt_once_started, daemon=True)
        watcher.start()
        code = cli_main(["download", "modelnet40", "--root", str(root), "--url", url, "--timeout", "30"])
        watcher.join(5)
    assert code == 130
    assert capsys.readouterr().err.strip().splitlines() == ["error: download interrupted by SIGINT; the partial download was removed"]
    assert _partial_download_dirs(root) == []


@pytest.mark.parametrize(("option", "value"), [("timeout", 0), ("timeout", float("inf")), ("deadline", -1.0), ("deadline", True)])
def test_timeouts_are_checked_before_anything_happens(tmp_path: Path, option: str, value: float) -> None:
    with pytest.raises(DataError, match=rf"^{option} must be a number of seconds in \(0, \d+\], got {value!r}$"):
        download_archive("modelnet40", tmp_path / "data", url="http://127.0.0.1:9/x.zip", **{option: value})
    assert not (tmp_path / "data").exists()
