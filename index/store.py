"""The index file: one SQLite database, written with sqlite-utils, read by queries.

Tables: ``documents`` (one row per file, failures included), ``chunks`` (passages
with their offsets), ``document_terms`` (each document's raw term counts, so an
incremental build can recompute BM25 without re-reading unchanged files), ``terms``
(the vocabulary with each term's postings and impacts as packed arrays) and
``meta`` (format version, settings, counts). A reader opens the file read-only and
immutable: files are only ever replaced whole, never changed in place.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterable
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from typing import NamedTuple

import numpy as np
import sqlite_utils

from index.bm25 import Bm25Stats
from index.bm25 import PostingMatrix
from index.bm25 import split_top
from index.errors import DocumentNotFound
from index.errors import IndexCorrupt
from index.errors import IndexNotBuilt

FORMAT_VERSION = 3
REBUILD_HINT = "run `docqa index --full` to rebuild it"


def create_schema(db: sqlite_utils.Database) -> None:
    """Create the empty tables of a new index file."""
    db["documents"].create(
        {
            "id": str,
            "path": str,
            "title": str,
            "format": str,
            "size": int,
            "mtime_ns": int,
            "sha256": str,
            "status": str,
            "error": str,
            "chunk_count": int,
            "text": str,
        },
        pk="id",
    )
    db["documents"].create_index(["path"], unique=True)
    db["chunks"].create(
        {"idx": int, "id": str, "document_id": str, "ordinal": int, "section": str, "start": int, "end": int},
        pk="idx",
    )
    db["chunks"].create_index(["document_id", "ordinal"], unique=True)
    db["chunks"].create_index(["id"], unique=True)
    db["document_terms"].create(
        {"document_id": str, "lengths": bytes, "counts": bytes, "term_ids": bytes, "tfs": bytes},
        pk="document_id",
    )
    db["terms"].create(
        {
            "id": int,
            "term": str,
            "df": int,
            "idf": float,
            "max_impact": float,
            "rest_max": float,
            "top_ids": bytes,
            "chunk_ids": bytes,
            "impacts": bytes,
        },
        pk="id",
    )
    db["terms"].create_index(["term"], unique=True)
    db["meta"].create({"key": str, "value": str}, pk="key")


def write_meta(db: sqlite_utils.Database, values: dict[str, Any]) -> None:
    """Store *values* as JSON, one row per key."""
    db["meta"].upsert_all(({"key": k, "value": json.dumps(v)} for k, v in values.items()), pk="key")


def pack(array: np.ndarray, dtype: str) -> bytes:
    """Serialize an array as little-endian bytes of *dtype*."""
    return np.ascontiguousarray(array, dtype=dtype).tobytes()


class Postings(NamedTuple):
    """One term's chunk ids (ascending) and BM25 impacts, its idf, and its pruning bounds.

    ``top_ids`` are the chunks of the term's ``TOP_POSTINGS`` largest impacts (all of
    them for a rarer term) and ``rest_max`` bounds the impact of every other chunk.
    """

    ids: np.ndarray
    impacts: np.ndarray
    idf: float
    max_impact: float
    top_ids: np.ndarray
    rest_max: float


def term_rows(vocabulary: dict[str, int], matrix: PostingMatrix) -> Iterator[dict[str, Any]]:
    """The ``terms`` table rows for a computed posting matrix."""
    ptr = matrix.ptr
    for term, tid in vocabulary.items():
        a, z = ptr[tid], ptr[tid + 1]
        ids, impacts = matrix.chunk_ids[a:z], matrix.impacts[a:z]
        top_ids, rest_max = split_top(ids, impacts)
        yield {
            "id": tid,
            "term": term,
            "df": int(matrix.df[tid]),
            "idf": float(matrix.idf[tid]),
            "max_impact": float(impacts.max()) if len(impacts) else 0.0,
            "rest_max": rest_max,
            "top_ids": pack(top_ids, "<i4"),
            "chunk_ids": pack(ids, "<i4"),
            "impacts": pack(impacts, "<f8"),
        }


CACHE_MIN_POSTINGS = 4096
CACHE_BYTES = 256 * 2**20


class PostingCache:
    """Least-recently-used posting lists, bounded in bytes; safe across threads."""

    def __init__(self, max_bytes: int = CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._items: OrderedDict[str, Postings] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, term: str) -> Postings | None:
        with self._lock:
            item = self._items.get(term)
            if item is not None:
                self._items.move_to_end(term)
            return item

    def put(self, term: str, postings: Postings) -> None:
        size = postings.ids.nbytes + postings.impacts.nbytes
        if size > self.max_bytes:
            return
        with self._lock:
            if term in self._items:
                return
            self._items[term] = postings
            self.bytes += size
            while self.bytes > self.max_bytes:
                _, old = self._items.popitem(last=False)
                self.bytes -= old.ids.nbytes + old.impacts.nbytes


class ChunkRow(NamedTuple):
    """A passage as the answer layer needs it."""

    idx: int
    id: str
    document_id: str
    ordinal: int
    section: str | None
    start: int
    end: int
    text: str
    title: str
    path: str


class IndexFile:
    """A read-only view of one index file, safe to share between threads.

    The connection keeps the file it opened even after a rebuild replaces the path,
    so a request that started on one generation finishes on it.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise IndexNotBuilt(f"No index at {self.path}; run `docqa index` to build it.")
        try:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
            self.db = sqlite_utils.Database(conn)
            self.meta = {r["key"]: json.loads(r["value"]) for r in self.db["meta"].rows}
            if self.meta.get("format_version") != FORMAT_VERSION:
                raise IndexCorrupt(
                    f"{self.path} is an index of format {self.meta.get('format_version')!r}, "
                    f"this docqa reads format {FORMAT_VERSION}; {REBUILD_HINT}."
                )
            self.stats = Bm25Stats(self.meta["chunks"], self.meta["avgdl"], self.meta["average_idf"])
        except (sqlite3.DatabaseError, KeyError, ValueError) as exc:
            raise IndexCorrupt(f"{self.path} is not a readable docqa index ({exc}); {REBUILD_HINT}.") from exc
        self._lock = threading.Lock()
        self._cache = PostingCache()

    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple]:
        try:
            with self._lock:
                return self.db.execute(sql, list(params)).fetchall()
        except sqlite3.DatabaseError as exc:
            raise IndexCorrupt(f"{self.path} could not be read ({exc}); {REBUILD_HINT}.") from exc

    def close(self) -> None:
        """Release the file handle."""
        self.db.conn.close()

    @property
    def generation(self) -> int:
        """How many builds produced this file (1 for the first)."""
        return int(self.meta.get("generation", 0))

    def postings(self, terms: Iterable[str]) -> dict[str, Postings]:
        """Return the postings of each term the corpus has.

        Long lists are kept in a bounded in-memory cache, so the common terms of a
        busy index are read from SQLite once, not on every question.
        """
        wanted = sorted(set(terms))
        found: dict[str, Postings] = {}
        missing = []
        for term in wanted:
            cached = self._cache.get(term)
            if cached is not None:
                found[term] = cached
            else:
                missing.append(term)
        if not missing:
            return found
        rows = self._query(
            "select term, chunk_ids, impacts, idf, max_impact, top_ids, rest_max from terms "
            f"where df > 0 and term in ({','.join('?' * len(missing))})",
            missing,
        )
        for term, ids, impacts, idf, max_impact, top_ids, rest_max in rows:
            chunk_ids = np.frombuffer(ids, dtype="<i4")
            postings = Postings(
                chunk_ids,
                np.frombuffer(impacts, dtype="<f8"),
                idf,
                max_impact,
                np.frombuffer(top_ids, dtype="<i4") if top_ids else chunk_ids,
                rest_max,
            )
            found[term] = postings
            if len(postings.ids) >= CACHE_MIN_POSTINGS:
                self._cache.put(term, postings)
        return found

    def idf(self, terms: Iterable[str]) -> dict[str, float]:
        """Return the idf of each known term (without reading its postings)."""
        wanted = sorted(set(terms))
        if not wanted:
            return {}
        rows = self._query(
            f"select term, idf from terms where df > 0 and term in ({','.join('?' * len(wanted))})", wanted
        )
        return dict(rows)

    def chunks(self, idxs: Iterable[int]) -> list[ChunkRow]:
        """Return the chunks at matrix positions *idxs*, in that order."""
        order = [int(i) for i in idxs]
        if not order:
            return []
        rows = self._query(
            'select c.idx, c.id, c.document_id, c.ordinal, c.section, c.start, c."end", '
            'substr(d.text, c.start + 1, c."end" - c.start), d.title, d.path '
            f"from chunks c join documents d on d.id = c.document_id where c.idx in ({','.join('?' * len(order))})",
            order,
        )
        by_idx = {r[0]: ChunkRow(*r) for r in rows}
        return [by_idx[i] for i in order if i in by_idx]

    def documents(self) -> list[dict[str, Any]]:
        """Every file the build saw, failed and skipped ones included, by path."""
        rows = self._query(
            "select id, path, title, format, size, status, error, chunk_count from documents order by path"
        )
        keys = ("id", "path", "title", "format", "size", "status", "error", "chunk_count")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def document(self, document_id: str) -> dict[str, Any]:
        """One document with its text and chunk spans.

        :raises DocumentNotFound: no document has that id.
        """
        rows = self._query(
            "select id, path, title, format, size, status, error, chunk_count, text from documents where id = ?",
            [document_id],
        )
        if not rows:
            raise DocumentNotFound(f"No document with id {document_id!r}; list them at /api/documents.")
        keys = ("id", "path", "title", "format", "size", "status", "error", "chunk_count", "text")
        doc = dict(zip(keys, rows[0], strict=True))
        doc["chunks"] = [
            {"chunk_id": cid, "ordinal": o, "section": s, "start": a, "end": b}
            for cid, o, s, a, b in self._query(
                'select id, ordinal, section, start, "end" from chunks where document_id = ? order by ordinal',
                [document_id],
            )
        ]
        return doc
