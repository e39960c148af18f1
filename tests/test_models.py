"""The optional reranker and reader (qa/search/rerank.py, qa/answer/reader.py) over tiny
real models.

The models are real transformers BERTs (2 layers, hidden 32, a vocabulary of the test
corpus's words) with seeded random weights, saved with save_pretrained as a user's
would be. They answer badly, but every number they produce is checked against the
model run directly here: the reranker's order against CrossEncoder.predict, the
reader's span against the argmax of the logits, the confidence against its formula.
The embedder, FAISS index and HTTP app are the real ones (tests/conftest.py).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from qa import cli
from qa.answer.confidence import Calibration, pool_confidence
from qa.answer.reader import ExtractiveReader, ReaderSettings, best_span
from qa.answer.selection import AnswerSettings, sentence_of
from qa.api import create_app
from qa.config import Settings
from qa.errors import ReaderError, RerankerError
from qa.search.rerank import CrossEncoderReranker, RerankSettings, rerank
from qa.search.retrieval import Query
from qa.service import QAService
from qa.types import Chunk, Passage, Scores
from tests.conftest import CORPUS, DENMARK_QUESTION, loaded_by_import, tiny_bert_config

pytestmark = pytest.mark.slow

MAX_TOKENS, STRIDE = 64, 16  # small windows, so a passage takes several (the stride is used)
QUESTIONS = (
    DENMARK_QUESTION,
    "How many soldiers does Lithuania deploy to the Global Coalition against Daesh?",
    "Are the Lithuanian troops in Iraq safe?",
)


# ----- tiny real models ---------------------------------------------------------------------


def _vocabulary() -> list[str]:
    """The words and punctuation of the test corpus and questions, as BERT splits them."""
    text = " ".join(p.read_text(encoding="utf-8") for p in sorted(CORPUS.glob("*.md")))
    words = set(re.findall(r"\w+|[^\w\s]", (text + " ".join(QUESTIONS)).lower()))
    return ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *sorted(words)]


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(cross-encoder folder, reader folder), each saved with its fast tokenizer."""
    import torch
    from transformers import (
        BertForQuestionAnswering,
        BertForSequenceClassification,
        BertTokenizerFast,
    )

    root = tmp_path_factory.mktemp("models")
    vocab = root / "vocab.txt"
    vocab.write_text("\n".join(_vocabulary()) + "\n", encoding="utf-8")
    tokenizer = BertTokenizerFast(vocab_file=str(vocab))
    # A wide initialisation spreads out the scores of untrained weights.
    config = tiny_bert_config(tokenizer.vocab_size, initializer_range=0.3)
    folders = []
    heads = (
        ("cross-encoder", BertForSequenceClassification, 1),  # one relevance logit
        ("reader", BertForQuestionAnswering, 2),  # a start and an end logit per token
    )
    for seed, (name, cls, labels) in enumerate(heads):
        torch.manual_seed(seed)
        config.num_labels = labels
        model = cls(config)
        model.save_pretrained(root / name)
        tokenizer.save_pretrained(root / name)
        folders.append(root / name)
    return folders[0], folders[1]


def _settings(index_dir: Path, **models: Any) -> Settings:
    return Settings(
        index_dir=index_dir,
        precision="fp32",  # the direct runs below are fp32
        reader_max_tokens=MAX_TOKENS,
        reader_stride=STRIDE,
        batch_window_ms=0,
        **models,
    )


ALWAYS = AnswerSettings(calibration=replace(Calibration(), threshold=0.0))  # never abstain


class Recording:
    """A reranker that passes through to the real one and keeps what it was asked."""

    def __init__(self, inner: CrossEncoderReranker) -> None:
        self.inner, self.name, self.settings = inner, inner.name, inner.settings
        self.texts: list[list[str]] = []

    def scores(self, question: str, texts: Sequence[str]) -> np.ndarray:
        self.texts.append(list(texts))
        return self.inner.scores(question, texts)


# ----- the reranker -------------------------------------------------------------------------


