"""Read one file of any supported format into plain text plus its structure.

Every loader returns a ``LoadedDocument`` whose ``blocks`` cover the text with the
section labels a citation can name (heading path, PDF page, reader comment), so the
chunker never needs to know which format a document came from.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import re
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

from index.errors import UnreadableDocument

#: The loaders' version, part of an index's tokenization key: raised whenever the same
#: bytes give another text or other passages (or a file refused before now loads), so that
#: the next build re-reads every file instead of keeping what older code made of the
#: unchanged ones. 2: UTF-16 and UTF-32 text read by its byte order mark; an HTML table row
#: is one line; a PDF's words hyphenated at line ends joined; Markdown front matter in no
#: section; a line starting with "|" (a table row) a paragraph of its own (``chunking.PARAGRAPH``).
LOADERS_VERSION = 2
SUPPORTED_SUFFIXES = {".txt": "txt", ".md": "md", ".markdown": "md", ".html": "html", ".htm": "html", ".pdf": "pdf"}
MAX_FILE_BYTES = 200 * 1024 * 1024


@dataclass(frozen=True)
class Block:
    """A span of a document's text under one section label (None: no label)."""

    start: int
    end: int
    label: str | None


@dataclass
class LoadedDocument:
    """A document as the index sees it: display text, title, format and sections."""

    text: str
    title: str
    format: str
    blocks: list[Block] = field(default_factory=list)


def suffix_of(name: str) -> str:
    """``PurePath(name).suffix`` of a file name, without making a path (a build asks it of every file)."""
    dot = name.rfind(".")
    return name[dot:] if 0 < dot < len(name) - 1 else ""


def format_of(path: str | os.PathLike[str]) -> str | None:
    """Return the format name for *path*'s suffix, or None when docqa does not read it."""
    return SUPPORTED_SUFFIXES.get(suffix_of(os.path.basename(path)).lower())


