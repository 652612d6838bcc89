"""Extract readable text and a heading outline from HTML with a real parser.

Scripts, styles, navigation and forms are dropped; block elements become paragraph
breaks so sentences and citations line up with what a reader saw on the page.
"""

from __future__ import annotations

import re

from bs4 import BeautifulSoup
from bs4.element import Comment
from bs4.element import NavigableString
from bs4.element import Tag

from index.errors import UnreadableDocument
from index.loaders import LoadedDocument
from index.loaders import blocks_from_headings
from index.loaders import unicode_with_bom

DROPPED = {
    "script",
    "style",
    "noscript",
    "template",
    "nav",
    "aside",
    "footer",
    "form",
    "iframe",
    "svg",
    "canvas",
    "button",
    "select",
    "object",
    "embed",
    "head",
}
BLOCKS = {
    "p",
    "div",
    "section",
    "article",
    "main",
    "header",
    "li",
    "ul",
    "ol",
    "dl",
    "dt",
    "dd",
    "table",
    "tr",
    "blockquote",
    "pre",
    "figure",
    "figcaption",
    "br",
    "hr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "address",
    "details",
    "summary",
}
#: Table cells: a row is one line, its cells joined by " | ", so that a row reads (and is
#: quoted in an answer) as the statement it makes ("Queen | lays eggs"), not as one
#: paragraph per cell.
CELLS = {"td", "th"}
HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_BLANKS = re.compile(r"\s+")


class _TextBuilder:
    """Accumulate text with paragraph breaks, recording where each heading starts."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.headings: list[tuple[int, int, str]] = []
        self._cell_pending = False  # a table cell began since the row's last text

    def add(self, text: str) -> None:
        text = _BLANKS.sub(" ", text)
        if not text.strip():
            if self.parts and not self.parts[-1].endswith((" ", "\n")):
                self._append(" ")
            return
        if self._cell_pending:  # only between cells with text: no separator for an empty one
            self._cell_pending = False
            self._append("| " if self.parts[-1].endswith(" ") else " | ")
        if not self.parts or self.parts[-1].endswith(("\n", " ")):
            text = text.lstrip()
        self._append(text)

    def paragraph_break(self) -> None:
        self._cell_pending = False
        if not self.parts:
            return
        while self.parts and self.parts[-1].endswith(" "):
            last = self.parts.pop()
            self.length -= len(last)
            if last.rstrip():
                self._append(last.rstrip())
        if self.parts and not self.parts[-1].endswith("\n\n"):
            self._append("\n\n" if not self.parts[-1].endswith("\n") else "\n")

    def cell_break(self) -> None:
        """Separate a table cell's text from the text before it on its row, if both have some."""
        if self.parts and not self.parts[-1].endswith("\n"):
            self._cell_pending = True

    def _append(self, text: str) -> None:
        self.parts.append(text)
        self.length += len(text)

    def text(self) -> str:
        return "".join(self.parts)


def _walk(node: Tag, out: _TextBuilder) -> None:
    for child in node.children:
        if isinstance(child, Comment):
            continue
        if isinstance(child, NavigableString):
            out.add(str(child))
            continue
        if not isinstance(child, Tag):
            continue
        name = child.name.lower() if child.name else ""
        if name in DROPPED or child.get("hidden") is not None or child.get("aria-hidden") == "true":
            continue
        if name in BLOCKS:
            out.paragraph_break()
        elif name in CELLS:
            out.cell_break()
        if name in HEADINGS:
            heading = _BLANKS.sub(" ", child.get_text(" ")).strip()
            out.headings.append((out.length, HEADINGS[name], heading))
        _walk(child, out)
        if name in BLOCKS:
            out.paragraph_break()


def load_html(data: bytes) -> LoadedDocument:
    """Parse HTML bytes (any declared encoding) into a LoadedDocument.

    :raises UnreadableDocument: the bytes are not HTML-like text.
    """
    wide = unicode_with_bom(data)  # UTF-16 or UTF-32: NUL bytes that are text
    if wide is None and b"\x00" in data[:4096]:
        raise UnreadableDocument("looks like a binary file (it has NUL bytes), not HTML")
    try:
        soup = BeautifulSoup(data if wide is None else wide, "lxml")
    except Exception as exc:  # lxml raises several unrelated types on garbage
        raise UnreadableDocument(f"HTML could not be parsed: {exc}") from exc
    title_tag = soup.find("title")
    title = _BLANKS.sub(" ", title_tag.get_text()).strip() if title_tag else ""
    body = soup.body or soup
    out = _TextBuilder()
    _walk(body, out)
    text = out.text().rstrip()
    if not title:
        title = next((h[2] for h in out.headings if h[1] == 1 and h[2]), "")
    headings = [h for h in out.headings if h[0] < len(text)]
    return LoadedDocument(text, title[:300], "html", blocks_from_headings(text, headings))
