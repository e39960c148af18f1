"""Live ingestion: POST and DELETE /documents over the real app, the index on disk and the
corpus folder. Most tests use the fake embedder (fast); the `slow` ones the real model."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import pytest
from fastapi.testclient import TestClient

from qa.config import Settings
from qa.ingest.chunking import chunk_settings
from qa.ingest.corpus import scan_corpus
from qa.ingest.doc_rules import doc_id_problem, prepare_json, prepare_upload
from qa.ingest.indexing import expectation, update_index
from qa.live.corpus_mirror import CorpusMirror
from qa.live.writer import Ingestor
from qa.search.embedding import Embedder
from qa.search.index import Index, current_version, write_lock
from qa.service import QAService
from tests.conftest import AUTH, DENMARK_DOC, KEY, FakeEmbedder, seed, serving


def ids(client: TestClient) -> list[str]:
    r = client.get("/documents")
    assert r.status_code == 200, r.text
    return [d["doc_id"] for d in r.json()["documents"]]


def disk_ids(settings: Settings) -> list[str]:
    return sorted(Index.load(settings.index_dir).documents)


def corpus_ids(settings: Settings) -> list[str]:
    return sorted(d.doc_id for d in scan_corpus(settings.corpus_dir).documents)


def add(client: TestClient, doc_id: str, text: str, **extra: Any) -> Any:
    return client.post("/documents", json={"doc_id": doc_id, "text": text, **extra}, headers=AUTH)


# ----- doc_id rules --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "doc_id", ["a.md", "notes/2024/b.txt", "Ünïcödé notes.MD", "a b/c-d_e.md", "x" * 197 + ".md"]
)
def test_good_doc_ids(doc_id: str) -> None:
    assert doc_id_problem(doc_id) is None


@pytest.mark.parametrize(
    ("doc_id", "fragment"),
    [
        ("", "empty"),
        ("x" * 198 + ".md", "at most 200"),
        ("../etc/passwd.md", "'..' segment"),
        ("a/../../b.md", "'..' segment"),
        ("./a.md", "'.' segment"),
        ("/etc/a.md", "absolute path"),
        ("a\\b.md", "backslash"),
        ("a//b.md", "empty segment"),
        ("a/", "empty segment"),
        (".hidden.md", "starts with '.'"),
        ("a/.git/b.md", "starts with '.'"),
        ("a\x00b.md", "U+0000"),
        ("a\nb.md", "U+000A"),
        ("a\u202eb.md", "U+202E"),
        ("notes.pdf", "must end in .md or .txt"),
        ("notes", "must end in .md or .txt"),
        ("é" * 130 + ".md", "longer than 255 bytes"),
    ],
)
def test_bad_doc_ids_say_what_to_fix(doc_id: str, fragment: str) -> None:
    problem = doc_id_problem(doc_id)
    assert problem is not None and fragment in problem


# ----- files and documents agree ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "title", "metadata"),
    [
        ("Plain text.", None, {}),
        ("---\nnot: front matter\n---\nbody", None, {}),
        ("\ufeffBOM first", None, {}),
        ("Line one\r\nline two\r\n", "  Spaced title  ", {}),
        (
            "Body",
            "Title: with colon",
            {
                "date": "2020-01-08",
                "flag": "yes",
                "n": 3,
                "x": 1e-05,
                "none": None,
                "list": [1, "two", {"three": [True]}],
                "multi": "a\n--- b\n... c",
                "unicode": "日本語 ✓",
            },
        ),
    ],
)
def test_a_json_document_reads_back_from_its_corpus_file_exactly(
    tmp_path: Path, text: str, title: str | None, metadata: dict[str, Any]
) -> None:
    prepared = prepare_json("d/doc.md", text, title=title, metadata=metadata)
    assert prepared.document.text == text
    assert dict(prepared.document.metadata) == metadata
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "doc.md").write_bytes(prepared.file_text.encode("utf-8"))
    [scanned] = scan_corpus(tmp_path).documents
    assert scanned == prepared.document


def test_an_upload_takes_title_and_metadata_from_its_front_matter() -> None:
    raw = "\ufeff---\ntitle: Uploaded\ndate: 2024-05-02\ntags: [a, b]\n---\nThe body.\n"
    doc = prepare_upload("up.md", raw.encode("utf-8")).document
    assert doc.title == "Uploaded" and doc.text == "The body.\n"
    assert dict(doc.metadata) == {"date": "2024-05-02", "tags": ["a", "b"]}


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"\xff\xfe bad", r"not valid UTF-8 \(byte 0\)"),
        (b"---\ntitle: x\n---\n   \n", "it has no text"),
        (b"---\n: [unclosed\n---\nbody", "invalid YAML front matter"),
        (b"---\na: &x [1, 2]\nb: *x\n---\nbody", "aliases"),
        (b"---\na: " + b"[" * 30 + b"]" * 30 + b"\n---\nbody", "too deeply nested"),
        (b"---\na: .nan\n---\nbody", "finite"),
    ],
)
def test_bad_uploads_are_refused_with_the_reason(data: bytes, fragment: str) -> None:
    from qa.errors import InvalidDocumentError

    with pytest.raises(InvalidDocumentError, match=fragment):
        prepare_upload("up.md", data)


# ----- the HTTP API ----------------------------------------------------------------------------


def test_add_is_searchable_at_once_and_survives_a_restart(
    api: TestClient, fake_settings: Settings, fake_embedder: FakeEmbedder
) -> None:
    r = add(api, "new/gamma.md", "Estonia sends a medical team to Kabul airport.", title="Gamma")
    assert r.status_code == 201, r.text
    assert r.json() == {
        "doc_id": "new/gamma.md",
        "title": "Gamma",
        "chunks": 1,
        "status": "created",
        "documents": 3,
    }
    hit = api.post("/ask", json={"question": "Estonia medical team Kabul", "k": 1}).json()
    assert hit["passages"][0]["doc_id"] == "new/gamma.md"
    assert api.get("/documents/new/gamma.md").json()["title"] == "Gamma"

    # On disk, in the corpus folder, and after a restart: the same three documents.
    assert disk_ids(fake_settings) == corpus_ids(fake_settings) == sorted(ids(api))
    with serving(fake_settings, fake_embedder) as again:
        assert sorted(ids(again)) == ["alpha.md", "new/gamma.md", "notes/beta.txt"]
        assert again.get("/documents/new/gamma.md").json()["text"].startswith("Estonia")


def test_qa_index_afterwards_keeps_api_documents_and_embeds_nothing(
    api: TestClient, fake_settings: Settings, fake_embedder: FakeEmbedder
) -> None:
    meta = {"source": "API", "when": "2024-05-02", "n": [1, 2]}
    assert add(api, "g.md", "Gamma text here.", title="G", metadata=meta).status_code == 201
    assert api.delete("/documents/alpha.md", headers=AUTH).status_code == 200
    stats = update_index(
        scan_corpus(fake_settings.corpus_dir).documents,
        index_dir=fake_settings.index_dir,
        embedder=fake_embedder,
        settings=chunk_settings(fake_settings),
    )
    # The folder and the index agree exactly: nothing added, removed or re-embedded.
    assert (stats.added, stats.removed, stats.updated, stats.embedded_chunks) == (0, 0, 0, 0)
    assert disk_ids(fake_settings) == ["g.md", "notes/beta.txt"]
    assert dict(Index.load(fake_settings.index_dir).documents["g.md"].metadata) == meta


def test_replace_unchanged_and_delete(api: TestClient, fake_settings: Settings) -> None:
    assert add(api, "alpha.md", "Denmark leads.", title="Alpha 2").json()["status"] == "replaced"
    again = add(api, "alpha.md", "Denmark leads.", title="Alpha 2")
    assert again.status_code == 200 and again.json()["status"] == "unchanged"
    assert api.get("/documents/alpha.md").json()["text"] == "Denmark leads."

    r = api.delete("/documents/notes/beta.txt", headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json() == {"doc_id": "notes/beta.txt", "deleted": True, "documents": 1}
    assert api.get("/documents/notes/beta.txt").status_code == 404
    passages = api.post("/ask", json={"question": "Lithuania soldiers", "k": 5}).json()["passages"]
    assert all(p["doc_id"] != "notes/beta.txt" for p in passages)
    assert not (fake_settings.corpus_dir / "notes" / "beta.txt").exists()
    assert disk_ids(fake_settings) == corpus_ids(fake_settings) == ["alpha.md"]

    gone = api.delete("/documents/notes/beta.txt", headers=AUTH)
    assert gone.status_code == 404 and "GET /documents lists the ids" in gone.json()["message"]


def test_deleting_every_document_leaves_a_working_empty_index(
    api: TestClient, fake_settings: Settings
) -> None:
    for doc_id in ids(api):
        assert api.delete(f"/documents/{doc_id}", headers=AUTH).status_code == 200
    assert ids(api) == [] and disk_ids(fake_settings) == []
    r = api.post("/ask", json={"question": "Denmark?"})
    assert r.status_code == 200 and r.json()["passages"] == [] and r.json()["answer"] is None
    assert add(api, "back.md", "Back again.").status_code == 201


def test_upload_a_markdown_file(api: TestClient, fake_settings: Settings) -> None:
    content = b"---\ntitle: From a file\nsource: upload\n---\nNorway trains pilots.\n"
    r = api.post("/documents", files={"file": ("norway.md", content)}, headers=AUTH)
    assert r.status_code == 201, r.text
    assert r.json()["doc_id"] == "norway.md" and r.json()["title"] == "From a file"
    detail = api.get("/documents/norway.md").json()
    assert (
        detail["metadata"] == {"source": "upload"} and detail["text"] == "Norway trains pilots.\n"
    )
    assert (fake_settings.corpus_dir / "norway.md").read_bytes() == content

    named = api.post(
        "/documents",
        files={"file": ("whatever.bin", b"Sweden sends ships.")},
        data={"doc_id": "nordic/sweden.txt"},
        headers=AUTH,
    )
    assert named.status_code == 201 and named.json()["doc_id"] == "nordic/sweden.txt"


@pytest.mark.parametrize(
    ("files", "data", "status", "fragment"),
    [
        ({"file": ("report.pdf", b"%PDF")}, {}, 422, "not a readable PDF"),
        ({"file": ("report.odt", b"PK")}, {}, 415, "cannot read .odt files"),
        ({"file": ("../../x.md", b"text")}, {}, 201, ""),  # only the file's base name is used
        ({"file": ("a.md", b"text")}, {"doc_id": "../a.md"}, 422, "'..' segment"),
        ({"file": ("a.md", b"\xff")}, {}, 422, "not valid UTF-8"),
        ({"file": ("a.md", b"text")}, {"colour": "red"}, 422, "unexpected form fields"),
        ({}, {"doc_id": "a.md"}, 422, "file part named 'file'"),
        ({"file": ("a.md", b"x"), "other": ("b.md", b"y")}, {}, 400, "files"),
    ],
)
def test_bad_uploads_get_a_json_message(
    api: TestClient,
    files: dict[str, tuple[str, bytes]],
    data: dict[str, str],
    status: int,
    fragment: str,
) -> None:
    r = api.post("/documents", files=files or None, data=data, headers=AUTH)
    if not files:  # httpx sends no multipart body without files: force one
        r = api.post(
            "/documents",
            content=b'--b\r\nContent-Disposition: form-data; name="doc_id"\r\n\r\na.md\r\n'
            b"--b--\r\n",
            headers={**AUTH, "content-type": "multipart/form-data; boundary=b"},
        )
    assert r.status_code == status, r.text
    assert fragment in r.json().get("message", "") or status == 201


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"doc_id": "a.md"}, "text: Field required"),
        ({"doc_id": "a.md", "text": "   "}, "text is empty"),
        ({"doc_id": "a.md", "text": "x", "colour": "red"}, "colour: Extra inputs"),
        ({"doc_id": "../a.md", "text": "x"}, "doc_id: doc_id has a '..' segment"),
        ({"doc_id": "a.md", "text": 5}, "text: Input should be a valid string"),
        ({"doc_id": "a.md", "text": "x", "metadata": {"title": "t"}}, "in the title field"),
        ({"doc_id": "a.md", "text": "x", "metadata": []}, "metadata: Input should be an object"),
        ({"doc_id": "a.md", "text": "x", "metadata": {"a": [[[[[[[[[1]]]]]]]]]}}, "8 levels"),
        ({"doc_id": "a.md", "text": "x", "title": "t" * 501}, "at most 500"),
    ],
)
def test_bad_json_documents_get_a_422_that_says_what_to_fix(
    api: TestClient, payload: dict[str, Any], fragment: str
) -> None:
    r = api.post("/documents", json=payload, headers=AUTH)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "invalid_request" and fragment in r.json()["message"]


def test_bodies_that_are_not_json_documents(api: TestClient) -> None:
    cases = [
        (b"{not json", "application/json", 422, "Invalid JSON"),
        (b'{"doc_id": "a.md", "text": "\xff"}', "application/json", 400, "not valid UTF-8"),
        (b'{"doc_id": "a.md", "text": "\\ud800"}', "application/json", 422, "JSON"),
        (b"doc_id=a.md", "application/x-www-form-urlencoded", 415, "application/json"),
        (b"[]", "application/json", 422, "body: Input should be an object"),
    ]
    for body, content_type, status, fragment in cases:
        r = api.post("/documents", content=body, headers={**AUTH, "content-type": content_type})
        assert r.status_code == status, (body, r.text)
        assert fragment in r.json()["message"], (body, r.text)
    assert api.get("/health").status_code == 200


def test_doc_id_clashes_with_the_corpus_folder_are_a_409(api: TestClient) -> None:
    r = add(api, "alpha.md/inner.md", "text")
    assert r.status_code == 409 and "alpha.md" in r.json()["message"]
    r = add(api, "notes", "text")
    assert r.status_code == 422  # no suffix: refused before the folder is looked at
    assert sorted(ids(api)) == ["alpha.md", "notes/beta.txt"]


def test_without_corpus_sync_documents_live_in_the_index_only(
    tmp_path: Path, fake_embedder: FakeEmbedder
) -> None:
    settings = seed(tmp_path, fake_embedder, sync_corpus=False)
    with serving(settings, fake_embedder) as client:
        assert add(client, "only-index.md", "Kept in the index.").status_code == 201
        assert client.delete("/documents/alpha.md", headers=AUTH).status_code == 200
    assert disk_ids(settings) == ["notes/beta.txt", "only-index.md"]
    assert corpus_ids(settings) == ["alpha.md", "notes/beta.txt"]  # untouched


def test_a_missing_corpus_folder_is_a_503_and_changes_nothing(
    tmp_path: Path, fake_embedder: FakeEmbedder
) -> None:
    settings = seed(tmp_path, fake_embedder)
    settings = settings.model_copy(update={"corpus_dir": tmp_path / "gone"})
    with serving(settings, fake_embedder) as client:
        r = add(client, "x.md", "text")
        assert r.status_code == 503 and "QA_SYNC_CORPUS=false" in r.json()["message"]
        assert sorted(ids(client)) == ["alpha.md", "notes/beta.txt"]
    assert disk_ids(settings) == ["alpha.md", "notes/beta.txt"]


def test_a_held_index_lock_is_a_409_and_changes_nothing(
    api: TestClient, fake_settings: Settings
) -> None:
    before = current_version(fake_settings.index_dir)
    with write_lock(fake_settings.index_dir):  # as `qa index` holds it
        r = add(api, "x.md", "text")
        assert r.status_code == 409 and "busy" in r.json()["message"]
        assert api.delete("/documents/alpha.md", headers=AUTH).status_code == 409
    assert current_version(fake_settings.index_dir) == before
    assert not (fake_settings.corpus_dir / "x.md").exists()
    assert add(api, "x.md", "text").status_code == 201  # free again


def test_a_full_disk_during_save_is_a_507_and_loses_nothing(
    api: TestClient, fake_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = current_version(fake_settings.index_dir)

    def full(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(faiss, "write_index", full)
    for response in (
        add(api, "x.md", "text"),
        add(api, "alpha.md", "changed"),
        api.delete("/documents/alpha.md", headers=AUTH),
    ):
        assert response.status_code == 507, response.text
        body = response.json()
        assert body["error"] == "storage_full" and "free some disk space" in body["message"]
    # Disk, live index and corpus folder are exactly as before.
    assert current_version(fake_settings.index_dir) == before
    assert sorted(ids(api)) == disk_ids(fake_settings) == corpus_ids(fake_settings)
    assert api.get("/documents/alpha.md").json()["text"].startswith("Denmark will lead")
    leftovers = [p for p in fake_settings.corpus_dir.rglob(".*")] + [
        p for p in fake_settings.index_dir.iterdir() if p.name.startswith(".tmp-")
    ]
    assert leftovers == []
    monkeypatch.undo()
    assert add(api, "x.md", "text").status_code == 201


def test_a_write_builds_on_the_version_on_disk(
    api: TestClient, fake_settings: Settings, fake_embedder: FakeEmbedder
) -> None:
    """`qa index` ran while the server was up: the server keeps serving the version it
    loaded, and its next write starts from the one on disk, so neither loses the other's."""
    (fake_settings.corpus_dir / "cli.md").write_text("Added by qa index.", encoding="utf-8")
    update_index(
        scan_corpus(fake_settings.corpus_dir).documents,
        index_dir=fake_settings.index_dir,
        embedder=fake_embedder,
        settings=chunk_settings(fake_settings),
    )
    assert "cli.md" not in ids(api)  # still the loaded version
    assert add(api, "api.md", "Added over HTTP.").status_code == 201
    assert sorted(ids(api)) == ["alpha.md", "api.md", "cli.md", "notes/beta.txt"]
    assert disk_ids(fake_settings) == sorted(ids(api))


