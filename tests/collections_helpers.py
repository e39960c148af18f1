"""Two collections on disk for the collections tests: `secret` (protected) and `open`
(public), each with its own corpus and index, and the collections file that names them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from qa.api import create_app
from qa.config import Settings
from qa.ingest.chunking import chunk_settings
from qa.ingest.corpus import scan_corpus
from qa.ingest.indexing import update_index
from qa.search.embedding import Embedder
from tests.conftest import FakeEmbedder, Server, serve

SECRET_READ = "secret-read-key-0c4f9a1e77"
SECRET_WRITE = "secret-write-key-5b2d8e3f10"
OPEN_WRITE = "open-write-key-9d1c6a4b23"
#: Environment variables the file names instead of writing the keys into it.
KEY_ENV = {"QA_TEST_SECRET_READ": SECRET_READ, "QA_TEST_SECRET_WRITE": SECRET_WRITE}

CORPORA = {
    "secret": {
        "plan.md": "---\ntitle: Plan\n---\nThe launch code word is Marigold. The budget "
        "for the Osprey project is 4 million euros.\n",
    },
    "open": {
        "guide.md": "---\ntitle: Guide\n---\nThe canteen opens at eight. Visitors sign in "
        "at the front desk of building C.\n",
    },
}


def collections_file(root: Path, embedder: Embedder | None = None) -> Path:
    """Corpora, their indexes (built with `embedder`, if given) and the file."""
    for name, files in CORPORA.items():
        corpus = root / "corpora" / name
        for doc_id, text in files.items():
            (corpus / doc_id).parent.mkdir(parents=True, exist_ok=True)
            (corpus / doc_id).write_text(text, encoding="utf-8")
        if embedder is not None:
            update_index(
                scan_corpus(corpus).documents,
                index_dir=root / "indexes" / name,
                embedder=embedder,
                settings=chunk_settings(Settings()),
            )
    path = root / "collections.yaml"
    write_file(path, secret_read="env:QA_TEST_SECRET_READ")
    return path


def write_file(path: Path, *, secret_read: str) -> None:
    """The collections file; paths relative to its folder, keys by reference or value."""
    path.write_text(
        "collections:\n"
        "  secret:\n"
        "    corpus: corpora/secret\n"
        "    index: indexes/secret\n"
        f"    read_keys: [{secret_read}]\n"
        "    write_keys: [{env: QA_TEST_SECRET_WRITE}]\n"
        "  open:\n"
        "    corpus: corpora/open\n"
        "    index: indexes/open\n"
        f"    write_keys: [{OPEN_WRITE}]\n",
        encoding="utf-8",
    )


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def start(path: Path, log: Path, timeout: float = 120) -> Server:
    """A real `qa serve --collections` process, returned once /health answers 200."""
    return serve(["--collections", str(path)], log, env=KEY_ENV, timeout=timeout, append=True)


@contextmanager
def collections_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[TestClient, Path]]:
    """An in-process app serving `collections_file`'s collections (over a fake embedder,
    its keys in the environment), and the file."""
    for name, value in KEY_ENV.items():
        monkeypatch.setenv(name, value)
    fake = FakeEmbedder()
    path = collections_file(tmp_path, fake)
    app = create_app(Settings(collections=path), embedder_factory=lambda _: fake)
    with TestClient(app) as client:
        yield client, path
