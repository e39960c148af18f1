"""`qa index --ray`: the same index as a single-process build, read and embedded by Ray actors."""

from __future__ import annotations

import dataclasses
import importlib.util
import io
import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qa.config import Settings
from qa.errors import ModelError
from qa.eval.questionsets import load_squad
from qa.ingest.chunking import chunk_settings
from qa.ingest.corpus import scan_corpus
from qa.ingest.formats import Limits
from qa.ingest.formats.worker import ActorExtraction, RemoteReader
from qa.ingest.indexing import update_index
from qa.search.distributed import MISSING_RAY, RayEmbedder, _block_rows
from qa.search.embedding import SentenceTransformerEmbedder
from qa.search.index import Index
from qa.types import Document
from tests.conftest import (
    CORPUS,
    DENMARK_DOC,
    DENMARK_QUESTION,
    SHARED,
    free_port,
)
from tests.conftest import run_qa as qa

SQUAD_SLICE = SHARED / "datasets" / "squad2-dev-3articles.json"
needs_ray = pytest.mark.skipif(
    importlib.util.find_spec("ray") is None, reason="ray is not installed: pip install -e '.[ray]'"
)
needs_tesseract = pytest.mark.skipif(
    shutil.which("tesseract") is None,
    reason="Tesseract is not installed: run bash scripts/ensure-tesseract.sh",
)

pytestmark = [
    pytest.mark.slow,
    # Ray Data's DataContext() sets fields that Ray itself deprecated (Ray 2.60).
    pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context"),
]


@pytest.fixture(scope="module")
def ray_session() -> Iterator[Any]:
    """One local Ray for the module (starting Ray costs seconds); shut down at the end."""
    ray = pytest.importorskip("ray", reason="ray is not installed: pip install -e '.[ray]'")
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.ERROR,
    )
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def fp32() -> SentenceTransformerEmbedder:
    """Bit-for-bit equality is a property of fp32: in bf16 a vector depends slightly on
    which texts share its batch, and Ray's blocks batch differently from one process."""
    return SentenceTransformerEmbedder(precision="fp32")


@pytest.fixture(scope="module")
def ray_embedder(ray_session: Any, fp32: SentenceTransformerEmbedder) -> RayEmbedder:
    # Two one-CPU actors on two cores; the running Ray is joined, not started again.
    return RayEmbedder(actors=2, local=fp32, precision="fp32")


def build(documents: list[Document], index_dir: Path, embedder: Any) -> Index:
    settings = chunk_settings(Settings())
    update_index(documents, index_dir=index_dir, embedder=embedder, settings=settings)
    return Index.load(index_dir)


def assert_same_index(ray_built: Index, local: Index) -> None:
    assert ray_built.chunks == local.chunks  # the chunk table, bit for bit
    assert ray_built.documents == local.documents
    assert ray_built.manifest.model == local.manifest.model
    assert ray_built.manifest.chunking == local.manifest.chunking
    rows = list(range(len(local.chunks)))
    assert np.allclose(ray_built.vectors(rows), local.vectors(rows), atol=1e-5)


