"""Structure as a retrieval signal (qa.search.fields): Markdown titles and headings, markup
that is not words, the heading path in what the encoder and BM25 read, exact citations."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from qa.eval.questionsets import EvalQuestion, load_jsonl
from qa.eval.report import EvalReport, is_hit
from qa.eval.suite import SuiteResult, format_suite, load_suite
from qa.ingest.chunking import ChunkSettings
from qa.ingest.corpus import make_document
from qa.ingest.formats.text import parse_text
from qa.ingest.indexing import build_index
from qa.search.fields import HeadingField, encoder_text, heading_context, is_navigation, prose
from qa.search.retrieval import (
    RetrievalSettings,
    Retriever,
    document_best,
    fuse,
    minmax,
    ranking_order,
)
from qa.text import tokenize
from qa.types import Chunk, Document, Passage, Section

REPO = Path(__file__).resolve().parents[1]

# A page as MkDocs sites write them: anchors, an include, an admonition, HTML, a comment.
PAGE = """# Settings and Environment Variables { #settings-and-environment-variables }

In many cases your application could need some external settings.

<!-- a note for the editors, not for readers -->

## Read an environment variable { #read-env }

{* ../../docs_src/settings/tutorial001.py hl[2] *}

/// tip | Technical details

Use <abbr title="operating system">OS</abbr> tools to set the variable first.

///

