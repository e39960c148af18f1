"""The runner behind `qa eval`: ask a question set under one or more retrieval methods.

SQuAD files bring their own documents, indexed into a temporary in-memory index
with the configured model; JSONL files are asked of the configured index.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from qa.config import Settings
from qa.errors import ConfigError
from qa.eval.questionsets import Split, in_split, load_dataset
from qa.eval.report import (
    EvalRecord,
    EvalReport,
    answer_contains_gold,
    evaluate,
    hit_at_k,
    summarize,
)
from qa.eval.scoring import expected_calibration_error, reliability, trade_off, trade_off_curve
from qa.ingest.chunking import chunk_settings
from qa.ingest.formats import format_of
from qa.ingest.indexing import build_index, expectation
from qa.search.embedding import Embedder, Progress, SentenceTransformerEmbedder
from qa.search.index import Index
from qa.search.retrieval import Method, retrieval_settings
from qa.service import QAService, load_models

METHODS: tuple[Method, ...] = ("dense", "lexical", "hybrid")


@dataclass(frozen=True)
class MethodResult:
    method: str
    report: EvalReport
    records: list[EvalRecord]
    documents: frozenset[str] = frozenset()  # the index's document ids

    def confidences(self) -> tuple[list[float], list[bool], list[bool]]:
        """(confidence, answer right, unanswerable) per question that carries a confidence."""
        scored = [r for r in self.records if r.confidence is not None]
        return (
            [float(r.confidence or 0.0) for r in scored],
            [
                not r.question.unanswerable and answer_contains_gold(r.answer, r.question.answers)
                for r in scored
            ],
            [r.question.unanswerable for r in scored],
        )

    def recall_curve(self, k_max: int) -> list[float]:
        """hit@k for k = 1..k_max over the answerable questions."""
        rels = [r.relevances for r in self.records if not r.question.unanswerable]
        return [
            sum(hit_at_k(x, k) for x in rels) / len(rels) if rels else 0.0
            for k in range(1, k_max + 1)
        ]


def load_index_for(
    path: Path, settings: Settings, embedder: Embedder, progress: Progress | None = None
) -> tuple[Index, Any]:
    documents, questions = load_dataset(path)
    if documents is None:
        index = Index.load(settings.index_dir, expectation(embedder, chunk_settings(settings)))
    else:
        index, _ = build_index(
            documents,
            embedder=embedder,
            settings=chunk_settings(settings),
            batch_size=settings.batch_size,
            progress=progress,
        )
    return index, questions


def run_eval(
    path: Path,
    *,
    settings: Settings,
    methods: Sequence[Method],
    k: int = 10,
    limit: int | None = None,
    split: Split = "all",
    embedder: Embedder | None = None,
    progress: Progress | None = None,
) -> list[MethodResult]:
    """`split` keeps one half of the questions by a hash of their ids ("dev" for tuning,
    "test" for reporting; see `qa.eval.questionsets.in_split`)."""
    # QA_RERANKER and QA_READER are evaluated too; a wrong folder fails before any indexing.
    reranker, reader = load_models(settings)
    embedder = embedder or SentenceTransformerEmbedder(settings.model, precision=settings.precision)
    index, questions = load_index_for(path, settings, embedder, progress)
    questions = [q for q in questions if in_split(q, split)]
    questions = questions[:limit] if limit else questions
    results = []
    for method in methods:
        retrieval = retrieval_settings(settings.model_copy(update={"retrieval": method}))
        service = QAService(
            embedder=embedder, index=index, retrieval=retrieval, reranker=reranker, reader=reader
        )
        records = evaluate(questions, partial(service.ask, k=k))
        results.append(
            MethodResult(method, summarize(records), records, frozenset(index.documents))
        )
    return results


def _held(doc_id: str, held: frozenset[str]) -> bool:
    return doc_id in held or any(d.endswith("/" + doc_id) for d in held)


def format_by_format(result: MethodResult) -> str:
    """hit@1, hit@5 and the first hit's page, per format of the questions' documents (a
    question's first tag, else the file suffix of its `doc_id`), over the answerable
    questions whose document the index holds: one index of a mixed folder, or one per
    format folder, reports the same way. Empty when no question names a document."""
    groups: dict[str, list[EvalRecord]] = {}
    for r in result.records:
        q = r.question
        if q.doc_id and not q.unanswerable and _held(q.doc_id, result.documents):
            # A set's first tag names the format where it is finer than the suffix
            # ("scan-pdf" for a scanned PDF); else the suffix does.
            fmt = q.tags[0] if q.tags else format_of(q.doc_id) or "other"
            groups.setdefault(fmt, []).append(r)
    if not groups:
        return ""
    lines = [f"By format ({result.method}; questions whose document is in the index):"]
    for fmt, records in sorted(groups.items()):
        rels = [r.relevances for r in records]
        pages = [p for p in (r.page_right() for r in records) if p is not None]
        page = f"  page right {sum(pages)} of {len(pages)}" if pages else ""
        lines.append(
            f"  {fmt:<9} ({len(records):>3})  hit@1 {_mean(hit_at_k(x, 1) for x in rels):.3f}"
            f"  hit@5 {_mean(hit_at_k(x, 5) for x in rels):.3f}{page}"
        )
    return "\n".join(lines)


def _mean(values: Any) -> float:
    items = list(values)
    return sum(items) / len(items) if items else 0.0


def format_trade_off(result: MethodResult, *, threshold: float, steps: int = 20) -> str:
    """The whole trade-off of answering only at confidence >= t, one row per t, and the
    row of the service's own threshold marked."""
    conf, right, unanswerable = result.confidences()
    rows = trade_off_curve(conf, right, unanswerable, steps=steps)
    if all(abs(p.threshold - threshold) > 1e-9 for p in rows):
        rows.append(trade_off(conf, right, unanswerable, threshold=threshold))
    rows.sort(key=lambda p: p.threshold)
    lines = [
        f"trade-off ({result.method}): answer only at confidence >= threshold",
        f"{'threshold':>9}  {'answered right':>14}  {'answered':>8}"
        f"  {'abstained unanswerable':>22}",
    ]
    for p in rows:
        mark = "  <- the service's threshold" if abs(p.threshold - threshold) < 1e-9 else ""
        lines.append(
            f"{p.threshold:>9.2f}  {_share(p.answered_correctly):>14}  {_share(p.answered):>8}"
            f"  {_share(p.abstained_unanswerable):>22}{mark}"
        )
    return "\n".join(lines)


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ConfigError("--plot needs matplotlib: pip install 'qa[plot]'") from exc
    return plt


def plot_recall(results: Sequence[MethodResult], target: Path, *, k_max: int = 10) -> None:
    """Recall@k against k, one line per method, beside the reliability diagram of each
    method's confidence (accuracy against mean confidence per bin), as a PNG."""
    plt = _pyplot()
    fig, (ax, rel) = plt.subplots(1, 2, figsize=(11, 4), dpi=120)
    ks = list(range(1, k_max + 1))
    for result in results:
        ax.plot(ks, result.recall_curve(k_max), marker="o", label=result.method)
    ax.set_xlabel("k (passages returned)")
    ax.set_ylabel("recall@k (a passage with the answer)")
    ax.set_ylim(0, 1.02)
    ax.set_xticks(ks)
    ax.grid(alpha=0.3)
    ax.legend()
    _reliability_panel(rel, results)
    fig.tight_layout()
    fig.savefig(target)
    plt.close(fig)


def _reliability_panel(ax: Any, results: Sequence[MethodResult]) -> None:
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfectly calibrated")
    for result in results:
        conf, right, _ = result.confidences()
        if not conf:
            continue
        bins = reliability(conf, right)
        ece = expected_calibration_error(conf, right)
        ax.plot(
            [b.confidence for b in bins],
            [b.accuracy for b in bins],
            marker="o",
            label=f"{result.method} (ECE {ece:.3f})",
        )
    ax.set_xlabel("confidence (mean per bin)")
    ax.set_ylabel("share of answers right")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend()
