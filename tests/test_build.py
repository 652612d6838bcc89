"""Builds on real folders and real SQLite files: incremental, failure-tolerant, atomic."""

import multiprocessing
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from index import bm25
from index import build as build_module
from index import ingest
from index import store
from index.analysis import ANALYZER_VERSION
from index.analysis import Analyzer
from index.build import build_index
from index.errors import BuildFailed
from index.errors import BuildInProgress
from index.errors import DocumentsMissing
from index.errors import IndexCorrupt
from index.growing import GrowingArray
from index.postings_file import layout
from index.retrieval import search
from index.scan import NOT_STATED
from index.scan import scan_documents
from index.settings import BuildSettings
from index.store import IndexFile
from tests.conftest import age_index


def rows(path: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


def test_first_build_indexes_every_format(documents, index_path):
    summary = build_index(documents, index_path)
    assert (summary.added, summary.failed, summary.generation) == (4, 0, 1)
    index = IndexFile(index_path)
    formats = {d["format"] for d in index.documents()}
    assert formats == {"txt", "md", "html", "pdf"}
    assert index.meta["chunks"] == summary.chunks == len(rows(index_path, "select idx from chunks"))
    # the chunk text the index serves is exactly the document text between its offsets
    texts = {d["id"]: index.document(d["id"])["text"] for d in index.documents()}
    for chunk in index.chunks(range(summary.chunks)):
        assert chunk.text == texts[chunk.document_id][chunk.start : chunk.end] and chunk.text.strip()


def test_text_is_read_back_whole_across_text_pages(documents, index_path, monkeypatch):
    monkeypatch.setattr(store, "TEXT_PAGE_CHARS", 97)  # every passage spans several pages
    build_index(documents, index_path)
    (documents / "extra.txt").write_text("Zanzibar exports cloves — «girofle», naïve 丁香. " * 40)
    build_index(documents, index_path)  # the first four files' pages are copied, not rewritten
    index = IndexFile(index_path)
    texts = {d["id"]: index.document(d["id"])["text"] for d in index.documents()}
    assert "naïve 丁香. Zanzibar exports cloves — «girofle»" in "".join(texts.values())
    assert rows(index_path, "select distinct typeof(text) from text_pages") == [("text",)]
    assert max(len(t) for t in texts.values()) > 3 * 97
    for chunk in index.chunks(range(index.meta["chunks"])):
        assert chunk.text == texts[chunk.document_id][chunk.start : chunk.end] and chunk.text.strip()


def test_rebuild_reuses_unchanged_files_and_reflects_changes(documents, index_path):
    build_index(documents, index_path)
    before = rows(index_path, 'select document_id, ordinal, start, "end" from chunks order by document_id, ordinal')
    again = build_index(documents, index_path)
    assert (again.unchanged, again.added, again.changed, again.removed) == (4, 0, 0, 0)
    assert (
        rows(index_path, 'select document_id, ordinal, start, "end" from chunks order by document_id, ordinal')
        == before
    )

    (documents / "guide.md").write_text("# Guide\n\nPotatoes need sandy soil and little water.\n")
    (documents / "lighthouse.html").unlink()
    (documents / "new.txt").write_text("Zanzibar exports cloves and nutmeg.\n")
    summary = build_index(documents, index_path)
    assert (summary.unchanged, summary.changed, summary.removed, summary.added) == (2, 1, 1, 1)
    index = IndexFile(index_path)
    assert index.generation == 3
    assert index.postings(["potato"]) and not index.postings(["lighthous"])
    assert index.postings(["zanzibar"])
    # Copied and new documents alike list their own chunks, renumbered in the new file.
    by_document: dict[str, list] = {}
    for chunk in index.chunks(range(summary.chunks)):
        by_document.setdefault(chunk.document_id, []).append((chunk.id, chunk.ordinal, chunk.start, chunk.end))
    for listed in index.documents():
        shown = index.document(listed["id"])["chunks"]
        assert [(c["chunk_id"], c["ordinal"], c["start"], c["end"]) for c in shown] == by_document.get(listed["id"], [])


def test_open_index_keeps_answering_after_a_rebuild_removes_its_postings(documents, index_path):
    build_index(documents, index_path)
    old = IndexFile(index_path)
    expected = {t: (p.ids.tolist(), p.impacts.tolist()) for t, p in old.postings(["potato", "lighthous"]).items()}
    old_file = index_path.with_name(old.meta["postings_file"])
    (documents / "new.txt").write_text("Zanzibar exports cloves and nutmeg.\n")
    build_index(documents, index_path)
    assert not old_file.exists()  # one postings file per index, however many rebuilds
    assert [p.name for p in index_path.parent.glob("*.postings-*")] == [IndexFile(index_path).meta["postings_file"]]
    # ... while a reader of the previous generation still reads its own, unchanged postings
    got = {t: (p.ids.tolist(), p.impacts.tolist()) for t, p in old.postings(["potato", "lighthous"]).items()}
    assert got == expected and expected


@pytest.mark.parametrize("damage", ["missing", "truncated"])
def test_damaged_postings_file_is_reported_with_the_fix(documents, index_path, damage):
    build_index(documents, index_path)
    postings = index_path.with_name(IndexFile(index_path).meta["postings_file"])
    if damage == "missing":
        postings.unlink()
    else:
        postings.write_bytes(postings.read_bytes()[:1000])
    with pytest.raises(IndexCorrupt, match="docqa index --full"):
        IndexFile(index_path)
    build_index(documents, index_path, full=True)
    assert IndexFile(index_path).postings(["lighthous"])


@pytest.mark.parametrize("damage", ["a chunk's count", "a term id", "the file's end"])
def test_damaged_term_counts_fail_the_rebuild_with_the_fix(documents, index_path, damage):
    """An incremental build reuses the stored counts of unchanged files; damaged ones must stop
    it with the fix, not crash it (the compiled impact loop reads them without bounds checks)."""
    build_index(documents, index_path)
    meta = IndexFile(index_path).meta
    postings = index_path.with_name(meta["postings_file"])
    where = layout(meta["postings"], meta["chunks"])
    data = bytearray(postings.read_bytes())
    if damage == "a chunk's count":
        data[where.counts : where.counts + 4] = (
            1 + int.from_bytes(data[where.counts : where.counts + 4], "little")
        ).to_bytes(4, "little")
    elif damage == "a term id":
        data[0:4] = (10**6).to_bytes(4, "little")
    else:
        del data[-8:]
    postings.write_bytes(bytes(data))
    (documents / "guide.md").write_text("# Guide\n\nA changed file, so that the build is incremental.\n")
    with pytest.raises(BuildFailed, match="previous index.*docqa index --full"):
        build_index(documents, index_path)
    generation = sqlite3.connect(index_path).execute("select value from meta where key = 'generation'").fetchone()
    assert int(generation[0]) == meta["generation"]  # the old index was kept
    assert build_index(documents, index_path, full=True).failed == 0


def test_touched_but_identical_file_is_not_reindexed(documents, index_path):
    build_index(documents, index_path)
    path = documents / "guide.md"
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    summary = build_index(documents, index_path)
    assert summary.unchanged == 4 and summary.changed == 0


def test_incremental_scores_equal_a_full_rebuild(documents, index_path, tmp_path):
    build_index(documents, index_path)
    (documents / "extra.md").write_text("# Extra\n\nTomatoes and Putin and watering in 2016.\n")
    build_index(documents, index_path)
    fresh = tmp_path / "fresh.sqlite"
    build_index(documents, fresh, full=True)
    a, b = IndexFile(index_path), IndexFile(fresh)
    from index.retrieval import search

    for query in (["tomato"], ["putin", "2016"], ["water", "soil", "israel"]):
        assert search(a, query, 10) == search(b, query, 10)


def test_incremental_build_in_worker_batches_equals_a_full_build(documents, index_path, tmp_path, monkeypatch):
    """Files to re-read come between copied, skipped and failing ones, in batches of two: each
    batch's rows land where its documents are, numbered on from the documents before it."""
    monkeypatch.setattr(ingest, "PARALLEL_MIN_FILES", 0)
    monkeypatch.setattr(ingest, "BATCH_FILES", 2)
    for i in range(10):
        (documents / f"note{i}.md").write_text(f"# Note {i}\n\nCarrots number {i} grow in {'sandy ' * i}soil.\n")
    (documents / "note3.md").write_bytes(b"\x00\x01" * 50)
    (documents / "note6.docx").write_bytes(b"PK\x03\x04")
    build_index(documents, index_path)
    (documents / "note3.md").write_text("# Note 3\n\nNow readable: turnips.\n")  # failed -> ok
    (documents / "note4.md").write_bytes(b"\x00\x02" * 50)  # ok -> failed
    (documents / "note5.md").write_text("# Note 5\n\nBeetroot, changed.\n")
    (documents / "note7.md").unlink()
    (documents / "note71.md").write_text("# Note 71\n\nParsnips, new.\n")
    summary = build_index(documents, index_path)
    assert (summary.added, summary.changed, summary.unchanged, summary.removed) == (1, 2, 10, 1)
    assert (summary.failed, summary.skipped) == (1, 1)
    fresh = tmp_path / "fresh.sqlite"
    full = build_index(documents, fresh, full=True)
    a, b = IndexFile(index_path), IndexFile(fresh)
    assert summary.chunks == full.chunks
    listed = [(d["path"], d["status"], d["error"], d["chunk_count"]) for d in a.documents()]
    assert listed == [(d["path"], d["status"], d["error"], d["chunk_count"]) for d in b.documents()]
    assert [(c.path, c.ordinal, c.start, c.end, c.text) for c in a.chunks(range(summary.chunks))] == [
        (c.path, c.ordinal, c.start, c.end, c.text) for c in b.chunks(range(full.chunks))
    ]
    for chunk in a.chunks(range(summary.chunks)):  # each chunk is its own file's text
        if chunk.path.startswith("note"):
            words = " ".join(chunk.text.split())
            assert words and words in " ".join((documents / chunk.path).read_text().split())
    for query in (["carrot"], ["turnip", "soil"], ["parsnip"], ["beetroot"], ["putin", "israel"]):
        assert search(a, query, 10) == search(b, query, 10)


@pytest.mark.parametrize(
    ("parallel", "compiled", "title_weight"),
    [(False, False, 1), (True, False, 1), (True, True, 1), (False, False, 3), (True, False, 3), (True, True, 3)],
)
def test_built_index_scores_equal_rank_bm25_on_the_analyzers_terms(
    tmp_path, monkeypatch, parallel, compiled, title_weight
):
    """The whole ingest path (worker processes numbering terms their own way, counting them in
    Python or compiled code, or this process) gives rank_bm25's scores over each chunk's analyzer
    terms, its document's title included ``title_weight`` times."""
    monkeypatch.setattr(ingest, "PARALLEL_MIN_FILES", 0 if parallel else 10**9)
    monkeypatch.setattr(ingest, "COMPILED_MIN_FILES", 0 if compiled else 10**9)
    monkeypatch.setattr(bm25, "COMPILED_GROUPING_MIN", 0 if compiled else 10**9)  # impacts into the mapped file
    monkeypatch.setattr(ingest, "BATCH_FILES", 3)  # many batches, so workers number terms in turns
    rng = random.Random(7)
    words = [f"{a}{b}" for a in ("pal", "tor", "mek", "sul", "van") for b in ("ine", "ork", "ast", "um", "ing")]
    documents = tmp_path / "documents"
    documents.mkdir()
    for i in range(40):
        body = " ".join(" ".join(rng.choices(words, k=rng.randint(5, 15))).capitalize() + "." for _ in range(12))
        (documents / f"doc{i:02}.md").write_text(f"# Title {rng.choice(words)} {i}\n\n{body}\n")
    index_path = tmp_path / "index.sqlite"
    summary = build_index(documents, index_path, BuildSettings(title_weight=title_weight))
    index = IndexFile(index_path)
    analyzer = Analyzer()
    chunks = index.chunks(range(summary.chunks))
    corpus = [analyzer.terms(c.text) + analyzer.terms(c.title) * title_weight for c in chunks]
    reference = BM25Okapi(corpus)
    for _ in range(20):
        query = rng.sample(sorted(reference.idf), 3)
        hits = search(index, query, 10)
        expected = reference.get_scores(query)
        want = [int(i) for i in np.argsort(-expected, kind="stable")[:10] if expected[i] > 0]
        assert [h.idx for h in hits] == want
        assert [h.score for h in hits] == pytest.approx([expected[i] for i in want], abs=1e-9)


def test_workers_compiled_chunks_are_the_python_chunks(documents, tmp_path, monkeypatch):
    """A large build's workers chunk in compiled code: the shipped article (headings, reader
    comments, no-break spaces), each other format and text with boilerplate lines must be cut
    where this process's Python chunker cuts them."""
    (documents / "notes.md").write_text("# Notes\n\n## First\n\nOne. Two?\u2003Three!\n\n## Second\n\nFour … five.\n")
    (documents / "page.txt").write_text("A page.\n\nRead more\n\nThe rest of it, after the furniture. 3 Comments »\n")
    monkeypatch.setattr(ingest, "PARALLEL_MIN_FILES", 0)
    built = {}
    for compiled in (False, True):
        monkeypatch.setattr(ingest, "COMPILED_MIN_FILES", 0 if compiled else 10**9)
        index_path = tmp_path / f"index-{compiled}.sqlite"
        summary = build_index(documents, index_path, BuildSettings(chunk_words=40))
        chunks = IndexFile(index_path).chunks(range(summary.chunks))
        built[compiled] = [(c.path, c.section, c.start, c.end) for c in chunks]
    assert len(built[True]) > 40
    assert built[True] == built[False]


def test_bad_files_are_reported_and_skipped(documents, index_path):
    (documents / "broken.pdf").write_bytes(b"%PDF-1.7 garbage")
    (documents / "blob.txt").write_bytes(b"\x00\x01" * 500)
    (documents / "empty.md").write_text("")
    (documents / "notes.docx").write_bytes(b"PK\x03\x04")
    summary = build_index(documents, index_path)
    assert summary.added == 4 and summary.failed == 3 and summary.skipped == 1
    reasons = {f["path"]: f["error"] for f in summary.failures}
    assert "PDF" in reasons["broken.pdf"] and "binary" in reasons["blob.txt"] and "empty" in reasons["empty.md"]
    docs = {d["path"]: d for d in IndexFile(index_path).documents()}
    assert docs["notes.docx"]["status"] == "skipped" and "unsupported" in docs["notes.docx"]["error"]
    assert docs["broken.pdf"]["status"] == "failed"
    # unchanged failures stay reported, with their reasons, on the next build (their rows are copied)
    again = build_index(documents, index_path)
    assert again.failed == 3 and {f["path"]: f["error"] for f in again.failures} == reasons
    assert {d["path"]: d for d in IndexFile(index_path).documents()}.keys() == docs.keys()


def test_symlink_outside_documents_is_not_followed(documents, index_path, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("The password is swordfish.")
    (documents / "link.txt").symlink_to(secret)
    build_index(documents, index_path)
    docs = {d["path"]: d for d in IndexFile(index_path).documents()}
    assert docs["link.txt"]["status"] == "skipped"
    assert not IndexFile(index_path).postings(["swordfish"])


def test_scan_walks_subfolders_but_not_hidden_entries_or_linked_folders(tmp_path):
    root = tmp_path / "docs"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "deep.md").write_text("# Deep\n\nText.\n")
    (root / "top.txt").write_text("Top.")
    (root / ".git").mkdir()
    (root / ".git" / "config.txt").write_text("hidden folder")
    (root / "a" / ".draft.txt").write_text("hidden file")
    (root / "notes.xyz").write_text("unsupported")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "private.txt").write_text("not under documents/")
    (root / "linked").symlink_to(outside, target_is_directory=True)
    entries = scan_documents(root)
    assert [e.relpath for e in entries] == ["a/b/deep.md", "notes.xyz", "top.txt"]
    assert [e.skip_reason is None for e in entries] == [True, False, True]
    assert entries[0].size == len("# Deep\n\nText.\n") and entries[0].path == root / "a" / "b" / "deep.md"
    # For a build that reads every file: the same files, the readable ones not stat'ed.
    listed = scan_documents(root, stat_readable=False)
    assert [(e.relpath, e.skip_reason) for e in listed] == [(e.relpath, e.skip_reason) for e in entries]
    assert [(e.size, e.mtime_ns) for e in listed if e.skip_reason is None] == [(NOT_STATED, NOT_STATED)] * 2
    assert listed[1] == entries[1]  # a file the build will not read keeps its stat


