from index.chunking import chunk_document
from index.chunking import is_boilerplate
from index.chunking import sentence_spans
from index.loaders import Block


def test_sentences_are_stripped_spans_and_paragraphs_end_sentences():
    text = "First sentence here. Second one, by Dr. Smith.\n\nA heading without a stop\n\nLast."
    spans = sentence_spans(text)
    assert [text[s:e] for s, e in spans] == [
        "First sentence here.",
        "Second one, by Dr. Smith.",
        "A heading without a stop",
        "Last.",
    ]


def test_windows_respect_size_and_never_cut_sentences():
    sentences = [f"Sentence number {i} has exactly seven words." for i in range(30)]
    text = " ".join(sentences)
    chunks = chunk_document(text, [Block(0, len(text), None)], chunk_words=30, overlap=1)
    assert len(chunks) > 5
    for chunk in chunks:
        piece = text[chunk.start : chunk.end]
        assert piece.startswith("Sentence number") and piece.endswith("words.")
        assert len(piece.split()) <= 30 + 7
    # consecutive windows share one sentence
    first, second = chunks[0], chunks[1]
    assert second.start < first.end


def test_no_overlap_means_disjoint_windows():
    text = " ".join(f"Sentence {i} is short." for i in range(20))
    chunks = chunk_document(text, [Block(0, len(text), None)], chunk_words=12, overlap=0)
    assert all(a.end < b.start for a, b in zip(chunks, chunks[1:], strict=False))


def test_an_overlong_sentence_is_cut_at_words():
    text = " ".join(["word"] * 1000)
    chunks = chunk_document(text, [Block(0, len(text), None)], chunk_words=100, overlap=0)
    assert len(chunks) == 10
    assert all(text[c.start : c.end].split() == ["word"] * 100 for c in chunks)


def test_boilerplate_is_not_chunked_but_stays_in_text():
    text = "Real content sentence one.\n\nSubscribe to Israpundit Daily Digest for Free\n\nReal content two."
    chunks = chunk_document(text, [Block(0, len(text), None)], chunk_words=100, overlap=0)
    assert is_boilerplate("Subscribe to Israpundit Daily Digest for Free")
    assert [text[c.start : c.end] for c in chunks] == ["Real content sentence one.", "Real content two."]


def test_table_rows_are_sentences_of_their_own():
    text = "Castes\n| Caste | Work |\n|---|---|\n  | Queen | lays eggs |\nA line after.\nMore of it."
    assert [text[s.start : s.end] for s in sentence_spans(text)] == [
        "Castes",
        "| Caste | Work |",
        "| Queen | lays eggs |",
        "A line after.",
        "More of it.",
    ]
