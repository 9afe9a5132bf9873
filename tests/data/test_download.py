"""``download_archive`` against a local HTTP server serving archives the tests build."""

from __future__ import annotations

import functools
import hashlib
import http.server
import stat
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from pointea.data.archive_writer import write_modelnet40_archive
from pointea.data.download import download_archive
from pointea.data.errors import DataError
from pointea.data.modelnet40 import ModelNet40


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
