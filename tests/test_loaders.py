import re
from pathlib import Path

import hypothesis.strategies as st
import pytest
from hypothesis import given
from hypothesis import settings

from index.article import _COMMENT_ITEM
from index.article import _COMMENTS_START
from index.article import _comments_start
from index.article import _short_paragraphs
from index.chunking import chunk_document
from index.errors import UnreadableDocument
from index.loaders import clean_whitespace
from index.loaders import load
from index.loaders import read_file_stat
from tests.conftest import ARTICLE
from tests.conftest import DATA
from tests.conftest import PDF_PAGES
from tests.conftest import make_pdf


def load_file(path: Path):
    return load(path, path.read_bytes())


@pytest.mark.parametrize("data", [b"", b"one line\n", bytes(range(256)) * 4000])
def test_read_file_gives_the_whole_file(tmp_path, data):
    path = tmp_path / "f.txt"
    path.write_bytes(data)
    assert read_file_stat(path)[0] == data
    assert read_file_stat(str(path))[0] == data


def test_read_file_reads_past_a_size_that_is_wrong():
    # /proc files say they are empty and are not: the read must go on to the real end.
    path = Path("/proc/self/status")
    if not path.exists() or path.stat().st_size != 0:
        pytest.skip("needs Linux /proc")
    data = read_file_stat(path)[0]
    assert data.startswith(b"Name:") and data.endswith(b"\n") and len(data) > 200


def test_read_file_raises_os_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_file_stat(tmp_path / "missing.txt")
    with pytest.raises(IsADirectoryError):
        read_file_stat(tmp_path)


def test_article_title_sections_and_comments():
    doc = load_file(ARTICLE)
    assert doc.format == "txt"
    assert doc.title.startswith("RUSSIA AND THE NEW M. E.")
    labels = [b.label for b in doc.blocks]
    assert "Coalition against Iran and Turkey" in labels
    assert "Comment 7 (Alex Maistrovoy)" in labels
    assert "Comment 1 (reply to Sebastien Zorn)" in labels
    comment4 = next(b for b in doc.blocks if b.label == "Comment 4")
    assert "Eli Cohen" in doc.text[comment4.start : comment4.end]


def test_markdown_sections_follow_heading_path():
    doc = load_file(DATA / "guide.md")
    assert doc.title == "Gardening Guide"
    drainage = next(b for b in doc.blocks if b.label and b.label.endswith("Drainage"))
    assert drainage.label == "Gardening Guide › Soil › Drainage"
    assert "Raised beds" in doc.text[drainage.start : drainage.end]


@pytest.mark.parametrize(
    ("front", "title"),
    [
        ('---\ntitle: "Volcanoes of Italy"\ntags: [etna]\n---\n', "Volcanoes of Italy"),
        ("---\ntitle: Volcanoes of Italy\n...\n", "Volcanoes of Italy"),
        ("+++\ntitle = 'Volcanoes of Italy'\n+++\n", "Volcanoes of Italy"),
        ("---\nlayout: post\n---\n", "volcanoes"),  # no title: the file's name, as without front matter
    ],
)
def test_markdown_front_matter_names_the_document_and_is_no_section(tmp_path, front, title):
    path = tmp_path / "volcanoes.md"
    body = "\nMount Etna is the most active volcano in Europe.\n\n## Etna\n\nIt erupts often."
    path.write_text(front + body)
    doc = load_file(path)
    assert doc.text == front + body and doc.title == title
    assert doc.blocks[0].start == len(front)  # the fields are in no chunk
    assert [b.label for b in doc.blocks] == [None, "Etna"]


def test_markdown_opening_with_a_rule_is_no_front_matter(tmp_path):
    path = tmp_path / "etna.md"
    path.write_text("---\nEtna erupted in 2021 and again in 2023.\n---\n\nIt is in Sicily.")
    doc = load_file(path)
    assert doc.blocks[0].start == 0  # the underlined paragraph is a heading of the text, in its passages
    assert "Etna erupted in 2021 and again in 2023." in [b.label for b in doc.blocks]


