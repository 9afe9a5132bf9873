"""Locating an archive folder and reading its text files (name lists and file lists).

Both archives describe themselves with small text files next to the ``.h5`` files: ModelNet40's
``train_files.txt`` lists ``data/modelnet40_ply_hdf5_2048/ply_data_train0.h5`` (a path relative to
the authors' checkout), ShapeNetPart's ``train_hdf5_file_list.txt`` lists bare file names. Both are
resolved by base name inside the archive folder, so the folder can live anywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from pointea.errors import DataError

__all__ = ["ArchiveLayout", "find_archive_dir", "read_lines", "read_file_list"]


@dataclass(frozen=True)
class ArchiveLayout:
    """Where a published archive's folder sits under a root, and how to say it is missing.

    Args:
        dataset: name in messages, e.g. ``"ModelNet40"``.
        download_name: the archive's name for ``pointea-data download``.
        folder_names: the archive folder's names, preferred first.
        marker: the file that identifies the folder (its names list).
        contents: the rest of what the folder holds, for the error message.
    """

    dataset: str
    download_name: str
    folder_names: tuple[str, ...]
    marker: str
    contents: str

    def find(self, root: str | Path) -> Path | None:
        """The archive folder under ``root``, or ``None`` when there is none."""
        return find_archive_dir(Path(root).expanduser(), self.folder_names, self.marker)

    def locate(self, root: str | Path) -> Path:
        """Like :meth:`find`, but a :class:`DataError` explaining how to get the data when absent."""
        found = self.find(root)
        if found is not None:
            return found
        root = Path(root).expanduser()
        state = "does not exist" if not root.exists() else f"has no {self.marker}"
        places = ", ".join(str(root / name) for name in self.folder_names[1:])
        alternatives = f"{places}, or {root} itself" if places else f"{root} itself"
        raise DataError(
            f"{self.dataset} data not found: {root} {state}. Expected the archive folder at "
            f"{root / self.folder_names[0]} (or {alternatives}) with {self.marker}, {self.contents}. "
            f"Get it with `pointea-data download {self.download_name} --root {root}`, or use the "
            f"synthetic stand-in: `pointea-data synth --root {root}` or `synthetic: true` on the data module."
        )


def find_archive_dir(root: Path, folder_names: Sequence[str], marker: str) -> Path | None:
    """The archive folder under ``root``: ``root`` itself or ``root/<name>``, holding ``marker``.

    ``folder_names`` are tried in order, then each one's own sub-folders of the same names (the
    ShapeNetPart zip unpacks to ``hdf5_data/``, which people often keep inside
    ``shapenet_part_seg_hdf5_data/``). Returns ``None`` when no candidate holds ``marker``.
    """
    candidates = [root, *(root / name for name in folder_names)]
    candidates += [root / outer / inner for outer in folder_names for inner in folder_names]
    for candidate in candidates:
        if (candidate / marker).is_file():
            return candidate
    return None


def read_lines(path: Path) -> list[str]:
    """Non-empty, stripped lines of a small text file; :class:`DataError` naming it when absent."""
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read this text file ({exc})") from exc
    return [line.strip() for line in text.splitlines() if line.strip()]


def read_file_list(list_file: Path) -> list[Path]:
    """The ``.h5`` files named in an archive's file list, resolved by base name next to the list.

    Raises:
        DataError: the list is missing or empty, or names a file that does not exist.
    """
    entries = read_lines(list_file)
    if not entries:
        raise DataError(f"{list_file}: the file list is empty, expected one .h5 file name per line")
    files = []
    for entry in entries:
        # Entries may carry the authors' relative prefix, in either separator style.
        base = PureWindowsPath(PurePosixPath(entry).name).name
        resolved = list_file.parent / base
        if not resolved.is_file():
            raise DataError(
                f"{list_file}: lists {entry!r}, but {resolved} does not exist "
                "(the archive is incomplete; fetch it again or run `pointea-data verify` on it)"
            )
        files.append(resolved)
    return files
