"""Find the structure of a plain-text article: title, headings, and reader comments.

Web articles saved as text (like the one shipped in documents/) put a comment thread
after a "N Comments" line, each comment numbered "1.", "2.", ...; a citation that
says "Comment 7 (Alex Maistrovoy)" is far more useful than one that says "line 175".
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from index.chunking import is_boilerplate
from index.loaders import Block
from index.loaders import LoadedDocument
from index.loaders import blocks_from_headings

_COMMENTS_START = re.compile(
    r"^\s*(?:\d+\s+(?:Comments?|Responses?|Replies)\b.*|Leave a Reply|Comments)\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_COMMENT_ITEM = re.compile(r"^ {0,4}(\d{1,4})\.\s+", re.MULTILINE)
_REPLY_TO = re.compile(r"^@\s*([^:\n]{2,60}):")
_NAME = re.compile(r"^[A-Z][\w.'’-]*(?: [A-Z][\w.'’-]*){0,3}$")


def load_plain_text(text: str) -> LoadedDocument:
    """Split plain text into body sections (by heading lines) and reader comments."""
    first_line = text.lstrip().split("\n", 1)[0].strip()
    title = first_line if 0 < len(first_line) <= 200 else ""
    comments_at = _comments_start(text)
    body_end = comments_at if comments_at is not None else len(text)
    headings = [(start, 2, heading) for start, heading in _body_headings(text, body_end, title)]
    blocks = blocks_from_headings(text[:body_end], headings)
    if comments_at is not None:
        blocks.extend(_comment_blocks(text, comments_at))
    return LoadedDocument(text, title, "txt", blocks)


# What a comment heading needs at a line start, without its line's end: ``_COMMENTS_START``
# tries every character (its ``^`` holds after any line break), these only every line
# break (a literal to scan for) and the text's start.
_HEADING_WORDS = r"\s*(?:\d+\s+(?:Comments?|Responses?|Replies)\b|Leave a Reply|Comments)"
_HEADING_AFTER_BREAK = re.compile(r"\n" + _HEADING_WORDS, re.IGNORECASE)
_HEADING_FIRST = re.compile(_HEADING_WORDS, re.IGNORECASE)


def _comments_start(text: str) -> int | None:
    """Return where the comment thread begins, if the text has one with numbered items.

    Runs for every plain-text file of a build, and few have a comment thread: a
    cheaper search for a line that could start one comes first (every match of
    ``_COMMENTS_START`` also matches it, so nothing is missed).
    """
    if not _HEADING_AFTER_BREAK.search(text) and not _HEADING_FIRST.match(text):
        return None
    for match in _COMMENTS_START.finditer(text):
        if _COMMENT_ITEM.search(text, match.end()):
            return match.start()
    return None


def _body_headings(text: str, end: int, title: str) -> list[tuple[int, str]]:
    """Short stand-alone lines without closing punctuation read as headings."""
    headings = []
    for match in _short_paragraphs(text[:end]):
        line = match.group(1).strip()
        words = line.split()
        if (
            line == title
            or len(words) > 14
            or is_boilerplate(line)
            or line.startswith("By ")
            or line[-1] in '.!?:;,”"’)]'
            or not line[0].isupper()
            or re.search(r"\d{4}$", line)
        ):
            continue
        headings.append((match.start(1), line))
    return headings


# A short paragraph: 3 to 90 characters between blank lines. The search starts from the
# literal "\n\n" (found by a fast scan) rather than trying a "^|\n\n" branch at every
# character; the text's first line is matched on its own. The run of characters is
# possessive ("+"): giving some back could only end it before another character that
# is not a line break, where the lookahead fails anyway, and trying each shorter run
# of a long paragraph was three quarters of the search.
_PARAGRAPH_AFTER_BLANK = re.compile(r"\n\n([^\n]{3,90}+)(?=\n\n|\Z)")
_FIRST_PARAGRAPH = re.compile(r"([^\n]{3,90}+)(?=\n\n|\Z)")


def _short_paragraphs(text: str) -> Iterator[re.Match[str]]:
    r"""The matches of ``(?:^|\n\n)([^\n]{3,90})(?=\n\n|\Z)`` in *text*, group 1 the paragraph."""
    first = _FIRST_PARAGRAPH.match(text)
    if first:
        yield first
    yield from _PARAGRAPH_AFTER_BLANK.finditer(text)


def _comment_blocks(text: str, start: int) -> list[Block]:
    """One block per numbered comment, labelled with its number and author when known."""
    items = list(_COMMENT_ITEM.finditer(text, start))
    # A comment's own numbered list is indented deeper; keep the shallowest numbering
    # that counts up 1, 2, 3 ... as the thread.
    thread = []
    expected = 1
    for item in items:
        if int(item.group(1)) == expected:
            thread.append(item)
            expected += 1
    if not thread:
        return [Block(start, len(text), "Comments")]
    blocks = [Block(start, thread[0].start(), "Comments")]
    for i, item in enumerate(thread):
        end = thread[i + 1].start() if i + 1 < len(thread) else len(text)
        blocks.append(Block(item.start(), end, _comment_label(int(item.group(1)), text[item.end() : end])))
    return blocks


def _comment_label(number: int, body: str) -> str:
    """Name a comment by number, with its author or the commenter it replies to."""
    first = body.strip().split("\n", 1)[0].strip()
    reply = _REPLY_TO.match(first)
    if reply:
        return f"Comment {number} (reply to {reply.group(1).strip()})"
    if _NAME.match(first) and len(first.split()) <= 4:
        return f"Comment {number} ({first})"
    return f"Comment {number}"
