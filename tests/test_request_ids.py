"""X-Request-ID on every response and the JSON access log, through the real app and, for
the header on the wire, a real uvicorn process."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi import Request
from fastapi.testclient import TestClient

from qa.api import create_app
from qa.api.middleware import access_log
from qa.config import Settings
from tests.conftest import AUTH, KEY, FakeEmbedder, Server, serving

NEW_ID = re.compile(r"[0-9a-f]{32}")
FIELDS = {"time", "id", "method", "route", "collection", "status", "ms"}


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def of(self, request_id: str) -> dict[str, Any]:
        found = [json.loads(line) for line in self.lines if request_id in line]
        assert len(found) == 1, self.lines
        return found[0]


@pytest.fixture
def access() -> Iterator[Lines]:
    handler = Lines()
    access_log.addHandler(handler)
    try:
        yield handler
    finally:
        access_log.removeHandler(handler)


@pytest.mark.parametrize("given", ["abc", "req-42.retry:1_A", "x" * 128, "0"])
def test_a_sane_client_id_is_echoed(api: TestClient, given: str) -> None:
    r = api.get("/health", headers={"X-Request-ID": given})
    assert r.headers["X-Request-ID"] == given


@pytest.mark.parametrize(
    "given", ["x" * 129, "", "a b", "semi;colon", "<script>", "ünï", "id\tab", "a/b", '"q"']
)
def test_an_insane_client_id_is_replaced(api: TestClient, given: str) -> None:
    r = api.get("/health", headers={"X-Request-ID": given.encode("utf-8")})  # type: ignore[dict-item]
    assert NEW_ID.fullmatch(r.headers["X-Request-ID"]) and r.headers["X-Request-ID"] != given


def test_every_request_gets_its_own_new_id(api: TestClient) -> None:
    ids = {api.get("/health").headers["X-Request-ID"] for _ in range(5)}
    assert len(ids) == 5 and all(NEW_ID.fullmatch(i) for i in ids)


def test_a_header_cannot_be_injected_through_the_id(fake_settings: Settings) -> None:
    """Below any HTTP parser (which would refuse CR LF itself): the app's own answer."""
    app = create_app(fake_settings)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/nowhere",
        "raw_path": b"/nowhere",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"x-request-id", b"abc\r\nSet-Cookie: evil=1")],
        "scheme": "http",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 5000),
        "http_version": "1.1",
    }
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    assert start["status"] == 404
    assert NEW_ID.fullmatch(headers["x-request-id"]) and "set-cookie" not in headers


@pytest.fixture
def keyed(fake_settings: Settings, fake_embedder: FakeEmbedder) -> Iterator[TestClient]:
    settings = fake_settings.model_copy(
        update={"require_key_for_reads": True, "max_body_bytes": 2048}
    )
    with serving(settings, fake_embedder) as client:
        yield client


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("get", "/documents", {}, 401),  # the read-key middleware's refusal
        ("post", "/ask", {"content": b"x" * 4096, "headers": AUTH}, 413),  # the body limit's
        ("post", "/ask", {"json": {}, "headers": AUTH}, 422),
        ("get", "/documents/nope.md", {"headers": AUTH}, 404),
        ("put", "/ask", {"headers": AUTH}, 405),
        ("get", "/static/app.js", {}, 200),
        ("get", "/", {}, 200),
        ("get", "/health", {}, 200),
    ],
)
def test_errors_middleware_refusals_and_static_files_carry_the_id(
    keyed: TestClient, method: str, path: str, kwargs: dict[str, Any], status: int
) -> None:
    headers = {**kwargs.pop("headers", {}), "X-Request-ID": "trace-7"}
    r = keyed.request(method.upper(), path, headers=headers, **kwargs)
    assert r.status_code == status
    assert r.headers["X-Request-ID"] == "trace-7"
    if status >= 400:
        assert set(r.json()) >= {"error", "message"}


def test_routes_see_the_id_on_request_state(fake_settings: Settings) -> None:
    app = create_app(fake_settings)

    @app.get("/echo-id")
    async def echo(request: Request) -> dict[str, str]:
        return {"id": request.state.request_id}

    with TestClient(app) as client:
        r = client.get("/echo-id", headers={"X-Request-ID": "from-client"})
        assert r.json() == {"id": "from-client"}
        r = client.get("/echo-id")
        assert r.json()["id"] == r.headers["X-Request-ID"]


def test_one_json_access_line_per_request_without_key_or_question(
    api: TestClient, access: Lines
) -> None:
    r = api.post("/ask", json={"question": "Who leads the mission?"}, headers=AUTH)
    line = access.of(r.headers["X-Request-ID"])
    assert set(line) == FIELDS
    assert line["method"] == "POST" and line["route"] == "/ask" and line["status"] == 200
    assert line["collection"] is None and isinstance(line["ms"], float) and line["ms"] > 0
    assert datetime.fromisoformat(line["time"]).utcoffset() is not None
    assert line["time"].endswith("Z")
    d = api.get("/documents/alpha.md", headers={"X-Request-ID": "doc-1"})
    assert d.status_code == 200
    assert access.of("doc-1")["route"] == "/documents/{doc_id:path}"
    api.post("/documents", json={"doc_id": "x.md", "text": "t"}, headers={"Authorization": "x"})
    everything = "\n".join(access.lines)
    assert KEY not in everything and "Bearer" not in everything
    assert "Who leads the mission" not in everything
    assert len(access.lines) == 3


def test_questions_are_logged_only_when_asked_for(
    fake_settings: Settings, fake_embedder: FakeEmbedder, access: Lines
) -> None:
    settings = fake_settings.model_copy(update={"log_questions": True})
    with serving(settings, fake_embedder) as client:
        r = client.post("/ask", json={"question": "Who leads the mission?"}, headers=AUTH)
        assert access.of(r.headers["X-Request-ID"])["question"] == "Who leads the mission?"
        h = client.get("/health")
        assert "question" not in access.of(h.headers["X-Request-ID"])
        assert KEY not in "\n".join(access.lines)


def test_qa_log_questions_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().log_questions is False
    monkeypatch.setenv("QA_LOG_QUESTIONS", "true")
    assert Settings().log_questions is True


@pytest.mark.slow
def test_the_header_and_the_log_line_on_a_real_server(live_server: Server) -> None:
    r = httpx.post(
        live_server.url + "/ask",
        json={"question": "Which country leads the training mission?"},
        headers={"X-Request-ID": "wire-check-1", **AUTH},
        timeout=30,
    )
    assert r.status_code == 200 and r.headers["x-request-id"] == "wire-check-1"
    made = httpx.get(live_server.url + "/nowhere", headers={"X-Request-ID": "x" * 200})
    assert made.status_code == 404 and NEW_ID.fullmatch(made.headers["x-request-id"])
    deadline = time.monotonic() + 10  # the line is written just after the answer is sent
    while not (lines := [ln for ln in live_server.output().splitlines() if "wire-check-1" in ln]):
        assert time.monotonic() < deadline, live_server.output()
        time.sleep(0.05)
    assert len(lines) == 1
    line = json.loads(lines[0])
    assert set(line) == FIELDS and line["route"] == "/ask" and line["status"] == 200
    assert KEY not in live_server.output()
