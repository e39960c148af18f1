"""Shared fixtures. The real model loads once per run; small indexes are built once."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from benchmarks._common import free_port
from qa.api import create_app
from qa.config import Settings
from qa.ingest.chunking import ChunkSettings, chunk_settings, word_counter
from qa.ingest.corpus import scan_corpus
from qa.ingest.indexing import update_index
from qa.search.embedding import Embedder, ModelIdentity
from qa.service import QAService
from tests.chromium import browser, page, page_errors, playwright  # noqa: F401 - by name

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"
SHARED = REPO.parent / "shared"
QA_BIN = Path(sys.executable).parent / "qa"
DENMARK_QUESTION = "Which country offered to lead NATO's training mission in Iraq from 2021?"
DENMARK_DOC = "denmark-additional-personnel-to-iraq.md"


class FakeEmbedder:
    """Deterministic bag-of-words hashing embedder for fast unit tests (no model)."""

    def __init__(self, dimension: int = 64, max_tokens: int = 254) -> None:
        self.identity = ModelIdentity(
            name="fake", weights_sha256="0" * 64, dimension=dimension, max_tokens=max_tokens
        )
        self.encoded: list[str] = []

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return word_counter(texts)

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: object = None
    ) -> np.ndarray:
        self.encoded.extend(texts)
        return self._vectors(texts)

    def encode_with_spans(
        self,
        texts: Sequence[str],
        spans: Sequence[Sequence[tuple[int, int]]],
        *,
        batch_size: int = 32,
        progress: object = None,
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Like the real model: one pass per text; span vectors come with it."""
        pooled = [
            self._vectors([t[a:b] for a, b in ss]) for t, ss in zip(texts, spans, strict=True)
        ]
        return self.encode(texts), pooled

    def _vectors(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.identity.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                digest = hashlib.blake2b(word.encode(), digest_size=4).digest()
                out[i, int.from_bytes(digest, "little") % self.identity.dimension] += 1.0
            norm = np.linalg.norm(out[i])
            out[i] = out[i] / norm if norm else out[i]
        return out


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def small_chunks() -> ChunkSettings:
    return ChunkSettings(max_tokens=40, overlap_tokens=10)


@pytest.fixture(scope="session")
def embedder():  # type: ignore[no-untyped-def]
    """The real packaged all-MiniLM-L6-v2, loaded once for the whole run."""
    from qa.search.embedding import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def corpus_index_dir(tmp_path_factory: pytest.TempPathFactory, embedder) -> Path:  # type: ignore[no-untyped-def]
    """The real corpus indexed with the real model into a temporary folder."""
    from qa.config import Settings
    from qa.ingest.chunking import chunk_settings
    from qa.ingest.corpus import scan_corpus
    from qa.ingest.indexing import update_index

    index_dir = tmp_path_factory.mktemp("index")
    update_index(
        scan_corpus(CORPUS).documents,
        index_dir=index_dir,
        embedder=embedder,
        settings=chunk_settings(Settings()),
    )
    return index_dir


@pytest.fixture(scope="session")
def service(corpus_index_dir: Path, embedder):  # type: ignore[no-untyped-def]
    from qa.config import Settings
    from qa.service import QAService

    return QAService.from_settings(Settings(index_dir=corpus_index_dir), embedder)


@pytest.fixture(scope="session")
def client(service):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from qa.api import create_app

    with TestClient(create_app(service_factory=lambda: service)) as c:
        yield c


def run_qa(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    """The `qa` command as a person runs it, in a real process."""
    return subprocess.run(
        [str(QA_BIN), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def tiny_bert_config(vocab_size: int, **extra: Any) -> Any:
    """A BERT config of 2 layers 32 wide: a real model's shapes, built and run in
    milliseconds (the tests' own readers, rerankers and embedders)."""
    from transformers import BertConfig

    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        **extra,
    )


def loaded_by_import(modules: Sequence[str], heavy: Sequence[str]) -> list[str]:
    """Which of the `heavy` libraries a fresh interpreter holds after importing `modules`."""
    code = (
        f"import json, sys, {', '.join(modules)}; "
        f"print(json.dumps(sorted(m for m in {tuple(heavy)!r} if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded: list[str] = json.loads(out.stdout)
    return loaded


def start_server(
    index_dir: Path,
    log: Path,
    *,
    extra: Sequence[str] = (),
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> Server:
    """A real `qa serve` process on loopback, returned once /health answers 200."""
    return serve(["--index", str(index_dir), *extra], log, env=env, timeout=timeout)


def serve(
    args: Sequence[str],
    log: Path,
    *,
    env: dict[str, str] | None = None,
    timeout: float = 120,
    append: bool = False,
) -> Server:
    """`qa serve ARGS` on a free loopback port, returned once /health answers 200; its
    output goes to `log` (appended to with `append`)."""
    port = free_port()
    cmd = [str(QA_BIN), "serve", *args, "--port", str(port)]
    with log.open("ab" if append else "wb") as fh:  # the child keeps its own descriptor
        proc = subprocess.Popen(
            cmd, stdout=fh, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
    server = Server(proc, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"qa serve exited with {proc.returncode}:\n{server.output()}")
        try:
            if httpx.get(server.url + "/health", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    stop_server(server)
    raise RuntimeError(f"qa serve did not become ready:\n{server.output()}")


def stop_server(server: Server, sig: int = signal.SIGTERM) -> int:
    if server.process.poll() is None:
        server.process.send_signal(sig)
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
    return server.process.returncode


@contextmanager
def running(server: Server) -> Iterator[Server]:
    """`server` until the block ends, then stopped, however the block ends."""
    try:
        yield server
    finally:
        stop_server(server)


def qa_index(corpus: Path, index: Path) -> Path:
    """`qa index` of `corpus` into `index`, in a real process; returns `index`."""
    done = run_qa("index", "--corpus", str(corpus), "--index", str(index), "--quiet", timeout=600)
    assert done.returncode == 0, f"qa index failed:\n{done.stdout}\n{done.stderr}"
    return index


@contextmanager
def served_corpus(
    corpus: Path,
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    *,
    env: dict[str, str] | None = None,
) -> Iterator[Server]:
    """`corpus` indexed by `qa index` and served by a real `qa serve` (with `env`) until
    the block ends; the index and the log go to temporary folders named after `name`."""
    index = qa_index(corpus, tmp_path_factory.mktemp(f"{name}-index"))
    log = tmp_path_factory.mktemp(f"{name}-server") / "serve.log"
    with running(start_server(index, log, env=env)) as server:
        yield server


@pytest.fixture(scope="session")
def live_server(
    corpus_index_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("server") / "serve.log"
    with running(start_server(corpus_index_dir, log)) as server:
        yield server


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    target = tmp_path / "corpus"
    shutil.copytree(CORPUS, target)
    return target


# ----- a small corpus served with write access (ingestion and security tests) ----------------

KEY = "test-key-4f1c2b9e8d7a6c5b"
AUTH = {"Authorization": f"Bearer {KEY}"}

SEED = {
    "alpha.md": "---\ntitle: Alpha\nsource: desk\n---\nDenmark will lead the NATO training "
    "mission in Iraq. It sends 285 troops.\n",
    "notes/beta.txt": "Lithuania deploys soldiers to Iraq. They train local forces.\n",
}


def seed(tmp_path: Path, embedder: Embedder, **overrides: Any) -> Settings:
    """A corpus folder and its index, built the way `qa index` builds them."""
    corpus = tmp_path / "corpus"
    for name, text in SEED.items():
        (corpus / name).parent.mkdir(parents=True, exist_ok=True)
        (corpus / name).write_text(text, encoding="utf-8")
    settings = Settings(
        corpus_dir=corpus, index_dir=tmp_path / "index", **{"api_key": KEY, **overrides}
    )
    update_index(
        scan_corpus(corpus).documents,
        index_dir=settings.index_dir,
        embedder=embedder,
        settings=chunk_settings(settings),
    )
    return settings


@contextmanager
def serving(settings: Settings, embedder: Embedder) -> Iterator[TestClient]:
    """The real app over a service loaded from disk, as `qa serve` would start it."""
    app = create_app(settings, service_factory=lambda: QAService.from_settings(settings, embedder))
    with TestClient(app) as client:
        yield client


@pytest.fixture
def fake_settings(tmp_path: Path, fake_embedder: FakeEmbedder) -> Settings:
    return seed(tmp_path, fake_embedder)


@pytest.fixture
def api(fake_settings: Settings, fake_embedder: FakeEmbedder) -> Iterator[TestClient]:
    with serving(fake_settings, fake_embedder) as client:
        yield client
