"""List the files of a documents folder, deciding which ones a build may read.

Hidden files and folders are ignored; symlinks are followed only when they stay
inside the folder, so a link cannot expose files the user did not put there.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from index.loaders import SUPPORTED_SUFFIXES
from index.loaders import suffix_of


class FileEntry(NamedTuple):
    """A file under documents/, with the stat values that detect changes.

    The file's full path is kept as a string and made a ``Path`` on use: a build
    lists hundreds of thousands of files and sends each to a worker, and a ``Path``
    costs several times a string to make and to pickle.
    """

    relpath: str
    file: str
    size: int
    mtime_ns: int
    skip_reason: str | None = None

    @property
    def path(self) -> Path:
        return Path(self.file)


#: ``FileEntry.size`` and ``mtime_ns`` of a file not stat'ed by the scan (``stat_readable=False``).
NOT_STATED = -1


def scan_documents(
    root: Path, listed: Callable[[int], object] | None = None, *, stat_readable: bool = True
) -> list[FileEntry]:
    """Return every visible file under *root*, sorted by relative path.

    Walks with ``os.scandir``, whose entries carry their type (and, once asked,
    their stat), so a folder of hundreds of thousands of files costs one stat each.
    Symlinked folders are not entered.

    :param listed: called with the number of files of a readable type once the folders
        are listed, before any file is stat'ed
    :param stat_readable: stat the regular files of a readable type too; without it their
        size and mtime are ``NOT_STATED``, for a build that reads every file anyway (its
        reader stats the open file): listing without them takes a large folder's scan
        from seconds to a fraction, while the workers wait for their first files
    """
    root = Path(root)
    real_root = root.resolve()
    files: list[tuple[str, str, str, bool, bool]] = []  # path, relpath, suffix, is a symlink, is regular
    folders = [(str(root), "")]
    while folders:
        folder, prefix = folders.pop()
        try:
            listing = list(os.scandir(folder))
        except OSError:
            continue  # as os.walk: a folder that vanished or cannot be listed is passed over
        for entry in listing:
            name = entry.name
            if name.startswith("."):
                continue
            relpath = prefix + name
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if is_dir:
                if not entry.is_symlink():
                    folders.append((entry.path, relpath + "/"))
                continue
            # Strings, not the DirEntry: a folder's worth of those at a time, not all of them.
            files.append((entry.path, relpath, suffix_of(name), entry.is_symlink(), _is_regular(entry)))
    if listed is not None:
        listed(sum(1 for _, _, suffix, _, _ in files if suffix.lower() in SUPPORTED_SUFFIXES))
    entries = [
        FileEntry(relpath, path, NOT_STATED, NOT_STATED)
        if not stat_readable and regular and not is_link and suffix.lower() in SUPPORTED_SUFFIXES
        else _entry(path, relpath, suffix, is_link, real_root)
        for path, relpath, suffix, is_link, regular in files
    ]
    entries.sort(key=lambda e: e.relpath)
    return entries


def _is_regular(entry: os.DirEntry) -> bool:
    """Whether the entry is a regular file, from the type its folder listing gives (no stat)."""
    try:
        return entry.is_file(follow_symlinks=False)
    except OSError:
        return False


def _entry(path: str, relpath: str, suffix: str, is_link: bool, real_root: Path) -> FileEntry:
    """One file's entry, with the reason a build must skip it, if any."""
    reason = None
    if is_link and not Path(path).resolve().is_relative_to(real_root):
        reason = "symlink points outside the documents folder; copy the file in instead"
    try:
        st = os.stat(path, follow_symlinks=reason is None)
    except OSError as exc:
        return FileEntry(relpath, path, 0, 0, f"cannot be read ({exc.strerror})")
    if reason is None and not stat.S_ISREG(st.st_mode):
        # Opening a pipe would wait for a writer, so a build would never end.
        reason = "not a regular file (a pipe, socket or device); put the document itself here"
    if reason is None:
        if suffix.lower() not in SUPPORTED_SUFFIXES:
            reason = f"unsupported file type {suffix or '(none)'!r}; docqa reads " + ", ".join(
                sorted(set(SUPPORTED_SUFFIXES))
            )
    return FileEntry(relpath, path, st.st_size, st.st_mtime_ns, reason)
