"""No repeats in one reply (qa.search.repeats): near-identical passages listed once, every
other source an exact citation of its own in `also_in`."""

from __future__ import annotations

from qa.search.repeats import (
    REPEAT_THRESHOLD,
    containment,
    distinct_search,
    merge_repeats,
    shingles,
)
from qa.types import Chunk, Passage, Scores

HTML = (
    "Structs are similar to tuples, discussed in “The Tuple Type” section, in that both hold "
    "multiple related values. Like tuples, the pieces of a struct can be different types."
)
# The same paragraph as a PDF's text layer: hard line breaks, a word hyphenated at a line
# end, straight quotes, a ligature.
PDF = (
    'Structs are similar to tuples, discussed in "The Tuple Type" section, in that both\n'
    "hold multiple related values. Like tuples, the pieces of a struct can be diﬀerent\ntypes."
)
OTHER = (
    "A closure captures values from its environment in three ways, which directly map to the "
    "three ways a function can take a parameter: borrowing immutably, borrowing mutably, "
    "and taking ownership."
)


def passage(rank: int, doc_id: str, text: str, start: int = 0, page: int | None = None) -> Passage:
    return Passage(
        rank=rank,
        chunk=Chunk(doc_id, start, start + len(text), text),
        title=doc_id.upper(),
        metadata={},
        scores=Scores(dense=0.5, lexical=1.0, fused=1.0 - rank / 100),
        page=page,
        section=None if page else "Defining Structs",
        heading_path=() if page else ("Structs", "Defining Structs"),
    )


def test_line_breaks_quotes_and_ligatures_do_not_make_texts_differ() -> None:
    assert containment(shingles(HTML), shingles(PDF)) == 1.0
    assert containment(shingles(HTML), shingles(OTHER)) == 0.0
    # A passage that holds only part of the other (chunks cut at other places) still counts.
    half = HTML[: len(HTML) // 2]
    assert containment(shingles(half), shingles(PDF)) >= REPEAT_THRESHOLD
    assert containment(shingles(""), shingles(PDF)) == 0.0


def test_repeats_are_listed_once_with_each_other_source_cited() -> None:
    found = [
        passage(1, "html/ch05.html", HTML, start=40),
        passage(2, "pdf/ch05.pdf", PDF, start=900, page=2),
        passage(3, "notes/closures.md", OTHER),
        passage(4, "docx/ch05.docx", HTML, start=40),
    ]
    merged = merge_repeats(found, 5)
    assert [p.chunk.doc_id for p in merged] == ["html/ch05.html", "notes/closures.md"]
    assert [p.rank for p in merged] == [1, 2]
    first = merged[0]
    assert [c.chunk.doc_id for c in first.also_in] == ["pdf/ch05.pdf", "docx/ch05.docx"]
    pdf = first.also_in[0]
    assert (pdf.chunk.start, pdf.chunk.end, pdf.chunk.text) == (900, 900 + len(PDF), PDF)
    assert (pdf.title, pdf.page, pdf.section, pdf.heading_path) == ("PDF/CH05.PDF", 2, None, ())
    docx = first.also_in[1]
    assert (docx.section, docx.heading_path) == (
        "Defining Structs",
        ("Structs", "Defining Structs"),
    )
    assert merged[1].also_in == ()


def test_k_distinct_texts_remain_and_repeats_after_k_still_join() -> None:
    found = [
        passage(1, "a.md", HTML),
        passage(2, "b.md", OTHER),
        passage(3, "c.md", "Completely unrelated words about boiling eggs for breakfast."),
        passage(4, "d.pdf", PDF, page=1),
    ]
    merged = merge_repeats(found, 2)
    assert [p.chunk.doc_id for p in merged] == ["a.md", "b.md"]
    assert [c.chunk.doc_id for c in merged[0].also_in] == ["d.pdf"]


def test_a_repeat_joins_the_passage_not_a_chain_of_repeats() -> None:
    words = [f"w{i}" for i in range(40)]
    a = " ".join(words)
    b = " ".join(words[12:] + [f"x{i}" for i in range(12)])  # 0.6 of a
    c = " ".join(words[24:] + [f"x{i}" for i in range(12)] + [f"y{i}" for i in range(12)])
    assert containment(shingles(a), shingles(b)) >= REPEAT_THRESHOLD
    assert containment(shingles(a), shingles(c)) < REPEAT_THRESHOLD
    assert containment(shingles(b), shingles(c)) >= REPEAT_THRESHOLD
    merged = merge_repeats([passage(1, "a", a), passage(2, "b", b), passage(3, "c", c)], 5)
    assert [p.chunk.doc_id for p in merged] == ["a", "c"]


def test_distinct_search_fetches_more_until_k_distinct_texts() -> None:
    pool = [passage(i + 1, f"copy{i}.md", HTML) for i in range(20)] + [
        passage(21, "other.md", OTHER)
    ]
    asked: list[int] = []

    def search(n: int) -> list[Passage]:
        asked.append(n)
        return pool[:n]

    merged = distinct_search(search, 2, available=len(pool))
    assert [p.chunk.doc_id for p in merged] == ["copy0.md", "other.md"]
    assert len(merged[0].also_in) == 19
    assert asked == [6, 12, 24]
    # Fewer distinct texts than k: it stops when the index has no more.
    asked.clear()
    assert len(distinct_search(search, 5, available=len(pool))) == 2
    assert asked[-1] >= len(pool)


def test_the_reply_and_qa_ask_carry_every_other_source() -> None:
    from qa.api.schemas import ask_response
    from qa.cli import format_result
    from qa.types import AskResult

    found = [
        passage(1, "html/ch05.html", HTML, start=40),
        passage(2, "pdf/ch05.pdf", PDF, start=900, page=2),
    ]
    result = AskResult(
        question="q", answer=None, passages=merge_repeats(found, 5), answerable=False
    )
    body = ask_response(result).model_dump()
    (only,) = body["passages"]
    assert only["also_in"] == [
        {
            "doc_id": "pdf/ch05.pdf",
            "title": "PDF/CH05.PDF",
            "start": 900,
            "end": 900 + len(PDF),
            "page": 2,
            "section": None,
            "heading_path": [],
        }
    ]
    assert f"    also in pdf/ch05.pdf [900:{900 + len(PDF)}] p. 2" in format_result(result)