def read_file_stat(path: str | Path, *, uncache: bool = False) -> tuple[bytes, os.stat_result]:
    """The bytes of the file at *path*, read with one ``open`` and (nearly always) one ``read``,
    and the stat of the file as it was opened (which the read needs anyway, for the size).

    ``Path.read_bytes`` builds a buffered file object around the descriptor, which costs
    a small file several times its read: a build reads hundreds of thousands of them.

    :param uncache: let the kernel drop the file's pages from its cache once read (a
        build reads each file once). A large folder would otherwise fill memory with
        pages nothing reads again, and freed at once they are the first the kernel gives
        to the index being written. On the virtual machine the benchmarks run on, where
        memory left free for seconds goes back to the host and costs about 15 s a
        gigabyte to touch again, that took 15-33 CPU-seconds off a 1.3M-chunk build's
        process (bench/results/build.md).
    :raises OSError: the file cannot be opened or read
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        stat = os.fstat(fd)
        size = stat.st_size
        data = os.read(fd, size + 1)
        if len(data) != size:  # it grew or shrank since fstat, or a read returns less (over 2 GB)
            parts = [data]
            while block := os.read(fd, 1 << 20):
                parts.append(block)
            data = b"".join(parts)
        if uncache and hasattr(os, "posix_fadvise"):
            with contextlib.suppress(OSError):
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        return data, stat
    finally:
        os.close(fd)


def load(path: str | os.PathLike[str], data: bytes) -> LoadedDocument:
    """Parse *data* (the bytes of *path*) according to the file's suffix.

    :raises UnreadableDocument: empty, binary, undecodable or unparsable input.
    """
    name = os.path.basename(path)
    suffix = suffix_of(name)
    fmt = SUPPORTED_SUFFIXES.get(suffix.lower())
    if fmt is None:
        raise UnreadableDocument(f"unsupported file type {suffix!r}")
    if len(data) > MAX_FILE_BYTES:
        raise UnreadableDocument(f"file is larger than {MAX_FILE_BYTES // 2**20} MiB; split it")
    if not data.strip():
        raise UnreadableDocument("file is empty")
    if fmt == "pdf":
        from index.pdf import load_pdf

        doc = load_pdf(data)
    elif fmt == "html":
        from index.html import load_html

        doc = load_html(data)
    else:
        text = clean_whitespace(decode_text(data))
        if fmt == "md":
            doc = load_markdown(text)
        else:
            from index.article import load_plain_text

            doc = load_plain_text(text)
    if not doc.text.strip():
        raise UnreadableDocument("no text could be extracted (a scanned PDF or an empty page?)")
    if fmt in ("pdf", "html"):
        # Lone surrogates (from odd PDFs, character references) cannot be stored as UTF-8;
        # "?" keeps every offset. decode_text gives none.
        doc.text = without_surrogates(doc.text)
    if not doc.title:
        stem = name[: len(name) - len(suffix)]
        doc.title = stem.replace("_", " ").replace("-", " ").strip() or name
    if not doc.blocks:
        doc.blocks = [Block(0, len(doc.text), None)]
    return doc


def decode_text(data: bytes) -> str:
    """Decode text bytes: UTF-8 first, then the legacy encoding charset-normalizer finds.

    Text saved as UTF-16 or UTF-32 (Windows' "Unicode" and "Unicode big endian") starts
    with a byte order mark and holds a NUL byte in nearly every character: it is
    decoded by its mark before anything takes those NULs for a binary file.

    :raises UnreadableDocument: the bytes are binary or no encoding fits.
    """
    wide = unicode_with_bom(data)
    if wide is not None:
        text = wide
    elif b"\x00" in data[:65536]:
        raise UnreadableDocument("looks like a binary file (it has NUL bytes); convert it to text")
    else:
        try:
            text = data.decode("utf-8-sig")
            if not _has_control_bytes(data):
                return text  # in UTF-8 a control character is its one byte: none to count
        except UnicodeDecodeError:
            from charset_normalizer import from_bytes

            best = from_bytes(data).best()
            if best is None:
                raise UnreadableDocument("not valid UTF-8 and no legacy encoding fits; save it as UTF-8") from None
            text = without_surrogates(str(best))  # a legacy decoder (UTF-7) can give lone surrogates
    sample = text[:65536]
    control = len(_CONTROL.findall(sample))
    if sample and control / len(sample) > 0.05:
        raise UnreadableDocument("looks like a binary file (many control characters)")
    return text


#: Byte order marks of the wide Unicode encodings, UTF-32's first: its little-endian
#: mark begins with UTF-16's.
_WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def unicode_with_bom(data: bytes) -> str | None:
    """*data* decoded as the UTF-16 or UTF-32 its byte order mark names (without the mark),
    or None when it starts with no such mark.

    :raises UnreadableDocument: the mark is there but the bytes after it do not decode.
    """
    for bom, encoding in _WIDE_BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(encoding)  # strict: no lone surrogate gets through
            except UnicodeDecodeError as exc:
                name = encoding[:6].upper()
                raise UnreadableDocument(
                    f"starts as {name} text but is not valid {name} ({exc.reason}); save it as UTF-8"
                ) from None
    return None


def without_surrogates(text: str) -> str:
    """*text* with each lone surrogate (which UTF-8 cannot store) replaced by "?", offsets kept."""
    return text.encode("utf-8", "replace").decode("utf-8")


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f]")
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x20)])


def _has_control_bytes(data: bytes) -> bool:
    """Whether *data* holds a byte of ``_CONTROL``: deleting them is a table lookup per byte,
    several times cheaper than the pattern's search, and most files have none."""
    return len(data.translate(None, _CONTROL_BYTES)) != len(data)


_BLANKS = " \t\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u200b\u202f\u3000"
_SPACES = re.compile(f"[{_BLANKS}]{{2,}}")
_MANY_NEWLINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")


def clean_whitespace(text: str) -> str:
    """Unify line endings and fold runs of blanks, keeping paragraph breaks.

    Most texts hold nothing for these patterns to change, and a pattern of a set of
    characters tests each character slowly: a plain search for what a match needs
    comes first (a run of blanks needs two spaces or a blank other than the space,
    and all but the tab are outside ASCII, which ``isascii`` knows without a scan).
    The line-break pattern starts with a literal, so its own search is the fast one
    (a fourth of three searches for "\n\n\n", "\n " and "\n\t").
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    wide_blanks = _BLANKS[2:]  # all but the space and the tab
    if "  " in text or "\t" in text or (not text.isascii() and any(blank in text for blank in wide_blanks)):
        text = _SPACES.sub(" ", text)
    if _MANY_NEWLINES.search(text):
        text = _MANY_NEWLINES.sub("\n\n", text)
    return text.strip("\n")


def load_markdown(text: str) -> LoadedDocument:
    """Keep Markdown source as the display text; sections follow its headings.

    A front matter block (Jekyll's and Hugo's ``---`` YAML or ``+++`` TOML before the
    text) stays in the display text but out of the sections: its fields are no prose
    to quote, and Markdown would read its closing ``---`` as the underline of a heading
    made of those fields. Its ``title`` names the document when no level-1 heading does.
    """
    from markdown_it import MarkdownIt

    front = _FRONT_MATTER.match(text)
    body_start = front.end() if front else 0
    body = text[body_start:]
    line_starts = [body_start] + [body_start + m.end() for m in re.finditer("\n", body)]
    tokens = MarkdownIt().parse(body)
    headings: list[tuple[int, int, str]] = []  # (offset, level, title)
    for i, tok in enumerate(tokens):
        if tok.type == "heading_open" and tok.map:
            level = int(tok.tag[1])
            title = tokens[i + 1].content.strip() if i + 1 < len(tokens) else ""
            headings.append((line_starts[tok.map[0]], level, title))
    title = next((h[2] for h in headings if h[1] == 1), "")
    if not title and front:
        found = _FRONT_MATTER_TITLE.search(front.group())
        title = found.group(1).strip().strip("\"'").strip() if found else ""
    return LoadedDocument(text, title, "md", blocks_from_headings(text, headings, body_start))


#: A front matter block: ``---`` then YAML up to ``---`` or ``...``, or ``+++`` then TOML
#: up to ``+++``, each delimiter on a line of its own at the very start of the file, and
#: its first line a field (``name:`` or ``name =``): a file that opens with a rule and a
#: paragraph underlined by another is prose, not fields.
_FRONT_MATTER = re.compile(
    r"\A(?:---[ \t]*\n(?=[ \t]*[A-Za-z_][\w-]*[ \t]*:).*?\n(?:---|\.\.\.)"
    r"|\+\+\+[ \t]*\n(?=[ \t]*[A-Za-z_][\w.-]*[ \t]*=).*?\n\+\+\+)[ \t]*(?:\n|\Z)",
    re.S,
)
_FRONT_MATTER_TITLE = re.compile(r"^title[ \t]*[:=][ \t]*(.+?)[ \t]*$", re.M)


def blocks_from_headings(text: str, headings: list[tuple[int, int, str]], start: int = 0) -> list[Block]:
    """Cut *text* from *start* at each heading offset, labelling each piece with its heading path."""
    blocks: list[Block] = []
    path: list[tuple[int, str]] = []
    offset, label = start, None
    for at, level, heading in headings:
        if at > offset:
            blocks.append(Block(offset, at, label))
        path = [p for p in path if p[0] < level] + [(level, heading)]
        offset, label = at, " › ".join(h for _, h in path if h) or None
    if offset < len(text):
        blocks.append(Block(offset, len(text), label))
    return blocks