def test_the_reranker_orders_the_top_candidates_as_cross_encoder_predict_does(
    service: QAService, tiny_models: tuple[Path, Path]
) -> None:
    from sentence_transformers import CrossEncoder

    folder, _ = tiny_models
    recording = Recording(CrossEncoderReranker(folder, RerankSettings(precision="fp32")))
    ranked = QAService(embedder=service.embedder, index=service.index, reranker=recording)
    direct = CrossEncoder(str(folder), device="cpu", local_files_only=True)
    for question in QUESTIONS:
        result = ranked.ask(question, k=3)
        vector = service.retriever.embed_question(question)
        fused = service.retriever.search(Query(question, 20), vector)
        assert len(fused) > 3  # this corpus has that many passages for every question
        # Retrieval fetched the 20 (or all there are) although k is 3.
        assert recording.texts[-1] == [p.chunk.text for p in fused]
        predicted = direct.predict([(question, p.chunk.text) for p in fused])
        order = np.argsort(-predicted, kind="stable")[:3]
        assert [p.chunk for p in result.passages] == [fused[i].chunk for i in order]
        assert [p.rank for p in result.passages] == [1, 2, 3]
        for p, i in zip(result.passages, order, strict=True):
            assert p.scores.rerank == pytest.approx(float(predicted[i]), abs=1e-5)
            assert p.scores.fused == fused[i].scores.fused  # the rest is kept
    # The reranker did change an order somewhere, or this test would prove little.
    plain = [[p.chunk for p in service.ask(q, k=3).passages] for q in QUESTIONS]
    assert plain != [[p.chunk for p in ranked.ask(q, k=3).passages] for q in QUESTIONS]


def test_rerank_is_stable_and_numbers_the_ranks() -> None:
    passages = [
        Passage(i + 1, Chunk("d", 10 * i, 10 * i + 5, "x"), "t", {}, Scores(0.0, 0.0, 1.0 - i))
        for i in range(4)
    ]
    out = rerank(passages, np.array([0.2, 0.9, 0.2, 0.5]), 3)
    assert [p.chunk.start for p in out] == [10, 30, 0]  # ties keep the fused order
    assert [p.rank for p in out] == [1, 2, 3]
    assert [p.scores.rerank for p in out] == pytest.approx([0.9, 0.5, 0.2])


# ----- the reader ---------------------------------------------------------------------------


def _direct_read(folder: Path, question: str, passages: Sequence[Passage]) -> dict[str, Any]:
    """The best span over the passages' windows by brute force over the model's logits."""
    import torch
    from transformers import BertForQuestionAnswering, BertTokenizerFast

    tokenizer = BertTokenizerFast.from_pretrained(str(folder))
    model = BertForQuestionAnswering.from_pretrained(str(folder)).eval()
    best: dict[str, Any] = {"score": -math.inf}
    windows = 0
    for n, passage in enumerate(passages):
        text = passage.chunk.text
        enc = tokenizer(
            question,
            text,
            truncation="only_second",
            max_length=MAX_TOKENS,
            stride=STRIDE,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
            padding=True,
            return_tensors="pt",
        )
        offsets = enc.pop("offset_mapping").tolist()
        enc.pop("overflow_to_sample_mapping")
        with torch.no_grad():
            out = model(**enc)
        null = math.inf
        for w in range(len(offsets)):
            windows += 1
            s, e = out.start_logits[w].tolist(), out.end_logits[w].tolist()
            null = min(null, s[0] + e[0])  # [CLS] is the first token
            context = [i for i, sid in enumerate(enc.sequence_ids(w)) if sid == 1]
            for i in context:
                for j in context:
                    if i <= j < i + 30 and s[i] + e[j] > best["score"]:
                        a, b = offsets[w][i][0], offsets[w][j][1]
                        best = {"score": s[i] + e[j], "passage": n, "a": a, "b": b}
        if best.get("passage") == n:
            best["null"] = null
    best["windows"] = windows
    return best


