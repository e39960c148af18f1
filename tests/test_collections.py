"""The collections file's checks, the feedback store, reloads and feedback over HTTP
(the real app with the fake model; the real server is in test_collections_server.py)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from qa.collections.config import Access, load_collections
from qa.collections.feedback import FeedbackStore
from qa.config import Settings
from qa.errors import ConfigError
from qa.ingest.chunking import chunk_settings
from qa.ingest.corpus import scan_corpus
from qa.ingest.indexing import update_index
from tests.collections_helpers import (
    KEY_ENV,
    SECRET_READ,
    SECRET_WRITE,
    bearer,
    collections_client,
    collections_file,
    write_file,
)
from tests.conftest import AUTH, FakeEmbedder, seed, serving

HB = "  hb:\n    corpus: a\n    index: b\n"
ENV = {"HANDBOOK_KEY": "hb-key-123", "OTHER": "other-key-456"}


def load(tmp_path: Path, text: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    return load_collections(path, ENV if env is None else env)


def test_a_good_file_with_keys_by_value_and_by_reference(tmp_path: Path) -> None:
    found = load(
        tmp_path,
        "collections:\n"
        "  handbook:\n    corpus: docs/hb\n    index: /srv/idx/hb\n"
        "    read_keys: [{env: HANDBOOK_KEY}, plain-key-789]\n"
        "    write_keys: ['env:OTHER']\n"
        "  public-1:\n    corpus: pub\n    index: idx/pub\n",
    )
    hb, pub = list(found)
    assert (hb.name, hb.corpus_dir, hb.index_dir) == (
        "handbook",
        (tmp_path / "docs/hb").resolve(),
        Path("/srv/idx/hb"),
    )
    assert not hb.public and hb.writable and pub.public and not pub.writable
    assert hb.access(None) is Access.NONE and pub.access(None) is Access.READ
    assert hb.access("hb-key-123") is Access.READ and hb.access("plain-key-789") is Access.READ
    assert hb.access("other-key-456") is Access.WRITE and hb.access("HB-KEY-123") is Access.NONE
    assert pub.access("other-key-456") is Access.READ  # public: any key reads, none writes
    # Keys are held as digests only: never in a repr, a log line or a traceback.
    assert "hb-key-123" not in repr(found) and "plain-key" not in repr(hb)


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        ("  hb:\n    corpus: a\n    index: b\n    colour: red\n", "'hb': unknown field(s) colour"),
        ("  'bad name':\n    corpus: a\n    index: b\n", "collection name 'bad name'"),
        ("  ../up:\n    corpus: a\n    index: b\n", "collection name '../up'"),
        ("  hb:\n    index: b\n", "'hb': 'corpus' is missing"),
        ("  hb:\n    corpus: a\n", "'hb': 'index' is missing"),
        ("  hb:\n    corpus: a\n    index: b\n    read_keys: ['']\n", "read_keys[0]: a key must"),
        ("  hb:\n    corpus: a\n    index: b\n    read_keys: []\n", "'read_keys' must be a non"),
        ("  hb:\n    corpus: a\n    index: b\n    write_keys: [{env: NOPE}]\n", "NOPE is not set"),
        ("  hb:\n    corpus: a\n    index: b\n    write_keys: ['env:']\n", "name the environment"),
        ("  hb:\n    corpus: a\n    index: b\n    read_keys: [{file: x}]\n", "{env: NAME}"),
        ("  hb:\n    corpus: a\n    index: b\n    read_keys: [12]\n", "write a key as a string"),
        (
            "  hb:\n    corpus: a\n    index: b\n  hc:\n    corpus: c\n    index: ./b\n",
            "same index",
        ),
        (
            "  hb:\n    corpus: a\n    index: b\n  hb:\n    corpus: c\n    index: d\n",
            "'hb' appears twice",
        ),
        ("  hb: [a, b]\n", "'hb': expected a mapping"),
    ],
)
def test_a_bad_entry_is_refused_naming_it(tmp_path: Path, entry: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, "collections:\n" + entry)
    assert fragment in info.value.message
    assert str(tmp_path / "c.yaml") in info.value.message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "one top-level key"),
        ("collections: {}\n", "at least one"),
        ("collection:\n  a: {}\n", "one top-level key"),
        ("collections: [\n", "not valid YAML"),
        ("collections:\n  a: {read_keys: [s3cret-key-value\n", "line 3, column 1$"),
    ],
)
def test_a_bad_file_is_refused(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment) as info:
        load(tmp_path, text)
    assert "s3cret" not in info.value.message  # the parser's quote of the line is left out
    with pytest.raises(ConfigError, match="cannot read"):
        load_collections(tmp_path / "missing.yaml", ENV)


def test_feedback_is_durable_and_takes_the_question_the_server_saw(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path)
    store.remember("r1", "What is the code word?")
    store.add("r1", helpful=False, comment="wrong doc", question="forged question")
    store.add("r2", helpful=True)
    store.add("r3", helpful=False, question="asked before a restart")
    store.close()  # a new process: nothing remembered, all read back from disk
    again = FeedbackStore(tmp_path)
    unhelpful = again.entries(helpful=False)
    assert [(e.request_id, e.question, e.comment) for e in unhelpful] == [
        ("r3", "asked before a restart", None),
        ("r1", "What is the code word?", "wrong doc"),
    ]
    assert [e.request_id for e in again.entries()] == ["r3", "r2", "r1"]
    db = sqlite3.connect(tmp_path / "feedback.sqlite3")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_feedback_on_a_server_without_collections(tmp_path: Path) -> None:
    fake = FakeEmbedder()
    settings = seed(tmp_path, fake)
    with serving(settings, fake) as client:
        reply = client.post("/ask", json={"question": "Who leads the mission?"}).json()
        rid = reply["request_id"]
        assert rid and client.post("/ask", json={"question": "x"}).json()["request_id"] != rid
        r = client.post("/feedback", json={"request_id": rid, "helpful": False, "comment": "no"})
        assert r.status_code == 201, r.text
        assert r.json()["question"] == "Who leads the mission?"
        assert client.get("/feedback").status_code == 401
        listed = client.get("/feedback", headers=AUTH).json()["feedback"]
        assert [(f["request_id"], f["helpful"]) for f in listed] == [(rid, False)]
        assert client.get("/feedback?helpful=true", headers=AUTH).json() == {"feedback": []}
        r = client.get("/feedback?helpfull=false", headers=AUTH)
        assert r.status_code == 422 and "helpfull" in r.text
        for bad in (
            {"request_id": rid},
            {"request_id": "a b", "helpful": True},
            {"request_id": rid, "helpful": True, "extra": 1},
            {"request_id": rid, "helpful": True, "comment": "x" * 2001},
            {"request_id": rid, "helpful": 0},  # a thumb is a boolean, not a number
            {"request_id": rid, "helpful": "true"},
        ):
            r = client.post("/feedback", json=bad)
            assert r.status_code == 422, bad
            assert r.json()["error"] == "invalid_request"
        # A client's sane X-Request-ID is the reply's id.
        mine = client.post("/ask", json={"question": "Who?"}, headers={"X-Request-ID": "abc-1"})
        assert mine.json()["request_id"] == "abc-1"


@pytest.fixture
def collections_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    with collections_client(tmp_path, monkeypatch) as made:
        yield made


def test_feedback_stays_in_its_collection(collections_app) -> None:  # type: ignore[no-untyped-def]
    client, _ = collections_app
    key = bearer(SECRET_WRITE)
    rid = client.post(
        "/collections/secret/ask", json={"question": "What is the code word?"}, headers=key
    ).json()["request_id"]
    r = client.post("/collections/secret/feedback", json={"request_id": rid, "helpful": False})
    assert r.status_code == 401  # feedback needs what reading needs
    r = client.post(
        "/collections/secret/feedback",
        json={"request_id": rid, "helpful": False},
        headers=bearer(SECRET_READ),
    )
    assert r.status_code == 201 and r.json()["question"] == "What is the code word?"
    assert (
        client.post(
            "/collections/open/feedback", json={"request_id": "o-1", "helpful": True}
        ).status_code
        == 201
    )
    mine = client.get("/collections/secret/feedback", headers=key).json()["feedback"]
    assert [f["request_id"] for f in mine] == [rid]


def test_reload_rotates_keys_and_a_bad_file_keeps_the_old_ones(
    collections_app, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    client, path = collections_app
    reload = client.app.state.reload_collections  # what SIGHUP runs

    def status(key: str) -> int:
        return client.get("/collections/secret/documents", headers=bearer(key)).status_code

    write_file(path, secret_read="rotated-key-77aa")
    assert client.portal.call(reload) is True
    assert (status("rotated-key-77aa"), status(SECRET_READ), status(SECRET_WRITE)) == (
        200,
        404,
        200,
    )
    path.write_text(path.read_text() + "  broken: {}\n", encoding="utf-8")
    assert client.portal.call(reload) is False  # logged; the old configuration stays
    assert status("rotated-key-77aa") == 200
    monkeypatch.delenv("QA_TEST_SECRET_WRITE")
    write_file(path, secret_read="rotated-key-77aa")
    assert client.portal.call(reload) is False  # an unset variable is a bad file too
    assert status(SECRET_WRITE) == 200


def test_reload_adds_and_removes_collections(collections_app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    client, path = collections_app
    reload = client.app.state.reload_collections
    original = path.read_text()
    extra = "  extra:\n    corpus: corpora/open\n    index: indexes/extra\n"
    path.write_text(original + extra, encoding="utf-8")
    # Its index does not exist yet: the whole reload is refused, the old set stays.
    assert client.portal.call(reload) is False
    assert [c["name"] for c in client.get("/collections").json()["collections"]] == ["open"]
    fake = FakeEmbedder()
    update_index(
        scan_corpus(tmp_path / "corpora" / "open").documents,
        index_dir=tmp_path / "indexes" / "extra",
        embedder=fake,
        settings=chunk_settings(Settings()),
    )
    assert client.portal.call(reload) is True
    names = [c["name"] for c in client.get("/collections").json()["collections"]]
    assert names == ["open", "extra"]
    r = client.post("/collections/extra/ask", json={"question": "When does the canteen open?"})
    assert r.status_code == 200 and r.json()["passages"][0]["doc_id"] == "guide.md"
    path.write_text(original.split("  open:")[0], encoding="utf-8")  # only secret is left
    assert client.portal.call(reload) is True
    assert client.get("/collections").json() == {"collections": []}
    assert client.get("/collections/open/documents").status_code == 401  # like any unknown
    r = client.get("/collections/secret/documents", headers=bearer(SECRET_READ))
    assert r.status_code == 200


# ----- the qa command with a collections file ------------------------------------------------


def run(argv: list[str], fake: FakeEmbedder) -> int:
    from qa import cli

    return cli.main(argv, embedder_factory=lambda _: fake)


def test_index_and_ask_each_collection_with_one_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in KEY_ENV.items():
        monkeypatch.setenv(name, value)
    path = collections_file(tmp_path)  # corpora and the file, no indexes yet
    fake = FakeEmbedder()
    assert run(["index", "--collections", str(path), "--collection", "open", "--quiet"], fake) == 0
    assert capsys.readouterr().out.startswith("collection open: indexed 1 documents")
    assert not (tmp_path / "indexes" / "secret").exists()
    monkeypatch.setenv("QA_COLLECTIONS", str(path))
    assert run(["index", "--quiet"], fake) == 0
    out = capsys.readouterr().out
    assert "collection secret: indexed 1" in out and "collection open: indexed 0" not in out
    assert run(["ask", "What is the code word?", "--collection", "secret", "--json"], fake) == 0
    body = json.loads(capsys.readouterr().out)
    assert {p["doc_id"] for p in body["passages"]} == {"plan.md"} and "request_id" not in body
    assert run(["ask", "What is the code word?"], fake) == 1
    assert "--collection (one of: secret, open)" in capsys.readouterr().err
    assert run(["ask", "x", "--collection", "nosuch"], fake) == 1
    assert "no collection named 'nosuch' (it has: secret, open)" in capsys.readouterr().err
    assert run(["ask", "x", "--collections", str(path), "--index", "elsewhere"], fake) == 1
    assert "--corpus and --index do not go with a collections file" in capsys.readouterr().err


def test_serve_refuses_a_bad_file_or_a_missing_index_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in KEY_ENV.items():
        monkeypatch.setenv(name, value)
    fake = FakeEmbedder()
    path = collections_file(tmp_path)
    assert run(["serve", "--collections", str(path)], fake) == 1
    err = capsys.readouterr().err
    assert (
        err.startswith("qa: error: collection 'secret' has no index in")
        and "--collection secret`" in err
    )
    monkeypatch.delenv("QA_TEST_SECRET_WRITE")
    assert run(["serve", "--collections", str(path)], fake) == 1
    err = capsys.readouterr().err
    assert (
        "collection 'secret': write_keys[0]: the environment variable QA_TEST_SECRET_WRITE" in err
    )
    assert err.count("\n") == 1  # one clear line, no traceback


def test_export_unhelpful_questions_as_a_set_to_review(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from qa.eval.questionsets import load_jsonl

    for name, value in KEY_ENV.items():
        monkeypatch.setenv(name, value)
    path = collections_file(tmp_path)
    for name, marks in {"secret": ["Code word?", "Code word?", None], "open": ["Canteen?"]}.items():
        (tmp_path / "indexes" / name).mkdir(parents=True)
        store = FeedbackStore(tmp_path / "indexes" / name)
        for i, question in enumerate(marks):
            store.add(f"{name}-{i}", helpful=False, question=question)
        store.add(f"{name}-ok", helpful=True, question="Fine?")
        store.close()
    out = tmp_path / "review.jsonl"
    argv = ["eval", "--export-unhelpful", str(out), "--collections", str(path)]
    assert run(argv, FakeEmbedder()) == 0
    assert "wrote 2 question(s)" in capsys.readouterr().out  # one skipped: no question kept
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines == [
        {"id": "secret:secret-0", "question": "Code word?", "answers": [],
         "tags": ["unhelpful", "collection:secret"]},
        {"id": "open:open-0", "question": "Canteen?", "answers": [],
         "tags": ["unhelpful", "collection:open"]},
    ]  # fmt: skip
    with pytest.raises(ValueError, match="line 1: give either a non-empty 'answers'"):
        load_jsonl(out)  # not yet reviewed
    reviewed = [{**line, "answers": ["Marigold"]} for line in lines]
    out.write_text("".join(json.dumps(r) + "\n" for r in reviewed))
    assert [q.tags for q in load_jsonl(out)][0] == ("unhelpful", "collection:secret")
    assert run(["eval", str(out), "--export-unhelpful", str(out)], FakeEmbedder()) == 1
    assert "give no dataset with it" in capsys.readouterr().err
