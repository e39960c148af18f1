"""The chat page without repeats and with Markdown as prose, in headless Chromium against
a real `qa serve`: one chapter kept as PDF, HTML and Word (../shared/realdocs, linked in,
never copied) is listed once with the other sources under it; a hard-wrapped Markdown
file reads as prose, with its code, emphasis and links, and the highlights keep exactly
the cited characters."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from qa.search.repeats import REPEAT_THRESHOLD, containment, shingles
from tests import test_web as web
from tests.conftest import SHARED, Server, served_corpus
from tests.test_web import ask, document

# The chat page tests' HTTP client, here on this module's server.
api = web.api

REALDOCS = SHARED / "realdocs"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not REALDOCS.is_dir(), reason="the shared real documents are not here"),
]
CHAPTER = ("pdf/ch05-01-defining-structs.pdf", "html/ch05-01-defining-structs.html",
           "docx/ch05-01-defining-structs.docx")  # fmt: skip
TUPLE_QUESTION = "What are structs that look similar to tuples called?"
GREP_DOC = "notes/grep.md"
# A hard-wrapped Markdown file of our own words: code, emphasis, links (one unsafe),
# raw HTML that must stay text.
GREP = """# Searching with grep

The `grep` tool prints every line of a file that contains a string. To
do so, `grep` takes as its arguments a file
path and a string, and it reads the *whole* file.

```sh
grep needle haystack.txt
grep -n needle haystack.txt
```

See [the manual](https://www.gnu.org/software/grep/manual/) or
[this](javascript:window.__pwned=1) for **more** options. <b>Not bold</b>
<img src=x onerror="window.__pwned=1">
"""
GREP_QUESTION = "What arguments does grep take?"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    corpus = tmp_path_factory.mktemp("web-clean-corpus")
    for doc_id in CHAPTER:
        (corpus / doc_id).parent.mkdir(parents=True, exist_ok=True)
        (corpus / doc_id).symlink_to(REALDOCS / doc_id)
    (corpus / GREP_DOC).parent.mkdir()
    (corpus / GREP_DOC).write_text(GREP, encoding="utf-8")
    with served_corpus(corpus, tmp_path_factory, "web-clean") as running:
        yield running


def squash(text: str) -> str:
    return " ".join(text.split())


def test_one_chapter_in_three_formats_is_listed_once_with_its_other_sources(
    page: Page, server: Server, api: httpx.Client
) -> None:
    page.goto(server.url + "/")
    result = ask(page, TUPLE_QUESTION)
    passages = result["passages"]
    assert len(passages) == 5
    texts = [shingles(p["text"]) for p in passages]
    for a in range(len(texts)):  # five different texts
        for b in range(a + 1, len(texts)):
            assert containment(texts[a], texts[b]) < REPEAT_THRESHOLD
    top = passages[0]
    others = top["also_in"]
    assert {c["doc_id"] for c in others} | {top["doc_id"]} == set(CHAPTER)
    for c in others:  # each an exact citation of its own text, near-identical to the top
        body = document(api, c["doc_id"])
        cited = body["text"][c["start"] : c["end"]]
        assert containment(shingles(cited), shingles(top["text"])) >= REPEAT_THRESHOLD
        assert (c["page"] is None) == (body["format"] != "pdf")

    item = page.locator("article.reply ol.passages > li").first
    links = item.locator(".also-in a.also-in-link")
    expect(links).to_have_count(len(others))
    for n, c in enumerate(others):
        expect(links.nth(n)).to_have_text(c["title"])
        href = links.nth(n).get_attribute("href") or ""
        assert f"start={c['start']}&end={c['end']}" in href
    # Opening a text source highlights exactly its cited span.
    n, c = next((n, c) for n, c in enumerate(others) if c["page"] is None)
    links.nth(n).click()
    body = document(api, c["doc_id"])
    expect(page.locator("#doc-title")).to_have_text(body["title"])
    mark = page.locator("#doc-body mark.hl-passage")
    expect(mark).to_have_count(1)
    assert mark.text_content() == body["text"][c["start"] : c["end"]]


def test_markdown_reads_as_prose_with_exact_highlights(
    page: Page, server: Server, api: httpx.Client
) -> None:
    text = document(api, GREP_DOC)["text"]
    start = text.index("To\ndo so")
    end = text.index(" file.", start) + len(" file.")
    answer = (text.index("do so"), text.index("a string,") + len("a string"))
    page.goto(
        f"{server.url}/#doc={GREP_DOC}&start={start}&end={end}"
        f"&as={answer[0]}&ae={answer[1]}&view=text"
    )
    view = page.locator("#doc-body .doc-text")
    expect(view).to_have_class(re.compile(r"\bmd\b"))
    shown = squash(view.inner_text())
    # Lines of one paragraph flow, the syntax is gone, code and emphasis render.
    assert "To do so, grep takes as its arguments a file path and a string" in shown
    assert "`" not in shown and "**" not in shown and "# Searching" not in shown
    expect(view.locator("code.md-code", has_text="grep")).to_have_count(2)
    expect(view.locator("em")).to_have_text("whole")
    expect(view.locator("strong")).to_have_text("more")
    expect(view.locator("span.md-h1")).to_have_text("Searching with grep")
    fence = view.locator("code.md-pre")
    assert "grep needle haystack.txt\ngrep -n needle" in (fence.first.text_content() or "")
    # Links: http(s) only, opened without the opener; the javascript: one is plain text.
    link = view.locator("a.md-link")
    expect(link).to_have_count(1)
    expect(link).to_have_attribute("href", "https://www.gnu.org/software/grep/manual/")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    unsafe = ["\x01javascript:alert(1)", "JAVASCRIPT:x", "java\tscript:x", "data:text/html,x",
              "vbscript:x", "//evil.example", "mailto:a@b.c"]  # fmt: skip
    safe = ["https://a.example/b?c=d#e", "http://a.example", "docs/a.md", "#part", "/abs"]
    checked = page.evaluate(
        "async (hrefs) => { const m = await import('/static/markdown.js');"
        " return hrefs.map((x) => m.safeHref(x)); }",
        unsafe + safe,
    )
    assert checked == [None] * len(unsafe) + safe
    # The document's HTML stays text: nothing of it became an element.
    expect(view.locator("b, img")).to_have_count(0)
    assert "<b>Not bold</b>" in shown and page.evaluate("() => window.__pwned") is None
    # The whole text is there, and the marks hold exactly the cited characters.
    assert view.text_content() == text
    passage = page.locator("#doc-body mark.hl-passage")
    expect(passage).to_have_count(1)
    assert passage.text_content() == text[start:end]
    assert squash(passage.inner_text()) == (
        "To do so, grep takes as its arguments a file path and a string, and it reads the "
        "whole file."
    )
    assert squash(page.locator("#doc-body mark.hl-answer").inner_text()) == (
        "do so, grep takes as its arguments a file path and a string"
    )


def test_a_markdown_passage_card_reads_as_prose(page: Page, server: Server) -> None:
    page.goto(server.url + "/")
    result: dict[str, Any] = ask(page, GREP_QUESTION)
    number = next(n for n, p in enumerate(result["passages"]) if p["doc_id"] == GREP_DOC)
    card = page.locator("article.reply ol.passages > li").nth(number)
    text = card.locator(".passage-text")
    expect(text).to_have_class(re.compile(r"\bmd\b"))
    assert text.text_content() == result["passages"][number]["text"]
    shown = squash(text.inner_text())
    assert "To do so, grep takes as its arguments a file path and a string" in shown
    assert "`" not in shown