def test_the_reader_answers_with_the_argmax_span_at_exact_offsets(
    service: QAService, tiny_models: tuple[Path, Path]
) -> None:
    _, folder = tiny_models
    settings = ReaderSettings(max_tokens=MAX_TOKENS, stride=STRIDE, precision="fp32")
    reading = QAService(
        embedder=service.embedder,
        index=service.index,
        reader=ExtractiveReader(folder, settings),
        answer=ALWAYS,
    )
    for question in QUESTIONS:
        result = reading.ask(question)
        answer = result.answer
        assert answer is not None and answer.short is not None
        read = result.passages[:3]
        want = _direct_read(folder, question, read)
        assert want["windows"] > len(read)  # long passages were read in strided windows
        chunk = read[want["passage"]].chunk
        short = answer.short
        assert (short.start, short.end) == (chunk.start + want["a"], chunk.start + want["b"])
        doc = service.index.documents[answer.doc_id].text
        assert doc[short.start : short.end] == short.text
        # The answer is the sentence (or sentences) of that passage holding the span.
        assert answer.doc_id == chunk.doc_id and doc[answer.start : answer.end] == answer.text
        assert answer.start <= short.start < short.end <= answer.end
        sentence = sentence_of(read[want["passage"]], short.start, short.end)
        assert (answer.start, answer.end) == (sentence.start, sentence.end)
        p = 1 / (1 + math.exp(-(want["score"] - want["null"])))
        assert result.confidence_parts["reader"] == pytest.approx(p, rel=1e-4)


def test_best_span_is_the_argmax_over_allowed_spans() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        start, end = rng.normal(size=12), rng.normal(size=12)
        context = rng.random(12) < 0.7
        found = best_span(start, end, context, 4)
        allowed = [
            (start[i] + end[j], i, j)
            for i in range(12)
            for j in range(i, min(i + 4, 12))
            if context[i] and context[j]
        ]
        if not allowed:
            assert found is None
            continue
        score, i, j = max(allowed)
        assert found is not None and found[:2] == (i, j)
        assert found[2] == pytest.approx(score)


def test_a_span_across_sentences_widens_the_answer_to_both() -> None:
    text = "Denmark leads. It sends 285 troops. Lithuania stays."
    p = Passage(1, Chunk("d", 100, 100 + len(text), text), "t", {}, Scores(0.0, 0.0, 1.0))
    one = sentence_of(p, 100 + text.index("285"), 100 + text.index("285") + 3)
    assert one.text == "It sends 285 troops."
    both = sentence_of(p, 100 + text.index("leads"), 100 + text.index("sends") + 5)
    assert both.text == "Denmark leads. It sends 285 troops."
    assert (both.start, both.end) == (100, 100 + len(both.text))


# ----- the confidence -----------------------------------------------------------------------


def _pooled(values: Sequence[float]) -> float:
    logits = [math.log(v / (1 - v)) for v in values]
    return 1 / (1 + math.exp(-sum(logits) / len(logits)))


def test_the_confidence_is_the_mean_log_odds_of_the_builtin_and_the_models(
    corpus_index_dir: Path, embedder: Any, tiny_models: tuple[Path, Path]
) -> None:
    from sentence_transformers import CrossEncoder

    reranker, reader = tiny_models
    both = QAService.from_settings(
        _settings(corpus_index_dir, reranker=reranker, reader=reader), embedder
    )
    always = QAService(
        embedder=embedder,
        index=both.index,
        reranker=both.reranker,
        reader=both.reader,
        answer=ALWAYS,
    )
    direct = CrossEncoder(str(reranker), device="cpu", local_files_only=True)
    threshold = Calibration().threshold
    for question in QUESTIONS:
        result = both.ask(question)
        parts = result.confidence_parts
        assert set(parts) == {"builtin", "reader", "reranker"}
        expected = _pooled([parts["builtin"], parts["reader"], parts["reranker"]])
        # Both the reported confidence and its built-in part are rounded to 4 places; the
        # pool's log-odds magnify the built-in part's rounding by d(pool)/d(builtin).
        b = parts["builtin"]
        slope = expected * (1 - expected) / (3 * b * (1 - b))
        assert result.confidence == pytest.approx(expected, abs=5e-5 * (1 + slope) + 1e-9)
        assert result.answerable == (result.confidence >= threshold)  # the same threshold
        answered = always.ask(question)
        assert answered.answer is not None and answered.confidence == result.confidence
        # The reranker's part is its probability for the passage the answer comes from.
        (source,) = [
            p
            for p in answered.passages
            if p.chunk.doc_id == answered.answer.doc_id
            and p.chunk.start <= answered.answer.start < p.chunk.end
        ]
        score = float(direct.predict([(question, source.chunk.text)])[0])
        assert answered.confidence_parts["reranker"] == pytest.approx(score, abs=1e-5)


