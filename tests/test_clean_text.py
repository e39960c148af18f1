"""Clean text: a heading never runs into the sentence after it, in any format; a figure's
labels are neither a passage nor a sentence; library warnings stay off the terminal."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from qa.ingest.chunking import ChunkSettings, chunk_document, chunk_text, word_counter
from qa.ingest.corpus import document_from, parse_document
from qa.ingest.formats import extract
from qa.text import is_heading_line, label_runs, split_sentences
from qa.types import Document
from tests.conftest import SHARED, run_qa
from tests.docmaker import make_docx, make_pdf

REALDOCS = SHARED / "realdocs"
WAIT = (
    "Waiting for All Threads to Finish",
    "The code in Listing 16-1 often stops the spawned thread early when the main thread ends.",
    "Calling join on the handle blocks the thread that is running until the spawned thread ends.",
)


def sentences(text: str) -> list[str]:
    return [text[s.start : s.end] for s in split_sentences(text)]


def test_a_heading_line_is_a_sentence_of_its_own_without_a_blank_line() -> None:
    heading, first, second = WAIT
    pdf_like = f"{heading}\n{first}\n{second}"  # how a PDF's text layer reads
    assert sentences(pdf_like) == [heading, first, second]
    assert sentences(f"# {heading}\n{first}") == [f"# {heading}", first]
    assert sentences(f"{heading}\n=====\n{first}") == [f"{heading}\n=====", first]
    # A caption and a file name end at their line, too.
    code = "Filename: src/main.rs\nListing 16-2: Waiting for a thread\nCalling join waits."
    assert sentences(code) == [
        "Filename: src/main.rs",
        "Listing 16-2: Waiting for a thread",
        "Calling join waits.",
    ]
    # "Figure 16-1 shows" is a sentence, not a caption.
    shows = "Figure 16-1 shows\nthe two threads."
    assert sentences(shows) == [shows]


def test_a_wrapped_paragraph_is_not_cut_at_a_short_title_cased_line() -> None:
    wrapped = (
        "In the previous chapter we met the standard library types that the book calls\n"
        "Smart Pointers and Reference Counting\n"
        "Types and other things, which we revisit here."
    )
    assert sentences(wrapped) == [wrapped]
    assert is_heading_line("Clearer Trait Bounds with where Clauses")
    assert is_heading_line("2.1 Naming")
    assert not is_heading_line("Calling join on the handle blocks")
    assert not is_heading_line("The End.")
    assert not is_heading_line("Twitter: @Lithuanian_MoD, @LithuaniaMFA")  # a field, no title


def test_label_runs_are_in_no_sentence_and_no_chunk_and_offsets_stay_exact() -> None:
    text = (
        "The compiler looks at the variants, as shown in Figure 15-1.\n"
        "Cons\ni32\nCons\ni32\nBox\nusize\n"
        "Figure 15-1: An infinite List\n"
        "Boxes provide only the indirection and heap allocation."
    )
    (run,) = label_runs(text)
    assert text[run.start : run.end] == "Cons\ni32\nCons\ni32\nBox\nusize"
    got = sentences(text)
    assert got == [
        "The compiler looks at the variants, as shown in Figure 15-1.",
        "Figure 15-1: An infinite List",
        "Boxes provide only the indirection and heap allocation.",
    ]
    chunks = chunk_text("d", text, count=word_counter, settings=ChunkSettings(200, 0))
    assert [c.text for c in chunks] == [got[0], "\n".join(got[1:])]
    assert all(text[c.start : c.end] == c.text for c in chunks)
    # A two-column table is not a figure: its rows stay text.
    table = "Decimal 98_222\nHex 0xff\nOctal 0o77\nBinary 0b1111_0000"
    assert label_runs(table) == []
    # Fewer than three short lines are no run either.
    assert label_runs("Cons\ni32\nA list holds values.") == []


def _glued(doc: Document, headings: list[tuple[int, int]]) -> list[str]:
    """Sentences of the document's chunks (as the index and the answer split them) that
    hold a heading together with the text after it."""
    chunks = chunk_document(doc, count=word_counter, settings=ChunkSettings())
    bad = []
    for c in chunks:
        for s in split_sentences(c.text):
            a, b = c.start + s.start, c.start + s.end
            if any(a <= h < b and a < e < b for h, e in headings):
                bad.append(doc.text[a:b][:80])
    return bad


def _heading_lines(doc: Document, titles: list[str]) -> list[tuple[int, int]]:
    found = []
    for title in titles:
        for m in re.finditer(r"(?m)^(?:#+ )?" + re.escape(title) + r"[ \t]*$", doc.text):
            found.append((m.start(), m.end()))
    return found


def test_headings_of_markdown_word_and_pdf_made_here_never_glue() -> None:
    heading, first, second = WAIT
    source = f"# Threads\nIntro text here.\n## {heading}\n{first} {second}"
    md = parse_document("threads.md", source)
    assert _glued(md, _heading_lines(md, ["Threads", heading])) == []
    data = make_docx([("Threads", 1), (heading, 2), (first, None), (second, None)])
    docx = document_from("t.docx", extract(data, "t.docx"), data=data)
    assert _glued(docx, [(s.start, docx.text.index("\n", s.start)) for s in docx.sections]) == []
    pdf_bytes = make_pdf([["Threads", heading, first[:60], first[60:], second[:70], second[70:]]])
    pdf = document_from("t.pdf", extract(pdf_bytes, "t.pdf"), data=pdf_bytes)
    assert _glued(pdf, _heading_lines(pdf, ["Threads", heading])) == []
    assert heading in sentences(pdf.text)


@pytest.mark.skipif(not REALDOCS.is_dir(), reason="the shared real documents are not here")
@pytest.mark.parametrize("chapter", ["ch05-01-defining-structs", "ch10-02-traits", "ch15-01-box"])
def test_realdocs_headings_never_glue_in_html_word_or_pdf(chapter: str) -> None:
    docs = {}
    for fmt, suffix in (("html", "html"), ("docx", "docx"), ("pdf", "pdf")):
        path = REALDOCS / fmt / f"{chapter}.{suffix}"
        if path.exists():
            data = path.read_bytes()
            docs[fmt] = document_from(path.name, extract(data, path.name), data=data)
    titles = [s.title for s in docs["html"].sections]
    assert len(titles) >= 5
    for fmt, doc in docs.items():
        headings = _heading_lines(doc, titles)
        assert len(headings) >= len(titles) - 1, fmt  # the titles are there to check
        assert _glued(doc, headings) == [], fmt
    if chapter == "ch15-01-box":  # the figure's labels are in no chunk of the PDF
        pdf = docs["pdf"]
        chunks = chunk_document(pdf, count=word_counter, settings=ChunkSettings())
        assert len(label_runs(pdf.text)) == 2
        assert not any(re.search(r"(?m)^Cons\ni32\n(?:Cons|Box)$", c.text) for c in chunks)


@pytest.mark.slow
def test_qa_index_prints_no_tokenizer_warning(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    # One sentence far longer than the model's 256 tokens: counting it used to warn.
    words = " ".join(f"word{i}" for i in range(600))
    (corpus / "long.md").write_text(f"# Long\n\n{words}.\n", encoding="utf-8")
    built = run_qa("index", "--corpus", str(corpus), "--index", str(tmp_path / "index"))
    assert built.returncode == 0, built.stderr
    assert "indexed 1 document" in built.stdout
    assert "Token indices" not in built.stderr and "transformers" not in built.stderr, built.stderr


THREADS_PAGE = [
    "Running Code on Several Threads",
    "An operating system runs the code of a program in a process, and a program can split",
    "its work into threads that run at the same time.",
    "Waiting for All Threads to Finish",
    "The code in Listing 16-1 often stops the spawned thread before it is done, because",
    "the program ends when the main thread ends, and nothing says in which order the",
    "threads run.",
    "To fix that, keep the value that thread::spawn returns: a JoinHandle that owns the",
    "thread. Calling join on the handle blocks the thread that is running until the",
    "spawned thread represented by the handle terminates.",
    "Listing 16-2: Saving a JoinHandle to wait for the thread",
]


@pytest.mark.slow
def test_the_answer_is_never_the_heading_glued_to_the_next_sentence(  # type: ignore[no-untyped-def]
    tmp_path: Path, embedder
) -> None:
    from qa.ingest.indexing import build_index
    from qa.service import QAService

    data = make_pdf([THREADS_PAGE])
    doc = document_from("threads.pdf", extract(data, "threads.pdf"), data=data)
    index, _ = build_index([doc], embedder=embedder, settings=ChunkSettings())
    result = QAService(embedder=embedder, index=index).ask(
        "How do I wait for a spawned thread to finish before main exits?"
    )
    answer = result.answer or result.withheld
    assert answer is not None
    assert "Waiting for All Threads" not in answer.text, answer.text
    assert answer.short is None or answer.short.text != "code"
    assert doc.text[answer.start : answer.end] == answer.text
    # The answer is one of the body's sentences, each split as the index stores them.
    body = doc.text.index("The code in Listing 16-1")
    assert answer.start >= body
    assert (answer.start, answer.end) in {(s.start, s.end) for s in split_sentences(doc.text)}