You can read it with `os.getenv("MY_NAME")` and give a [default](https://example.org/x "x").

Other things
------------

A setext heading closes the section above.
"""


def _doc(doc_id: str = "settings.md", text: str = PAGE) -> Document:
    extracted = parse_text(text, fmt="markdown")
    doc = make_document(doc_id, extracted.text, title=extracted.title)
    return Document(**{**doc.__dict__, "format": "markdown", "sections": extracted.sections})


def test_a_markdown_page_is_titled_by_its_first_heading_without_markup() -> None:
    extracted = parse_text(PAGE, fmt="markdown")
    assert extracted.title == "Settings and Environment Variables"
    titles = [(s.level, s.title) for s in extracted.sections]
    assert titles == [
        (1, "Settings and Environment Variables"),
        (2, "Read an environment variable"),
        (2, "Other things"),
    ]
    for s in extracted.sections:  # each section starts at its heading's line
        assert PAGE[s.start :].lstrip("# ").startswith(s.title.split()[0])
        assert s.start == 0 or PAGE[s.start - 1] == "\n"
    # The example: the page is no longer named after its file.
    io = parse_text("# An I/O Project: Building a Command Line Program\n\nText.\n", fmt="markdown")
    assert make_document("ch12-00-an-io-project.md", io.text, title=io.title).title == (
        "An I/O Project: Building a Command Line Program"
    )


def test_front_matter_title_wins_and_a_page_without_headings_keeps_its_file_name() -> None:
    extracted = parse_text("---\ntitle: Given\n---\n# Heading\n\nText.\n", fmt="markdown")
    doc = make_document("a.md", extracted.text, title=extracted.title, metadata=extracted.metadata)
    assert doc.title == "Given"
    plain = parse_text("No heading here.\n", fmt="markdown")
    assert make_document("my-notes.md", plain.text, title=plain.title).title == "my notes"
    # A list item underlined by --- is a list and a rule, not a heading.
    assert parse_text("- item\n---\n\ntext\n", fmt="markdown").sections == ()


def test_prose_blanks_markup_in_place_and_keeps_the_words() -> None:
    out = prose(PAGE)
    assert len(out) == len(PAGE)
    assert [i for i, c in enumerate(PAGE) if c == "\n"] == [
        i for i, c in enumerate(out) if c == "\n"
    ]
    for gone in ("#settings-and", "docs_src", "<!--", "editors", "///", "<abbr", "example.org"):
        assert gone not in out, gone
    for kept in ("Settings and Environment Variables", "Technical details", "OS", "default"):
        assert kept in out, kept
    assert 'os.getenv("MY_NAME")' in out
    # Generics and comparisons are words and symbols, not tags.
    assert prose("a Vec<String> or x < y > z") == "a Vec<String> or x < y > z"


def test_prose_blanks_markdowns_own_marks_but_not_the_words_or_the_code() -> None:
    text = (
        "## Method Syntax\n\n*Methods* are **similar** to `fn` items.\n"
        "- a bullet\n* a starred bullet\n> a quote\n"
        "let x = *y * 2; call __init__ on my_value.\n"
    )
    out = prose(text)
    assert len(out) == len(text) and out.count("\n") == text.count("\n")
    assert out.split() == [
        *"Method Syntax Methods are similar to fn items.".split(),
        *"a bullet a starred bullet a quote".split(),
        *"let x = y * 2; call __init__ on my_value.".split(),
    ]
    # BM25 reads the same words before and after: the marks were never words.
    assert tokenize(out) == tokenize(text)


# A page as mdBook books write them (The Rust Programming Language's sources).
BOOK = """See [the slices section][ch04-03] for more, and m[0][1] stays.

<Listing number="12-22" file-name="src/lib.rs" caption="Calling `search` on the query">

```rust,ignore
{{#rustdoc_include ../listings/ch12-an-io-project/listing-12-22/src/lib.rs:there}}
```

</Listing>

[ch04-03]: ch04-03-slices.html#string-slices
"""


def test_prose_blanks_mdbook_directives_and_reference_links_but_keeps_captions() -> None:
    out = prose(BOOK)
    assert len(out) == len(BOOK) and out.count("\n") == BOOK.count("\n")
    for gone in ("ch04-03", "rustdoc_include", "listings", "lib.rs", "number=", "Listing"):
        assert gone not in out, gone
    kept_words = ("the slices section", "for more", "m[0][1] stays", "Calling `search` on the")
    for kept in kept_words:
        assert kept in out, kept
    caption = BOOK.index("Calling")
    assert out[caption:].startswith("Calling `search` on the query")  # in place


def test_the_encoder_reads_the_heading_path_and_the_spans_shift_with_it() -> None:
    doc = _doc()
    start = PAGE.index("You can read it")
    chunk = Chunk(doc.doc_id, start, start + 40, PAGE[start : start + 40])
    assert heading_context(doc, start) == (
        "Settings and Environment Variables > Read an environment variable"
    )
    text, offset = encoder_text(doc, chunk)
    assert text[:offset] == "Settings and Environment Variables > Read an environment variable: "
    assert text[offset:] == prose(chunk.text)
    # A chunk that opens with the heading's "##" sits under it too.
    opening = PAGE.index("## Read an environment variable")
    chunk = Chunk(doc.doc_id, opening, opening + 60, PAGE[opening : opening + 60])
    text, offset = encoder_text(doc, chunk)
    assert text[:offset] == "Settings and Environment Variables > Read an environment variable: "


def test_citations_stay_exact_when_the_encoder_reads_prefixed_prose(fake_embedder) -> None:  # type: ignore[no-untyped-def]
    doc = _doc()
    seen: list[str] = []
    original = fake_embedder.encode_with_spans

    def spy(texts, spans, **kw):  # type: ignore[no-untyped-def]
        seen.extend(texts)
        for text, text_spans in zip(texts, spans, strict=True):
            prefix = text.index(": ") + 2
            for a, b in text_spans:  # every pooled span lies in the prose, past the prefix
                assert prefix <= a < b <= len(text)
        return original(texts, spans, **kw)

    fake_embedder.encode_with_spans = spy
    index, _ = build_index([doc], embedder=fake_embedder, settings=ChunkSettings(max_tokens=40))
    assert seen and all(t.startswith("Settings and Environment Variables") for t in seen)
    for chunk in index.chunks:  # the chunk table still cites the document text exactly
        assert doc.text[chunk.start : chunk.end] == chunk.text
    for doc_id, a, b in index.sentences.keys:
        assert index.documents[doc_id].text[a:b].strip()


def _two_pages() -> list[Document]:
    env = "# Working with Environment Variables\n\n" + "".join(
        f"We improve minigrep with extra feature number {n}: an option for case-insensitive "
        "search that the user can turn on, checked when the program starts.\n\n"
        for n in range(3)
    )
    other = "# Reading a File\n\n" + (
        "Now we add functionality to read the file specified in the file_path argument. "
        "The variable holds the contents; reading the variable shows them.\n\n"
    )
    return [_doc("ch12-05-env.md", env), _doc("ch12-02-read.md", other)]


def test_the_heading_field_finds_a_section_by_its_heading(fake_embedder) -> None:  # type: ignore[no-untyped-def]
    from qa.search.retrieval import Query

    index, _ = build_index(
        _two_pages(),
        embedder=fake_embedder,
        settings=ChunkSettings(max_tokens=40, overlap_tokens=0),
    )
    env_chunks = [c for c in index.chunks if c.doc_id == "ch12-05-env.md"]
    assert len(env_chunks) >= 3 and "Environment" not in env_chunks[-1].text
    question = "How do I read an environment variable?"
    scores = HeadingField(index.documents, index.chunks).scores(question)
    on_env = [float(s) for s, c in zip(scores, index.chunks, strict=True) if c in env_chunks]
    assert min(on_env) > max(scores[[c not in env_chunks for c in index.chunks]])

    def top(weight: float) -> list[Passage]:
        settings = RetrievalSettings(heading_weight=weight)
        retriever = Retriever(embedder=fake_embedder, index=index, settings=settings)
        return retriever.search(Query(question, k=3))

    # Without the field, the page about reading files comes before the section's body;
    # with it, every chunk under "Working with Environment Variables" comes first.
    assert "ch12-02-read.md" in [p.chunk.doc_id for p in top(0.0)[:2]]
    found = top(1.0)
    assert [p.chunk.doc_id for p in found] == ["ch12-05-env.md"] * 3
    assert found[-1].heading_path == ("Working with Environment Variables",)


def test_fuse_adds_the_heading_share_only_when_weighted() -> None:
    dense = np.array([0.9, 0.1], np.float32)
    lexical = np.array([1.0, 0.0], np.float32)
    sentence = np.array([0.5, 0.5], np.float32)
    heading = np.array([0.0, 3.0], np.float32)
    off = fuse(
        dense,
        lexical,
        RetrievalSettings(sentence_weight=0.5, heading_weight=0.0),
        sentence,
        heading,
    )
    on = fuse(
        dense,
        lexical,
        RetrievalSettings(sentence_weight=0.5, heading_weight=0.6),
        sentence,
        heading,
    )
    assert off[0] > off[1]
    assert np.allclose(on - off, [0.0, 0.6])
    assert on[1] > on[0]


def test_questions_may_name_the_files_that_answer_them(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(
        json.dumps({"id": "a", "question": "How do I upload a file?", "files": ["t/files.md"]})
        + "\n",
        encoding="utf-8",
    )
    (q,) = load_jsonl(path)
    assert q.files == ("t/files.md",) and q.answers == () and not q.unanswerable
    assert is_hit(Chunk("docs/t/files.md", 0, 3, "abc"), q)
    assert is_hit(Chunk("t/files.md", 0, 3, "abc"), q)
    assert not is_hit(Chunk("t/other.md", 0, 3, "abc"), q)
    with pytest.raises(ValueError, match="not unanswerable"):
        path.write_text('{"question": "x?", "files": ["a.md"], "unanswerable": true}\n')
        load_jsonl(path)
    with pytest.raises(ValueError, match="files that answer it"):
        EvalQuestion("x?", files=("a.md",), unanswerable=True)


def test_the_repository_question_sets_name_files_of_their_corpora() -> None:
    for name, count in (("fastapi-questions.jsonl", 60), ("rustbook-questions.jsonl", 30)):
        questions = load_jsonl(REPO / "eval" / name)
        assert len(questions) >= count
        assert all(q.files and not q.answers for q in questions)
        assert len({q.question for q in questions}) == len(questions)
    fastapi = REPO.parent / "shared" / "docs-corpus" / "fastapi"
    if fastapi.is_dir():
        for q in load_jsonl(REPO / "eval" / "fastapi-questions.jsonl"):
            assert all((fastapi / f).is_file() for f in q.files), q.qid


def _report(h1: float, h5: float, mrr: float, n: int) -> EvalReport:
    values = dict.fromkeys(EvalReport.__dataclass_fields__, None)
    values |= {"hit_at_1": h1, "hit_at_5": h5, "mrr_at_10": mrr}
    values |= {"questions": n, "answerable": n, "unanswerable": 0}
    return EvalReport(**values)  # type: ignore[arg-type]


def test_the_suite_table_has_a_row_per_corpus_and_the_macro_average() -> None:
    result = SuiteResult(
        reports={
            "squad": {"hybrid": _report(0.9, 1.0, 0.95, 400)},
            "docs": {"hybrid": _report(0.5, 0.8, 0.6, 10)},
        }
    )
    assert result.macro("hybrid") == pytest.approx({"hit@1": 0.7, "hit@5": 0.9, "MRR@10": 0.775})
    text = format_suite(result, ["hybrid"])
    assert "== squad" in text and "== docs" in text
    last = text.strip().splitlines()[-1].split()
    assert last[:2] == ["macro", "average"] and last[2:] == ["0.700", "0.900", "0.775"]
    rows = {r[0]: r for r in map(str.split, text.splitlines()) if r and r[0] in ("squad", "docs")}
    assert rows["squad"][1:] == ["400", "0.900", "1.000", "0.950"]


def test_the_repository_suite_lists_every_kind_of_text() -> None:
    entries = {e.name: e for e in load_suite(REPO / "eval" / "suite.json")}
    assert {"squad", "fastapi", "realdocs-html", "realdocs-pdf", "realdocs-docx"} <= set(entries)
    assert entries["realdocs-pdf"].tags == ("pdf",)
    assert entries["rustbook"].optional and "fetch-rust-book" in entries["rustbook"].hint
    bad = Path(REPO / "eval" / "suite.json").parent
    assert bad.is_dir()


def test_a_malformed_suite_names_the_entry(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text('{"suite": [{"name": "a", "questions": "q.jsonl", "tag": ["x"]}]}')
    with pytest.raises(ValueError, match=r"entry 1: unknown key\(s\) 'tag'"):
        load_suite(path)
    path.write_text('{"suite": [{"name": "a"}]}')
    with pytest.raises(ValueError, match="entry 1 \\(a\\): 'questions' must be a path"):
        load_suite(path)


def test_the_passage_that_opens_a_markdown_page_sits_under_its_heading() -> None:
    # The Rust book's sources open with "## Title": the first passage starts at the
    # heading's "#", and its citation names the heading (it once named none).
    doc = _doc("ch15-04-rc.md", "## `Rc<T>`, the Reference Counted Smart Pointer\n\nText.\n")
    assert doc.sections[0].start == 0
    assert doc.heading_path_at(0) == ("Rc<T>, the Reference Counted Smart Pointer",)
    # A generic in code is not an HTML tag; a real tag still goes.
    page = parse_text("### Cloning an `Rc<T>` Increases the <em>Count</em>\n", fmt="markdown")
    assert [s.title for s in page.sections] == ["Cloning an Rc<T> Increases the Count"]


def test_section_titles_come_only_from_sections() -> None:
    doc = Document("a.md", "T", "x" * 50, "h", sections=(Section(0, 1, "T"), Section(10, 2, "Sub")))
    assert heading_context(doc, 5) == "T"  # the first heading repeats the title: once
    assert heading_context(doc, 20) == "T > Sub"


def test_a_title_that_is_the_first_heading_plus_a_site_suffix_counts_once() -> None:
    sections = (Section(0, 1, "Method Syntax"), Section(20, 2, "Defining Methods"))
    text = "x" * 60
    doc = Document(
        "a.html", "Method Syntax - The Rust Programming Language", text, "h", sections=sections
    )
    assert heading_context(doc, 5) == "Method Syntax"
    assert heading_context(doc, 30) == "Method Syntax > Defining Methods"
    # a title that merely starts with the heading's words keeps both
    other = Document(
        "b.md", "Introduction to Rust", text, "h", sections=(Section(0, 1, "Introduction"),)
    )
    assert heading_context(other, 5) == "Introduction to Rust > Introduction"


def test_document_weight_lifts_every_passage_of_the_best_titled_document() -> None:
    documents = np.array([0, 0, 1, 1])
    heading = np.array([4.0, 0.0, 1.0, 1.0], dtype=np.float32)
    assert document_best(documents, minmax(heading)).tolist() == [1.0, 1.0, 0.25, 0.25]
    dense = np.array([0.5, 0.6, 0.6, 0.5], dtype=np.float32)
    lexical = np.array([1.0, 2.0, 2.0, 1.0], dtype=np.float32)
    off = RetrievalSettings(heading_weight=0.0, document_weight=0.0, sentence_weight=0.0)
    on = replace(off, document_weight=0.2)
    plain = fuse(dense, lexical, off, None, heading, documents)
    lifted = fuse(dense, lexical, on, None, heading, documents)
    assert plain[2] > plain[1] - 1e-6  # a tie between chunk 1 and chunk 2 without it
    assert lifted[1] > lifted[2]  # chunk 1's document is the one whose title matches
    assert np.allclose(lifted - plain, [0.2, 0.2, 0.05, 0.05])
    assert np.allclose(fuse(dense, lexical, on, None, heading, None), plain)


def test_the_document_weight_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from qa.config import Settings
    from qa.search.retrieval import retrieval_settings

    assert retrieval_settings(Settings()).document_weight == RetrievalSettings().document_weight
    monkeypatch.setenv("QA_DOCUMENT_WEIGHT", "0.3")
    assert retrieval_settings(Settings()).document_weight == 0.3
    monkeypatch.setenv("QA_DOCUMENT_WEIGHT", "2")
    with pytest.raises(ValidationError, match="document_weight"):
        Settings()


# ----- contents and index pages -------------------------------------------------------------

CONTENTS = """Table of Contents
1 Introduction . . . . . . . . . . . . . . . . . . . . 1
2 ASN.1 structure handling . . . . . . . . . . . . . . 2
2.1 ASN.1 syntax. . . . . . . . . . . . . . . . . . . . 2
Preface ................................................ xi
"""


@pytest.mark.parametrize(
    ("text", "navigation"),
    [
        (CONTENTS, True),
        # an index's letter section: the letter and one entry
        ("S\nSupported ASN.1 types, list of . . . . . . . . . . 2", True),
        ("Wait.... what did the program print?\nIt printed . . . nothing.", False),
        # one entry among prose lines: a chapter that quotes its contents is prose
        ("We start here.\nThen we read.\nThen we write.\n1 Introduction . . . . . 1", False),
        ("No leaders at all, only text.", False),
    ],
)
def test_contents_and_index_pages_are_told_from_prose(text: str, navigation: bool) -> None:
    assert is_navigation(text) is navigation


def test_the_order_puts_navigation_after_every_other_candidate() -> None:
    fused = np.array([0.9, 0.5, 0.7, 0.5, 0.95], np.float32)
    demoted = np.array([True, False, False, False, True])
    assert ranking_order(fused, demoted).tolist() == [2, 1, 3, 4, 0]  # ties keep their order
    assert ranking_order(fused, None).tolist() == [4, 0, 2, 1, 3]
    assert ranking_order(fused, np.zeros(5, bool)).tolist() == [4, 0, 2, 1, 3]


def test_a_contents_page_that_names_the_question_comes_after_the_prose(fake_embedder) -> None:  # type: ignore[no-untyped-def]
    from qa.search.retrieval import Query

    contents = _doc("manual-contents.md", "Contents\n\n" + CONTENTS.replace("\n", "\n\n"))
    prose_page = _doc(
        "manual-intro.md",
        "# Introduction\n\nThe library reads description files and builds objects in "
        "memory from them.\n",
    )
    index, _ = build_index([contents, prose_page], embedder=fake_embedder, settings=ChunkSettings())
    question = "What is ASN.1 structure handling, and what is the ASN.1 syntax?"
    settings = RetrievalSettings(sentence_weight=0.0, heading_weight=0.0, document_weight=0.0)
    retriever = Retriever(embedder=fake_embedder, index=index, settings=settings)
    ranked = retriever.rank(question, retriever.embed_question(question), 10, None)
    best = int(ranked.rows[int(np.argmax(ranked.fused))])
    assert index.chunks[best].doc_id == "manual-contents.md"  # by its scores alone, first
    found = retriever.search(Query(question, k=2))
    assert [p.chunk.doc_id for p in found] == ["manual-intro.md", "manual-contents.md"]
