"""Every docqa setting, declared once: name, default, type and what it is for.

The CLI, the web service and the README all read this table, and a test checks that
the README documents each entry. Environment variables are ``DOCQA_<NAME>``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from typing import NamedTuple

from index.analysis import ANALYZER_VERSION
from index.errors import SettingError
from index.loaders import LOADERS_VERSION


class Setting(NamedTuple):
    """One configurable value."""

    name: str
    default: Any
    type: type
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("documents", "documents", str, "Folder of documents to index."),
    Setting(
        "index",
        "",
        str,
        "Index file (its postings file sits beside it); empty means docqa.sqlite in Flask's instance folder.",
    ),
    Setting("language", "english", str, "Language for stemming and stop words (a Snowball name)."),
    Setting("chunk_words", 120, int, "Target words per chunk; chunks end on sentence boundaries."),
    Setting("chunk_overlap", 1, int, "Sentences a chunk repeats from the end of the previous one."),
    Setting("title_in_chunks", True, bool, "Also index each document's title with every chunk."),
    Setting("title_weight", 3, int, "Times a chunk counts its document's title words (1 to 10; with title_in_chunks)."),
    Setting("k1", 1.5, float, "BM25 term-frequency saturation (rank-bm25's default)."),
    Setting("b", 0.75, float, "BM25 length normalization (rank-bm25's default)."),
    Setting("epsilon", 0.25, float, "BM25Okapi floor for negative IDF, times the mean IDF."),
    Setting("top_k", 5, int, "Passages returned per question when the request does not say."),
    Setting(
        "min_coverage",
        0.75,
        float,
        "Share of a question's weight a passage must hold to answer from it (half when three question terms meet).",
    ),
    Setting(
        "feedback_terms",
        0,
        int,
        "Words of the best passages added to a question to reorder its passages (pseudo-relevance feedback, "
        "0 to 200; 40 is the measured choice); 0 is off.",
    ),
    Setting("max_question_chars", 2000, int, "Longest question accepted, in characters."),
    Setting("max_body_bytes", 65536, int, "Largest JSON request body accepted, in bytes."),
    Setting("admin_token", "", str, "Bearer token for POST /api/index; empty disables it."),
    Setting("ask_rate_limit", 300, int, "Questions per minute per client address (per server process); 0 is off."),
    Setting("rebuild_interval", 5, int, "Least seconds between two rebuilds requested over HTTP."),
)

DEFAULTS: dict[str, Any] = {s.name: s.default for s in SETTINGS}
_BY_NAME = {s.name: s for s in SETTINGS}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def coerce(name: str, value: Any) -> Any:
    """Convert *value* to the declared type of setting *name*, or raise SettingError."""
    setting = _BY_NAME.get(name)
    if setting is None:
        raise SettingError(f"Unknown setting {name!r}; known settings: {', '.join(_BY_NAME)}")
    wanted = setting.type
    if isinstance(value, wanted) and not (wanted is int and isinstance(value, bool)):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            if wanted is bool:
                if text.lower() in _TRUE:
                    return True
                if text.lower() in _FALSE:
                    return False
                raise ValueError(text)
            return wanted(text)
        except ValueError:
            pass
    if wanted is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    raise SettingError(
        f"Setting {name!r} must be {wanted.__name__}, got {value!r}; "
        "write numbers and booleans without quotes (true/false)."
    )


@dataclass(frozen=True)
class BuildSettings:
    """The settings that decide what an index holds; a change forces re-tokenizing."""

    language: str = DEFAULTS["language"]
    chunk_words: int = DEFAULTS["chunk_words"]
    chunk_overlap: int = DEFAULTS["chunk_overlap"]
    title_in_chunks: bool = DEFAULTS["title_in_chunks"]
    title_weight: int = DEFAULTS["title_weight"]
    k1: float = DEFAULTS["k1"]
    b: float = DEFAULTS["b"]
    epsilon: float = DEFAULTS["epsilon"]

    def __post_init__(self) -> None:
        if self.chunk_words < 10:
            raise SettingError("chunk_words must be at least 10.")
        if not 0 <= self.chunk_overlap < 10:
            raise SettingError("chunk_overlap must be between 0 and 9 sentences.")
        if not 1 <= self.title_weight <= 10:
            raise SettingError("title_weight must be between 1 and 10.")
        if self.k1 < 0 or not 0 <= self.b <= 1:
            raise SettingError("BM25 needs k1 >= 0 and 0 <= b <= 1.")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> BuildSettings:
        """Pick and coerce the build settings out of a larger mapping."""
        fields = cls.__dataclass_fields__
        return cls(**{k: coerce(k, v) for k, v in values.items() if k in fields})

    def tokenization_key(self) -> dict[str, Any]:
        """Return what a stored chunk's text and terms depend on (BM25 numbers are recomputed anyway)."""
        return {
            "analyzer": ANALYZER_VERSION,
            "loaders": LOADERS_VERSION,
            "language": self.language,
            "chunk_words": self.chunk_words,
            "chunk_overlap": self.chunk_overlap,
            "title_in_chunks": self.title_in_chunks,
            "title_weight": self.title_weight,
        }


def from_environ(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Return the settings given as ``DOCQA_*`` variables, rejecting unknown names so typos are not ignored."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for key, raw in environ.items():
        if not key.startswith("DOCQA_"):
            continue
        name = key[len("DOCQA_") :].lower()
        if name not in _BY_NAME:
            raise SettingError(
                f"Unknown environment variable {key}; known: " + ", ".join(f"DOCQA_{n.upper()}" for n in _BY_NAME)
            )
        values[name] = coerce(name, raw)
    return values