def test_ray_builds_the_same_index_as_one_process_on_the_squad_slice(
    ray_embedder: RayEmbedder,
    fp32: SentenceTransformerEmbedder,
    tmp_path: Path,
) -> None:
    documents, _ = load_squad(SQUAD_SLICE)
    local = build(documents, tmp_path / "local", fp32)
    seen: list[tuple[int, int]] = []
    settings = chunk_settings(Settings())
    update_index(
        documents,
        index_dir=tmp_path / "ray",
        embedder=ray_embedder,
        settings=settings,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert_same_index(Index.load(tmp_path / "ray"), local)
    total = len(local.chunks)
    assert seen[-1] == (total, total) and len(seen) > 1  # block by block, as they come back
    assert ray_embedder.identity == fp32.identity
    assert ray_embedder.encode([]).shape == (0, fp32.identity.dimension)


def test_a_worker_with_another_model_fails_the_build_clearly(
    ray_session: Any,
    embedder,  # type: ignore[no-untyped-def]
) -> None:
    other = dataclasses.replace(embedder.identity, weights_sha256="0" * 64)
    ray_embedder = RayEmbedder(actors=1, local=embedder)
    ray_embedder.identity = other  # as if this machine held other weights than the workers
    with pytest.raises(ModelError, match="install the same model on every node"):
        ray_embedder.encode(["Denmark offered to lead the mission."])  # fails, not retries


def _scan(lines: list[str], kind: str) -> bytes:
    """A page with `lines` printed on it, as a scanner would make it: pixels, no text."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (1500, 120 + 90 * len(lines)), "white")
    draw = ImageDraw.Draw(image)
    for row, line in enumerate(lines):
        draw.text((60, 60 + 90 * row), line, fill="black", font=ImageFont.load_default(size=48))
    out = io.BytesIO()
    image.save(out, kind, resolution=150)
    return out.getvalue()


@needs_tesseract
def test_reading_on_ray_actors_gives_the_documents_of_a_local_scan(
    ray_embedder: RayEmbedder, tmp_path: Path
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "mission.png").write_bytes(_scan(["Denmark offered to lead the mission"], "PNG"))
    scanned = ["The harbour opens at dawn", "Ships leave before noon"]
    (corpus / "harbour.pdf").write_bytes(_scan(scanned, "PDF"))
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4 not really a PDF")
    (corpus / "notes.md").write_text("# Notes\n\nText files are read in process.\n")
    limits = Limits()
    readers = [
        RemoteReader(ray_embedder.actor(ActorExtraction, limits=limits), limits=limits)
        for _ in range(ray_embedder.planned_actors())
    ]
    try:
        remote = scan_corpus(corpus, limits=limits, readers=readers)
        pids = {reader.actor.call("pid") for reader in readers}
        calls = sum(reader.actor.calls for reader in readers) - len(readers)  # less the pids
    finally:
        for reader in readers:
            reader.close()
    local = scan_corpus(corpus, limits=limits)

    assert len(readers) == 2  # as many as the embedder's replicas
    assert remote.documents == local.documents  # text, pages, words' boxes, hashes
    assert remote.skipped == local.skipped and list(remote.skipped) == ["broken.pdf"]
    by_id = {doc.doc_id: doc for doc in remote.documents}
    assert "Denmark offered to lead the mission" in by_id["mission.png"].text
    assert len(by_id["harbour.pdf"].pages) == 1 and "harbour" in by_id["harbour.pdf"].text
    # The two scans and the broken PDF went to the actors, the Markdown file did not;
    # the actors are Ray worker processes, not this one.
    assert calls == 3
    assert os.getpid() not in pids and len(pids) == 2


@needs_ray
@needs_tesseract
def test_qa_index_with_ray_reads_a_scan_into_the_index(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "mission.png").write_bytes(_scan(["Denmark offered to lead the mission"], "PNG"))
    index = tmp_path / "index"
    folders = ("--corpus", str(corpus), "--index", str(index))
    built = qa("index", "--ray", "--ray-actors", "1", "--quiet", *folders)
    assert built.returncode == 0, built.stderr
    assert "indexed 1 document" in built.stdout and "Traceback" not in built.stderr
    local = {doc.doc_id: doc for doc in scan_corpus(corpus).documents}
    assert Index.load(index).documents == local  # the OCR'd text and its pages


def test_blocks_are_whole_batches_and_feed_every_actor() -> None:
    assert _block_rows(91, batch_size=32, actors=2) == 32
    assert _block_rows(10, batch_size=32, actors=2) == 32
    assert _block_rows(1_000_000, batch_size=32, actors=8) == 1024
    assert _block_rows(1_000_000, batch_size=100, actors=8) == 1000
    assert _block_rows(5_000, batch_size=1024, actors=2) == 1024


@needs_ray
def test_qa_index_with_local_ray_builds_the_seed_corpus_index_of_one_process(
    fp32: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    folders = ("--corpus", str(CORPUS), "--index", str(index))
    built = qa("index", "--ray", *folders, env={"QA_PRECISION": "fp32"})
    assert built.returncode == 0, built.stderr
    assert "indexed 3 documents" in built.stdout and "3 added" in built.stdout
    assert "embedding: " in built.stderr  # our progress, from the blocks coming back
    assert "Traceback" not in built.stderr
    local = build(scan_corpus(CORPUS).documents, tmp_path / "local", fp32)
    assert_same_index(Index.load(index), local)

    # Nothing to embed, so Ray is never started: one that tried would fail on this temp dir.
    (tmp_path / "file").touch()
    again = qa("index", "--ray", "--quiet", *folders, env={"RAY_TMPDIR": str(tmp_path / "file")})
    assert again.returncode == 0, again.stderr
    assert "3 unchanged; 0 chunks embedded" in again.stdout

    answer = qa("ask", DENMARK_QUESTION, "--json", "--k", "3", "--index", str(index))
    assert answer.returncode == 0, answer.stderr
    body = json.loads(answer.stdout)
    assert "Denmark" in body["answer"]["text"]
    assert body["passages"][0]["doc_id"] == DENMARK_DOC


@needs_ray
def test_an_address_where_no_cluster_answers_fails_fast_and_clearly(tmp_path: Path) -> None:
    address = f"127.0.0.1:{free_port()}"  # ray.init alone would retry it for ever
    result = qa("index", "--ray", address, "--corpus", str(CORPUS), "--index", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.startswith(f"qa: error: no Ray cluster answers at {address}")
    assert "Traceback" not in result.stderr


def test_without_ray_installed_qa_index_ray_says_how_to_install_it(tmp_path: Path) -> None:
    # A real `qa` process in which `import ray` fails, as in an install without the extra.
    blocked = "import sys; sys.modules['ray'] = None; from qa.cli import main; sys.exit(main())"
    result = subprocess.run(
        [sys.executable, "-c", blocked, "index", "--ray", "--corpus", str(CORPUS)]
        + ["--index", str(tmp_path / "index")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == f"qa: error: {MISSING_RAY}"
    assert "pip install 'qa[ray]'" in result.stderr
    assert not (tmp_path / "index").exists()
