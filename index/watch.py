"""Rebuild the index whenever files under the documents folder change (debounced)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from watchdog.events import FileSystemEvent
from watchdog.events import FileSystemEventHandler
from watchdog.observers import Observer


class _Changes(FileSystemEventHandler):
    """Remember when the folder last changed."""

    def __init__(self) -> None:
        self.last_change = 0.0
        self.changed = threading.Event()

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        name = Path(str(event.src_path)).name
        if name.startswith("."):
            return
        self.last_change = time.monotonic()
        self.changed.set()


def watch(
    documents_dir: Path,
    rebuild: Callable[[], None],
    debounce: float = 1.0,
    stop: threading.Event | None = None,
    first: Callable[[], None] | None = None,
) -> None:
    """Call *rebuild* once the folder has been quiet for *debounce* seconds after a change.

    *first* (the initial build) runs once the folder is already being watched, so a
    file that changes while it runs is rebuilt afterwards instead of being missed.
    Runs until *stop* is set (or forever, for the CLI).
    """
    stop = stop or threading.Event()
    changes = _Changes()
    observer = Observer()
    observer.schedule(changes, str(documents_dir), recursive=True)
    observer.start()
    try:
        if first is not None:
            first()
        while not stop.is_set():
            if not changes.changed.wait(timeout=0.2):
                continue
            if time.monotonic() - changes.last_change < debounce:
                stop.wait(0.1)
                continue
            changes.changed.clear()
            rebuild()
    finally:
        observer.stop()
        observer.join()
