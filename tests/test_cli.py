"""The `qa` command as a person runs it: real processes, real model."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from qa import cli
from qa.config import Settings
from tests.conftest import DENMARK_DOC, DENMARK_QUESTION, run_qa

pytestmark = pytest.mark.slow


qa = run_qa

#: The default corpus never names Denmark's prime minister: the service abstains.
UNANSWERED_QUESTION = "Who is the Prime Minister of Denmark?"


def test_index_then_ask_from_the_command_line(tmp_path: Path, corpus_copy: Path) -> None:
    index = tmp_path / "index"
    (corpus_copy / "notes.pdf").write_bytes(b"%PDF")
    built = qa("index", "--corpus", str(corpus_copy), "--index", str(index))
    assert built.returncode == 0, built.stderr
    assert "indexed 3 documents" in built.stdout and "3 added" in built.stdout
    assert "skipped notes.pdf" in built.stderr
    assert built.stderr.count("notes.pdf") == 1, built.stderr  # one line, not one per channel
    again = qa("index", "--corpus", str(corpus_copy), "--index", str(index), "--quiet")
    assert "3 unchanged; 0 chunks embedded" in again.stdout

    human = qa("ask", DENMARK_QUESTION, "--index", str(index), "--k", "2")
    assert human.returncode == 0, human.stderr
    assert human.stdout.startswith("Answer (confidence ")
    assert f"{DENMARK_DOC} [" in human.stdout

    as_json = qa("ask", DENMARK_QUESTION, "--json", "--k", "3", env={"QA_INDEX_DIR": str(index)})
    body = json.loads(as_json.stdout)
    assert body["passages"][0]["doc_id"] == DENMARK_DOC and len(body["passages"]) == 3
    assert 0.0 <= body["confidence"] <= 1.0 and "short" in body["answer"]

    factoid = "How many soldiers does Lithuania deploy to the Global Coalition against Daesh?"
    counted = qa("ask", factoid, "--index", str(index), "--k", "2")
    assert counted.stdout.splitlines()[1].startswith("  short answer: 30 [")


def test_an_abstention_prints_the_withheld_answer_as_a_labelled_guess(
    corpus_index_dir: Path, embedder: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    def ask(*args: str) -> str:
        argv = ["ask", *args, "--index", str(corpus_index_dir), "--k", "3"]
        assert cli.main(argv, embedder_factory=lambda _: embedder) == 0
        return capsys.readouterr().out

    body = json.loads(ask(UNANSWERED_QUESTION, "--json"))
    assert body["answerable"] is False and body["answer"] is None
    held = body["withheld"]  # --json is the API's body: the withheld answer is in it
    assert held is not None and held["confidence"] == body["confidence"]

    lines = ask(UNANSWERED_QUESTION).splitlines()
    assert lines[0] == f"The documents don't answer this (confidence {body['confidence']:.2f})."
    # Then what it would have said, labelled as a guess, with its confidence and citation.
    assert lines[1] == f"{cli.WITHHELD_LABEL} (confidence {held['confidence']:.2f}): {held['text']}"
    assert "guess" in lines[1] and not lines[1].startswith("Answer")
    guess = lines[2:]
    short = held["short"]
    if short is not None:
        assert guess.pop(0) == f"  short answer: {short['text']} [{short['start']}:{short['end']}]"
    assert guess.pop(0).startswith(f"  cited from {held['doc_id']} [{held['start']}:{held['end']}]")
    # The passages follow apart, as the closest ones, not as the guess's sources.
    assert guess[:2] == ["", "Closest passages:"]
    assert len([line for line in guess if re.match(r" \d\. ", line)]) == 3

    confident = ask(DENMARK_QUESTION)
    assert confident.startswith("Answer (confidence ")
    assert "guess" not in confident.lower() and "Closest passages" not in confident
    assert json.loads(ask(DENMARK_QUESTION, "--json"))["withheld"] is None


def test_cli_errors_are_one_clear_line_and_a_nonzero_exit(tmp_path: Path) -> None:
    missing = qa("ask", "anything", "--index", str(tmp_path / "none"))
    assert missing.returncode == 1
    assert missing.stderr.strip().startswith("qa: error: no index in")
    assert "Traceback" not in missing.stderr

    bad_k = qa("ask", "anything", "--k", "99", "--index", str(tmp_path))
    assert bad_k.returncode == 1 and "--k must be between 1 and 50" in bad_k.stderr

    no_corpus = qa("index", "--corpus", str(tmp_path / "nope"), "--index", str(tmp_path / "i"))
    assert no_corpus.returncode == 1 and "does not exist" in no_corpus.stderr

    bad_setting = qa("index", env={"QA_CHUNK_OVERLAP": "500"})
    assert bad_setting.returncode == 1
    assert "must be smaller than QA_CHUNK_TOKENS" in bad_setting.stderr

    bad_model = qa(
        "index",
        "--corpus",
        str(tmp_path),
        "--index",
        str(tmp_path / "i"),
        env={"QA_MODEL": str(tmp_path)},
    )
    assert bad_model.returncode == 1
    assert "not a sentence-transformers model directory" in bad_model.stderr

    serve_nothing = qa("serve", "--index", str(tmp_path / "none"))
    assert serve_nothing.returncode == 1 and "run `qa index`" in serve_nothing.stderr

    usage = qa("frobnicate")
    assert usage.returncode == 2 and "invalid choice" in usage.stderr


def test_a_mismatched_index_asks_for_a_rebuild(tmp_path: Path, corpus_copy: Path) -> None:
    index = str(tmp_path / "index")
    assert qa("index", "--corpus", str(corpus_copy), "--index", index, "--quiet").returncode == 0
    other = {"QA_CHUNK_TOKENS": "120", "QA_CHUNK_OVERLAP": "20"}
    mismatch = qa("ask", "Denmark?", "--index", index, env=other)
    assert mismatch.returncode == 1 and "qa index --rebuild" in mismatch.stderr
    rebuilt = qa("index", "--corpus", str(corpus_copy), "--index", index, "--rebuild", env=other)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert qa("ask", "Denmark?", "--index", index, env=other).returncode == 0


def test_ask_without_an_index_says_so_before_loading_the_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    loaded: list[Settings] = []

    def factory(settings: Settings) -> object:
        loaded.append(settings)
        raise AssertionError("the model was loaded although there is no index")

    code = cli.main(
        ["ask", "anything", "--index", str(tmp_path / "none")], embedder_factory=factory
    )  # type: ignore[arg-type]
    assert code == 1 and loaded == []
    assert capsys.readouterr().err.startswith("qa: error: no index in")


def test_a_question_over_the_length_limit_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QA_MAX_QUESTION_CHARS", "10")
    code = cli.main(["ask", "x" * 11, "--index", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1
    assert err == (
        "qa: error: the question is 11 characters long: shorten it to at most 10 "
        "(QA_MAX_QUESTION_CHARS)\n"
    )


def test_qa_index_reads_real_formats_and_skips_hostile_files_with_one_line_each(
    tmp_path: Path, corpus_copy: Path
) -> None:
    from tests.docmaker import make_encrypted_pdf, make_pdf, make_zip_bomb
    from tests.test_formats import REALDOCS

    if not REALDOCS.is_dir():
        pytest.skip("the shared real documents are not beside this checkout")
    (corpus_copy / "box.pdf").write_bytes((REALDOCS / "pdf" / "ch15-01-box.pdf").read_bytes())
    (corpus_copy / "traits.docx").write_bytes(
        (REALDOCS / "docx" / "ch10-02-traits.docx").read_bytes()
    )
    (corpus_copy / "locked.pdf").write_bytes(make_encrypted_pdf())
    (corpus_copy / "scan.pdf").write_bytes(make_pdf([[]]))
    (corpus_copy / "bomb.docx").write_bytes(make_zip_bomb(210 << 20))
    (corpus_copy / "big.txt").write_bytes(b"word " * 300_000)
    index = tmp_path / "index"
    env = {"QA_MAX_FILE_BYTES": str(1 << 20)}
    built = qa("index", "--corpus", str(corpus_copy), "--index", str(index), "--quiet", env=env)
    assert built.returncode == 0, built.stderr
    assert "indexed 5 documents" in built.stdout
    for name, reason in (
        ("locked.pdf", "password-protected"),
        ("scan.pdf", "no text layer"),
        ("bomb.docx", "zip bomb"),
        ("big.txt", "(QA_MAX_FILE_BYTES)"),
    ):
        lines = [line for line in built.stderr.splitlines() if f"skipped {name}:" in line]
        assert len(lines) == 1 and reason in lines[0], built.stderr
        assert f"{name} (" in built.stdout  # and in the summary
    assert "skipped 4 files: " in built.stdout
    again = qa("index", "--corpus", str(corpus_copy), "--index", str(index), "--quiet", env=env)
    assert "5 unchanged; 0 chunks embedded" in again.stdout
    asked = qa("ask", "How do boxes enable recursive types?", "--json", "--index", str(index))
    top = json.loads(asked.stdout)["passages"][0]
    assert (top["doc_id"], top["page"]) == ("box.pdf", 2)
