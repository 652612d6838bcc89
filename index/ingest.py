"""Read, parse, chunk and tokenize one file: the part of a build that runs in parallel.

Everything here is a pure function of the file's bytes and the build settings, so
worker processes can run it and hand back plain data (no database, no vocabulary).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.analysis import Analyzer
from index.chunking import Chunk
from index.chunking import chunk_document
from index.errors import UnreadableDocument
from index.loaders import load
from index.settings import BuildSettings


@dataclass
class Ingested:
    """A parsed document and its chunks' term counts, or the reason it failed.

    Term counts are given against the document's own term list (``terms``): posting
    ``i`` of the document is term ``terms[term_index[i]]`` with frequency ``tfs[i]``;
    chunk ``c`` owns ``counts[c]`` consecutive postings and ``lengths[c]`` tokens.
    """

    relpath: str
    sha256: str | None = None
    error: str | None = None
    title: str = ""
    format: str = ""
    text: str = ""
    chunks: list[Chunk] | None = None
    terms: list[str] | None = None
    term_index: np.ndarray | None = None
    tfs: np.ndarray | None = None
    counts: np.ndarray | None = None
    lengths: np.ndarray | None = None


_ANALYZERS: dict[str, Analyzer] = {}


def ingest_file(path: Path, relpath: str, settings: BuildSettings) -> Ingested:
    """Read *path* and turn it into chunks and term counts; failures become ``error``."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return Ingested(relpath, error=f"cannot be read ({exc.strerror})")
    sha = hashlib.sha256(data).hexdigest()
    try:
        loaded = load(Path(path), data)
    except UnreadableDocument as exc:
        return Ingested(relpath, sha, error=str(exc))
    except RecursionError:
        return Ingested(relpath, sha, error="too deeply nested to parse")
    analyzer = _ANALYZERS.get(settings.language) or _ANALYZERS.setdefault(
        settings.language, Analyzer(settings.language)
    )
    chunks = chunk_document(loaded.text, loaded.blocks, settings.chunk_words, settings.chunk_overlap, settings.language)
    title_terms = Counter(analyzer.terms(loaded.title)) if settings.title_in_chunks else Counter()
    local: dict[str, int] = {}
    term_index: list[int] = []
    tfs: list[int] = []
    counts: list[int] = []
    lengths: list[int] = []
    for chunk in chunks:
        bag = Counter(analyzer.terms(loaded.text[chunk.start : chunk.end]))
        bag.update(title_terms)
        lengths.append(sum(bag.values()))
        counts.append(len(bag))
        for term, tf in bag.items():
            term_index.append(local.setdefault(term, len(local)))
            tfs.append(tf)
    return Ingested(
        relpath,
        sha,
        None,
        loaded.title,
        loaded.format,
        loaded.text,
        chunks,
        list(local),
        np.array(term_index, np.int32),
        np.array(tfs, np.int32),
        np.array(counts, np.int32),
        np.array(lengths, np.int32),
    )
