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

from qa.config import Settings, chunk_settings, retrieval_settings
from qa.embedding import Embedder, Progress, SentenceTransformerEmbedder
from qa.evaluation import EvalRecord, EvalReport, evaluate, hit_at_k, load_dataset, summarize
from qa.index import Index
from qa.indexing import build_index, expectation
from qa.retrieval import Method
from qa.service import QAService

METHODS: tuple[Method, ...] = ("dense", "lexical", "hybrid")


@dataclass(frozen=True)
class MethodResult:
    method: str
    report: EvalReport
    records: list[EvalRecord]

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
    embedder: Embedder | None = None,
    progress: Progress | None = None,
) -> list[MethodResult]:
    embedder = embedder or SentenceTransformerEmbedder(settings.model, precision=settings.precision)
    index, questions = load_index_for(path, settings, embedder, progress)
    questions = questions[:limit] if limit else questions
    results = []
    for method in methods:
        retrieval = retrieval_settings(settings.model_copy(update={"retrieval": method}))
        service = QAService(embedder=embedder, index=index, retrieval=retrieval)
        records = evaluate(questions, partial(service.ask, k=k))
        results.append(MethodResult(method, summarize(records), records))
    return results


def plot_recall(results: Sequence[MethodResult], target: Path, *, k_max: int = 10) -> None:
    """Recall@k against k, one line per method, as a PNG."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        from qa.errors import ConfigError

        raise ConfigError("--plot needs matplotlib: pip install 'qa[plot]'") from exc
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    ks = list(range(1, k_max + 1))
    for result in results:
        ax.plot(ks, result.recall_curve(k_max), marker="o", label=result.method)
    ax.set_xlabel("k (passages returned)")
    ax.set_ylabel("recall@k (a passage with the answer)")
    ax.set_ylim(0, 1.02)
    ax.set_xticks(ks)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(target)
    plt.close(fig)
