"""Extract the text of a PDF page by page, so citations can name the page."""

from __future__ import annotations

import io
import logging
import re

from index.errors import UnreadableDocument
from index.loaders import Block
from index.loaders import LoadedDocument
from index.loaders import clean_whitespace

PAGE_BREAK = "\n\n"
#: A word broken over two lines with a hyphen ("tempera-" / "ture"): a letter, the hyphen
#: and the line break, then a lowercase letter (``_join_broken_words`` checks the case).
_BROKEN_WORD = re.compile(r"(?<=[^\W\d_])-\n[ \t]*(?=[^\W\d_])")


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
        page_text = clean_whitespace(_join_broken_words(page_text))
        if not page_text.strip():
            continue
        if parts:
            parts.append(PAGE_BREAK)
            offset += len(PAGE_BREAK)
        parts.append(page_text)
        blocks.append(Block(offset, offset + len(page_text), f"Page {number}"))
        offset += len(page_text)
    return LoadedDocument("".join(parts), title[:300], "pdf", blocks)


def _join_broken_words(text: str) -> str:
    """Mend the words justified text breaks at line ends: "tempera-\nture" becomes "temperature".

    PDF text comes line by line as it was laid out, and a hyphenated half is no word a
    question would use, so the word could not be found. As PDF tools do when they
    dehyphenate, the hyphen goes when the next line goes on in lowercase; a compound
    broken at its own hyphen ("well-\nknown") then loses it too, the lesser harm.
    """
    if "-\n" not in text:
        return text
    return _BROKEN_WORD.sub(lambda m: "" if text[m.end()].islower() else m.group(), text)
