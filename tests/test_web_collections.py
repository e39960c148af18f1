"""The chat page on a server with collections, in headless Chromium: the picker lists the
collections the tab's key may read, the key stays in session storage, asking and citation
links stay in the chosen collection, and a thumb on an answer stores feedback there. On a
server without collections the picker is hidden and the thumbs post to /feedback."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.collections_helpers import (
    KEY_ENV,
    SECRET_READ,
    SECRET_WRITE,
    bearer,
    collections_file,
    start,
)
from tests.conftest import Server, run_qa, running

pytestmark = pytest.mark.slow

CODE_QUESTION = "What is the launch code word?"
CANTEEN_QUESTION = "When does the canteen open?"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("web-collections")
    path = collections_file(root)
    done = run_qa("index", "--collections", str(path), "--quiet", env=KEY_ENV)
    assert done.returncode == 0, done.stderr
    with running(start(path, root / "serve.log")) as started:
        yield started


def options(page: Page) -> list[str]:
    values: list[str] = page.locator("#collection-select option").evaluate_all(
        "(nodes) => nodes.map((n) => n.value)"
    )
    return values


def ask(page: Page, question: str, path: str) -> dict[str, object]:
    box = page.get_by_label("Your question")
    box.fill(question)
    with page.expect_response(lambda r: r.url.endswith(path)) as info:
        box.press("Enter")
    assert info.value.status == 200, info.value.text()
    body: dict[str, object] = info.value.json()
    return body


def test_picker_key_scoped_links_and_thumbs(page: Page, server: Server) -> None:
    page.goto(server.url)
    picker = page.locator("#collections")
    expect(picker).to_be_visible()
    expect(page.locator("#collection-select option")).to_have_count(1)
    assert options(page) == ["open"]  # a protected collection is not even named

    page.get_by_label("Key for protected collections").fill(SECRET_READ)
    page.get_by_role("button", name="Use key").click()
    expect(page.locator("#collection-select option")).to_have_count(2)
    assert options(page) == ["secret", "open"]
    storage = page.evaluate("() => [sessionStorage.getItem('qa.apiKey'), localStorage.length]")
    assert storage == [SECRET_READ, 0]
    assert SECRET_READ not in page.evaluate("() => document.cookie")

    page.locator("#collection-select").select_option("secret")
    reply = ask(page, CODE_QUESTION, "/collections/secret/ask")
    assert isinstance(reply["request_id"], str)
    card = page.locator("article.reply").first  # (a locator: .last would move on)
    expect(card).to_contain_text("Marigold")
    link = card.locator("a.answer-cite").first
    assert "c=secret" in (link.get_attribute("href") or "")
    with page.expect_response(lambda r: "/collections/secret/documents/plan.md" in r.url) as doc:
        link.click()
    assert doc.value.status == 200
    expect(page.locator("#doc-title")).to_have_text("Plan")

    with page.expect_response(lambda r: r.url.endswith("/collections/secret/feedback")) as sent:
        card.get_by_role("button", name="This answer did not help").click()
    assert sent.value.status == 201, sent.value.text()
    expect(card.locator(".feedback-status")).to_contain_text("saved")
    expect(card.get_by_role("button", name="This answer did not help")).to_have_attribute(
        "aria-pressed", "true"
    )
    stored = httpx.get(
        server.url + "/collections/secret/feedback", headers=bearer(SECRET_WRITE), timeout=30
    ).json()["feedback"]
    assert [(f["request_id"], f["helpful"], f["question"]) for f in stored] == [
        (reply["request_id"], False, CODE_QUESTION)
    ]

    page.locator("#collection-select").select_option("open")
    expect(page.locator("#doc-panel")).to_be_hidden()  # the other collection's document
    other = ask(page, CANTEEN_QUESTION, "/collections/open/ask")
    assert {p["doc_id"] for p in other["passages"]} == {"guide.md"}  # type: ignore[index,union-attr]
    newest = page.locator("article.reply").last
    assert "c=open" in (newest.locator("a.cite").first.get_attribute("href") or "")

    # The earlier answer's citation still opens its own collection's document.
    with page.expect_response(lambda r: "/collections/secret/documents/plan.md" in r.url):
        card.locator("a.answer-cite").first.click()
    expect(page.locator("#collection-select")).to_have_value("secret")


def test_no_picker_without_collections_and_thumbs_post_to_feedback(
    page: Page, live_server: Server
) -> None:
    page.goto(live_server.url)
    expect(page.locator("#service-status")).to_have_attribute("data-state", "ok")
    expect(page.locator("#collections")).to_be_hidden()
    box = page.get_by_label("Your question")
    box.fill("Which country offered to lead NATO's training mission in Iraq from 2021?")
    with page.expect_response(lambda r: r.url.endswith("/ask")) as info:
        box.press("Enter")
    assert info.value.url == live_server.url + "/ask"
    card = page.locator("article.reply").last
    with page.expect_response(lambda r: r.url == live_server.url + "/feedback") as sent:
        card.get_by_role("button", name="This answer helped").click()
    assert sent.value.status == 201
    assert sent.value.json()["request_id"] == info.value.json()["request_id"]
