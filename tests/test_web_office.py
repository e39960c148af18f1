"""The chat page on a slide deck and a workbook, in headless Chromium against a real
`qa serve`: a slide is cited as "slide N" and opens in the page view with the cited words
highlighted on the slide's image; a sheet row is cited under its sheet, with its header."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import Server, served_corpus
from tests.officemaker import make_pptx, make_xlsx
from tests.test_web import ask
from tests.test_web_formats import image_state

pytestmark = pytest.mark.slow

DECK = "harbour-plan.pptx"
SLIDES = [
    {"title": "Harbour renewal plan", "boxes": [(1, 2, "A proposal for the town council.")]},
    {
        "title": "Dredging the channel",
        "boxes": [(1, 2, "The channel is dredged to a depth of eleven metres every spring.")],
        "notes": "Mention the cost of the dredger.",
    },
    {"title": "Timeline", "boxes": [(1, 2, "Work on the quay walls starts in March.")]},
]
BOOK = "lighthouses.xlsx"
SHEETS: dict[str, list[list[object]]] = {
    "Lighthouses": [
        ["Name", "Height", "Lit since"],
        ["Skerry Point", "34 m", "1851"],
        ["Gull Rock", "21 m", "1902"],
    ],
    "Keepers": [["Keeper", "Station"], ["Ada Morrow", "Gull Rock"]],
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    corpus = tmp_path_factory.mktemp("web-office-corpus")
    (corpus / DECK).write_bytes(make_pptx(SLIDES, title="Harbour renewal"))
    (corpus / BOOK).write_bytes(make_xlsx(SHEETS, title="Lighthouses of the coast"))
    env = {"QA_CORPUS_DIR": str(corpus)}
    with served_corpus(corpus, tmp_path_factory, "web-office", env=env) as running:
        yield running


def test_a_slide_is_cited_by_number_and_opens_highlighted_on_its_image(
    page: Page, server: Server
) -> None:
    page.goto(server.url + "/")
    result = ask(page, "How deep is the channel dredged every spring?")
    top = result["passages"][0]
    assert top["doc_id"] == DECK and top["page"] == 2, top
    assert top["section"] == "Dredging the channel", top
    reply = page.locator("article.reply").last
    where = reply.locator("ol.passages > li").first.locator(".passage-where .cite-page")
    expect(where).to_have_text("slide 2")
    expect(where).to_have_attribute(
        "aria-label", f"Open slide 2 of {top['title']} with the passage highlighted"
    )

    where.click()
    state = image_state(page)
    assert state["path"] == f"/documents/{DECK}/pages/2.png", state
    assert state["query"] == {"start": top["start"], "end": top["end"]}, state
    assert state["width"] > 0 and state["height"] > 0, state
    assert "with the cited passage highlighted" in state["alt"]


def test_a_sheet_row_is_cited_under_its_sheet_with_its_header(page: Page, server: Server) -> None:
    page.goto(server.url + "/")
    result = ask(page, "When was the Gull Rock lighthouse first lit?")
    top = result["passages"][0]
    assert top["doc_id"] == BOOK and top["section"] == "Lighthouses", top
    card = page.locator("article.reply").last.locator("ol.passages > li").first
    expect(card.locator(".passage-where .cite-section")).to_have_text("Lighthouses")
    # The row carries its header, so it reads on its own.
    expect(card).to_contain_text("Name: Gull Rock")
    expect(card).to_contain_text("Lit since: 1902")
    # A sheet has no pages: nothing reads as a page or slide.
    expect(card.locator(".cite-page")).to_have_count(0)
