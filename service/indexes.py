"""Hand each request the current index file, reopening it when a rebuild replaced it.

The open index is shared by the threads of a process (it is read-only); a request
keeps the one it started with on ``g``, so a rebuild in the middle of a request
cannot mix two generations in one answer.
"""

from __future__ import annotations

import threading
from pathlib import Path

from flask import Flask
from flask import current_app
from flask import g

from index.analysis import Analyzer
from index.store import IndexFile
from index.store import file_identity


class IndexCache:
    """The most recently opened index per path, keyed by the file's identity."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[str, tuple[tuple[int, int, int], IndexFile]] = {}

    def get(self, path: str) -> IndexFile:
        """Return the index at *path*, opening it again if the file was replaced."""
        key = file_identity(path)
        cached = self._open.get(path)
        if cached and cached[0] == key:
            return cached[1]
        with self._lock:
            cached = self._open.get(path)
            if cached and cached[0] == file_identity(path):
                return cached[1]
            while True:
                before = file_identity(path)
                index = IndexFile(Path(path))
                if file_identity(path) == before:  # not replaced while we opened it
                    break
                index.close()
            # The previous IndexFile is not closed here: requests still using it hold it.
            self._open[path] = (before, index)
            return index


def get_index() -> IndexFile:
    """The index for this request (the same one for its whole duration)."""
    if "index" not in g:
        g.index = current_app.extensions["docqa.indexes"].get(current_app.config["INDEX"])
    return g.index


def get_analyzer() -> Analyzer:
    """The analyzer matching the index's language setting."""
    index = get_index()
    language = index.meta.get("tokenization", {}).get("language", current_app.config["LANGUAGE"])
    return _analyzer(language)


_ANALYZERS: dict[str, Analyzer] = {}


def _analyzer(language: str) -> Analyzer:
    if language not in _ANALYZERS:
        _ANALYZERS[language] = Analyzer(language)
    return _ANALYZERS[language]


def init_app(app: Flask) -> None:
    """Give the app its index cache."""
    app.extensions["docqa.indexes"] = IndexCache()