def test_markdown_heading_names_the_document_before_front_matter(tmp_path):
    path = tmp_path / "notes.md"
    path.write_text("---\ntitle: Draft\n---\n# Volcanoes\n\nEtna erupts.\n")
    assert load_file(path).title == "Volcanoes"


def test_html_drops_script_style_and_navigation():
    doc = load_file(DATA / "lighthouse.html")
    assert doc.title == "The Lighthouse Keeper"
    for junk in ("secretscript", "secretstyle", "navigationlink", "footerboilerplate"):
        assert junk not in doc.text
    storm = next(b for b in doc.blocks if b.label and "Storm" in b.label)
    assert "four nights" in doc.text[storm.start : storm.end]


def test_pdf_keeps_page_numbers(tmp_path):
    path = tmp_path / "iceland.pdf"
    make_pdf(path, PDF_PAGES)
    doc = load_file(path)
    assert doc.title == "Iceland Facts"
    assert [b.label for b in doc.blocks] == ["Page 1", "Page 2"]
    assert "Vatnajokull" in doc.text[doc.blocks[1].start : doc.blocks[1].end]


def test_pdf_words_hyphenated_at_line_ends_are_joined(tmp_path):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    lines = ["The keeper noted the tempera-", "ture at nine. Storm-", "Watch began in 1887, a well-", "known year."]
    for line in lines:
        pdf.cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
    path = tmp_path / "log.pdf"
    pdf.output(str(path))
    text = load_file(path).text
    # A lowercase continuation is the rest of the word; a capital starts another one.
    assert "the temperature at nine. Storm-\nWatch began in 1887, a wellknown year." in text


def test_legacy_encoding_falls_back(tmp_path):
    path = tmp_path / "old.txt"
    path.write_bytes("Café crème at the Hôtel de Ville, served in the garden every morning.".encode("cp1252"))
    assert "Café crème" in load_file(path).text


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"])
@pytest.mark.parametrize(
    ("name", "source", "expected"),
    [
        ("notes.txt", "Kraków’s Wawel castle\r\n\r\nThe castle overlooks the Vistula.", "overlooks the Vistula."),
        ("notes.md", "# Wawel\n\nThe castle overlooks the Vistula.", "overlooks the Vistula."),
        ("notes.html", "<h1>Wawel</h1><p>The castle overlooks the Vistula.</p>", "overlooks the Vistula."),
    ],
)
def test_utf16_and_utf32_with_a_byte_order_mark_are_text(tmp_path, encoding, name, source, expected):
    # Windows' "Unicode" text: a NUL byte in nearly every character, which alone reads as binary.
    bom = {"le": b"\xff\xfe", "be": b"\xfe\xff"}
    wide = encoding[:6]
    data = source.encode(encoding)  # "utf-16" and "utf-32" write their own mark
    if encoding.endswith(("-le", "-be")):
        data = (bom[encoding[-2:]] if wide == "utf-16" else _utf32_bom(encoding[-2:])) + data
    path = tmp_path / name
    path.write_bytes(data)
    doc = load_file(path)
    assert doc.text.endswith(expected) and "\x00" not in doc.text and "\ufeff" not in doc.text
    assert doc.title == ("Kraków’s Wawel castle" if name.endswith(".txt") else "Wawel")


def _utf32_bom(order: str) -> bytes:
    return b"\xff\xfe\x00\x00" if order == "le" else b"\x00\x00\xfe\xff"


