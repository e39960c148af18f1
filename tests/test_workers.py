"""`qa serve --workers N`: processes that share one memory-mapped index and follow writes.

In-process tests (a fake embedder, fast) check memory-mapped loading and the reloader's
rules; the slow ones run a real `qa serve --workers 2` on loopback and check that
both workers answer, map the same index files, and see a write made through either
one, or by a `qa index` run beside them, within seconds.
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from qa import cli
from qa.api.middleware import WORKER_HEADER
from qa.config import Settings
from qa.ingest.chunking import ChunkSettings
from qa.ingest.corpus import scan_corpus
from qa.ingest.doc_rules import prepare_json
from qa.ingest.indexing import expectation, update_index
from qa.live.watcher import IndexWatcher, mapped_versions
from qa.live.writer import Ingestor
from qa.search.index import CURRENT, Index, current_version, write_lock
from qa.service import QAService
from qa.types import Document
from tests.conftest import (
    CORPUS,
    DENMARK_DOC,
    DENMARK_QUESTION,
    QA_BIN,
    FakeEmbedder,
    Server,
    start_server,
    stop_server,
)

KEY = "workers-test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
WORKERS = 2
# Seconds a write may take to reach every worker: the reloader looks twice a second and
# loads the small test index in well under a second, but this machine may be busy.
PROPAGATION_S = 10.0


# ----- in process: memory-mapped loading and the reloader's rules ---------------------------


def _doc(doc_id: str, text: str) -> Document:
    return prepare_json(doc_id, text, title=None, metadata={}).document


@pytest.fixture
def fake_index(tmp_path: Path, fake_embedder: FakeEmbedder, small_chunks: ChunkSettings) -> Path:
    index_dir = tmp_path / "index"
    update_index(
        scan_corpus(CORPUS).documents,
        index_dir=index_dir,
        embedder=fake_embedder,
        settings=small_chunks,
    )
    return index_dir


def _add(index_dir: Path, embedder: FakeEmbedder, settings: ChunkSettings, *docs: Document) -> None:
    """A save by 'another process': the corpus plus `docs`, through the normal path."""
    update_index(
        [*scan_corpus(CORPUS).documents, *docs],
        index_dir=index_dir,
        embedder=embedder,
        settings=settings,
    )


@pytest.fixture
def watcher(
    fake_index: Path, fake_embedder: FakeEmbedder, small_chunks: ChunkSettings
) -> IndexWatcher:
    expect = expectation(fake_embedder, small_chunks)
    service = QAService(embedder=fake_embedder, index=Index.load(fake_index, expect, mmap=True))
    return IndexWatcher(service, index_dir=fake_index, expect=expect)


def test_a_mapped_index_answers_like_a_loaded_one_even_after_its_folder_is_pruned(
    fake_index: Path, fake_embedder: FakeEmbedder, small_chunks: ChunkSettings
) -> None:
    plain = Index.load(fake_index)
    mapped = Index.load(fake_index, mmap=True)
    version = current_version(fake_index)
    maps = mapped_versions(fake_index)
    assert maps is None or version.name in maps  # None: no /proc/self/maps to look at
    queries = fake_embedder.encode(["Denmark NATO Iraq", "training mission", "ministers"])

    def answers(index: Index) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        scores, rows = index.search(queries, 5)
        return scores, rows, index.lexical.scores("NATO training mission in Iraq")

    expected = answers(plain)
    for got, want in zip(answers(mapped), expected, strict=True):
        np.testing.assert_array_equal(got, want)
    assert mapped.documents == plain.documents and mapped.chunks == plain.chunks
    allowed = np.arange(0, len(plain.chunks), 2)
    np.testing.assert_array_equal(
        mapped.search(queries, 3, allowed=allowed)[1], plain.search(queries, 3, allowed=allowed)[1]
    )

    # A later save prunes the version folder this index maps; Linux keeps the unlinked
    # files alive while they are mapped, so the index still answers, and the same.
    _add(fake_index, fake_embedder, small_chunks, _doc("extra.md", "Something else entirely."))
    assert not version.exists() and current_version(fake_index) != version
    for got, want in zip(answers(mapped), expected, strict=True):
        np.testing.assert_array_equal(got, want)
    maps = mapped_versions(fake_index)
    assert maps is None or version.name in maps  # Linux: it really is the deleted files


def test_the_watcher_swaps_in_a_version_saved_elsewhere(
    watcher: IndexWatcher, fake_embedder: FakeEmbedder, small_chunks: ChunkSettings
) -> None:
    assert watcher.poll() is False and watcher.reloads == 0  # the version it serves
    _add(watcher.index_dir, fake_embedder, small_chunks, _doc("news/new.md", "Zorblax is here."))
    assert watcher.poll() is True and watcher.reloads == 1
    assert watcher.service.document("news/new.md").text == "Zorblax is here."
    assert watcher.poll() is False and watcher.reloads == 1  # nothing new since


def test_the_watcher_leaves_a_write_handled_in_its_own_process_alone(
    watcher: IndexWatcher, small_chunks: ChunkSettings
) -> None:
    ingestor = Ingestor(watcher.service, index_dir=watcher.index_dir, chunking=small_chunks)
    result = ingestor.add(prepare_json("mine.md", "Written here.", title=None, metadata={}))
    assert result.status == "created"
    live = watcher.service.index
    assert watcher.poll() is False and watcher.reloads == 0
    assert watcher.service.index is live  # the writer's own index, not a second load
    ingestor.delete("mine.md")
    assert watcher.poll() is False and watcher.reloads == 0


def test_the_watcher_waits_while_this_process_is_saving(
    watcher: IndexWatcher, fake_embedder: FakeEmbedder, small_chunks: ChunkSettings
) -> None:
    before = watcher.service.index
    with write_lock(watcher.index_dir):  # a writer here, between its save and its swap
        new = Index.load(watcher.index_dir)
        new.save(watcher.index_dir)
        assert watcher.poll() is False and watcher.service.index is before
    # The writer let go without swapping (it failed, say): now the reloader catches up.
    assert watcher.poll() is True and watcher.service.index is not before


def test_a_reload_never_puts_back_an_older_index_than_a_write_here_swapped_in(
    watcher: IndexWatcher,
    fake_embedder: FakeEmbedder,
    small_chunks: ChunkSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_load = Index.load
    loads: list[str] = []

    def load_while_a_write_lands_here(*args: object, **kwargs: object) -> Index:
        loaded = real_load(*args, **kwargs)  # type: ignore[arg-type]
        if not kwargs.get("mmap"):
            return loaded  # not the reloader's
        loads.append(current_version(watcher.index_dir).name)
        if len(loads) == 1:  # meanwhile, this process saves a newer version and swaps it in
            _add(watcher.index_dir, fake_embedder, small_chunks, _doc("b.md", "Newer."))
            watcher.service.swap_index(real_load(watcher.index_dir))
        return loaded

    _add(watcher.index_dir, fake_embedder, small_chunks, _doc("a.md", "Older."))
    monkeypatch.setattr(Index, "load", load_while_a_write_lands_here)
    assert watcher.poll() is False
    assert "b.md" in watcher.service.index.documents  # the newer one stays
    assert watcher.poll() is False and len(loads) == 1  # and is not loaded again


def test_a_damaged_new_version_is_logged_once_and_the_old_index_keeps_answering(
    watcher: IndexWatcher,
    fake_embedder: FakeEmbedder,
    small_chunks: ChunkSettings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _add(watcher.index_dir, fake_embedder, small_chunks, _doc("broken.md", "Never served."))
    vectors = current_version(watcher.index_dir) / "vectors.faiss"
    vectors.write_bytes(vectors.read_bytes()[:100])
    with caplog.at_level(logging.ERROR, logger="qa.live.watcher"):
        for _ in range(3):
            assert watcher.poll() is False
    lines = [r.getMessage() for r in caplog.records if r.name == "qa.live.watcher"]
    assert len(lines) == 1, lines
    assert "was not loaded, still serving the previous one" in lines[0]
    assert "qa index --rebuild" in lines[0]
    assert "broken.md" not in watcher.service.index.documents
    assert watcher.service.ask("Denmark NATO Iraq").passages

    # The next good version is picked up as usual.
    update_index(
        scan_corpus(CORPUS).documents,
        index_dir=watcher.index_dir,
        embedder=fake_embedder,
        settings=small_chunks,
        rebuild=True,
    )
    assert watcher.poll() is True


def test_adopt_maps_an_index_that_was_loaded_into_private_memory(
    fake_index: Path, fake_embedder: FakeEmbedder, small_chunks: ChunkSettings
) -> None:
    if mapped_versions(fake_index) is None:
        pytest.skip("needs /proc/self/maps (Linux)")
    expect = expectation(fake_embedder, small_chunks)
    service = QAService(embedder=fake_embedder, index=Index.load(fake_index, expect))
    watcher = IndexWatcher(service, index_dir=fake_index, expect=expect)
    assert mapped_versions(fake_index) == set()
    assert watcher.adopt() is True
    assert mapped_versions(fake_index) == {current_version(fake_index).name}
    assert watcher.adopt() is False  # already mapped: no second load


def test_an_app_follows_the_index_on_disk_and_names_its_worker(
    fake_index: Path,
    fake_embedder: FakeEmbedder,
    small_chunks: ChunkSettings,
    tmp_path: Path,
) -> None:
    from qa.api import create_app

    settings = Settings(
        index_dir=fake_index,
        corpus_dir=tmp_path,
        chunk_tokens=small_chunks.max_tokens,
        chunk_overlap=small_chunks.overlap_tokens,
    )
    with TestClient(create_app(settings, embedder_factory=lambda _: fake_embedder)) as client:
        r = client.get("/documents/late.md")
        assert r.status_code == 404 and r.headers[WORKER_HEADER] == str(os.getpid())
        _add(fake_index, fake_embedder, small_chunks, _doc("late.md", "Arrived later."))
        deadline = time.monotonic() + PROPAGATION_S
        while client.get("/documents/late.md").status_code != 200:
            assert time.monotonic() < deadline, "the app never picked up the new version"
            time.sleep(0.1)
    # An injected service may come from anywhere: no reloader then, but the header.
    service = QAService(embedder=fake_embedder, index=Index.load(fake_index))
    app = create_app(settings, service_factory=lambda: service)
    with TestClient(app) as client:
        assert client.get("/health").headers[WORKER_HEADER] == str(os.getpid())
        assert not hasattr(app.state, "index_watcher")


@pytest.mark.parametrize("count", ["0", "65"])
def test_serve_refuses_a_worker_count_out_of_range(
    count: str, fake_index: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["serve", "--index", str(fake_index), "--workers", count]) == 1
    assert f"--workers must be between 1 and 64, not {count}" in capsys.readouterr().err


# ----- a real `qa serve --workers 2` ---------------------------------------------------------


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid and b"spawn_main" in cmdline:
            out.append(int(entry.name))
    return sorted(out)


def _mapped_files(pid: int, index_dir: Path) -> dict[str, str]:
    """Index files this process maps: path under index_dir -> 'device inode'."""
    root = str(index_dir.resolve()) + "/"
    found = {}
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and fields[5].startswith(root):
            found[fields[5].removeprefix(root)] = f"{fields[3]} {fields[4]}"
    return found


def _vectors_pss(pid: int, path: str) -> tuple[int, int]:
    """(Rss, Pss) in kB of this process's mapping of `path`."""
    rss = pss = 0
    inside = False
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        fields = line.split()
        if fields and "-" in fields[0] and len(fields) >= 5:
            inside = len(fields) >= 6 and fields[5] == path
        elif inside and fields[0] == "Rss:":
            rss += int(fields[1])
        elif inside and fields[0] == "Pss:":
            pss += int(fields[1])
    return rss, pss


