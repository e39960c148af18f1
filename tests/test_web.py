"""The chat page, driven in headless Chromium against a real `qa serve` process.

The browser is the system Chromium (`bash scripts/ensure-chromium.sh` installs it);
Playwright never downloads one. One server, on an index of the repository's corpus
plus the fixture documents in tests/web_corpus/, serves every test in this module.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import Browser, Page, Response, Route, expect

from tests.chromium import PHONE, TIMEOUT_MS, PageErrors, new_page
from tests.conftest import Server, qa_index, running, start_server, stop_server

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"
WEB_CORPUS = Path(__file__).resolve().parent / "web_corpus"
ARTIFACTS = REPO / "test-artifacts"

DENMARK_QUESTION = "Which country offered to lead NATO's training mission in Iraq from 2021?"
DENMARK_DOC = "denmark-additional-personnel-to-iraq.md"
OFF_TOPIC_QUESTION = "How do I bake sourdough bread?"
# The corpus never names Denmark's prime minister: the service abstains, withholding a guess.
UNANSWERED_QUESTION = "Who is the Prime Minister of Denmark?"
WITHHELD_LABEL = "Best guess, not confident enough"
HOSTILE_DOC = "hostile.md"
HOSTILE_TITLE = '<img src=x onerror="window.__pwned=1">'
ASTRAL_DOC = "astral.md"
ABSTAIN_TEXT = "The documents don't answer this."
UNREACHABLE_TEXT = "cannot be reached"

# ---------------------------------------------------------------- server


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    corpus = tmp_path_factory.mktemp("web-corpus")
    for source in [*sorted(CORPUS.glob("*.md")), *sorted(WEB_CORPUS.glob("*.md"))]:
        shutil.copy(source, corpus / source.name)
    return qa_index(corpus, tmp_path_factory.mktemp("web-index"))


@pytest.fixture(scope="module")
def server(index_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("web-server") / "serve.log"
    with running(start_server(index_dir, log)) as started:
        yield started


@pytest.fixture(scope="module")
def api(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        yield client


# ---------------------------------------------------------------- helpers


def ask(page: Page, question: str, *, expect_status: int = 200) -> dict[str, Any]:
    """Types a question, presses Enter, and returns the JSON the page received."""
    box = page.get_by_label("Your question")
    box.fill(question)
    with page.expect_response(lambda r: r.url.endswith("/ask")) as info:
        box.press("Enter")
    response: Response = info.value
    assert response.status == expect_status, response.text()
    body: dict[str, Any] = response.json()
    return body


def document(api: httpx.Client, doc_id: str) -> dict[str, Any]:
    response = api.get("/documents/" + "/".join(quote(part, safe="") for part in doc_id.split("/")))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def percent(confidence: float) -> str:
    """A confidence as the page writes it: JavaScript's Math.round of a percentage."""
    return f"{math.floor(confidence * 100 + 0.5)}%"


def no_horizontal_overflow(page: Page) -> dict[str, Any]:
    """Every visible element fits inside the viewport's width."""
    result: dict[str, Any] = page.evaluate(
        """() => {
            const width = document.documentElement.clientWidth;
            const outside = [];
            for (const el of document.querySelectorAll("body *")) {
                const box = el.getBoundingClientRect();
                if (box.width <= 1 || box.height <= 1) continue;
                if (box.right > width + 0.5 || box.left < -0.5) {
                    outside.push(`${el.tagName}.${el.className}: ${box.left}..${box.right}`);
                }
            }
            return {width, scrollWidth: document.documentElement.scrollWidth, outside};
        }"""
    )
    return result


# ---------------------------------------------------------------- tests