@pytest.mark.parametrize("in_workers", [False, True])
def test_a_full_build_records_each_files_stat_as_it_read_it(documents, index_path, monkeypatch, in_workers):
    """A full build leaves stat'ing its files to the readers: the rows must hold the files'
    real size and mtime, or the next build would take every file for changed."""
    if in_workers:
        monkeypatch.setattr(ingest, "PARALLEL_MIN_FILES", 1)
    (documents / "blob.txt").write_bytes(b"\x00\x01" * 500)  # read, then failed
    (documents / "notes.docx").write_bytes(b"PK\x03\x04")  # skipped unread
    os.utime(documents / "guide.md", ns=(1_600_000_000_123_456_789, 1_600_000_000_123_456_789))
    build_index(documents, index_path, full=True)
    stats = rows(index_path, "select path, size, mtime_ns from documents")
    assert len(stats) == 6
    for path, size, mtime_ns in stats:
        st = (documents / path).stat()
        assert (size, mtime_ns) == (st.st_size, st.st_mtime_ns), path
    again = build_index(documents, index_path)  # every file copied as unchanged: its row matched it
    assert (again.unchanged, again.failed, again.skipped, again.added, again.changed) == (4, 1, 1, 0, 0)


def test_missing_documents_folder(tmp_path):
    with pytest.raises(DocumentsMissing, match="--documents"):
        build_index(tmp_path / "nope", tmp_path / "i.sqlite")