def test_html_table_rows_read_as_one_line_each(tmp_path):
    path = tmp_path / "bees.html"
    path.write_text(
        "<h1>Bees</h1><table><tr><th>Caste</th><th>Work</th></tr>"
        "<tr><td>Queen</td><td> lays <b>eggs</b> </td><td></td></tr>"
        "<tr><td><p>Drone</p></td><td>mates</td></tr></table><p>Bees dance.</p>"
    )
    lines = load_file(path).text.split("\n\n")
    assert lines == ["Bees", "Caste | Work", "Queen | lays eggs", "Drone", "mates", "Bees dance."]


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.txt", b"   \n", "empty"),
        ("binary.txt", b"\x00\x01\x02binary\x00" * 20, "binary"),
        ("half.txt", b"\xff\xfeW\x00o\x00r\x00d", "not valid UTF-16"),  # an odd byte left over
        ("surrogate.txt", b"\xff\xfe\x00\xdcW\x00", "not valid UTF-16"),  # a lone low surrogate
        ("wide-binary.txt", b"\xff\xfe" + b"\x01\x00\x02\x00Z\x00\x00\x00" * 40, "binary"),  # SOH, STX, Z, NUL
        ("controls.txt", b"\x01\x02\x1b\x0b word " * 40, "many control characters"),
        ("broken.pdf", b"%PDF-1.4 this is not really a pdf", "PDF"),
        ("random.pdf", bytes(range(256)) * 8, "PDF"),
    ],
)
def test_broken_files_raise_a_reason(tmp_path, name, data, reason):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(UnreadableDocument, match=reason):
        load_file(path)


def test_a_few_control_characters_are_kept(tmp_path):
    path = tmp_path / "form.txt"
    path.write_bytes(b"Page one of the form.\x0cPage two\x1b[0m lists every field.\n" * 3)
    assert "\x1b[0m lists" in load_file(path).text


@pytest.mark.parametrize("name", [ARTICLE.name, "guide.md", "lighthouse.html", "iceland.pdf"])
def test_chunk_offsets_are_exact_for_every_format(documents, name):
    doc = load_file(documents / name)
    chunks = chunk_document(doc.text, doc.blocks, chunk_words=40, overlap=1)
    assert chunks
    for chunk in chunks:
        piece = doc.text[chunk.start : chunk.end]
        assert piece == piece.strip() and piece
        block = next(b for b in doc.blocks if b.start <= chunk.start < b.end)
        assert chunk.end <= block.end and chunk.section == block.label


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(["\n", "\n\n", "Heading", "ab", "x" * 88, " ", "."]), max_size=30))
def test_short_paragraphs_are_the_matches_of_the_plain_pattern(parts):
    """The heading finder scans for blank lines instead of trying a start-or-blank-line branch
    at every character; it must find exactly what the plain pattern finds."""
    text = "".join(parts)
    plain = [(m.start(1), m.group(1)) for m in re.finditer(r"(?:^|\n\n)([^\n]{3,90})(?=\n\n|\Z)", text)]
    assert [(m.start(1), m.group(1)) for m in _short_paragraphs(text)] == plain


_THREAD_PARTS = [
    "\n",
    "\n\n",
    " ",
    "\t",
    "12 ",
    "3 Comments",
    "comments",
    "RESPONSE",
    "Replies",
    "Leave a reply",
    "1. ",
    "2. ",
    "  1. Ann",
    "x",
    "Comment",
    "ſ",
    "\u212a",
]


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(_THREAD_PARTS), max_size=25))
def test_comment_thread_start_is_the_plain_patterns(parts):
    """The search for a possible heading line only skips work: the thread starts where the plain search says."""
    text = "".join(parts)
    plain = next(
        (m.start() for m in _COMMENTS_START.finditer(text) if _COMMENT_ITEM.search(text, m.end())),
        None,
    )
    assert _comments_start(text) == plain


_BLANK_PARTS = ["\n", "\r\n", "\r", " ", "  ", "\t", "\u00a0", "\u2003", "\u200b", "\u3000", "ab", "."]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_BLANK_PARTS)))
def test_clean_whitespace_is_the_two_plain_substitutions(parts):
    """The searches before each pattern only skip work: the result is the patterns' own."""
    text = "".join(parts)
    unified = text.replace("\r\n", "\n").replace("\r", "\n")
    spaced = re.sub(r"[ \t\u00a0\u2000-\u200b\u202f\u3000]{2,}", " ", unified)
    expected = re.sub(r"\n[ \t]*\n(?:[ \t]*\n)+", "\n\n", spaced).strip("\n")
    assert clean_whitespace(text) == expected
