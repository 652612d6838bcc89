"""docqa's index: ingest documents, chunk, tokenize, score with BM25, store in SQLite.

This package never imports Flask; the CLI and the web service are adapters over it.
"""

from index.analysis import Analyzer
from index.build import build_index
from index.errors import DocqaError
from index.retrieval import Hit
from index.retrieval import search
from index.settings import BuildSettings
from index.store import IndexFile
from index.summary import BuildSummary

__all__ = ["Analyzer", "BuildSettings", "BuildSummary", "DocqaError", "Hit", "IndexFile", "build_index", "search"]