def test_answer_shows_sentence_and_numbered_citations(page: Page, server: Server) -> None:
    page.goto(server.url + "/")
    expect(page).to_have_title("Ask your documents")
    result = ask(page, DENMARK_QUESTION)

    assert result["answerable"] is True
    passages = result["passages"]
    assert passages[0]["doc_id"] == DENMARK_DOC

    reply = page.locator("article.reply").last
    expect(reply.locator(".answer-text")).to_contain_text(result["answer"]["text"])
    expect(reply.locator(".answer-text")).to_contain_text("Denmark")
    # The answer cites the passage it came from by its number.
    expect(reply.locator("a.answer-cite").first).to_have_text("1")

    items = reply.locator("ol.passages > li")
    expect(items).to_have_count(len(passages))
    for number, passage in enumerate(passages, start=1):
        item = items.nth(number - 1)
        expect(item.locator("a.passage-cite")).to_have_text(str(number))
        expect(item.locator(".passage-title a")).to_have_text(passage["title"])
        expect(item).to_have_attribute("data-doc-id", passage["doc_id"])
        source = passage["metadata"].get("source")
        if source:
            expect(item.locator(".passage-meta")).to_contain_text(source)
        if passage["metadata"].get("date"):
            expect(item.locator(".passage-meta time")).to_have_attribute(
                "datetime", passage["metadata"]["date"]
            )
    expect(items.first.locator(".passage-meta")).to_contain_text("Rudaw")

    # The composer is ready for the next question.
    expect(page.locator("#ask-form")).to_have_attribute("aria-busy", "false")
    expect(page.get_by_label("Your question")).to_have_value("")


def test_the_short_answer_is_bold_within_its_sentence(page: Page, server: Server) -> None:
    page.goto(server.url + "/")
    result = ask(
        page, "How many soldiers does Lithuania deploy to the Global Coalition against Daesh?"
    )
    answer = result["answer"]
    assert answer["short"]["text"] == "30"
    sentence = page.locator("article.reply").last.locator(".answer-text")
    expect(sentence.locator("strong.short-answer")).to_have_count(1)
    expect(sentence.locator("strong.short-answer")).to_have_text("30")
    # The bold words sit where the offsets say, inside the unchanged sentence.
    before = answer["text"][: answer["short"]["start"] - answer["start"]]
    text = sentence.evaluate(
        "p => p.firstChild.textContent + p.querySelector('strong').textContent"
    )
    assert text == before + "30"
    expect(sentence).to_contain_text(answer["text"])


def test_citation_opens_document_with_exact_highlights_and_shareable_url(
    page: Page, server: Server, api: httpx.Client, browser: Browser, page_errors: PageErrors
) -> None:
    page.goto(server.url + "/")
    result = ask(page, DENMARK_QUESTION)
    answer = result["answer"]
    cited = next(
        p
        for p in result["passages"]
        if p["doc_id"] == answer["doc_id"]
        and p["start"] <= answer["start"]
        and answer["end"] <= p["end"]
    )
    doc = document(api, answer["doc_id"])
    passage_text = doc["text"][cited["start"] : cited["end"]]
    answer_text = doc["text"][answer["start"] : answer["end"]]
    assert answer_text == answer["text"]

    page.locator("article.reply a.answer-cite").first.click()

    def check_document_view(view: Page) -> None:
        panel = view.locator("#doc-panel")
        expect(panel).to_be_visible()
        expect(view.locator("#doc-title")).to_have_text(doc["title"])
        passage_mark = view.locator("#doc-body mark.hl-passage")
        answer_mark = view.locator("#doc-body mark.hl-answer")
        expect(passage_mark).to_have_count(1)
        expect(answer_mark).to_have_count(1)
        assert passage_mark.text_content() == passage_text
        assert answer_mark.text_content() == answer_text
        # The whole document is there, as text, around the highlights.
        assert view.locator("#doc-body .doc-text").text_content() == doc["text"]
        expect(answer_mark).to_be_in_viewport()

    check_document_view(page)
    expect(page.locator("#doc-title")).to_be_focused()
    url = page.url
    assert "#doc=" + quote(answer["doc_id"], safe="") in url
    for key, value in (
        ("start", cited["start"]),
        ("end", cited["end"]),
        ("as", answer["start"]),
        ("ae", answer["end"]),
    ):
        assert f"&{key}={value}" in url

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "chat.png"))

    # The same URL in a fresh browser context opens the same view on load.
    fresh = new_page(browser, page_errors)
    try:
        fresh.goto(url)
        check_document_view(fresh)
    finally:
        fresh.context.close()

    # Closing the document clears the link and returns focus to the citation.
    page.get_by_role("button", name="Close document").click()
    expect(page.locator("#doc-panel")).to_be_hidden()
    assert "#doc=" not in page.url
    expect(page.locator("article.reply a.answer-cite").first).to_be_focused()


