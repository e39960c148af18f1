"""Faults and load against real processes on loopback: `qa index` killed mid-run, a held
index lock, damaged indexes, a full disk, concurrent mixed traffic and SIGTERM mid-write."""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import faiss
import httpx
import pytest
from fastapi.testclient import TestClient

from qa import cli
from qa.api import create_app
from qa.config import Settings
from qa.ingest.chunking import chunk_settings
from qa.ingest.corpus import scan_corpus
from qa.ingest.doc_rules import prepare_json
from qa.ingest.indexing import build_index, expectation
from qa.search.embedding import Embedder
from qa.search.index import CURRENT, LOCK, Index, current_version, write_lock
from qa.service import QAService
from tests.conftest import (
    AUTH,
    CORPUS,
    DENMARK_DOC,
    DENMARK_QUESTION,
    KEY,
    QA_BIN,
    start_server,
    stop_server,
)

pytestmark = pytest.mark.slow

_WORDS = re.findall(r"[A-Za-z]{3,}", " ".join(p.read_text() for p in CORPUS.glob("*.md")))


def generated_text(seed: int, sentences: int) -> str:
    rng = random.Random(seed)
    return " ".join(
        " ".join(rng.choice(_WORDS) for _ in range(rng.randint(8, 18))).capitalize() + "."
        for _ in range(sentences)
    )


@pytest.fixture
def workspace(tmp_path: Path, corpus_index_dir: Path) -> Settings:
    """A corpus folder and its index, copied from the session's: safe to write."""
    shutil.copytree(CORPUS, tmp_path / "corpus")
    shutil.copytree(corpus_index_dir, tmp_path / "index", ignore=shutil.ignore_patterns(LOCK))
    return Settings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index", api_key=KEY)


def answers_denmark(settings: Settings, embedder: Embedder) -> None:
    """The index on disk loads, matches the configuration and answers."""
    service = QAService.from_settings(settings, embedder)
    assert service.ask(DENMARK_QUESTION, k=3).passages[0].chunk.doc_id == DENMARK_DOC


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


def lock_held_by(index_dir: Path, pid: int) -> bool:
    try:
        return (index_dir / LOCK).read_text().strip() == f"pid {pid}"
    except OSError:
        return False


def saving(index_dir: Path) -> bool:
    """A save is under way: its temporary version folder has its first file."""
    return any((p / "vectors.faiss").exists() for p in index_dir.glob(".tmp-*"))


# Loaded by every Python started with it on PYTHONPATH: makes `qa index` pause in the
# middle of its save, so that a kill lands there every time rather than by luck.
SLOW_SAVE = """
import os, time
if os.environ.get("QA_TEST_SAVE_PAUSE"):
    import faiss
    _write = faiss.write_index
    def _slow(*args):
        _write(*args)
        time.sleep(float(os.environ["QA_TEST_SAVE_PAUSE"]))
    faiss.write_index = _slow
"""


# ----- `qa index` killed, and a held lock ----------------------------------------------------


def kill_when(
    command: list[str],
    env: dict[str, str],
    ready: Callable[[int], bool],
    label: str,
    meanwhile: Callable[[], None] = lambda: None,
) -> None:
    """Start `command`; as soon as `ready(pid)` (at least 0.5 s in), run `meanwhile`, then
    SIGKILL it."""
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        wait_for(lambda: ready(proc.pid) or proc.poll() is not None, 120, label)
        assert proc.poll() is None, f"qa index finished before the kill ({label})"
        meanwhile()
    finally:
        proc.kill()
        proc.wait()