class GatedEmbedder(FakeEmbedder):
    """Blocks while encoding any text that contains GATE, until released."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: object = None
    ) -> np.ndarray:
        if any("GATE" in t for t in texts):
            self.entered.set()
            assert self.release.wait(20), "the test never released the gate"
        return super().encode(texts, batch_size=batch_size)


def test_questions_are_answered_while_a_document_is_being_added(tmp_path: Path) -> None:
    embedder = GatedEmbedder()
    settings = seed(tmp_path, embedder)
    with serving(settings, embedder) as client:
        results: dict[str, Any] = {}
        writer = threading.Thread(
            target=lambda: results.update(add=add(client, "slow.md", "GATE slow document"))
        )
        writer.start()
        try:
            assert embedder.entered.wait(10)
            # The write is mid-build on a worker thread: the loop still serves readers, and
            # they see the old index whole, never a half-written one.
            assert client.post("/ask", json={"question": "Denmark troops"}).status_code == 200
            assert client.get("/health").json()["documents"] == 2
            assert "slow.md" not in ids(client)
        finally:
            embedder.release.set()
            writer.join(20)
        assert results["add"].status_code == 201
        assert "slow.md" in ids(client)


def test_concurrent_writers_are_serialised(
    fake_settings: Settings, fake_embedder: FakeEmbedder
) -> None:
    service = QAService.from_settings(fake_settings, fake_embedder)
    ingestor = Ingestor.from_settings(service, fake_settings)
    errors: list[BaseException] = []

    def write(i: int) -> None:
        try:
            ingestor.add(
                prepare_json(f"c/{i}.md", f"Document number {i}.", title=None, metadata={})
            )
            if i % 3 == 0:
                ingestor.delete(f"c/{i}.md")
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    expected = sorted(["alpha.md", "notes/beta.txt", *(f"c/{i}.md" for i in range(12) if i % 3)])
    assert sorted(service.index.documents) == disk_ids(fake_settings) == expected
    assert corpus_ids(fake_settings) == expected
    versions = [p for p in fake_settings.index_dir.iterdir() if p.name.startswith("v-")]
    assert len(versions) == 1


def test_the_mirror_refuses_paths_that_leave_the_corpus(tmp_path: Path) -> None:
    from qa.errors import InvalidDocumentError

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (tmp_path / "outside").mkdir()
    (corpus / "link").symlink_to(tmp_path / "outside")
    with pytest.raises(InvalidDocumentError, match="outside the corpus"):
        CorpusMirror(corpus).stage("link/x.md", "text")
    assert list((tmp_path / "outside").iterdir()) == []


# ----- the real model ----------------------------------------------------------------------------


@pytest.mark.slow
def test_real_model_finds_an_added_document_and_forgets_a_deleted_one(
    tmp_path: Path, corpus_index_dir: Path, embedder: Embedder
) -> None:
    import shutil

    from tests.conftest import CORPUS

    shutil.copytree(CORPUS, tmp_path / "corpus")
    shutil.copytree(corpus_index_dir, tmp_path / "index")
    settings = Settings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index", api_key=KEY)
    question = "Which country is sending engineers to rebuild bridges in Mosul?"
    text = (
        "Portugal is sending a team of forty army engineers to rebuild bridges in Mosul. "
        "The engineers will arrive in March and stay for six months."
    )
    with serving(settings, embedder) as client:
        r = add(client, "portugal-engineers.md", text, title="Portuguese engineers to Mosul")
        assert r.status_code == 201, r.text
        body = client.post("/ask", json={"question": question, "k": 3}).json()
        assert body["passages"][0]["doc_id"] == "portugal-engineers.md"
        assert body["answer"] is not None and "Portugal" in body["answer"]["text"]

        assert client.delete(f"/documents/{DENMARK_DOC}", headers=AUTH).status_code == 200
        passages = client.post("/ask", json={"question": "Denmark NATO Iraq"}).json()["passages"]
        assert all(p["doc_id"] != DENMARK_DOC for p in passages)
    loaded = Index.load(settings.index_dir, expectation(embedder, chunk_settings(settings)))
    assert sorted(loaded.documents) == corpus_ids(settings)
    assert "portugal-engineers.md" in loaded.documents and DENMARK_DOC not in loaded.documents
