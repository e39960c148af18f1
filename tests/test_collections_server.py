"""A real `qa serve --collections` process with the real model: a protected and a public
collection built by `qa index --collections`; listing and refusals, no passage crossing
collections, a live write seen at once in its own collection only, feedback that outlives
a SIGKILL, and SIGHUP key rotation (a bad file keeps the old keys)."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.collections_helpers import (
    KEY_ENV,
    OPEN_WRITE,
    SECRET_READ,
    SECRET_WRITE,
    bearer,
    collections_file,
    start,
    write_file,
)
from tests.conftest import Server, run_qa, stop_server

pytestmark = pytest.mark.slow

CODE_QUESTION = "What is the launch code word?"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("collections")
    path = collections_file(root)
    done = run_qa("index", "--collections", str(path), "--quiet", env=KEY_ENV)
    assert done.returncode == 0, done.stderr
    assert "collection secret: indexed 1" in done.stdout
    assert "collection open: indexed 1" in done.stdout
    return path


@pytest.fixture
def server(built: Path, tmp_path: Path) -> Iterator[Server]:
    write_file(built, secret_read="env:QA_TEST_SECRET_READ")  # as built, whatever ran before
    s = start(built, tmp_path / "serve.log")
    try:
        yield s
    finally:
        stop_server(s)


def ask(http: httpx.Client, name: str, question: str, key: str | None = None) -> httpx.Response:
    headers = bearer(key) if key else {}
    return http.post(f"/collections/{name}/ask", json={"question": question}, headers=headers)


def test_access_and_no_passage_crosses_collections(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=60) as http:
        listed = http.get("/collections").json()["collections"]
        assert [c["name"] for c in listed] == ["open"]
        listed = http.get("/collections", headers=bearer(SECRET_READ)).json()["collections"]
        assert [c["name"] for c in listed] == ["secret", "open"]
        assert ask(http, "secret", CODE_QUESTION).status_code == 401
        assert ask(http, "secret", CODE_QUESTION, OPEN_WRITE).status_code == 404
        r = http.delete("/collections/secret/documents/plan.md", headers=bearer(SECRET_READ))
        assert r.status_code == 403

        mine = ask(http, "secret", CODE_QUESTION, SECRET_READ).json()
        assert mine["answer"] is not None and "Marigold" in mine["answer"]["text"]
        theirs = ask(http, "open", CODE_QUESTION).json()
        assert {p["doc_id"] for p in theirs["passages"]} == {"guide.md"}
        assert "Marigold" not in str(theirs)
        assert http.get("/collections/open/documents/plan.md").status_code == 404

        # A live write is seen at once, in its own collection only.
        doc = {"doc_id": "shift.md", "text": "The night shift at the Osprey depot starts at ten."}
        r = http.post("/collections/open/documents", json=doc, headers=bearer(OPEN_WRITE))
        assert r.status_code == 201, r.text
        found = ask(http, "open", "When does the night shift start?").json()
        assert found["passages"][0]["doc_id"] == "shift.md"
        hidden = ask(http, "secret", "When does the night shift start?", SECRET_WRITE).json()
        assert {p["doc_id"] for p in hidden["passages"]} == {"plan.md"}
        secret_docs = http.get("/collections/secret/documents", headers=bearer(SECRET_READ))
        assert [d["doc_id"] for d in secret_docs.json()["documents"]] == ["plan.md"]
        r = http.delete("/collections/open/documents/shift.md", headers=bearer(OPEN_WRITE))
        assert r.status_code == 200


def test_feedback_outlives_a_sigkill(built: Path, tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    server = start(built, log)
    try:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            reply = ask(http, "secret", CODE_QUESTION, SECRET_READ)
            rid = reply.headers.get("x-request-id") or reply.json()["request_id"]
            assert rid == reply.json()["request_id"] or "x-request-id" not in reply.headers
            body = {"request_id": rid, "helpful": False, "comment": "not the code I need"}
            r = http.post("/collections/secret/feedback", json=body, headers=bearer(SECRET_READ))
            assert r.status_code == 201, r.text
    finally:
        stop_server(server, signal.SIGKILL)
    server = start(built, log)
    try:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            r = http.get("/collections/secret/feedback", headers=bearer(SECRET_WRITE))
            assert r.status_code == 200, r.text
            entries = [e for e in r.json()["feedback"] if e["request_id"] == rid]
            assert len(entries) == 1
            assert entries[0]["question"] == CODE_QUESTION and entries[0]["helpful"] is False
            assert (
                http.get("/collections/secret/feedback", headers=bearer(SECRET_READ)).status_code
                == 403
            )
    finally:
        stop_server(server)
    assert SECRET_READ not in log.read_text() and SECRET_WRITE not in log.read_text()


def wait_for(check, what: str, server: Server, timeout: float = 30) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what}:\n{server.output()}"
        time.sleep(0.2)


def test_sighup_rotates_keys_and_a_bad_file_keeps_the_old_ones(server: Server, built: Path) -> None:
    rotated = "rotated-read-key-31f7"
    with httpx.Client(base_url=server.url, timeout=60) as http:

        def status(key: str) -> int:
            return http.get("/collections/secret/documents", headers=bearer(key)).status_code

        assert status(SECRET_READ) == 200 and status(rotated) == 404
        write_file(built, secret_read=rotated)
        server.process.send_signal(signal.SIGHUP)
        wait_for(lambda: status(rotated) == 200, "the new key never worked", server)
        assert status(SECRET_READ) == 404 and status(SECRET_WRITE) == 200
        built.write_text(built.read_text().replace("    corpus: corpora/open\n", ""))
        server.process.send_signal(signal.SIGHUP)
        wait_for(lambda: "was not reloaded" in server.output(), "no error logged", server)
        assert "'open': 'corpus' is missing" in server.output()
        assert status(rotated) == 200 and status(SECRET_READ) == 404
        assert server.process.poll() is None
        assert http.get("/collections/open/documents").status_code == 200
        built.write_text(built.read_text() + "  [unclosed\n")  # not even YAML
        server.process.send_signal(signal.SIGHUP)
        wait_for(lambda: "not valid YAML" in server.output(), "no YAML error logged", server)
        assert status(rotated) == 200
    # A reload's error names the problem and its line, never the line's text (keys).
    assert not any(k in server.output() for k in (rotated, OPEN_WRITE, SECRET_WRITE))
