"""The chat page on real PDF, HTML and Word documents, in headless Chromium against a real
`qa serve` with writes enabled: page citations and the page view, section headings, and
adding a file from the page.

The documents are read in place from ../shared/realdocs (linked into a temporary corpus,
never copied into the repository). One server serves every test in this module; the
upload tests come last because they add a document to it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route, expect

from tests import test_web as web
from tests.chromium import PHONE, PageErrors, new_page
from tests.conftest import KEY, SHARED, Server, served_corpus
from tests.test_web import ARTIFACTS, ask, document, no_horizontal_overflow

# The chat page tests' HTTP client, here on this module's server.
api = web.api

REALDOCS = SHARED / "realdocs"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not REALDOCS.is_dir(), reason="the shared real documents are not beside this checkout"
    ),
]

PDF_DOC = "pdf/ch05-01-defining-structs.pdf"
PDF_QUESTION = "What does storing references to data owned by something else in a struct require?"
PDF_PAGE = 6
HTML_DOC = "html/ch06-02-match.html"
HTML_QUESTION = "What does the match control flow construct let you compare a value against?"
HTML_SECTION = "The match Control Flow Construct"
DOCX_DOC = "docx/ch10-02-traits.docx"
DOCX_QUESTION = "What are implementations of a trait on any type that satisfies the bounds called?"
DOCX_SECTION = "Using Trait Bounds to Conditionally Implement Methods"
UPLOAD_FILE = REALDOCS / "pdf" / "ch03-02-data-types.pdf"
UPLOAD_QUESTION = "What do Rust's integer types default to?"
WRONG_KEY_MESSAGE = "the API key is not valid"


# ---------------------------------------------------------------- server


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    corpus = tmp_path_factory.mktemp("web-formats-corpus")
    for doc_id in (PDF_DOC, HTML_DOC, DOCX_DOC):
        (corpus / doc_id).parent.mkdir(parents=True, exist_ok=True)
        (corpus / doc_id).symlink_to(REALDOCS / doc_id)
    return corpus


@pytest.fixture(scope="module")
def server(corpus_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # The corpus folder is where originals are read from and where uploads are mirrored.
    env = {"QA_API_KEY": KEY, "QA_CORPUS_DIR": str(corpus_dir)}
    with served_corpus(corpus_dir, tmp_path_factory, "web-formats", env=env) as running:
        yield running


# ---------------------------------------------------------------- helpers


def image_state(page: Page) -> dict[str, Any]:
    """The page image once it has loaded or failed: natural size and request."""
    image = page.locator("#doc-body img.page-image")
    expect(image).to_have_count(1)
    page.wait_for_function(
        "() => { const i = document.querySelector('#doc-body img.page-image');"
        " return i && i.complete; }"
    )
    state: dict[str, Any] = image.evaluate(
        "i => ({width: i.naturalWidth, height: i.naturalHeight, src: i.src, alt: i.alt})"
    )
    url = urlparse(state["src"])
    state["path"] = unquote(url.path)
    state["query"] = {key: int(value[0]) for key, value in parse_qs(url.query).items()}
    return state


def expect_page_image(page: Page, doc_id: str, number: int, span: tuple[int, int] | None) -> None:
    state = image_state(page)
    assert state["path"] == f"/documents/{doc_id}/pages/{number}.png", state
    assert state["query"] == ({"start": span[0], "end": span[1]} if span else {}), state
    assert state["width"] > 0 and state["height"] > state["width"], state
    expect(page.locator("#doc-tools .pager-label")).to_contain_text(f"Page {number} of ")


def cited_passage(result: dict[str, Any]) -> dict[str, Any]:
    answer = result["answer"]
    passage: dict[str, Any] = next(
        p
        for p in result["passages"]
        if p["doc_id"] == answer["doc_id"]
        and p["start"] <= answer["start"]
        and answer["end"] <= p["end"]
    )
    return passage


def open_add_dialog(page: Page) -> None:
    page.get_by_role("button", name="Add a document").click()
    expect(page.locator("#add-dialog")).to_be_visible()


def storage(page: Page) -> dict[str, Any]:
    result: dict[str, Any] = page.evaluate(
        "() => ({session: {...sessionStorage}, local: {...localStorage}, cookie: document.cookie})"
    )
    return result


# ---------------------------------------------------------------- page citations


def test_pdf_citation_reads_page_and_opens_the_page_view(
    page: Page, server: Server, api: httpx.Client
) -> None:
    page.goto(server.url + "/")
    result = ask(page, PDF_QUESTION)
    answer = result["answer"]
    assert result["answerable"] and answer["doc_id"] == PDF_DOC
    assert answer["page"] == PDF_PAGE, answer
    passage = cited_passage(result)
    reply = page.locator("article.reply").last

    # Every PDF passage reads "p. N", its own page; the answer names its page too.
    items = reply.locator("ol.passages > li")
    for number, shown in enumerate(result["passages"]):
        if shown["page"] is not None:
            expect(items.nth(number).locator(".passage-where .cite-page")).to_have_text(
                f"p. {shown['page']}"
            )
    expect(reply.locator(".answer-note .cite-page")).to_have_text(f"p. {PDF_PAGE}")
    # A PDF passage has its section too, from the PDF's headings (their font sizes).
    where = f"page {passage['page']}, section “{passage['section']}”"
    assert passage["section"], passage
    expect(reply.locator("a.answer-cite").first).to_have_attribute(
        "aria-label", f"Citation 1: open {passage['title']}, {where} at the answer"
    )

    # The citation opens the page where the passage starts, with the passage highlighted.
    reply.locator("a.answer-cite").first.click()
    expect(page.locator("#doc-title")).to_have_text(passage["title"])
    expect(page.locator("#doc-meta")).to_contain_text("PDF, ")
    expect(page.get_by_role("button", name="Page", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    expect_page_image(page, PDF_DOC, passage["page"], (passage["start"], passage["end"]))
    assert "with the cited passage highlighted" in image_state(page)["alt"]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "page-view.png"))

    # The answer sentence gets its own highlight, on its own page.
    page.get_by_role("button", name="Answer", exact=True).click()
    expect(page.get_by_role("button", name="Answer", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    expect_page_image(page, PDF_DOC, answer["page"], (answer["start"], answer["end"]))
    expect(page.locator("#doc-body .page-caption")).to_have_text(
        "The answer sentence is highlighted."
    )

    # A passage's "p. N" opens that passage's page.
    other = next(i for i, p in enumerate(result["passages"]) if p["page"] != answer["page"])
    shown = result["passages"][other]
    items.nth(other).locator("a.cite-page").click()
    expect_page_image(page, shown["doc_id"], shown["page"], (shown["start"], shown["end"]))

    # Today's exact-text view is one switch away, and back.
    reply.locator("a.answer-cite").first.click()
    page.get_by_role("button", name="Text", exact=True).click()
    doc = document(api, PDF_DOC)
    mark = page.locator("#doc-body mark.hl-passage")
    expect(mark).to_have_count(1)
    assert mark.text_content() == doc["text"][passage["start"] : passage["end"]]
    assert page.locator("#doc-body mark.hl-answer").text_content() == answer["text"]
    expect(page.locator("#doc-body mark.hl-answer")).to_be_in_viewport()
    assert "&view=text" in page.url
    page.get_by_role("button", name="Page", exact=True).click()
    expect_page_image(page, PDF_DOC, passage["page"], (passage["start"], passage["end"]))
    assert "view=" not in page.url


def test_page_view_steps_through_a_span_that_crosses_pages(
    browser: Browser, page_errors: PageErrors, server: Server, api: httpx.Client
) -> None:
    doc = document(api, PDF_DOC)
    assert doc["format"] == "pdf"
    pages = doc["pages"]
    first, second = pages[1], pages[2]
    span = (first["end"] - 40, second["start"] + 40)
    view = new_page(browser, page_errors, viewport=PHONE)
    try:
        view.goto(f"{server.url}/#doc={PDF_DOC}&start={span[0]}&end={span[1]}")
        expect_page_image(view, PDF_DOC, first["page"], span)
        expect(view.locator("#doc-body .page-caption")).to_have_text(
            f"The cited passage is highlighted; it runs from page {first['page']} "
            f"to page {second['page']}."
        )
        layout = no_horizontal_overflow(view)
        assert not layout["outside"], layout
        view.screenshot(path=str(ARTIFACTS / "page-view-phone.png"))

        # Zoom shows the page at its own size, scrolled sideways in its frame; and back.
        zoom = view.get_by_role("button", name="Zoom")
        for zoomed in (True, False):
            zoom.click()
            expect(zoom).to_have_attribute("aria-pressed", str(zoomed).lower())
            expect_page_image(view, PDF_DOC, first["page"], span)
            sizes = view.locator("#doc-body .page-frame").evaluate(
                "f => [f.scrollWidth, f.clientWidth, f.querySelector('img').naturalWidth]"
            )
            assert (sizes[0] >= sizes[2] > sizes[1]) if zoomed else sizes[0] == sizes[1], sizes
        expect(zoom).to_be_focused()

        # Next: the rest of the span; then a page without it, drawn plain.
        next_button = view.get_by_role("button", name="Next page")
        next_button.click()
        expect_page_image(view, PDF_DOC, second["page"], span)
        next_button.click()
        expect_page_image(view, PDF_DOC, pages[3]["page"], None)
        expect(view.locator("#doc-body .page-caption")).to_have_text(
            f"The cited passage is on pages {first['page']}–{second['page']}."
        )
        expect(next_button).to_be_focused()
        # The arrow keys turn pages too; the first page has no Previous.
        view.keyboard.press("ArrowLeft")
        expect_page_image(view, PDF_DOC, second["page"], span)
        for _ in range(second["page"] - 1):
            view.get_by_role("button", name="Previous page").click()
        expect_page_image(view, PDF_DOC, 1, None)
        expect(view.get_by_role("button", name="Previous page")).to_be_disabled()
    finally:
        view.context.close()


def test_page_image_failure_shows_a_readable_message(page: Page, server: Server) -> None:
    message = "page 2 of 'pdf/ch05-01-defining-structs.pdf' could not be drawn: test"

    def refuse(route: Route) -> None:
        route.fulfill(status=503, json={"error": "render_failed", "message": message})

    page.route("**/pages/*.png*", refuse)
    page.goto(f"{server.url}/#doc={PDF_DOC}&start=2000&end=2100")
    alert = page.locator("#doc-body .page-frame [role=alert]")
    expect(alert.locator(".error-title")).to_have_text("Page 2 could not be shown")
    expect(alert.locator(".error-message")).to_have_text(message)
    # The pager and the text view still work.
    expect(page.get_by_role("button", name="Next page")).to_be_enabled()
    page.get_by_role("button", name="Text", exact=True).click()
    expect(page.locator("#doc-body mark.hl-passage")).to_have_count(1)


@pytest.mark.parametrize(
    ("question", "doc_id", "section", "kind"),
    [
        (HTML_QUESTION, HTML_DOC, HTML_SECTION, "Web page"),
        (DOCX_QUESTION, DOCX_DOC, DOCX_SECTION, "Word document"),
    ],
)
def test_html_and_word_citations_show_their_section(
    page: Page, server: Server, question: str, doc_id: str, section: str, kind: str
) -> None:
    page.goto(server.url + "/")
    result = ask(page, question)
    answer = result["answer"]
    assert result["answerable"] and answer["doc_id"] == doc_id
    assert answer["section"] == section and answer["page"] is None, answer
    reply = page.locator("article.reply").last
    expect(reply.locator(".answer-note .cite-section")).to_have_text(section)
    items = reply.locator("ol.passages > li")
    for number, passage in enumerate(result["passages"]):
        where = items.nth(number).locator(".passage-where")
        if passage["section"]:
            expect(where.locator(".cite-section")).to_have_text(passage["section"])
        expect(where.locator(".cite-page")).to_have_count(0)

    # No pages: the citation opens the exact text, with no page tools.
    reply.locator("a.answer-cite").first.click()
    expect(page.locator("#doc-body mark.hl-answer")).to_have_text(answer["text"])
    expect(page.locator("#doc-tools")).to_be_hidden()
    expect(page.locator("#doc-meta")).to_contain_text(kind)
    original = page.locator("#doc-meta a.original-link")
    # Offered as a download: an uploaded page is never shown in this origin.
    expect(original).to_have_attribute("download", doc_id.split("/")[-1])


# ---------------------------------------------------------------- adding files


def test_dropped_file_is_staged_and_a_wrong_kind_is_refused(page: Page, server: Server) -> None:
    page.goto(server.url + "/")

    def drop(name: str) -> None:
        page.evaluate(
            """name => {
                const data = new DataTransfer();
                data.items.add(new File(["# Notes\\n\\nSome text.\\n"], name));
                for (const type of ["dragover", "drop"]) {
                    document.querySelector("#conversation").dispatchEvent(new DragEvent(type, {
                        bubbles: true, cancelable: true, dataTransfer: data}));
                }
            }""",
            name,
        )

    drop("notes.md")
    expect(page.locator("#add-dialog")).to_be_visible()
    expect(page.locator("#file-name")).to_contain_text("notes.md")
    drop("setup.exe")
    error = page.locator("#add-status [role=alert]")
    expect(error.locator(".error-title")).to_have_text("This kind of file cannot be added")
    expect(error).to_contain_text("setup.exe")
    # Escape closes the dialog and returns to the Add button.
    page.keyboard.press("Escape")
    expect(page.locator("#add-dialog")).to_be_hidden()
    expect(page.get_by_role("button", name="Add a document")).to_be_focused()


def test_wrong_key_shows_the_401_message_and_is_not_kept(page: Page, server: Server) -> None:
    page.goto(server.url + "/")
    open_add_dialog(page)
    page.get_by_label("API key").fill("not-the-key")
    page.locator("#file-input").set_input_files(str(UPLOAD_FILE))
    with page.expect_response(lambda r: r.url.endswith("/documents")) as info:
        page.get_by_role("button", name="Add", exact=True).click()
    assert info.value.status == 401
    body = info.value.json()
    assert WRONG_KEY_MESSAGE in body["message"]
    error = page.locator("#add-status [role=alert]")
    expect(error.locator(".error-title")).to_have_text("The API key was not accepted")
    expect(error.locator(".error-message")).to_have_text(body["message"])
    expect(page.get_by_label("API key")).to_be_visible()
    assert storage(page) == {"session": {}, "local": {}, "cookie": ""}


def test_unreadable_file_shows_the_422_message_and_keeps_the_accepted_key(
    page: Page, server: Server, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"this is not a PDF")
    page.goto(server.url + "/")
    open_add_dialog(page)
    page.get_by_label("API key").fill(KEY)
    page.locator("#file-input").set_input_files(str(broken))
    with page.expect_response(lambda r: r.url.endswith("/documents")) as info:
        page.get_by_label("API key").press("Enter")
    assert info.value.status == 422, info.value.text()
    body = info.value.json()
    assert "not a readable PDF" in body["message"]
    error = page.locator("#add-status [role=alert]")
    expect(error.locator(".error-title")).to_have_text("The file could not be read")
    expect(error.locator(".error-message")).to_have_text(body["message"])
    # The service checked the key before the file: it is kept, and not asked for again.
    expect(page.locator("#key-saved")).to_be_visible()
    assert storage(page) == {"session": {"qa.apiKey": KEY}, "local": {}, "cookie": ""}


def test_upload_with_the_key_answers_from_the_new_pdf(
    browser: Browser, page_errors: PageErrors, page: Page, server: Server, api: httpx.Client
) -> None:
    doc_id = UPLOAD_FILE.name
    assert api.get(f"/documents/{doc_id}").status_code == 404
    page.goto(server.url + "/")
    open_add_dialog(page)
    page.get_by_label("API key").fill(KEY)
    page.locator("#file-input").set_input_files(str(UPLOAD_FILE))
    with page.expect_response(lambda r: r.url.endswith("/documents"), timeout=120_000) as info:
        page.get_by_role("button", name="Add", exact=True).click()
    assert info.value.status == 201, info.value.text()
    added = info.value.json()
    notice = page.locator("#add-status [role=status]")
    expect(notice).to_contain_text(f"Added “{added['title']}” ({added['chunks']} passages).")

    # The key lives in this tab's session storage, nowhere else.
    assert storage(page) == {"session": {"qa.apiKey": KEY}, "local": {}, "cookie": ""}
    assert not page.context.cookies()
    page.keyboard.press("Escape")
    open_add_dialog(page)
    expect(page.locator("#key-saved")).to_be_visible()
    expect(page.get_by_label("API key")).to_be_hidden()
    page.get_by_role("button", name="Close", exact=True).click()

    # The new document answers at once, cited by page, and its page image draws.
    result = ask(page, UPLOAD_QUESTION)
    answer = result["answer"]
    assert result["answerable"] and answer["doc_id"] == doc_id, answer
    reply = page.locator("article.reply").last
    expect(reply.locator(".answer-note .cite-page")).to_have_text(f"p. {answer['page']}")
    reply.locator("a.answer-cite").first.click()
    passage = cited_passage(result)
    expect_page_image(page, doc_id, passage["page"], (passage["start"], passage["end"]))

    # Another tab (another browser context) starts without the key.
    other = new_page(browser, page_errors)
    try:
        other.goto(server.url + "/")
        assert storage(other)["session"] == {}
    finally:
        other.context.close()
