"""The index file: one SQLite database, written with sqlite-utils, read by queries.

Tables: ``documents`` (one row per file, failures included), ``text_pages`` (each
document's text in pieces of ``TEXT_PAGE_CHARS`` characters, numbered consecutively
from the document's ``first_page``, so that a passage of a book-sized file is read
without reading the whole file), ``chunks`` (passages
with their offsets), ``terms`` (the vocabulary: each term's df, idf, pruning bounds
and where its postings start) and ``meta`` (format version, settings, counts). A
reader opens the file read-only and immutable: files are only ever replaced whole,
never changed in place.

The postings themselves (chunk ids and BM25 impacts of every term, one after the
other) and the term counts they were computed from are flat arrays in a file beside
the database, named in its ``meta`` (``<index>.postings-<random>``, see
index/postings_file.py). A reader maps that file: a query's lists are views into the
page cache, not copies out of SQLite blobs, a server starts without reading them, and
its worker processes share one copy in memory.
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
import sqlite3
import threading
from collections.abc import Iterable
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from typing import NamedTuple

import numpy as np
import sqlite_utils

from index.analysis import ANALYZER_VERSION
from index.bm25 import Bm25Stats
from index.bm25 import PostingMatrix
from index.bm25 import split_top
from index.errors import DocumentNotFound
from index.errors import IndexCorrupt
from index.errors import IndexNotBuilt
from index.errors import IndexOutdated
from index.postings_file import MappedPostings

FORMAT_VERSION = 10
REBUILD_HINT = "run `docqa index --full` to rebuild it"


#: The ``documents`` table's columns and their types, in the order of the rows that
#: workers and the writer make.
DOCUMENT_SCHEMA: dict[str, type] = {
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
    "first_page": int,
    "pages": int,
    "first_chunk": int,
}
DOCUMENT_COLUMNS = tuple(DOCUMENT_SCHEMA)


def create_schema(db: sqlite_utils.Database) -> None:
    """Create the empty tables of a new index file."""
    db.table("documents").create(DOCUMENT_SCHEMA, pk="id")
    db.table("documents").create_index(["path"], unique=True)
    db.table("chunks").create(
        {"idx": int, "document_id": str, "ordinal": int, "section": str, "start": int, "end": int},
        pk="idx",
    )
    # A document's chunks are consecutive (idx = its first_chunk + ordinal), so they are
    # found by a range of the primary key: no second index to keep in random order while
    # a build appends a million rows. A chunk's id, "<document id>-<ordinal>"
    # (``chunk_id``), is not stored for the same reason.
    db.table("text_pages").create({"id": int, "text": str}, pk="id")
    db.table("terms").create(
        {
            "id": int,
            "term": str,
            "df": int,
            "idf": float,
            "rest_max": float,
            "top_ids": bytes,
            "start": int,
        },
        pk="id",
    )
    db.table("terms").create_index(["term"], unique=True)
    db.table("meta").create({"key": str, "value": str}, pk="key")


def write_meta(db: sqlite_utils.Database, values: dict[str, Any]) -> None:
    """Store *values* as JSON, one row per key."""
    db.table("meta").upsert_all(({"key": k, "value": json.dumps(v)} for k, v in values.items()), pk="key")


def insert_tuples(db: sqlite_utils.Database, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """Insert rows given as tuples in *columns*' order, with one prepared statement.

    The tables were created by ``create_schema`` and the values are already of their
    columns' types, so sqlite-utils' ``insert_all`` checks (a Python call per value,
    the main process's largest cost in a million-chunk build) are skipped. Binding by
    position skips a dictionary lookup (and a new string) per value, and a tuple is
    cheaper to build than a dictionary: a quarter of the chunk rows' cost.
    """
    names = ", ".join(f"[{c}]" for c in columns)
    with db.conn:
        db.conn.executemany(f"insert into [{table}] ({names}) values ({', '.join('?' * len(columns))})", rows)


#: Characters per stored piece of a document's text: a passage is read from one or two pieces.
TEXT_PAGE_CHARS = 16_384


def _page_numbers(start: int, end: int) -> range:
    """The numbers (within its document) of the text pages holding ``text[start:end]``."""
    return range(start // TEXT_PAGE_CHARS, max(start, end - 1) // TEXT_PAGE_CHARS + 1)


def text_pages(text: str) -> list[str]:
    """A document's text cut into the pieces stored as its ``text_pages``."""
    return [text[a : a + TEXT_PAGE_CHARS] for a in range(0, len(text), TEXT_PAGE_CHARS)]


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
    top_ids: np.ndarray
    rest_max: float


#: The ``terms`` table's columns, in the order of ``term_rows``.
TERM_COLUMNS = ("id", "term", "df", "idf", "rest_max", "top_ids", "start")


def term_rows(vocabulary: dict[str, int], matrix: PostingMatrix) -> Iterator[tuple]:
    """The ``terms`` table rows for a computed posting matrix, in ``TERM_COLUMNS``' order."""
    ptr = matrix.ptr
    for term, tid in vocabulary.items():
        a, z = ptr[tid], ptr[tid + 1]
        ids, impacts = matrix.chunk_ids[a:z], matrix.impacts[a:z]
        top_ids, rest_max = split_top(ids, impacts)
        yield (tid, term, int(matrix.df[tid]), float(matrix.idf[tid]), rest_max, pack(top_ids, "<i4"), int(a))


POSTINGS_INFIX = ".postings-"


def new_postings_path(index_path: Path) -> Path:
    """A fresh name for a build's postings file, beside the index it belongs to."""
    return index_path.with_name(f"{index_path.name}{POSTINGS_INFIX}{secrets.token_hex(6)}")


def store_terms(
    db: sqlite_utils.Database, postings_path: Path, vocabulary: dict[str, int], matrix: PostingMatrix
) -> None:
    """Write the vocabulary rows of *matrix*, whose arrays are in *postings_path*, and name that file."""
    rows = term_rows(vocabulary, matrix)
    while batch := list(itertools.islice(rows, 10_000)):
        insert_tuples(db, "terms", TERM_COLUMNS, batch)
    write_meta(db, {"postings_file": postings_path.name, "postings": len(matrix.chunk_ids)})


def postings_file_of(index_path: Path) -> str | None:
    """The name of the postings file the index at *index_path* uses (None if it has none readable)."""
    try:
        conn = sqlite3.connect(f"file:{index_path}?mode=ro", uri=True)
        try:
            row = conn.execute("select value from meta where key = 'postings_file'").fetchone()
        finally:
            conn.close()
        return json.loads(row[0]) if row else None
    except (sqlite3.DatabaseError, ValueError):
        return None


def chunk_id(document_id: str, ordinal: int) -> str:
    """The id of a document's chunk, stable while the document is unchanged."""
    return f"{document_id}-{ordinal}"


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


def file_identity(path: Path | str) -> tuple[int, int, int]:
    """Inode, mtime and size of the index file: they change when a build replaces it.

    :raises IndexNotBuilt: there is no file at *path*
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise IndexNotBuilt(f"No index at {path}; run `docqa index` to build it.") from None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


class IndexFile:
    """A read-only view of one index file, safe to share between threads.

    The connection keeps the file it opened even after a rebuild replaces the path,
    so a request that started on one generation finishes on it.
    """

    def __init__(self, path: Path) -> None:
        """Open the index at *path* and map its postings.

        :raises IndexNotBuilt: there is no file at *path*
        :raises IndexCorrupt: the file is not a readable docqa index, or its postings are missing
        :raises IndexOutdated: another docqa version built it (format or analyzer)
        """
        self.path = Path(path)
        # A build may replace the database (and delete the postings file it names)
        # between our opening one and mapping the other: then open the new pair, however
        # often builds replace it meanwhile (on a loaded machine one open can span
        # several quick rebuilds). A postings file missing from an index that nobody
        # replaced is a broken index.
        while True:
            opened = file_identity(self.path)
            try:
                self._open()
                break
            except FileNotFoundError as exc:
                self.db.conn.close()
                if file_identity(self.path) == opened:
                    raise IndexCorrupt(
                        f"{self.path} names a postings file that is missing ({exc.filename}); {REBUILD_HINT}."
                    ) from exc
        self._lock = threading.Lock()

    def _open(self) -> None:
        try:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
            self.db = sqlite_utils.Database(conn)
            self.meta = {r["key"]: json.loads(r["value"]) for r in self.db["meta"].rows}
            if self.meta.get("format_version") != FORMAT_VERSION:
                raise IndexOutdated(
                    f"{self.path} is an index of format {self.meta.get('format_version')!r}, "
                    f"this docqa reads format {FORMAT_VERSION}; {REBUILD_HINT}."
                )
            tokenization = self.meta.get("tokenization")
            analyzer = tokenization.get("analyzer") if isinstance(tokenization, dict) else None
            if analyzer != ANALYZER_VERSION:  # its terms would not be the ones made of questions
                raise IndexOutdated(
                    f"{self.path} holds the terms of analyzer version {analyzer!r}, this docqa "
                    f"makes version {ANALYZER_VERSION}'s; {REBUILD_HINT}."
                )
            self.stats = Bm25Stats(self.meta["chunks"], self.meta["avgdl"], self.meta["average_idf"])
            self._postings = MappedPostings(
                self.path.with_name(self.meta["postings_file"]), self.meta["postings"], self.meta["chunks"]
            )
        except FileNotFoundError:
            raise
        except (sqlite3.DatabaseError, KeyError, ValueError, OSError) as exc:
            raise IndexCorrupt(f"{self.path} is not a readable docqa index ({exc}); {REBUILD_HINT}.") from exc

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
        """Return the postings of each term the corpus has (views into the mapped file)."""
        wanted = sorted(set(terms))
        if not wanted:
            return {}
        rows = self._query(
            "select term, start, df, idf, top_ids, rest_max from terms "
            f"where df > 0 and term in ({','.join('?' * len(wanted))})",
            wanted,
        )
        mapped = self._postings
        found: dict[str, Postings] = {}
        for term, start, df, idf, top_ids, rest_max in rows:
            if start + df > len(mapped.ids):
                raise IndexCorrupt(f"{self.path}: the postings of {term!r} lie past its postings file; {REBUILD_HINT}.")
            ids = mapped.ids[start : start + df]
            found[term] = Postings(
                ids,
                mapped.impacts[start : start + df],
                idf,
                np.frombuffer(top_ids, dtype="<i4") if top_ids else ids,
                rest_max,
            )
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
            'select c.idx, c.document_id, c.ordinal, c.section, c.start, c."end", d.title, d.path, '
            "d.first_page from chunks c join documents d on d.id = c.document_id "
            f"where c.idx in ({','.join('?' * len(order))})",
            order,
        )
        # The text pages the chunks cover, in one query.
        wanted = sorted(
            {first_page + n for *_, start, end, _, _, first_page in rows for n in _page_numbers(start, end)}
        )
        pages = dict(
            self._query(f"select id, text from text_pages where id in ({','.join('?' * len(wanted))})", wanted)
        )
        by_idx = {}
        for idx, doc, ordinal, section, start, end, title, path, first_page in rows:
            numbers = _page_numbers(start, end)
            joined = "".join(pages.get(first_page + n, "") for n in numbers)
            base = numbers[0] * TEXT_PAGE_CHARS
            text = joined[start - base : end - base]
            by_idx[idx] = ChunkRow(idx, chunk_id(doc, ordinal), doc, ordinal, section, start, end, text, title, path)
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
            "select id, path, title, format, size, status, error, chunk_count, first_page, pages, first_chunk "
            "from documents where id = ?",
            [document_id],
        )
        if not rows:
            raise DocumentNotFound(f"No document with id {document_id!r}; list them at /api/documents.")
        keys = ("id", "path", "title", "format", "size", "status", "error", "chunk_count")
        doc = dict(zip(keys, rows[0][:8], strict=True))
        first, count, first_chunk = rows[0][8:]
        pages = self._query(
            "select text from text_pages where id between ? and ? order by id", [first, first + count - 1]
        )
        doc["text"] = "".join(text for (text,) in pages)
        doc["chunks"] = [
            {"chunk_id": chunk_id(document_id, o), "ordinal": o, "section": s, "start": a, "end": b}
            for o, s, a, b in self._query(
                'select ordinal, section, start, "end" from chunks where idx between ? and ? order by idx',
                [first_chunk, first_chunk + doc["chunk_count"] - 1],
            )
        ]
        return doc