def test_passage_citation_highlights_that_passage(
    page: Page, server: Server, api: httpx.Client
) -> None:
    page.goto(server.url + "/")
    result = ask(page, DENMARK_QUESTION)
    items = page.locator("article.reply ol.passages > li")
    for number in (2, len(result["passages"])):
        passage = result["passages"][number - 1]
        doc = document(api, passage["doc_id"])
        items.nth(number - 1).locator("a.passage-cite").click()
        mark = page.locator("#doc-body mark.hl-passage")
        expect(page.locator("#doc-title")).to_have_text(doc["title"])
        expect(mark).to_have_count(1)
        assert mark.text_content() == doc["text"][passage["start"] : passage["end"]]
        assert mark.text_content() == passage["text"]
        expect(mark).to_be_in_viewport()


def test_highlights_are_exact_with_characters_outside_the_bmp(
    page: Page, server: Server, api: httpx.Client
) -> None:
    doc = document(api, ASTRAL_DOC)
    text = doc["text"]
    sentence = (
        "The lighthouse on Vargøy 🌊 is kept by Ingrid Halvorsen, who logs every "
        "passing ship 🚢 by hand."
    )
    paragraph_end = text.index("\n", text.index(sentence))
    start = text.index(sentence)  # Python offsets count code points, as the API's do.
    passage = (text.index("Rocket"), paragraph_end)
    answer = (start, start + len(sentence))
    assert len(text[: answer[0]].encode("utf-16-le")) // 2 > answer[0]  # really astral

    page.goto(
        f"{server.url}/#doc={ASTRAL_DOC}&start={passage[0]}&end={passage[1]}"
        f"&as={answer[0]}&ae={answer[1]}"
    )
    expect(page.locator("#doc-title")).to_have_text(doc["title"])
    assert page.locator("#doc-body mark.hl-passage").text_content() == text[passage[0] : passage[1]]
    assert page.locator("#doc-body mark.hl-answer").text_content() == sentence
    assert page.locator("#doc-body .doc-text").text_content() == text


def test_off_topic_question_abstains_and_still_lists_passages(page: Page, server: Server) -> None:
    page.goto(server.url + "/")
    result = ask(page, OFF_TOPIC_QUESTION)
    assert result["answerable"] is False, (
        f"the service answered an off-topic question: {result['answer']}"
    )
    assert result["answer"] is None
    assert result["passages"], "passages should still be returned when the service abstains"

    reply = page.locator("article.reply").last
    expect(reply.locator(".answer-card > .answer-text")).to_have_text(ABSTAIN_TEXT)
    # The only citation of a sentence is the withheld guess's, inside its collapsed block.
    expect(reply.locator("a.answer-cite:not(details.withheld a)")).to_have_count(0)
    expect(reply.locator(".passages-heading")).to_have_text("Closest passages")
    expect(reply.locator("ol.passages > li")).to_have_count(len(result["passages"]))
    expect(reply.locator("ol.passages > li").first.locator(".passage-title")).to_contain_text(
        result["passages"][0]["title"]
    )


