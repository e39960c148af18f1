"""The chat page on real PDF, HTML and Word files, in headless Chromium against a real
`qa serve`: "p. N" citations open the rendered page with the passage highlighted, HTML
passages show their section, and a key holder adds a file from the page."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import KEY, Server, start_server, stop_server
from tests.test_formats import REALDOCS
from tests.test_web import QA_BIN, ask, browser, new_page, page_errors, playwright  # noqa: F401

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not REALDOCS.is_dir(), reason="the shared real documents are missing"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    corpus = tmp_path_factory.mktemp("formats-corpus")
    shutil.copy(REALDOCS / "pdf" / "ch15-01-box.pdf", corpus / "box.pdf")
    shutil.copy(REALDOCS / "html" / "ch10-02-traits.html", corpus / "traits.html")
    index = tmp_path_factory.mktemp("formats-index")
    built = subprocess.run(
        [str(QA_BIN), "index", "--corpus", str(corpus), "--index", str(index), "--quiet"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    env = {"QA_CORPUS_DIR": str(corpus), "QA_API_KEY": KEY}
    running = start_server(index, tmp_path_factory.mktemp("formats-serve") / "log", env=env)
    try:
        yield running
    finally:
        stop_server(running)


@pytest.fixture
def page(browser, page_errors, server: Server) -> Iterator[Page]:  # type: ignore[no-untyped-def]  # noqa: F811
    opened = new_page(browser, page_errors)
    opened.goto(server.url + "/")
    try:
        yield opened
    finally:
        opened.context.close()


def test_a_pdf_citation_reads_p_n_and_opens_the_highlighted_page(page: Page) -> None:
    body = ask(page, "How do boxes enable recursive types?")
    top = body["passages"][0]
    assert (top["doc_id"], top["page"]) == ("box.pdf", 2)
    link = page.locator(".passage").first.locator("a.page-cite")
    expect(link).to_have_text("p. 2")
    link.click()
    image = page.locator("#doc-body img.page-image")
    expect(image).to_be_visible()
    page.wait_for_function(
        "() => { const i = document.querySelector('#doc-body img.page-image');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    src = image.get_attribute("src") or ""
    assert src.startswith("/documents/box.pdf/pages/2.png?start=")
    expect(page.locator("#doc-body figcaption")).to_contain_text("Page 2 of 7")
    expect(page.locator("#doc-body .hl-passage")).to_have_count(1)  # the exact text is kept


def test_an_html_passage_shows_its_section_heading(page: Page) -> None:
    body = ask(page, "What are blanket implementations of a trait?")
    html = [p for p in body["passages"] if p["doc_id"] == "traits.html"]
    assert html and all(p["section"] and p["page"] is None for p in html)
    shown = page.locator(".passage[data-doc-id='traits.html'] .passage-section").first
    expect(shown).to_have_text(html[0]["section"])


def test_a_key_holder_adds_a_word_file_from_the_page(page: Page) -> None:
    page.get_by_role("button", name="Documents").click()
    form = page.get_by_role("form", name="Add a file")
    form.get_by_label("API key (kept in this tab only)").fill(KEY)
    page.set_input_files("#upload-file", str(REALDOCS / "docx" / "ch05-01-defining-structs.docx"))
    with page.expect_response(
        lambda r: r.url.endswith("/documents") and r.request.method == "POST"
    ) as info:
        form.get_by_role("button", name="Add file").click()
    assert info.value.status == 201, info.value.text()
    expect(page.locator(".upload-status")).to_contain_text("Added ch05-01-defining-structs.docx")
    expect(page.locator(".doc-list")).to_contain_text("Defining and Instantiating Structs")
    stored = page.evaluate("() => [sessionStorage.getItem('qa-api-key'), localStorage.length]")
    assert stored == [KEY, 0]


def test_a_wrong_key_gets_the_services_message(page: Page) -> None:
    page.get_by_role("button", name="Documents").click()
    form = page.get_by_role("form", name="Add a file")
    form.get_by_label("API key (kept in this tab only)").fill("wrong-key")
    page.set_input_files("#upload-file", str(REALDOCS / "html" / "ch06-02-match.html"))
    form.get_by_role("button", name="Add file").click()
    expect(page.locator(".upload-status")).to_contain_text("key")
