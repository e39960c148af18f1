"""GET /metrics through the real app: names, labels, histograms, and never a key."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from qa.api import create_app
from qa.api.metrics import Metrics, extraction_reason
from qa.api.middleware import RequestRecord, access_log
from qa.config import Settings
from qa.service import AskTrace, QAService
from tests.collections_helpers import (
    KEY_ENV,
    OPEN_WRITE,
    SECRET_READ,
    SECRET_WRITE,
    bearer,
    collections_file,
    start,
)
from tests.collections_helpers import (
    collections_client as in_process_collections,
)
from tests.conftest import AUTH, KEY, FakeEmbedder, run_qa, serving, stop_server

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


class _Lines(logging.Handler):
    def __init__(self, lines: list[str]) -> None:
        super().__init__()
        self.lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def access() -> Iterator[list[str]]:
    """The access-log lines written while the test runs."""
    lines: list[str] = []
    handler = _Lines(lines)
    access_log.addHandler(handler)
    try:
        yield lines
    finally:
        access_log.removeHandler(handler)


def scrape(client: TestClient) -> Samples:
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_requests_are_counted_by_route_template_status_and_collection(api: TestClient) -> None:
    asked = [api.post("/ask", json={"question": q}) for q in ("Who leads in Iraq?", "Lithuania?")]
    assert [r.status_code for r in asked] == [200, 200]
    assert api.post("/ask", json={}).status_code == 422
    assert api.get("/documents/no-such-doc.md").status_code == 404
    assert api.get("/no/such/path").status_code == 404
    m = scrape(api)
    ask = {"method": "POST", "route": "/ask", "collection": "default"}
    assert value(m, "qa_http_requests_total", **ask, status="200") == 2
    assert value(m, "qa_http_requests_total", **ask, status="422") == 1
    doc = {"method": "GET", "route": "/documents/{doc_id:path}", "collection": "default"}
    assert value(m, "qa_http_requests_total", **doc, status="404") == 1
    # A path that matched nothing is one label, never the path itself.
    unmatched = {"method": "GET", "route": "unmatched", "collection": "default", "status": "404"}
    assert value(m, "qa_http_requests_total", **unmatched) == 1
    assert not any("/no/such/path" in str(labels) for _, labels in m)
    assert value(m, "qa_http_request_duration_seconds_count", **ask) == 3


def test_each_stage_of_a_question_has_a_histogram_with_buckets(api: TestClient) -> None:
    answers = [api.post("/ask", json={"question": q}).json() for q in ("Denmark troops?", "zebra")]
    m = scrape(api)
    for stage in ("encode", "search", "answer", "request"):
        labels = {"collection": "default", "stage": stage}
        assert value(m, "qa_ask_stage_seconds_count", **labels) == 2, stage
        assert value(m, "qa_ask_stage_seconds_sum", **labels) > 0, stage
        buckets = {
            dict(lbl)["le"]: v
            for (name, lbl), v in m.items()
            if name == "qa_ask_stage_seconds_bucket" and dict(lbl)["stage"] == stage
        }
        assert len(buckets) > 5 and buckets["+Inf"] == 2
        assert sorted(buckets.values()) == [buckets[k] for k in sorted(buckets, key=float)]
    assert value(m, "qa_asks_total", collection="default") == 2
    withheld = sum(not a["answerable"] for a in answers)
    assert value(m, "qa_abstentions_total", collection="default") == withheld


def test_documents_and_chunks_are_read_from_the_live_index(api: TestClient) -> None:
    m = scrape(api)
    assert value(m, "qa_documents", collection="default") == 2
    chunks = value(m, "qa_chunks", collection="default")
    assert chunks >= 2
    doc = {"doc_id": "gamma.md", "text": "Estonia sends a ship to the Baltic Sea."}
    assert api.post("/documents", json=doc, headers=AUTH).status_code == 201
    m = scrape(api)
    assert value(m, "qa_documents", collection="default") == 3
    assert value(m, "qa_chunks", collection="default") > chunks


def test_live_writes_their_failures_and_extraction_failures(api: TestClient) -> None:
    doc = {"doc_id": "gamma.md", "text": "Estonia sends a ship to the Baltic Sea."}
    assert api.post("/documents", json=doc, headers=AUTH).status_code == 201
    assert api.delete("/documents/gamma.md", headers=AUTH).status_code == 200
    assert api.delete("/documents/gamma.md", headers=AUTH).status_code == 404
    wrong = {"Authorization": "Bearer not-the-key"}
    assert api.post("/documents", json=doc, headers=wrong).status_code == 401
    pdf = api.post("/documents", files={"file": ("report.pdf", b"%PDF")}, headers=AUTH)
    assert pdf.status_code == 422
    m = scrape(api)
    w = {"collection": "default"}
    assert value(m, "qa_live_writes_total", **w, operation="add", outcome="ok") == 1
    assert value(m, "qa_live_writes_total", **w, operation="delete", outcome="ok") == 1
    assert value(m, "qa_live_writes_total", **w, operation="add", outcome="failed") == 2
    f = "qa_live_write_failures_total"
    assert value(m, f, **w, operation="delete", reason="document_not_found") == 1
    assert value(m, f, **w, operation="add", reason="unauthorized") == 1
    assert value(m, f, **w, operation="add", reason="unreadable_document") == 1
    assert value(m, "qa_extraction_failures_total", **w, reason="unreadable") == 1


def test_no_key_ever_appears_in_the_metrics(api: TestClient) -> None:
    doc = {"doc_id": "gamma.md", "text": "Estonia sends a ship."}
    api.post("/documents", json=doc, headers=AUTH)
    api.post("/documents", json=doc, headers={"Authorization": "Bearer other-secret-123456"})
    api.post("/ask", json={"question": "Who sends a ship?"}, headers=AUTH)
    api.get(f"/documents/{KEY}", headers=AUTH)
    api.get(f"/{KEY}")
    text = api.get("/metrics", headers=AUTH).text
    assert "qa_http_requests_total" in text
    assert KEY not in text and "other-secret-123456" not in text
    assert "Who sends a ship" not in text


def test_each_app_counts_on_its_own(fake_settings: Settings, fake_embedder: FakeEmbedder) -> None:
    with serving(fake_settings, fake_embedder) as one, serving(fake_settings, fake_embedder) as two:
        one.post("/ask", json={"question": "Who leads in Iraq?"})
        ask = {"method": "POST", "route": "/ask", "collection": "default", "status": "200"}
        assert value(scrape(one), "qa_http_requests_total", **ask) == 1
        assert value(scrape(two), "qa_http_requests_total", **ask) == 0


@pytest.fixture
def metrics_off(fake_settings: Settings, fake_embedder: FakeEmbedder) -> Iterator[TestClient]:
    with serving(fake_settings.model_copy(update={"metrics": False}), fake_embedder) as client:
        yield client


def test_qa_metrics_off_removes_the_route(metrics_off: TestClient) -> None:
    r = metrics_off.get("/metrics")
    assert r.status_code == 404 and r.json()["error"] == "http_error"
    assert metrics_off.post("/ask", json={"question": "Who?"}).status_code == 200
    assert "X-Request-ID" in metrics_off.get("/metrics").headers  # ids stay on


def test_qa_metrics_reads_off_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_METRICS", "off")
    assert Settings().metrics is False
    monkeypatch.setenv("QA_METRICS", "on")
    assert Settings().metrics is True


def test_a_name_that_is_no_collection_is_labelled_unknown(
    fake_settings: Settings, fake_embedder: FakeEmbedder
) -> None:
    service = QAService.from_settings(fake_settings, fake_embedder)
    metrics = Metrics(lambda: {"handbook": service}, default_collection="")

    def record(collection: str | None) -> RequestRecord:
        return RequestRecord(
            "id", "GET", "/collections/{name}/documents", collection, 404, 0.01, AskTrace(),
            None, None, None,
        )  # fmt: skip

    for name in ("handbook", "guess-1", "guess-2", None):
        metrics.observe(record(name))
    text = metrics.render().decode()
    assert 'collection="handbook"' in text and 'collection="unknown"' in text
    assert "guess-1" not in text and "guess-2" not in text
    assert 'qa_documents{collection="handbook"} 2.0' in text


@pytest.mark.parametrize(
    ("code", "message", "reason"),
    [
        ("unreadable_document", "reading report.pdf took longer than 60 s", "timeout"),
        ("unreadable_document", "reading x crashed the reader (a damaged file?)", "crash"),
        ("unreadable_document", "the file cannot be indexed: it has no text", "no_text"),
        ("unreadable_document", "not a readable PDF", "unreadable"),
        ("file_too_large", "", "too_large"),
        ("unsupported_media_type", "", "unsupported_type"),
    ],
)
def test_extraction_reasons_are_few_and_named(code: str, message: str, reason: str) -> None:
    assert extraction_reason(code, message) == reason


def test_an_unexpected_error_is_counted_as_a_500(
    fake_settings: Settings, fake_embedder: FakeEmbedder
) -> None:
    service = QAService.from_settings(fake_settings, fake_embedder)

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("boom")

    service.ask = broken  # type: ignore[method-assign]
    app = create_app(fake_settings, service_factory=lambda: service)
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.post("/ask", json={"question": "Who?"})
        assert r.status_code == 500 and r.json()["error"] == "internal_error"
        assert len(r.headers["X-Request-ID"]) == 32
        ask = {"method": "POST", "route": "/ask", "collection": "default", "status": "500"}
        assert value(scrape(client), "qa_http_requests_total", **ask) == 1


def test_with_keys_for_reads_the_metrics_need_the_key(
    fake_settings: Settings, fake_embedder: FakeEmbedder
) -> None:
    settings = fake_settings.model_copy(update={"require_key_for_reads": True})
    with serving(settings, fake_embedder) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers=AUTH).status_code == 200


# ----- a server with collections -----------------------------------------------------------


@pytest.fixture
def collections_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    with in_process_collections(tmp_path, monkeypatch) as (client, _):
        yield client


def test_with_collections_each_is_its_own_label_and_no_key_shows(
    collections_client: TestClient, access: list[str]
) -> None:
    c = collections_client
    secret = bearer(SECRET_READ)
    assert c.post("/collections/secret/ask", json={"question": "Code word?"}, headers=secret)
    for _ in range(2):
        assert c.post("/collections/open/ask", json={"question": "When?"}).status_code == 200
    assert c.post("/collections/secret/ask", json={"question": "Code?"}).status_code == 401
    wrong = bearer(OPEN_WRITE)  # another collection's key: as if it did not exist
    assert c.get("/collections/secret/documents", headers=wrong).status_code == 404
    assert c.get("/collections/guessed-name/documents", headers=secret).status_code == 404
    doc = {"doc_id": "new.md", "text": "The lift is out of order."}
    assert c.post("/collections/open/documents", json=doc, headers=wrong).status_code == 201
    assert c.get("/health").status_code == 200
    m = scrape(c)
    ask = {"method": "POST", "route": "/collections/{name}/ask", "status": "200"}
    assert value(m, "qa_http_requests_total", **ask, collection="secret") == 1
    assert value(m, "qa_http_requests_total", **ask, collection="open") == 2
    assert value(m, "qa_http_requests_total", **{**ask, "status": "401"}, collection="secret") == 1
    docs = {"method": "GET", "route": "/collections/{name}/documents", "status": "404"}
    assert value(m, "qa_http_requests_total", **docs, collection="secret") == 1
    assert value(m, "qa_http_requests_total", **docs, collection="unknown") == 1
    health = {"method": "GET", "route": "/health", "status": "200", "collection": ""}
    assert value(m, "qa_http_requests_total", **health) == 1
    for name, asked in (("secret", 1), ("open", 2)):
        labels = {"collection": name, "stage": "encode"}
        assert value(m, "qa_ask_stage_seconds_count", **labels) == asked
        assert value(m, "qa_documents", collection=name) >= 1
    assert value(m, "qa_documents", collection="open") == 2  # the write shows at once
    write = {"collection": "open", "operation": "add", "outcome": "ok"}
    assert value(m, "qa_live_writes_total", **write) == 1
    text = c.get("/metrics").text
    for key in (SECRET_READ, SECRET_WRITE, OPEN_WRITE):
        assert key not in text and key not in "\n".join(access)
    assert "guessed-name" not in text
    lines = [json.loads(line) for line in access]
    assert {(ln["route"], ln["collection"]) for ln in lines} >= {
        ("/collections/{name}/ask", "secret"),
        ("/collections/{name}/ask", "open"),
        ("/health", None),
    }


METRICS_KEY = "metrics-key-7e3a91c4d2"


def test_qa_metrics_key_puts_the_metrics_behind_their_own_key(
    fake_settings: Settings, fake_embedder: FakeEmbedder, access: list[str]
) -> None:
    settings = fake_settings.model_copy(
        update={"metrics_key": METRICS_KEY, "require_key_for_reads": True}
    )
    with serving(settings, fake_embedder) as client:
        refused = client.get("/metrics")
        assert refused.status_code == 401 and refused.json()["error"] == "unauthorized"
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
        assert client.get("/metrics", headers=AUTH).status_code == 401  # only its own key
        scraped = client.get("/metrics", headers=bearer(METRICS_KEY))
        assert scraped.status_code == 200 and "qa_http_requests_total" in scraped.text
        # Every other read still needs the API key, and not the metrics key.
        assert client.get("/documents", headers=bearer(METRICS_KEY)).status_code == 401
        assert client.get("/documents", headers=AUTH).status_code == 200
        text = client.get("/metrics", headers=bearer(METRICS_KEY)).text
    assert METRICS_KEY not in text and KEY not in text
    assert METRICS_KEY not in "\n".join(access) and KEY not in "\n".join(access)


def test_with_collections_the_metrics_key_guards_the_collection_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, key in KEY_ENV.items():
        monkeypatch.setenv(name, key)
    fake = FakeEmbedder()
    path = collections_file(tmp_path, fake)
    settings = Settings(collections=path, metrics_key=METRICS_KEY)
    with TestClient(create_app(settings, embedder_factory=lambda _: fake)) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers=bearer(SECRET_WRITE)).status_code == 401
        text = client.get("/metrics", headers=bearer(METRICS_KEY)).text
        assert 'qa_documents{collection="secret"}' in text


@pytest.mark.slow
def test_a_real_collections_server_counts_each_collection_and_shows_no_key(
    tmp_path: Path,
) -> None:
    """`qa index` and `qa serve --collections` as processes, with the real model."""
    path = collections_file(tmp_path)
    built = run_qa("index", "--collections", str(path), "--quiet", env=KEY_ENV)
    assert built.returncode == 0, built.stderr
    server = start(path, tmp_path / "serve.log")
    try:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            mine = http.post(
                "/collections/secret/ask",
                json={"question": "What is the launch code word?"},
                headers={**bearer(SECRET_READ), "X-Request-ID": "scrape-me-1"},
            )
            assert mine.status_code == 200 and mine.headers["x-request-id"] == "scrape-me-1"
            made = http.post("/collections/open/ask", json={"question": "When does it open?"})
            assert made.status_code == 200 and len(made.headers["x-request-id"]) == 32
            assert http.post("/collections/secret/ask", json={"question": "x"}).status_code == 401
            wrong = http.get("/collections/secret/documents", headers=bearer(OPEN_WRITE))
            assert wrong.status_code == 404 and wrong.headers["x-request-id"]
            text = http.get("/metrics").text
    finally:
        stop_server(server)
    m = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    ask = {"method": "POST", "route": "/collections/{name}/ask"}
    assert value(m, "qa_http_requests_total", **ask, status="200", collection="secret") == 1
    assert value(m, "qa_http_requests_total", **ask, status="200", collection="open") == 1
    assert value(m, "qa_http_requests_total", **ask, status="401", collection="secret") == 1
    for name in ("secret", "open"):
        assert value(m, "qa_ask_stage_seconds_count", collection=name, stage="encode") == 1
        assert value(m, "qa_ask_stage_seconds_bucket", collection=name, stage="search", le="+Inf")
        assert value(m, "qa_documents", collection=name) == 1
    log = server.output()
    for key in (SECRET_READ, SECRET_WRITE, OPEN_WRITE):
        assert key not in text and key not in log
    lines = [json.loads(ln) for ln in log.splitlines() if ln.startswith('{"time"')]
    assert {"scrape-me-1", made.headers["x-request-id"]} <= {ln["id"] for ln in lines}