def test_an_abstention_offers_the_withheld_answer_collapsed_as_a_best_guess(
    page: Page, server: Server
) -> None:
    page.goto(server.url + "/")
    result = ask(page, UNANSWERED_QUESTION)
    assert result["answerable"] is False and result["answer"] is None
    held = result["withheld"]
    assert held is not None, "an abstention with passages should withhold a best guess"

    reply = page.locator("article.reply").last
    expect(reply.locator(".answer-label")).to_have_text("No answer")
    block = reply.locator("details.withheld")
    expect(block).to_have_count(1)
    # Collapsed, and labelled as a guess with the reply's confidence, never as an answer.
    assert block.evaluate("d => d.open") is False
    expect(block.locator(".withheld-body")).to_be_hidden()
    summary = block.locator("summary")
    expect(summary).to_have_text(f"{WITHHELD_LABEL} (confidence {percent(result['confidence'])})")
    expect(reply.locator(".badge")).to_have_count(0)  # no passage is called its source

    summary.click()
    assert block.evaluate("d => d.open") is True
    sentence = block.locator(".answer-text")
    expect(sentence).to_be_visible()
    expect(sentence).to_contain_text(held["text"])
    if held["short"] is not None:
        expect(sentence.locator("strong.short-answer")).to_have_text(held["short"]["text"])
    # The same citation link an answer gets: it opens the document at the guess.
    cite = block.locator("a.answer-cite").first
    href = cite.get_attribute("href") or ""
    assert f"&as={held['start']}&ae={held['end']}&guess=1" in href
    assert "#doc=" + quote(held["doc_id"], safe="") in href
    cite.click()
    expect(page.locator("#doc-panel")).to_be_visible()
    expect(page.locator("#doc-body mark.hl-answer")).to_have_text(held["text"])
    # The document says what it highlights: a guess, not an answer.
    expect(page.locator("#doc-legend")).to_be_visible()
    expect(page.locator("#legend-answer")).to_have_text("Best-guess sentence")

    # A confident answer has no such block, and its citation highlights an answer.
    page.get_by_role("button", name="Close document").click()
    confident = ask(page, DENMARK_QUESTION)
    assert confident["answerable"] is True and confident["withheld"] is None
    answered = page.locator("article.reply").last
    expect(answered.locator(".answer-text")).to_contain_text(confident["answer"]["text"])
    expect(answered.locator("details.withheld")).to_have_count(0)
    expect(answered).not_to_contain_text(WITHHELD_LABEL)
    answer_cite = answered.locator("a.answer-cite").first
    assert "guess=" not in (answer_cite.get_attribute("href") or "")
    answer_cite.click()
    expect(page.locator("#legend-answer")).to_have_text("Answer sentence")


def test_too_long_question_shows_the_servers_message(page: Page, server: Server) -> None:
    page.goto(server.url + "/")
    question = "a" * 2001
    result = ask(page, question, expect_status=422)
    assert result["message"]

    error = page.locator(".message .error-card").last
    expect(error).to_be_visible()
    expect(error).to_have_attribute("role", "alert")
    expect(error.locator(".error-title")).to_have_text("The question was not accepted")
    expect(error.locator(".error-message")).to_have_text(result["message"])
    expect(page.locator("#question-count")).to_have_text("2001 / 2000")
    # The question comes back into the box, to be shortened and sent again.
    expect(page.get_by_label("Your question")).to_have_value(question)
    expect(page.locator("#ask-form")).to_have_attribute("aria-busy", "false")


def test_server_down_shows_a_readable_error(
    browser: Browser, page_errors: PageErrors, index_dir: Path, tmp_path: Path
) -> None:
    second = start_server(index_dir, tmp_path / "serve.log")
    page = new_page(browser, page_errors)
    try:
        page.goto(second.url + "/")
        expect(page.locator("#service-status")).to_have_attribute("data-state", "ok")
        stop_server(second)

        box = page.get_by_label("Your question")
        box.fill(DENMARK_QUESTION)
        box.press("Enter")
        error = page.locator(".message .error-card").last
        expect(error).to_be_visible()
        expect(error.locator(".error-title")).to_have_text("The service is not reachable")
        expect(error.locator(".error-message")).to_contain_text(UNREACHABLE_TEXT)
        expect(error.get_by_role("button", name="Try again")).to_be_visible()
        expect(page.locator("#service-status")).to_have_attribute("data-state", "down")
        expect(page.locator("#ask-form")).to_have_attribute("aria-busy", "false")
        expect(box).to_have_value(DENMARK_QUESTION)
    finally:
        page.context.close()
        stop_server(second)