Request = Callable[[httpx.Client], httpx.Response]


def _fan_out(url: str, request: Request, n: int = 8) -> list[httpx.Response]:
    """`n` requests at once, each on its own connection, so that every worker gets some."""

    def one(_: int) -> httpx.Response:
        with httpx.Client(base_url=url, timeout=60) as http:
            return request(http)

    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def _until_every_worker(
    server: Server, request: Request, ok: Callable[[httpx.Response], bool], what: str
) -> float:
    """Seconds until the latest answer of every worker satisfies `ok`."""
    workers = set(_children(server.process.pid))
    latest: dict[int, bool] = {}
    started = time.monotonic()
    while True:
        for r in _fan_out(server.url, request):
            latest[int(r.headers[WORKER_HEADER])] = ok(r)
        assert set(latest) <= workers, (latest, workers)
        if set(latest) == workers and all(latest.values()):
            return time.monotonic() - started
        if time.monotonic() - started > PROPAGATION_S:
            raise AssertionError(f"not every worker {what} in {PROPAGATION_S} s: {latest}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def workspace(corpus_index_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("workers")
    shutil.copytree(CORPUS, root / "corpus")
    shutil.copytree(corpus_index_dir, root / "index")
    return root


@pytest.fixture(scope="module")
def server(workspace: Path) -> Iterator[Server]:
    env = {"QA_API_KEY": KEY, "QA_CORPUS_DIR": str(workspace / "corpus")}
    server = start_server(
        workspace / "index",
        workspace / "serve.log",
        extra=["--workers", str(WORKERS), "--log-level", "warning"],
        env=env,
        timeout=180,
    )
    try:
        yield server
    finally:
        code = stop_server(server)
        assert code in (0, -signal.SIGTERM), server.output()


def _ask(question: str) -> Request:
    return lambda http: http.post("/ask", json={"question": question, "k": 5})


@pytest.mark.slow
def test_every_worker_answers_from_the_same_mapped_index_files(
    server: Server, workspace: Path
) -> None:
    workers = _children(server.process.pid)
    assert len(workers) == WORKERS, workers

    def cites_denmark(r: httpx.Response) -> bool:
        return r.status_code == 200 and r.json()["passages"][0]["doc_id"] == DENMARK_DOC

    _until_every_worker(server, _ask(DENMARK_QUESTION), cites_denmark, "answered")

    # Both map the one copy of the current version's vectors and BM25 matrices: the same
    # files (device and inode), shared page cache rather than a private copy each.
    index_dir = workspace / "index"
    version = (index_dir / CURRENT).read_text().strip()
    deadline = time.monotonic() + PROPAGATION_S
    while True:
        maps = [_mapped_files(pid, index_dir) for pid in workers]
        vectors = f"{version}/vectors.faiss"
        if all(vectors in m for m in maps) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert all(vectors in m for m in maps), maps
    assert len({m[vectors] for m in maps}) == 1
    assert all(any("/lexical/" in path for path in m) for m in maps), maps
    for pid in workers:  # every page is counted once in all: each worker's share is half
        rss, pss = _vectors_pss(pid, str(index_dir.resolve() / vectors))
        assert 0 < pss < rss, (pid, rss, pss)
    assert "was not loaded" not in server.output()


@pytest.mark.slow
def test_a_write_through_one_worker_reaches_every_worker(server: Server, workspace: Path) -> None:
    doc_id = "workers/zorblax.md"
    text = "The zorblax quintessence is stored in a vault beneath the Vilnius observatory."
    r = httpx.post(
        server.url + "/documents", json={"doc_id": doc_id, "text": text}, headers=AUTH, timeout=120
    )
    assert r.status_code == 201, r.text
    writer = int(r.headers[WORKER_HEADER])

    seen = _until_every_worker(
        server,
        lambda http: http.get(f"/documents/{doc_id}"),
        lambda r: r.status_code == 200 and r.json()["text"] == text,
        "saw the added document",
    )
    _until_every_worker(
        server,
        _ask("Where is the zorblax quintessence stored?"),
        lambda r: r.status_code == 200 and r.json()["passages"][0]["doc_id"] == doc_id,
        "answered from the added document",
    )
    # The other worker loaded the new version, memory-mapped; the writer swapped in the
    # index it had built and did not load it a second time.
    version = (workspace / "index" / CURRENT).read_text().strip()
    for pid in _children(server.process.pid):
        maps_new = f"{version}/vectors.faiss" in _mapped_files(pid, workspace / "index")
        assert maps_new is (pid != writer), (pid, writer)

    r = httpx.delete(f"{server.url}/documents/{doc_id}", headers=AUTH, timeout=120)
    assert r.status_code == 200, r.text
    gone = _until_every_worker(
        server,
        lambda http: http.get(f"/documents/{doc_id}"),
        lambda r: r.status_code == 404,
        "dropped the deleted document",
    )
    print(f"added: every worker within {seen:.2f} s; deleted: within {gone:.2f} s")
    assert not (workspace / "corpus" / doc_id).exists()


@pytest.mark.slow
def test_qa_index_beside_the_server_reaches_every_worker(server: Server, workspace: Path) -> None:
    corpus, index_dir = workspace / "corpus", workspace / "index"
    (corpus / "beside.md").write_text("# Beside\n\nA quokka census was taken on Rottnest.\n")
    proc = subprocess.run(
        [str(QA_BIN), "index", "--corpus", str(corpus), "--index", str(index_dir), "--quiet"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    assert "1 added" in proc.stdout, proc.stdout
    _until_every_worker(
        server,
        lambda http: http.get("/documents/beside.md"),
        lambda r: r.status_code == 200,
        "saw the document `qa index` added",
    )
    version = (index_dir / CURRENT).read_text().strip()
    for pid in _children(server.process.pid):  # nobody wrote it here: all load it mapped
        assert f"{version}/vectors.faiss" in _mapped_files(pid, index_dir)


@pytest.mark.slow
def test_a_damaged_version_is_refused_by_every_worker_which_keeps_answering(
    server: Server, workspace: Path
) -> None:
    index_dir = workspace / "index"
    good = (index_dir / CURRENT).read_text().strip()
    bad = "v-9999999999999999999-broken"
    shutil.copytree(index_dir / good, index_dir / bad)
    manifest = json.loads((index_dir / bad / "manifest.json").read_text())
    manifest["created_at"] += 1  # a newer version than the one served...
    (index_dir / bad / "manifest.json").write_text(json.dumps(manifest))
    with (index_dir / bad / "documents.json").open("ab") as fh:
        fh.write(b" ")  # ...that no longer matches its checksum
    before = server.output().count("was not loaded")
    pointer = index_dir / CURRENT
    try:
        (index_dir / ".CURRENT.tmp").write_text(bad)
        os.replace(index_dir / ".CURRENT.tmp", pointer)
        deadline = time.monotonic() + PROPAGATION_S
        while server.output().count("was not loaded") < before + WORKERS:
            assert time.monotonic() < deadline, server.output()[-3000:]
            time.sleep(0.2)
        _until_every_worker(
            server,
            _ask(DENMARK_QUESTION),
            lambda r: r.status_code == 200 and r.json()["passages"][0]["doc_id"] == DENMARK_DOC,
            "kept answering",
        )
        time.sleep(1.5)  # a few more polls: still one line per worker
        log = server.output()
        assert log.count("was not loaded") == before + WORKERS, log[-3000:]
        assert f"index version {bad} in" in log and "documents.json is truncated" in log
    finally:
        (index_dir / ".CURRENT.tmp").write_text(good)
        os.replace(index_dir / ".CURRENT.tmp", pointer)
        shutil.rmtree(index_dir / bad)
