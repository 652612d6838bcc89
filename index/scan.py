"""List the files of a documents folder, deciding which ones a build may read.

Hidden files and folders are ignored; symlinks are followed only when they stay
inside the folder, so a link cannot expose files the user did not put there.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from index.loaders import SUPPORTED_SUFFIXES


class FileEntry(NamedTuple):
    """A file under documents/, with the stat values that detect changes."""

    relpath: str
    path: Path
    size: int
    mtime_ns: int
    skip_reason: str | None = None


def scan_documents(root: Path) -> list[FileEntry]:
    """Return every visible file under *root*, sorted by relative path."""
    root = Path(root)
    real_root = root.resolve()
    entries: list[FileEntry] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if name.startswith("."):
                continue
            path = Path(dirpath) / name
            relpath = path.relative_to(root).as_posix()
            reason = None
            if path.is_symlink():
                target = path.resolve()
                if not target.is_relative_to(real_root):
                    reason = "symlink points outside the documents folder; copy the file in instead"
            try:
                st = path.stat() if reason is None else path.lstat()
            except OSError as exc:
                entries.append(FileEntry(relpath, path, 0, 0, f"cannot be read ({exc.strerror})"))
                continue
            if reason is None and path.suffix.lower() not in SUPPORTED_SUFFIXES:
                reason = f"unsupported file type {path.suffix or '(none)'!r}; docqa reads " + ", ".join(
                    sorted(set(SUPPORTED_SUFFIXES))
                )
            entries.append(FileEntry(relpath, path, st.st_size, st.st_mtime_ns, reason))
    entries.sort(key=lambda e: e.relpath)
    return entries
