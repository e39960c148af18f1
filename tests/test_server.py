"""A real `qa serve` process on loopback: the transport, start-up and shutdown."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import DENMARK_DOC, DENMARK_QUESTION, Server, start_server, stop_server

pytestmark = pytest.mark.slow


def test_ask_over_http_and_every_citation_slices_back(live_server: Server) -> None:
    with httpx.Client(base_url=live_server.url, timeout=30) as http:
        body = http.post("/ask", json={"question": DENMARK_QUESTION, "k": 5}).json()
        assert body["passages"][0]["doc_id"] == DENMARK_DOC
        for p in body["passages"]:
            text = http.get(f"/documents/{p['doc_id']}").json()["text"]
            assert text[p["start"] : p["end"]] == p["text"]
        r = http.post(
            "/ask",
            content=b'{"question": "\xff\xfe"}',
            headers={"content-type": "application/json"},
        )
        assert r.status_code == 400 and "UTF-8 JSON" in r.json()["message"]
        assert http.get("/").headers["content-type"].startswith("text/html")


def asks_started(server: Server) -> int:
    """How many /ask requests the app has begun handling (uvicorn's trace log says)."""
    return sum(
        "Started scope=" in line and "'path': '/ask'" in line
        for line in server.output().splitlines()
    )


def test_sigterm_lets_in_flight_requests_finish(corpus_index_dir: Path, tmp_path: Path) -> None:
    # The trace log names each request as the app starts it, so the signal can wait for
    # exactly that rather than for a guessed delay (a race on a loaded machine).
    server = start_server(corpus_index_dir, tmp_path / "serve.log", extra=["--log-level", "trace"])
    results: list[int] = []

    def ask() -> None:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            results.append(http.post("/ask", json={"question": DENMARK_QUESTION}).status_code)

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while asks_started(server) < len(threads):
        assert time.monotonic() < deadline, server.output()
        time.sleep(0.01)
    code = stop_server(server, signal.SIGTERM)
    for t in threads:
        t.join(timeout=60)
    # uvicorn re-raises the signal after a clean shutdown, as a well-behaved daemon does.
    assert code in (0, -signal.SIGTERM), server.output()
    assert results == [200, 200, 200, 200]
    log = server.output()
    assert log.index("Shutting down") < log.index("Finished server process")


def test_serve_lets_openmp_threads_sleep_unless_told_otherwise(
    corpus_index_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Spinning OpenMP threads starve concurrent requests: qa serve asks for PASSIVE. The
    OpenMP runtimes themselves say what they read (OMP_DISPLAY_ENV=VERBOSE): libgomp shows
    the same policy name by default, but spins 300,000 times before sleeping, and not at
    all when PASSIVE."""
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    server = start_server(
        corpus_index_dir, tmp_path / "serve.log", env={"OMP_DISPLAY_ENV": "VERBOSE"}
    )
    try:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            assert http.post("/ask", json={"question": DENMARK_QUESTION}).status_code == 200
    finally:
        stop_server(server)
    spins = [
        line.split("=", 1)[1].strip()
        for line in server.output().splitlines()
        if line.strip().startswith("GOMP_SPINCOUNT =")
    ]
    assert spins and set(spins) == {"'0'"}, server.output()