def test_pooling_moves_with_each_probability_and_stays_in_bounds() -> None:
    assert pool_confidence(0.3, []) == 0.3  # no model: the built-in confidence
    assert pool_confidence(0.3, [0.3]) == pytest.approx(0.3)
    ps = [0.01, 0.2, 0.5, 0.8, 0.99]
    pooled = [pool_confidence(0.3, [p]) for p in ps]
    assert pooled == sorted(pooled) and len(set(pooled)) == len(ps)
    assert pooled == pytest.approx([_pooled([0.3, p]) for p in ps])
    assert 0.0 < pool_confidence(0.0, [0.0, 0.0]) < pool_confidence(1.0, [1.0]) < 1.0


# ----- the edges: settings, HTTP, CLI -------------------------------------------------------


@pytest.fixture(scope="module")
def models_client(
    corpus_index_dir: Path, embedder: Any, tiny_models: tuple[Path, Path]
) -> Iterator[TestClient]:
    reranker, reader = tiny_models
    settings = _settings(corpus_index_dir, reranker=reranker, reader=reader)
    with TestClient(create_app(settings, embedder_factory=lambda _: embedder)) as client:
        yield client


def test_http_shows_the_rerank_scores_and_the_loaded_models(models_client: TestClient) -> None:
    health = models_client.get("/health").json()
    assert (health["reranker"], health["reader"]) == ("cross-encoder", "reader")
    body = models_client.post("/ask", json={"question": DENMARK_QUESTION, "k": 4}).json()
    scores = [p["scores"]["rerank"] for p in body["passages"]]
    assert len(scores) == 4 and all(0.0 <= s <= 1.0 for s in scores)
    assert scores == sorted(scores, reverse=True)
    assert [p["rank"] for p in body["passages"]] == [1, 2, 3, 4]
    assert 0.0 <= body["confidence"] <= 1.0


def test_health_names_no_model_when_none_is_configured(client: TestClient) -> None:
    health = client.get("/health").json()
    assert health["reranker"] is None and health["reader"] is None


def _not_a_model(tmp_path: Path) -> Path:
    folder = tmp_path / "not-a-model"
    folder.mkdir()
    (folder / "notes.txt").write_text("weights go here\n")
    return folder


def _config_only(tmp_path: Path, architecture: str, labels: int) -> Path:
    folder = tmp_path / f"{architecture}-{labels}"
    folder.mkdir()
    (folder / "config.json").write_text(
        json.dumps({"architectures": [architecture], "num_labels": labels})
    )
    return folder


def _broken_reader(tmp_path: Path) -> Path:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "config.json").write_text('{"architectures": ["BertForQuestionAnswering"]}')
    return folder


