"""What a build did: the numbers ``docqa index`` prints and ``POST /api/index`` returns."""

from __future__ import annotations

from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field


@dataclass
class BuildSummary:
    """What a build did, for the CLI's last line and the admin API."""

    index: str
    full: bool
    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    failed: int = 0
    skipped: int = 0
    documents: int = 0
    chunks: int = 0
    terms: int = 0
    seconds: float = 0.0
    generation: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)
    #: Why an incremental build re-read every file (another docqa version built the index, or
    #: its settings changed), or None: otherwise "added" would not say why nothing was reused.
    reread: str | None = None

    def as_dict(self) -> dict:
        """Return the summary as plain JSON-ready data."""
        return asdict(self)

    def line(self) -> str:
        """One human sentence for the end of ``docqa index``."""
        return (
            f"Indexed {self.documents} documents into {self.chunks} chunks in {self.seconds:.2f}s: "
            f"{self.added} added, {self.changed} changed, {self.removed} removed, "
            f"{self.unchanged} unchanged, {self.failed} failed, {self.skipped} skipped "
            f"(generation {self.generation}, {self.index})."
            + (f" Every file was re-read: {self.reread}." if self.reread else "")
        )
