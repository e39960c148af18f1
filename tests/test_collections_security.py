"""Every route under a protected collection refuses callers without its keys, and gives
nothing away: no key 401, a wrong key or another collection's key 404 (as for a name that
does not exist), a read key writing 403; ids that climb out are refused. The real app,
over real indexes, with the fake model (fast)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from qa.api import create_app
from qa.config import Settings
from tests.collections_helpers import (
    KEY_ENV,
    OPEN_WRITE,
    SECRET_READ,
    SECRET_WRITE,
    bearer,
    collections_file,
)
from tests.conftest import FakeEmbedder

DOC = {"doc_id": "new.md", "text": "The night shift starts at ten."}
# (method, path under the collection, JSON body): every route a collection has.
READS: list[tuple[str, str, Any]] = [
    ("POST", "ask", {"question": "What is the code word?"}),
    ("GET", "documents", None),
    ("GET", "documents/plan.md", None),
    ("GET", "documents/plan.md/original", None),
    ("GET", "documents/plan.md/pages/1.png", None),
    ("POST", "feedback", {"request_id": "r-1", "helpful": False}),
]
WRITES: list[tuple[str, str, Any]] = [
    ("POST", "documents", DOC),
    ("DELETE", "documents/plan.md", None),
    ("GET", "feedback", None),
]
ACCESS_CODES = {"unauthorized", "collection_not_found", "forbidden", "writes_disabled"}


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    for name, value in KEY_ENV.items():
        monkeypatch.setenv(name, value)
    fake = FakeEmbedder()
    path = collections_file(tmp_path, fake)
    settings = Settings(collections=path, batch_window_ms=0)
    with TestClient(create_app(settings, embedder_factory=lambda _: fake)) as client:
        yield client


def call(client: TestClient, method: str, path: str, body: Any, **kw: Any) -> Any:
    return client.request(method, f"/collections/{path}", json=body, **kw)


@pytest.mark.parametrize(("method", "path", "body"), READS + WRITES)
def test_a_protected_collection_without_a_key_is_401(
    app: TestClient, method: str, path: str, body: Any
) -> None:
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer"}):
        r = call(app, method, f"secret/{path}", body, headers=headers)
        assert r.status_code == 401, r.text
        assert r.json()["error"] == "unauthorized"
        assert r.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("method", "path", "body"), READS + WRITES)
def test_a_wrong_key_or_another_collections_key_is_404_like_no_collection(
    app: TestClient, method: str, path: str, body: Any
) -> None:
    missing = call(app, method, f"nosuch/{path}", body, headers=bearer(OPEN_WRITE))
    assert missing.status_code == 404
    for key in ("wrong-key", OPEN_WRITE, SECRET_READ + "x", SECRET_READ[:-1]):
        r = call(app, method, f"secret/{path}", body, headers=bearer(key))
        assert r.status_code == 404, (key, r.text)
        # The very answer a collection that does not exist gets, but for its name.
        assert r.json() == {
            **missing.json(),
            "message": missing.json()["message"].replace("nosuch", "secret"),
        }


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_a_read_key_writing_is_403_and_nothing_changes(
    app: TestClient, method: str, path: str, body: Any
) -> None:
    r = call(app, method, f"secret/{path}", body, headers=bearer(SECRET_READ))
    assert r.status_code == 403, r.text
    assert r.json()["error"] == "forbidden" and "write key" in r.json()["message"]
    docs = app.get("/collections/secret/documents", headers=bearer(SECRET_READ)).json()
    assert [d["doc_id"] for d in docs["documents"]] == ["plan.md"]


@pytest.mark.parametrize(("method", "path", "body"), READS)
def test_the_right_keys_reach_every_read_route(
    app: TestClient, method: str, path: str, body: Any
) -> None:
    for key in (SECRET_READ, SECRET_WRITE):  # a write key also reads
        r = call(app, method, f"secret/{path}", body, headers=bearer(key))
        if r.status_code >= 400:  # a markdown file has no page images: the route said so
            assert r.json()["error"] not in ACCESS_CODES, r.text
            assert path.endswith(".png") and r.status_code == 404
        else:
            assert r.status_code in (200, 201), r.text


def test_writes_need_a_write_key_even_on_a_public_collection(app: TestClient) -> None:
    for method, path, body in WRITES:
        assert call(app, method, f"open/{path}", body).status_code == 401
        r = call(app, method, f"open/{path}", body, headers=bearer(SECRET_WRITE))
        assert r.status_code == 401, r.text  # another collection's write key
    r = call(app, "POST", "open/documents", DOC, headers=bearer(OPEN_WRITE))
    assert r.status_code == 201, r.text
    assert call(app, "GET", "open/documents/new.md", None).status_code == 200
    # Reading a public collection needs no key, and a wrong one does not stop it.
    for headers in ({}, bearer("wrong-key")):
        assert call(app, "GET", "open/documents", None, headers=headers).status_code == 200


def test_the_listing_shows_only_what_the_key_may_read(app: TestClient) -> None:
    def names(headers: dict[str, str]) -> dict[str, str]:
        r = app.get("/collections", headers=headers)
        assert r.status_code == 200, r.text
        return {c["name"]: c["access"] for c in r.json()["collections"]}

    assert names({}) == {"open": "read"}
    assert names(bearer("wrong-key")) == {"open": "read"}
    assert names(bearer(OPEN_WRITE)) == {"open": "write"}
    assert names(bearer(SECRET_READ)) == {"secret": "read", "open": "read"}
    assert names(bearer(SECRET_WRITE)) == {"secret": "write", "open": "read"}
    listed = app.get("/collections", headers=bearer(SECRET_READ)).json()["collections"]
    assert {c["name"]: (c["documents"], c["chunks"] > 0) for c in listed} == {
        "secret": (1, True),
        "open": (1, True),
    }
    health = app.get("/health")
    assert health.status_code == 200
    assert health.json()["documents"] is None and "secret" not in health.text
    # No unprefixed corpus on a server with collections.
    assert app.post("/ask", json={"question": "code word?"}).status_code == 404


def test_ids_that_climb_out_are_refused(app: TestClient) -> None:
    key = bearer(SECRET_WRITE)
    # Percent-encoded, so that no client or server tidies the dots away first.
    for path in (
        "secret/documents/..%2F..%2Fopen%2Fguide.md",
        "secret/documents/../open/documents/guide.md",
        "secret/documents/..%2Fplan.md/original",
        "secret/documents/%2E%2E/%2E%2E/etc/passwd/original",
        "secret/documents/..%2F..%2Fplan.md/pages/1.png",
        "..%2Fsecret/documents",
        "secret%2F..%2Fopen/documents",
    ):
        r = app.get(f"/collections/{path}", headers=key)
        assert r.status_code == 404, (path, r.text)
        assert "Guide" not in r.text and "canteen" not in r.text
    r = app.delete("/collections/secret/documents/..%2F..%2Fopen%2Fguide.md", headers=key)
    assert r.status_code == 404
    for doc_id in ("../escape.md", "a/../../escape.md", "/etc/escape.md"):
        r = app.post("/collections/secret/documents", json={**DOC, "doc_id": doc_id}, headers=key)
        assert r.status_code == 422, (doc_id, r.text)
    assert call(app, "GET", "open/documents/guide.md", None).status_code == 200


def test_keys_appear_in_no_reply(app: TestClient) -> None:
    keys = (SECRET_READ, SECRET_WRITE, OPEN_WRITE)
    replies = [
        app.get("/collections", headers=bearer(SECRET_WRITE)),
        app.get("/health"),
        app.get("/openapi.json"),
        call(app, "GET", "secret/documents", None, headers=bearer("wrong")),
        call(app, "POST", "secret/documents", DOC, headers=bearer(SECRET_READ)),
    ]
    for r in replies:
        assert not any(k in r.text for k in keys), r.text