def test_changed_settings_retokenize_everything(documents, index_path):
    build_index(documents, index_path)
    summary = build_index(documents, index_path, BuildSettings(chunk_words=40))
    assert summary.changed == 0 and summary.added == 4
    assert summary.reread == "these settings changed since the last build: chunk_words"
    assert summary.line().endswith("Every file was re-read: these settings changed since the last build: chunk_words.")
    assert build_index(documents, index_path, BuildSettings(chunk_words=40)).reread is None


def test_an_index_of_another_analyzer_is_reread_saying_why(documents, index_path):
    build_index(documents, index_path)
    age_index(index_path, ANALYZER_VERSION - 1)
    summary = build_index(documents, index_path)
    assert summary.added == 4 and summary.reread == "the index was built by another version of docqa"
    assert build_index(documents, index_path, full=True).reread is None  # asked for: nothing to explain


def test_a_build_over_an_unreadable_index_says_it_reread_everything(documents, index_path):
    index_path.parent.mkdir(parents=True, exist_ok=True)
    index_path.write_bytes(b"not an index" * 100)
    summary = build_index(documents, index_path)
    assert summary.added == 4 and summary.reread == "the previous index could not be read"
    assert IndexFile(index_path).meta["documents"] == 4


def test_newer_loaders_reread_every_file(documents, index_path, monkeypatch):
    """Unchanged files are copied, not re-read, unless the loaders that read them changed:
    an upgraded docqa must not keep what older loaders made of them (or refused)."""
    from index import settings

    build_index(documents, index_path)
    assert build_index(documents, index_path).unchanged == 4
    monkeypatch.setattr(settings, "LOADERS_VERSION", settings.LOADERS_VERSION + 1)
    summary = build_index(documents, index_path)
    assert summary.unchanged == 0 and summary.added == 4
    assert summary.reread == "the index was built by another version of docqa"
    assert build_index(documents, index_path).unchanged == 4