def test_sigkill_at_any_point_of_qa_index_leaves_the_old_index(
    workspace: Settings, embedder: Embedder, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for i in range(12):  # enough new text that embedding takes a moment
        (workspace.corpus_dir / f"gen-{i:02d}.md").write_text(generated_text(i, 14))
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SLOW_SAVE)
    env = {**os.environ, "PYTHONPATH": str(hook), "QA_TEST_SAVE_PAUSE": "30"}
    before = current_version(workspace.index_dir)
    command = [
        str(QA_BIN),
        "index",
        "--corpus",
        str(workspace.corpus_dir),
        "--index",
        str(workspace.index_dir),
        "--quiet",
    ]

    def server_write_is_refused() -> None:
        # A running server's write while the real `qa index` holds the lock: 409, at once.
        r = client.post("/documents", json={"doc_id": "x.md", "text": "x"}, headers=AUTH)
        assert r.status_code == 409 and "busy" in r.json()["message"], r.text

    kill_points: list[tuple[str, Callable[[int], bool], Callable[[], None]]] = [
        ("starting up", lambda pid: True, lambda: None),
        ("embedding", lambda pid: lock_held_by(workspace.index_dir, pid), server_write_is_refused),
        ("saving", lambda pid: saving(workspace.index_dir), server_write_is_refused),
    ]
    app = create_app(
        workspace, service_factory=lambda: QAService.from_settings(workspace, embedder)
    )
    with TestClient(app) as client:
        for label, ready, meanwhile in kill_points:
            kill_when(command, env, ready, label, meanwhile)
            # The previous version is still current, whole, and answers.
            assert current_version(workspace.index_dir) == before, label
            answers_denmark(workspace, embedder)
    assert not (workspace.corpus_dir / "x.md").exists()

    # While another writer holds the lock (a server mid-write), `qa index` says so at once
    # and changes nothing. In-process, to save a model load: flock treats the two opens
    # of the lock file as two owners, just as it would two processes.
    import qa.search.embedding

    with pytest.MonkeyPatch.context() as mp, write_lock(workspace.index_dir):
        mp.setattr(qa.search.embedding, "SentenceTransformerEmbedder", lambda *_, **__: embedder)
        assert cli.main(command[1:]) == 1
    err = capsys.readouterr().err
    assert "is busy" in err and "try again when it has finished" in err
    assert current_version(workspace.index_dir) == before

    # The next run completes (in-process too, with the same embedder) and tidies up what
    # the killed save left behind.
    assert list(workspace.index_dir.glob(".tmp-*")), "the kill while saving left no trace"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(qa.search.embedding, "SentenceTransformerEmbedder", lambda *_, **__: embedder)
        assert cli.main(command[1:]) == 0
    assert "indexed 15 documents" in capsys.readouterr().out
    loaded = Index.load(workspace.index_dir, expectation(embedder, chunk_settings(workspace)))
    assert len(loaded.documents) == 15
    leftovers = [p.name for p in workspace.index_dir.iterdir() if p.name.startswith(".tmp-")]
    assert leftovers == [] and len(list(workspace.index_dir.glob("v-*"))) == 1
    answers_denmark(workspace, embedder)


# ----- damaged indexes, bad models and a full disk ----------------------------------------------