@pytest.mark.parametrize(
    ("setting", "folder", "error", "message"),
    [
        ("reranker", lambda t, m: t / "missing", RerankerError, "QA_RERANKER=.* is not a folder"),
        ("reader", lambda t, m: t / "missing", ReaderError, "QA_READER=.* is not a folder"),
        ("reranker", lambda t, m: _not_a_model(t), RerankerError, "has no config.json"),
        ("reranker", lambda t, m: m[1], RerankerError, "BertForQuestionAnswering, not"),
        ("reader", lambda t, m: m[0], ReaderError, "BertForSequenceClassification, not"),
        ("reader", lambda t, m: _broken_reader(t), ReaderError, "could not load the reader"),
        (
            "reranker",
            lambda t, m: _config_only(t, "BertForSequenceClassification", 2),
            RerankerError,
            "classifies into 2 labels: a reranker gives one",
        ),
        (
            "reader",
            lambda t, m: _config_only(t, "BertForQuestionAnswering", 3),
            ReaderError,
            "has 3 outputs per token: an extractive reader has two",
        ),
    ],
)
def test_a_missing_or_wrong_model_folder_is_a_clear_error(
    corpus_index_dir: Path,
    embedder: Any,
    tiny_models: tuple[Path, Path],
    tmp_path: Path,
    setting: str,
    folder: Any,
    error: type[Exception],
    message: str,
) -> None:
    settings = _settings(corpus_index_dir, **{setting: folder(tmp_path, tiny_models)})
    with pytest.raises(error, match=message):
        QAService.from_settings(settings, embedder)


def test_the_packaged_embedder_is_no_reranker() -> None:
    from qa.search.embedding import packaged_model_dir

    with pytest.raises(RerankerError, match="BertModel, not"):
        CrossEncoderReranker(packaged_model_dir())


def test_http_says_which_model_folder_is_wrong(
    corpus_index_dir: Path, embedder: Any, tmp_path: Path
) -> None:
    settings = _settings(corpus_index_dir, reranker=tmp_path / "missing")
    with TestClient(create_app(settings, embedder_factory=lambda _: embedder)) as client:
        for r in (client.get("/health"), client.post("/ask", json={"question": "who?"})):
            assert r.status_code == 503
            body = r.json()
            assert body["error"] == "reranker_model" and "QA_RERANKER=" in body["message"]


def test_the_cli_says_which_model_folder_is_wrong(
    corpus_index_dir: Path,
    embedder: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("QA_READER", str(_not_a_model(tmp_path)))
    code = cli.main(
        ["ask", "--index", str(corpus_index_dir), "Who leads?"], embedder_factory=lambda _: embedder
    )
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("qa: error: ") and "has no config.json" in err and "QA_READER" in err


def test_qa_eval_evaluates_with_the_configured_models(
    corpus_index_dir: Path,
    embedder: Any,
    service: QAService,
    tiny_models: tuple[Path, Path],
    tmp_path: Path,
) -> None:
    from qa.eval.runner import run_eval

    path = tmp_path / "questions.jsonl"
    path.write_text(
        "".join(json.dumps({"question": q, "answers": ["Denmark"]}) + "\n" for q in QUESTIONS)
    )
    reranker, reader = tiny_models
    settings = _settings(corpus_index_dir, reranker=reranker, reader=reader)
    (result,) = run_eval(path, settings=settings, methods=("hybrid",), k=5, embedder=embedder)
    both = QAService.from_settings(settings, embedder)
    asked = [both.ask(q, k=5) for q in QUESTIONS]
    assert [r.confidence for r in result.records] == [a.confidence for a in asked]
    assert [r.confidence for r in result.records] != [service.ask(q).confidence for q in QUESTIONS]
    with pytest.raises(ReaderError, match="QA_READER=.* is not a folder"):
        run_eval(
            path,
            settings=_settings(corpus_index_dir, reader=tmp_path / "none"),
            methods=("hybrid",),
        )


def test_model_settings_are_checked() -> None:
    assert Settings(reranker="", reader=" ").reranker is None  # an empty variable is unset
    assert Settings().rerank_candidates == 20 and Settings().reader_passages == 3
    with pytest.raises(ValidationError, match="QA_READER_STRIDE"):
        Settings(reader_max_tokens=64, reader_stride=40)


def test_importing_the_model_modules_loads_no_torch() -> None:
    modules = ("qa", "qa.config", "qa.search.rerank", "qa.answer.reader", "qa.service")
    assert loaded_by_import(modules, ("torch", "transformers", "sentence_transformers")) == []