def test_a_second_build_waits_its_turn(documents, index_path):
    import fcntl

    index_path.parent.mkdir(parents=True)
    with open(index_path.with_name(index_path.name + ".lock"), "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with pytest.raises(BuildInProgress):
            build_index(documents, index_path)


def make_big_folder(folder: Path, n: int) -> None:
    rng = random.Random(7)
    words = [f"{a}{b}" for a in ("ka", "lo", "mi", "nu", "pe", "ra", "si", "tu") for b in ("x", "y", "z", "q", "w")]
    folder.mkdir()
    for i in range(n):
        sentences = [" ".join(rng.choices(words, k=12)).capitalize() + "." for _ in range(40)]
        (folder / f"doc{i:04d}.txt").write_text(" ".join(sentences))


DOCS = 800  # enough that a build takes a second or two, so the kills land inside it


def start_full_build(folder: Path, index_path: Path) -> tuple[subprocess.Popen, float]:
    """Start ``docqa index --full`` and return it once it writes its new index (and when that was).

    Kills are timed from that moment, not from the process's start, so that they land inside
    the build on a fast machine as on a slow one; a build that ends first returns its exit time.
    """
    proc = subprocess.Popen(
        [sys.executable, "-m", "service", "index", "--full", "--documents", str(folder), "--index", str(index_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    tmp = index_path.with_name(f"{index_path.name}.tmp-{proc.pid}")
    while not tmp.exists() and proc.poll() is None:
        time.sleep(0.002)
    return proc, time.perf_counter()


def test_kill_9_during_build_keeps_the_previous_index(tmp_path):
    folder = tmp_path / "docs"
    make_big_folder(folder, DOCS)
    index_path = tmp_path / "idx.sqlite"
    build_index(folder, index_path)
    for i in range(DOCS):  # change every file so the next builds have real work
        (folder / f"doc{i:04d}.txt").write_text(f"Changed {i}. " * 30)
    proc, writing = start_full_build(folder, index_path)  # one whole build: how long its writing lasts
    assert proc.wait() == 0
    build_seconds = time.perf_counter() - writing
    rng = random.Random(1)
    interrupted = 0
    for share in [rng.uniform(0.05, 0.9) for _ in range(6)]:
        before = IndexFile(index_path)
        proc, writing = start_full_build(folder, index_path)
        time.sleep(max(0.0, writing + share * build_seconds - time.perf_counter()))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        current = IndexFile(index_path)  # complete and readable, whatever moment the kill hit
        assert current.generation in (before.generation, before.generation + 1)
        if current.generation == before.generation:  # the previous index, whole
            interrupted += 1
            assert current.meta["chunks"] == before.meta["chunks"]
            assert current.postings(["kax"]) or current.postings(["chang"])
    assert interrupted >= 2, "no kill landed during a build; the test did not test anything"
    summary = build_index(folder, index_path)
    assert not list(tmp_path.glob("idx.sqlite.tmp-*"))  # leftovers of killed builds are gone
    postings = [p.name for p in tmp_path.glob("idx.sqlite.postings-*")]
    assert postings == [IndexFile(index_path).meta["postings_file"]]  # and their postings files
    assert IndexFile(index_path).postings(["chang"]) and summary.documents == DOCS


def test_growing_array_keeps_what_was_appended_within_or_past_its_reserve():
    rng = np.random.default_rng(1)
    parts = [rng.integers(0, 1000, rng.integers(0, 700)).astype(np.int32) for _ in range(50)]
    want = np.concatenate(parts).tolist()
    for reserve in (0, 5000, len(want), 1 << 50):  # the last is more than a system gives: it grows as it fills
        grown = GrowingArray(np.int32, reserve=reserve)
        for part in parts:
            grown.extend(part)
        assert grown.array[: grown.size].tolist() == want


def test_the_index_is_the_same_whatever_room_the_build_reserved_for_its_counts(documents, tmp_path, monkeypatch):
    """A build reserves room for its term counts from the files' sizes; room far too small
    (the counts grow as they come) gives the very same postings and terms."""
    built = {}
    for bytes_per_posting in (build_module.BYTES_PER_POSTING, 10**9):
        monkeypatch.setattr(build_module, "BYTES_PER_POSTING", bytes_per_posting)
        index_path = tmp_path / f"index-{bytes_per_posting}.sqlite"
        summary = build_index(documents, index_path)
        postings = (index_path.parent / store.postings_file_of(index_path)).read_bytes()
        terms = sqlite3.connect(index_path).execute("select * from terms order by id").fetchall()
        built[bytes_per_posting] = postings, terms
    assert summary.chunks > 40 and len(built[10**9][0]) > 12 * 1024  # past the arrays' first 1,024 entries
    assert built[10**9] == built[build_module.BYTES_PER_POSTING]


def _in_page_cache(fd: int) -> bool:
    """Whether the file's first page is in memory: ``mincore`` on a mapping, which reads nothing."""
    import ctypes
    import mmap

    mapped = mmap.mmap(fd, 4096, access=mmap.ACCESS_COPY)  # writable for ctypes, never written
    try:
        start = ctypes.c_char.from_buffer(mapped)
        answer = ctypes.create_string_buffer(1)
        if ctypes.CDLL(None, use_errno=True).mincore(ctypes.c_void_p(ctypes.addressof(start)), 4096, answer):
            raise OSError(ctypes.get_errno(), "mincore failed")
        del start
        return bool(answer.raw[0] & 1)
    finally:
        mapped.close()


def test_a_batch_asks_for_its_files_before_reading_them(tmp_path):
    """``read_ahead`` starts the disk reads of files not in the page cache (a large folder's
    files, read once); a file that is gone or cannot be opened is left to be reported."""
    folder = tmp_path / "documents"
    folder.mkdir()
    paths = []
    for i in range(3):
        path = folder / f"doc{i}.txt"
        with open(path, "w") as handle:
            handle.write(f"Document {i} about lighthouses. " * 400)
            handle.flush()
            os.fsync(handle.fileno())  # clean pages can be dropped from the cache
        paths.append(path)
    entries = scan_documents(folder)
    fds = [os.open(path, os.O_RDONLY) for path in paths]
    try:
        for fd in fds:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        if any(_in_page_cache(fd) for fd in fds):
            pytest.skip("this file system keeps files in memory (tmpfs): nothing to read ahead")
        paths[2].unlink()  # gone after the listing: skipped here, reported by ingest_file
        ingest.read_ahead(entries)
        deadline = time.monotonic() + 10
        while not all(_in_page_cache(fd) for fd in fds[:2]) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert all(_in_page_cache(fd) for fd in fds[:2])
    finally:
        for fd in fds:
            os.close(fd)


def test_a_build_leaves_the_files_it_read_out_of_the_page_cache(tmp_path):
    """A build reads each file once: its pages are let go (a large folder would fill memory)."""
    folder = tmp_path / "documents"
    folder.mkdir()
    path = folder / "lighthouse.txt"
    with open(path, "w") as handle:
        handle.write("The lighthouse keeper lit the lamp at dusk. " * 400)
        handle.flush()
        os.fsync(handle.fileno())  # clean pages: the kernel may drop them
    fd = os.open(path, os.O_RDONLY)
    try:
        os.read(fd, 1 << 20)
        if not _in_page_cache(fd):
            pytest.skip("this file system does not keep file pages in a page cache")
        summary = build_index(folder, tmp_path / "index.sqlite")
        assert summary.added == 1 and summary.chunks > 1
        assert not _in_page_cache(fd)
    finally:
        os.close(fd)


def test_a_builds_workers_have_exited_before_it_computes_the_postings(documents, index_path, monkeypatch):
    """The workers' memory is free again for the build's largest step (write_terms)."""
    monkeypatch.setattr(ingest, "PARALLEL_MIN_FILES", 0)
    children_then = []
    write_terms = build_module.write_terms

    def observed(*args, **kwargs):
        children_then.append(len(multiprocessing.active_children()))
        return write_terms(*args, **kwargs)

    monkeypatch.setattr(build_module, "write_terms", observed)
    assert build_index(documents, index_path).added == 4
    unsupported = documents.parent / "unsupported"  # workers started, then no file to give them
    unsupported.mkdir()
    for i in range(3):
        (unsupported / f"notes{i}.docx").write_bytes(b"PK\x03\x04")
    assert build_index(unsupported, index_path.with_name("other.sqlite")).skipped == 3
    assert children_then == [0, 0]


def test_a_pipe_named_like_a_document_is_skipped_not_waited_on(documents, index_path):
    """Opening a pipe waits for a writer: a build that read one would never end."""
    os.mkfifo(documents / "notes.txt")
    summary = build_index(documents, index_path)
    assert summary.added == 4 and summary.skipped == 1
    docs = {d["path"]: d for d in IndexFile(index_path).documents()}
    assert docs["notes.txt"]["status"] == "skipped" and "not a regular file" in docs["notes.txt"]["error"]