@pytest.mark.parametrize("damage", ["truncated", "missing-file", "garbage-manifest", "no-index"])
def test_a_damaged_index_is_a_clear_cli_error_and_a_503(
    workspace: Settings,
    embedder: Embedder,
    damage: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = current_version(workspace.index_dir)
    if damage == "truncated":
        data = (folder / "vectors.faiss").read_bytes()
        (folder / "vectors.faiss").write_bytes(data[: len(data) // 2])
    elif damage == "missing-file":
        (folder / "documents.json").unlink()
    elif damage == "garbage-manifest":
        (folder / "manifest.json").write_text("{")
    else:
        (workspace.index_dir / CURRENT).unlink()
    fix = "run `qa index`" if damage == "no-index" else "qa index --rebuild"

    code = cli.main(
        ["ask", "Denmark?", "--index", str(workspace.index_dir)],
        embedder_factory=lambda _: embedder,
    )
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("qa: error: ") and fix in err, err

    app = create_app(
        workspace, service_factory=lambda: QAService.from_settings(workspace, embedder)
    )
    with TestClient(app) as client:
        for r in (
            client.get("/health"),
            client.post("/ask", json={"question": "Denmark?"}),
            client.post("/documents", json={"doc_id": "a.md", "text": "x"}, headers=AUTH),
        ):
            assert r.status_code == 503, r.text
            assert fix in r.json()["message"]


def test_a_model_folder_that_is_not_a_model_is_a_503(workspace: Settings, tmp_path: Path) -> None:
    (tmp_path / "not-a-model").mkdir()
    (tmp_path / "not-a-model" / "weights.txt").write_text("nothing")
    settings = workspace.model_copy(update={"model": str(tmp_path / "not-a-model")})
    with TestClient(create_app(settings)) as client:
        r = client.get("/health")
        assert r.status_code == 503
        assert "not a sentence-transformers model directory" in r.json()["message"]


def test_a_damaged_index_on_disk_stops_writes_but_not_reads(
    workspace: Settings, embedder: Embedder
) -> None:
    app = create_app(
        workspace, service_factory=lambda: QAService.from_settings(workspace, embedder)
    )
    with TestClient(app) as client:
        (current_version(workspace.index_dir) / "manifest.json").write_text("{")
        r = client.post("/documents", json={"doc_id": "a.md", "text": "x"}, headers=AUTH)
        assert r.status_code == 503 and "qa index --rebuild" in r.json()["message"]
        assert client.post("/ask", json={"question": DENMARK_QUESTION}).status_code == 200
    assert not (workspace.corpus_dir / "a.md").exists()


def test_a_full_disk_during_qa_index_is_a_clear_error(
    workspace: Settings,
    embedder: Embedder,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (workspace.corpus_dir / "new.md").write_text("A new document that needs saving.")
    before = current_version(workspace.index_dir)

    def full(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(faiss, "write_index", full)
    try:
        code = cli.main(
            ["index", "--corpus", str(workspace.corpus_dir), "--index", str(workspace.index_dir)],
            embedder_factory=lambda _: embedder,
        )
    finally:
        assert current_version(workspace.index_dir) == before  # never lost, either way
    assert code == 1 and "No space left" in capsys.readouterr().err


# ----- a real server under load -----------------------------------------------------------------


def rss_bytes(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) * 1024  # type: ignore[union-attr]


def seed_documents(settings: Settings, embedder: Embedder, doc_ids: list[str]) -> None:
    """Add documents to the index and corpus folder offline, as `qa index` would."""
    previous = Index.load(settings.index_dir)
    prepared = [
        prepare_json(d, generated_text(i, 2), title=None, metadata={})
        for i, d in enumerate(doc_ids)
    ]
    for p in prepared:
        path = settings.corpus_dir / p.document.doc_id
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(p.file_text, encoding="utf-8")
    index, _ = build_index(
        [*previous.documents.values(), *(p.document for p in prepared)],
        embedder=embedder,
        settings=chunk_settings(settings),
        previous=previous,
    )
    index.save(settings.index_dir)


def test_200_concurrent_mixed_requests(
    workspace: Settings, embedder: Embedder, tmp_path: Path
) -> None:
    doomed = [f"old/doc-{i:02d}.md" for i in range(30)]
    seed_documents(workspace, embedder, doomed)
    env = {"QA_API_KEY": KEY, "QA_CORPUS_DIR": str(workspace.corpus_dir)}
    server = start_server(workspace.index_dir, tmp_path / "serve.log", env=env)
    added = {f"new/doc-{i:02d}.md": generated_text(100 + i, 2) for i in range(70)}
    questions = [DENMARK_QUESTION, "Who trains local forces in Iraq?", "Are the troops safe?"]
    jobs: list[tuple[str, Any]] = (
        [("add", item) for item in added.items()]
        + [("delete", doc_id) for doc_id in doomed]
        + [("ask", questions[i % 3]) for i in range(100)]
    )
    random.Random(5).shuffle(jobs)
    try:
        with httpx.Client(
            base_url=server.url, timeout=180, limits=httpx.Limits(max_connections=32)
        ) as http:
            # Warm up (worker threads, allocator arenas) before measuring memory.
            with ThreadPoolExecutor(max_workers=16) as pool:
                warm = pool.map(lambda q: http.post("/ask", json={"question": q}), questions * 8)
                assert {r.status_code for r in warm} == {200}
            rss_before = rss_bytes(server.process.pid)

            def run(job: tuple[str, Any]) -> tuple[str, int]:
                kind, arg = job
                if kind == "add":
                    r = http.post(
                        "/documents", json={"doc_id": arg[0], "text": arg[1]}, headers=AUTH
                    )
                elif kind == "delete":
                    r = http.delete(f"/documents/{arg}", headers=AUTH)
                else:
                    r = http.post("/ask", json={"question": arg, "k": 1})
                return kind, r.status_code

            with ThreadPoolExecutor(max_workers=16) as pool:
                outcomes = Counter(pool.map(run, jobs))
            assert outcomes == {("add", 201): 70, ("delete", 200): 30, ("ask", 200): 100}

            listed = [d["doc_id"] for d in http.get("/documents").json()["documents"]]
            expected = sorted([p.name for p in CORPUS.glob("*.md")] + list(added))
            assert listed == expected  # none lost, none duplicated, none resurrected
            for doc_id in random.Random(6).sample(sorted(added), 10):
                assert http.get(f"/documents/{doc_id}").json()["text"] == added[doc_id]

            # Oversized bodies over the real transport: refused, and the server carries on.
            big = b'{"question": "' + b"x" * (2 << 20) + b'"}'
            r = http.post("/ask", content=big, headers={"content-type": "application/json"})
            assert r.status_code == 413
            chunked = http.post(
                "/ask",
                content=iter([big[: 1 << 20], big[1 << 20 :]]),
                headers={"content-type": "application/json"},
            )
            assert chunked.status_code == 413
            assert http.get("/health").json()["documents"] == len(expected)
            rss_after = rss_bytes(server.process.pid)
    finally:
        stop_server(server)
    assert sorted(Index.load(workspace.index_dir).documents) == expected
    assert sorted(d.doc_id for d in scan_corpus(workspace.corpus_dir).documents) == expected
    growth = rss_after - rss_before
    assert growth < 300 << 20, f"RSS grew by {growth >> 20} MiB over 200 requests"


def test_sigterm_lets_an_in_flight_write_finish(workspace: Settings, tmp_path: Path) -> None:
    env = {"QA_API_KEY": KEY, "QA_CORPUS_DIR": str(workspace.corpus_dir)}
    server = start_server(workspace.index_dir, tmp_path / "serve.log", env=env)
    text = generated_text(42, 120)  # long enough to take a while to embed
    result: dict[str, httpx.Response] = {}

    def write() -> None:
        with httpx.Client(base_url=server.url, timeout=120) as http:
            result["r"] = http.post(
                "/documents", json={"doc_id": "late.md", "text": text}, headers=AUTH
            )

    writer = threading.Thread(target=write)
    writer.start()
    try:
        wait_for(lambda: lock_held_by(workspace.index_dir, server.process.pid), 60, "the write")
        code = stop_server(server, signal.SIGTERM)
    finally:
        writer.join(120)
        stop_server(server)
    assert code in (0, -signal.SIGTERM), server.output()
    assert result["r"].status_code == 201, result["r"].text
    log = server.output()
    assert log.index("Shutting down") < log.index("Finished server process")
    index = Index.load(workspace.index_dir)
    assert index.documents["late.md"].text == text
    assert (workspace.corpus_dir / "late.md").read_text() == text
