from __future__ import annotations

from collections.abc import Sequence

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa.ingest.chunking import ChunkSettings, chunk_text, word_counter
from qa.text import label_runs, split_sentences

ALPHABET = st.characters(
    codec="utf-8", categories=("L", "M", "N", "P", "S", "Z", "Cc"), exclude_characters="\x00"
)
TEXTS = st.text(alphabet=ALPHABET, max_size=1500) | st.lists(
    st.sampled_from(
        [
            "Hello world.",
            "Dr. Who?",
            " ",
            "\n\n",
            "\t",
            "U.S.-led",
            "x" * 90,
            "Zenkevičius",
            "“Quoted.”",
            "émoji 🚀.",
            "days.15 men",
            "a\u00a0b",
            "\r\n",
            "\n",
            "\nCons\ni32\nBox\n",  # a figure's labels
            "\nStoring Data on the Heap\n",  # a heading with no blank line after it
            "\nListing 5-1: A User struct\n",
            "\n## Heading\n",
        ]
    ),
    max_size=120,
).map("".join)


def char_counter(texts: list[str]) -> list[int]:
    """A crude counter that makes long words overflow, to exercise character splits."""
    return [max(1, len(t) // 4) for t in texts]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXTS, size=st.integers(8, 60), overlap=st.integers(0, 7))
def test_every_chunk_slices_back_exactly_and_covers_the_text(
    text: str, size: int, overlap: int
) -> None:
    for counter in (word_counter, char_counter):
        chunks = chunk_text("d", text, count=counter, settings=ChunkSettings(size, overlap))
        covered = [False] * len(text)
        for c in chunks:
            assert text[c.start : c.end] == c.text
            assert c.text and not c.text[0].isspace() and not c.text[-1].isspace()
            assert counter([c.text])[0] <= size, "a chunk would be truncated by the model"
            for i in range(c.start, c.end):
                covered[i] = True
        for run in label_runs(text):  # a figure's labels are in no chunk, and only they
            assert not any(covered[run.start : run.end])
            covered[run.start : run.end] = [True] * (run.end - run.start)
        missing = [i for i, ch in enumerate(text) if not ch.isspace() and not covered[i]]
        assert missing == [], f"characters outside every chunk: {missing[:5]}"
        starts = [c.start for c in chunks]
        assert starts == sorted(starts) and len(set(starts)) == len(starts)


@given(text=TEXTS)
def test_sentences_are_trimmed_ordered_spans(text: str) -> None:
    spans = split_sentences(text)
    for a, b in zip(spans, spans[1:], strict=False):
        assert a.end <= b.start
    for s in spans:
        piece = text[s.start : s.end]
        assert piece == piece.strip() and piece


def test_sentence_rules_on_news_text() -> None:
    text = (
        "The Staff is in touch with the troops.Minister Karoblis will comment at 1245 today. "
        "Training was halted for a few days.15 soldiers serve with the U.S. Army in Iraq. "
        "Dr. Smith agreed.\n\nA new paragraph"
    )
    got = [text[s.start : s.end] for s in split_sentences(text)]
    assert got == [
        "The Staff is in touch with the troops.",
        "Minister Karoblis will comment at 1245 today.",
        "Training was halted for a few days.",
        "15 soldiers serve with the U.S. Army in Iraq.",
        "Dr. Smith agreed.",
        "A new paragraph",
    ]


def test_decimals_and_urls_do_not_split() -> None:
    text = "Growth was 3.5 percent, see example.com for more."
    assert [text[s.start : s.end] for s in split_sentences(text)] == [text]


def test_overlap_repeats_whole_sentences() -> None:
    sentences = [f"Sentence number {i} is here." for i in range(12)]
    text = " ".join(sentences)
    chunks = chunk_text("d", text, count=word_counter, settings=ChunkSettings(20, 7))
    assert len(chunks) > 2
    for prev, nxt in zip(chunks, chunks[1:], strict=False):
        assert nxt.start < prev.end, "consecutive chunks should overlap"
        assert text[nxt.start : prev.end] in sentences or text[nxt.start : prev.end].endswith(".")


def test_one_giant_word_is_split_to_fit() -> None:
    text = "a" * 1000
    chunks = chunk_text("d", text, count=char_counter, settings=ChunkSettings(50, 0))
    assert "".join(c.text for c in chunks) == text
    assert all(char_counter([c.text])[0] <= 50 for c in chunks)


def test_whitespace_only_text_has_no_chunks() -> None:
    assert chunk_text("d", " \n\t ", count=word_counter) == []


def test_real_tokenizer_limits_hold_on_the_corpus(embedder) -> None:  # type: ignore[no-untyped-def]
    from qa.ingest.corpus import scan_corpus
    from tests.conftest import CORPUS

    limit = ChunkSettings(60, 15)
    for doc in scan_corpus(CORPUS).documents:
        chunks = chunk_text(doc.doc_id, doc.text, count=embedder.count_tokens, settings=limit)
        assert chunks
        assert max(embedder.count_tokens([c.text for c in chunks])) <= 60
        assert all(doc.text[c.start : c.end] == c.text for c in chunks)


def test_a_paged_document_is_chunked_page_by_page() -> None:
    from qa.ingest.chunking import chunk_document
    from qa.types import Document, PageRange

    pages = ["One two three. Four five six.", "Seven eight nine. Ten eleven."]
    text = "\n\n".join(pages)
    doc = Document(
        doc_id="r.pdf",
        title="r",
        text=text,
        content_hash="h",
        pages=(PageRange(1, 0, len(pages[0])), PageRange(2, len(pages[0]) + 2, len(text))),
    )
    chunks = chunk_document(doc, count=word_counter, settings=ChunkSettings(50, 10))
    assert [doc.page_at(c.start) for c in chunks] == [1, 2]
    assert all(text[c.start : c.end] == c.text for c in chunks)
    assert all(any(p.start <= c.start and c.end <= p.end for p in doc.pages) for c in chunks)


def test_html_and_word_documents_are_chunked_section_by_section() -> None:
    from qa.ingest.chunking import chunk_document
    from qa.types import Document, Section

    text = "Intro\n\nOne two three.\n\nNext\n\nFour five six."
    sections = (Section(0, 1, "Intro"), Section(text.index("Next"), 2, "Next"))
    for fmt, pieces in (("html", 2), ("markdown", 1)):
        doc = Document("d", "d", text, "h", format=fmt, sections=sections)
        chunks = chunk_document(doc, count=word_counter, settings=ChunkSettings(50, 10))
        assert len(chunks) == pieces and all(text[c.start : c.end] == c.text for c in chunks)
    assert [c.text for c in chunk_document(
        Document("d", "d", text, "h", format="docx", sections=sections), count=word_counter
    )] == ["Intro\n\nOne two three.", "Next\n\nFour five six."]  # fmt: skip


def test_chunking_tokenises_each_distinct_text_once() -> None:
    """Packing needs the sentence sizes that splitting counted: they are remembered, not
    counted again (tokenising was most of chunking's time), and the chunks are the same."""
    asked: list[str] = []

    def counting(texts: Sequence[str]) -> list[int]:
        asked.extend(texts)
        return word_counter(texts)

    text = " ".join(f"Sentence number {i} has a few words in it." for i in range(40))
    chunks = chunk_text("d", text, count=counting, settings=ChunkSettings(30, 10))
    assert len(chunks) > 5
    assert len(asked) == len(set(asked))
    plain = chunk_text("d", text, count=word_counter, settings=ChunkSettings(30, 10))
    assert [(c.start, c.end) for c in chunks] == [(c.start, c.end) for c in plain]


def test_heading_path_nests_by_level_and_closes_on_a_higher_heading() -> None:
    from qa.types import Document, Section

    text = "A\nintro\nB\nbody\nC\nmore\nD\nlast\n"
    doc = Document(
        doc_id="d",
        title="t",
        text=text,
        content_hash="h",
        sections=(
            Section(start=0, level=1, title="A"),
            Section(start=8, level=2, title="B"),
            Section(start=15, level=3, title="C"),
            Section(start=22, level=2, title="D"),
        ),
    )
    assert doc.heading_path_at(0) == ("A",)
    assert doc.heading_path_at(10) == ("A", "B")
    assert doc.heading_path_at(17) == ("A", "B", "C")
    # A level-2 heading closes the level-2 and level-3 ones before it.
    assert doc.heading_path_at(25) == ("A", "D")
    assert Document(doc_id="e", title="t", text="x", content_hash="h").heading_path_at(0) == ()
