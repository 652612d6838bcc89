"""Extract the text of a PDF page by page, so citations can name the page."""

from __future__ import annotations

import io
import logging

from index.errors import UnreadableDocument
from index.loaders import Block
from index.loaders import LoadedDocument
from index.loaders import clean_whitespace

PAGE_BREAK = "\n\n"


def load_pdf(data: bytes) -> LoadedDocument:
    """Read every page's text with pypdf; one block per page labelled "Page N".

    :raises UnreadableDocument: not a PDF, encrypted, or damaged beyond reading.
    """
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # damaged files warn per object
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnreadableDocument("the PDF is encrypted; save an unprotected copy")
        pages = [page.extract_text() or "" for page in reader.pages]
        title = ""
        if reader.metadata and reader.metadata.title:
            title = str(reader.metadata.title).strip()
    except UnreadableDocument:
        raise
    except (
        PdfReadError,
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        AttributeError,
        AssertionError,
        OSError,
        RecursionError,
        ZeroDivisionError,
    ) as exc:
        raise UnreadableDocument(f"damaged or not a PDF ({type(exc).__name__}: {exc})") from exc
    parts: list[str] = []
    blocks: list[Block] = []
    offset = 0
    for number, page_text in enumerate(pages, start=1):
        page_text = clean_whitespace(page_text)
        if not page_text.strip():
            continue
        if parts:
            parts.append(PAGE_BREAK)
            offset += len(PAGE_BREAK)
        parts.append(page_text)
        blocks.append(Block(offset, offset + len(page_text), f"Page {number}"))
        offset += len(page_text)
    return LoadedDocument("".join(parts), title[:300], "pdf", blocks)