def test_unknown_document_link_shows_a_message(page: Page, server: Server) -> None:
    page.goto(server.url + "/#doc=no/such-document.md&start=0&end=5")
    expect(page.locator("#doc-title")).to_have_text("Document not found")
    expect(page.locator("#doc-body [role=alert]")).to_contain_text("no/such-document.md")


def test_hostile_document_renders_as_text(page: Page, server: Server, api: httpx.Client) -> None:
    doc = document(api, HOSTILE_DOC)
    assert doc["title"] == HOSTILE_TITLE
    assert "<script>" in doc["text"]

    page.goto(server.url + "/")
    # Listed among the passages of an answer...
    page.get_by_label("Passages", exact=True).select_option("10")
    result = ask(page, "Which document tries to inject markup into the chat page?")
    hits = [p for p in result["passages"] if p["doc_id"] == HOSTILE_DOC]
    assert hits, "the hostile document should be retrieved for this question"
    item = page.locator(f'article.reply li[data-doc-id="{HOSTILE_DOC}"]').first
    expect(item.locator(".passage-title a")).to_have_text(HOSTILE_TITLE)
    assert item.locator(".passage-text").text_content() == hits[0]["text"]
    expect(item.locator(".passage-meta")).to_contain_text("javascript:window.__pwned=1")
    expect(item.locator(".passage-meta a")).to_have_count(0)

    # ...in the document list...
    page.get_by_role("button", name="Documents").click()
    link = page.locator("#doc-panel .doc-list a", has_text=HOSTILE_TITLE)
    expect(link).to_have_count(1)
    # ...and as the full document.
    link.click()
    expect(page.locator("#doc-title")).to_have_text(HOSTILE_TITLE)
    assert page.locator("#doc-body .doc-text").text_content() == doc["text"]

    assert page.evaluate("typeof window.__pwned") == "undefined"
    expect(page.locator("img")).to_have_count(0)
    expect(page.locator("b")).to_have_count(0)
    expect(page.locator("script")).to_have_count(1)  # the page's own app.js


def test_a_withheld_guess_from_a_hostile_document_renders_as_text(
    page: Page, server: Server, api: httpx.Client
) -> None:
    doc = document(api, HOSTILE_DOC)
    start = doc["text"].index("An image with an error handler")
    end = doc["text"].index("\n", start)
    sentence = doc["text"][start:end]
    short_start = sentence.index("<b>")
    assert "<img src=x onerror=" in sentence and sentence[short_start:].startswith(
        "<b>not bold</b>"
    )
    held = {
        "text": sentence,
        "doc_id": HOSTILE_DOC,
        "start": start,
        "end": end,
        "confidence": 0.12,
        "page": None,
        "section": '<img src=x onerror="window.__pwned=1">',
        "short": {
            "text": "<b>not bold</b>",
            "start": start + short_start,
            "end": start + short_start + len("<b>not bold</b>"),
        },
    }

    def abstain(route: Route) -> None:
        # The real reply, its answer withheld: markup in the document text as the guess.
        response = route.fetch()
        body = response.json()
        body.update(answerable=False, answer=None, confidence=0.12, withheld=held)
        route.fulfill(response=response, json=body)

    page.route("**/ask", abstain)
    page.goto(server.url + "/")
    page.get_by_label("Passages", exact=True).select_option("10")
    result = ask(page, "Which document tries to inject markup into the chat page?")
    assert result["withheld"] == held

    block = page.locator("article.reply details.withheld")
    expect(block.locator("summary")).to_have_text(f"{WITHHELD_LABEL} (confidence 12%)")
    block.locator("summary").click()
    text = block.locator(".answer-text")
    expect(text.locator("strong.short-answer")).to_have_text("<b>not bold</b>")
    assert text.evaluate("p => p.textContent").startswith(sentence + " ")
    expect(block.locator(".cite-section")).to_have_text(held["section"])
    block.locator("a.answer-cite").first.click()
    expect(page.locator("#doc-body mark.hl-answer")).to_have_text(sentence)

    assert page.evaluate("typeof window.__pwned") == "undefined"
    expect(page.locator("img")).to_have_count(0)
    expect(page.locator("b")).to_have_count(0)


