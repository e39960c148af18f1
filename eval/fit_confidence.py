"""Choose the fusion method and fit the answer confidence on development data.

Development data is the half of the SQuAD 2.0 slice whose question ids hash to
an even number (`dev_split`); the other half and the seed questions stay unseen
for reporting. Two kinds of examples:

- in-corpus: dev SQuAD questions asked of an index of the SQuAD articles
  (answerable ones are positives: the corpus answers them);
- off-corpus: the same dev questions asked of the seed corpus (NATO news),
  which cannot answer any of them (negatives).

It prints the fusion comparison and the fitted logistic weights; paste the
weights into qa/answer.py's Calibration. Run: `python eval/fit_confidence.py`
(`--skip-fusion` skips the comparison).
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np

from qa.answer import FEATURES, AnswerSettings, candidates, features, sentence_scores
from qa.chunking import ChunkSettings
from qa.corpus import scan_corpus
from qa.embedding import SentenceTransformerEmbedder
from qa.evaluation import EvalQuestion, hit_at_k, load_squad, reciprocal_rank, relevances
from qa.indexing import build_index
from qa.retrieval import Query, RetrievalSettings, Retriever
from qa.service import QAService

REPO = Path(__file__).resolve().parents[1]
SQUAD = REPO.parent / "shared" / "datasets" / "squad2-dev-3articles.json"


def dev_split(questions: list[EvalQuestion], *, dev: bool = True) -> list[EvalQuestion]:
    def is_dev(q: EvalQuestion) -> bool:
        return int(hashlib.sha256(q.qid.encode()).hexdigest(), 16) % 2 == 0

    return [q for q in questions if is_dev(q) == dev]


def compare_fusion(
    retriever: Retriever, questions: list[EvalQuestion], vectors: np.ndarray
) -> dict[str, RetrievalSettings]:
    options = {
        "dense": RetrievalSettings(method="dense"),
        "lexical": RetrievalSettings(method="lexical"),
        "rrf": RetrievalSettings(fusion="rrf"),
    }
    for w in (0.3, 0.4, 0.5, 0.6, 0.7):
        options[f"convex w={w}"] = RetrievalSettings(fusion="convex", dense_weight=w)
    print(f"{'method':<16}{'hit@1':>8}{'hit@5':>8}{'MRR@10':>8}   (dev, {len(questions)} q)")
    for name, settings in options.items():
        retriever.settings = settings
        rels = [
            relevances(retriever.search(Query(q.question, 10), v), q)
            for q, v in zip(questions, vectors, strict=True)
        ]
        print(
            f"{name:<16}{np.mean([hit_at_k(r, 1) for r in rels]):>8.3f}"
            f"{np.mean([hit_at_k(r, 5) for r in rels]):>8.3f}"
            f"{np.mean([reciprocal_rank(r) for r in rels]):>8.3f}"
        )
    return options


def feature_rows(
    service: QAService, questions: list[EvalQuestion], vectors: np.ndarray
) -> np.ndarray:
    """The confidence features of each question, computed as QAService.ask does."""
    settings = AnswerSettings()
    rows = []
    for q, v in zip(questions, vectors, strict=True):
        passages = service.retriever.search(Query(q.question, 5), v)
        found = candidates(passages, limit=settings.passages)
        sims = service.sentence_similarities(service.retriever, found, v)
        rows.append(features(passages, max(sentence_scores(q.question, found, sims, settings))))
    return np.array(rows, dtype=np.float64)


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-2) -> np.ndarray:
    """Newton's method on the L2-regularised log-loss; returns [bias, *weights]."""
    xb = np.hstack([np.ones((len(x), 1)), x])
    w = np.zeros(xb.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-xb @ w))
        grad = xb.T @ (p - y) + l2 * np.r_[0, w[1:]]
        hess = xb.T @ (xb * (p * (1 - p))[:, None]) + l2 * np.diag(np.r_[0, np.ones(len(w) - 1)])
        w -= np.linalg.solve(hess, grad)
    return w


def main() -> int:
    if not SQUAD.is_file():
        print("the SQuAD slice is not beside this checkout", file=sys.stderr)
        return 1
    embedder = SentenceTransformerEmbedder()
    chunking = ChunkSettings()
    docs, questions = load_squad(SQUAD)
    squad_index, _ = build_index(docs, embedder=embedder, settings=chunking)
    seed_index, _ = build_index(
        scan_corpus(REPO / "corpus").documents, embedder=embedder, settings=chunking
    )
    dev = dev_split(questions)
    answerable = [q for q in dev if not q.unanswerable]
    vectors = embedder.encode([q.question for q in dev])
    ans_vectors = vectors[[i for i, q in enumerate(dev) if not q.unanswerable]]

    retriever = Retriever(embedder=embedder, index=squad_index)
    if "--skip-fusion" not in sys.argv:
        compare_fusion(retriever, answerable, ans_vectors)
    positives = feature_rows(
        QAService(embedder=embedder, index=squad_index), answerable, ans_vectors
    )
    negatives = feature_rows(QAService(embedder=embedder, index=seed_index), dev, vectors)
    x = np.vstack([positives, negatives])
    y = np.r_[np.ones(len(positives)), np.zeros(len(negatives))]
    w = fit_logistic(x, y)
    p = 1 / (1 + np.exp(-(np.hstack([np.ones((len(x), 1)), x]) @ w)))
    print(f"\nfeatures: {FEATURES}")
    print(f"bias={w[0]:.4f} weights=({', '.join(f'{v:.4f}' for v in w[1:])})")
    for t in (0.3, 0.5, 0.7):
        print(
            f"threshold {t}: answers {np.mean(p[y == 1] >= t):.3f} of in-corpus, "
            f"abstains on {np.mean(p[y == 0] < t):.3f} of off-corpus"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