def test_phone_width_has_no_horizontal_overflow(
    browser: Browser, page_errors: PageErrors, server: Server
) -> None:
    page = new_page(browser, page_errors, viewport=PHONE)
    try:
        page.goto(server.url + "/")
        ask(page, DENMARK_QUESTION)
        page.get_by_label("Passages", exact=True).select_option("3")
        ask(page, OFF_TOPIC_QUESTION)
        ask(page, UNANSWERED_QUESTION)
        page.locator("article.reply details.withheld > summary").last.click()  # opened, fits too
        ask(page, "x" * 2001, expect_status=422)
        layout = no_horizontal_overflow(page)
        assert layout["width"] == PHONE["width"]
        assert layout["scrollWidth"] <= PHONE["width"], layout
        assert not layout["outside"], layout

        # The document opens over the whole screen, and fits too.
        page.locator("article.reply a.answer-cite").first.click()
        panel = page.locator("#doc-panel")
        expect(page.locator("#doc-body mark.hl-answer")).to_be_in_viewport()
        box = panel.bounding_box()
        assert box is not None and box["width"] == PHONE["width"]
        layout = no_horizontal_overflow(page)
        assert not layout["outside"], layout
        page.screenshot(path=str(ARTIFACTS / "chat-phone.png"))
    finally:
        page.context.close()


def test_keyboard_enter_sends_shift_enter_adds_a_line_and_busy_state_shows(
    page: Page, server: Server
) -> None:
    held: list[Route] = []
    page.route("**/ask", lambda route: held.append(route))
    page.goto(server.url + "/")

    box = page.get_by_label("Your question")
    expect(box).to_be_focused()
    box.press_sequentially("Which country offered to lead")
    box.press("Shift+Enter")
    box.press_sequentially("NATO's training mission in Iraq from 2021?")
    expect(box).to_have_value(
        "Which country offered to lead\nNATO's training mission in Iraq from 2021?"
    )
    expect(page.locator(".message-user")).to_have_count(0)

    box.press("Enter")
    expect(page.locator(".message-user .bubble")).to_have_text(
        "Which country offered to lead\nNATO's training mission in Iraq from 2021?"
    )
    expect(box).to_have_value("")
    # While the request is held back, the page shows it is busy.
    expect(page.locator("#ask-form")).to_have_attribute("aria-busy", "true")
    expect(page.locator(".message.pending")).to_be_visible()
    expect(page.locator("#send-button")).to_be_disabled()
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while not held and time.monotonic() < deadline:
        page.wait_for_timeout(50)  # lets Playwright deliver the route event
    assert len(held) == 1
    assert json.loads(held[0].request.post_data or "{}") == {
        "question": "Which country offered to lead\nNATO's training mission in Iraq from 2021?",
        "k": 5,
    }
    held[0].continue_()
    expect(page.locator("article.reply")).to_have_count(1)
    expect(page.locator(".message.pending")).to_have_count(0)
    expect(page.locator("#ask-form")).to_have_attribute("aria-busy", "false")
    expect(page.locator("#send-button")).to_be_enabled()

    # A citation works from the keyboard; Escape closes the document again.
    citation = page.locator("article.reply a.answer-cite").first
    citation.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#doc-panel")).to_be_visible()
    expect(page.locator("#doc-title")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("#doc-panel")).to_be_hidden()
    expect(citation).to_be_focused()

    # Controls carry labels.
    expect(page.get_by_role("button", name="Ask", exact=True)).to_be_visible()
    expect(page.get_by_role("combobox", name="Passages", exact=True)).to_be_visible()
