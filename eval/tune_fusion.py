"""Choose the fusion defaults on the dev halves of the evaluation suite (eval/suite.json).

Each corpus is indexed once per encoder-text variant ("context": the heading path as a
prefix of what the encoder reads, the default; "plain": the chunk's prose alone) and
every dev question's candidates are scored once: dense, BM25, best sentence and
heading-path BM25, with each candidate's relevance. The grid then only re-weighs those
cached scores (qa.search.retrieval.fuse, ranking_order and select, the service's own
rules), so it costs seconds. The objective is the macro average over the corpora of
(hit@1 + MRR@10) / 2: every kind of text weighs alike, whatever its size.

    PYTHONPATH=. .venv/bin/python eval/tune_fusion.py            # dev halves: the grid
    PYTHONPATH=. .venv/bin/python eval/tune_fusion.py --split test --only 0.4,0.7,0.1,0.05

`--only W,S,H,D` scores one setting (dense share, sentence share, heading weight,
document weight) and
prints its per-corpus table; the test halves are for that, once, at the end.
Indexes and scores are cached under --cache (default eval/.cache, not committed).
"""

from __future__ import annotations

import argparse
import itertools
import pickle
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

import qa.ingest.indexing as indexing
from qa.config import Settings
from qa.eval.questionsets import in_split
from qa.eval.report import first_hit, is_hit
from qa.eval.suite import entry_data, entry_index, load_suite
from qa.search.embedding import SentenceTransformerEmbedder
from qa.search.fields import is_navigation, prose
from qa.search.index import Index
from qa.search.repeats import FETCH_FACTOR
from qa.search.retrieval import RetrievalSettings, Retriever, fuse, ranking_order, select

HERE = Path(__file__).resolve().parent
K = 10
# The candidates the service ranks for `qa eval` (k = 10): it fetches FETCH_FACTOR * k
# passages to merge repeats (qa.search.repeats), and the retriever looks max(50, 4 * that)
# deep, so the scores are scaled over as many candidates as there.
DEPTH = max(RetrievalSettings().candidates, 4 * FETCH_FACTOR * K)


@dataclass
class Candidates:
    """One question's candidates: their scores and whether each answers it."""

    dense: np.ndarray
    lexical: np.ndarray
    sentence: np.ndarray
    heading: np.ndarray
    relevant: np.ndarray
    spans: list[tuple[str, int, int]]
    navigation: np.ndarray | None = None  # contents and index pages, ranked last


def plain_encoder_text(document: Any, chunk: Any) -> tuple[str, int]:
    return prose(chunk.text), 0


def corpus_index(entry: Any, variant: str, cache: Path, embedder: Any) -> tuple[Index, list[Any]]:
    folder = cache / f"{entry.name}-{variant}"
    documents, questions = entry_data(entry)
    if (folder / "CURRENT").is_file():
        return Index.load(folder), questions
    original = indexing.encoder_text
    if variant == "plain":
        indexing.encoder_text = plain_encoder_text  # type: ignore[assignment]
    try:
        index = entry_index(documents, Settings(), embedder)
    finally:
        indexing.encoder_text = original
    index.save(folder)
    return index, questions


def candidates(
    entry: Any, variant: str, cache: Path, embedder: Any, split: str
) -> list[Candidates]:
    path = cache / f"{entry.name}-{variant}-{split}.pickle"
    if path.is_file():
        loaded: list[Candidates] = pickle.loads(path.read_bytes())
        return loaded
    index, questions = corpus_index(entry, variant, cache, embedder)
    asked = [q for q in questions if in_split(q, split)]  # type: ignore[arg-type]
    probe = RetrievalSettings(sentence_weight=0.5, heading_weight=0.5)
    retriever = Retriever(embedder=embedder, index=index, settings=probe)
    vectors = embedder.encode([q.question for q in asked])
    out = []
    for q, vector in zip(asked, vectors, strict=True):
        r = retriever.rank(q.question, vector, DEPTH, None)
        chunks = [index.chunks[int(i)] for i in r.rows]
        assert r.sentence is not None and r.heading is not None
        out.append(
            Candidates(
                dense=r.dense,
                lexical=r.lexical,
                sentence=r.sentence,
                heading=r.heading,
                relevant=np.array([is_hit(c, q) for c in chunks]),
                spans=[(c.doc_id, c.start, c.end) for c in chunks],
                navigation=np.array([is_navigation(c.text) for c in chunks], dtype=bool),
            )
        )
    path.write_bytes(pickle.dumps(out))
    return out


def score(cands: list[Candidates], settings: RetrievalSettings) -> tuple[float, float, float]:
    """hit@1, hit@5 and MRR@10 of one setting over one corpus's cached candidates."""
    from qa.types import Chunk

    h1 = h5 = mrr = 0.0
    for c in cands:
        ids = np.array([d for d, _, _ in c.spans], dtype=object)
        documents = np.unique(ids, return_inverse=True)[1] if len(ids) else None
        fused = fuse(c.dense, c.lexical, settings, c.sentence, c.heading, documents)
        order = ranking_order(fused, c.navigation).tolist()
        chunks = [Chunk(d, a, b, "") for d, a, b in c.spans]
        chosen = select(order, chunks, K, None)
        rank = first_hit([bool(c.relevant[i]) for i in chosen])
        if rank:
            h1 += rank == 1
            h5 += rank <= 5
            mrr += 1 / rank
    n = max(len(cands), 1)
    return h1 / n, h5 / n, mrr / n


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--suite", type=Path, default=HERE / "suite.json")
    p.add_argument("--split", choices=("dev", "test"), default="dev")
    p.add_argument("--cache", type=Path, default=HERE / ".cache")
    p.add_argument("--variants", default="context,plain")
    p.add_argument("--only", help="W,S,H,D: score this one setting")
    args = p.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    embedder = SentenceTransformerEmbedder(precision="auto")
    entries = [e for e in load_suite(args.suite) if e.missing() is None]
    data = {
        (e.name, v): candidates(e, v, args.cache, embedder, args.split)
        for v in args.variants.split(",")
        for e in entries
    }
    if args.only:
        w, s, h, d = (float(x) for x in args.only.split(","))
        grid: Any = [(w, s, h, d)]
    else:
        grid = itertools.product(
            (0.2, 0.3, 0.35, 0.4, 0.5, 0.6),
            (0.0, 0.1, 0.2, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7),
            (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4),
            (0.0, 0.05, 0.1, 0.15),
        )
    rows = []
    for (w, s, h, d), variant in itertools.product(list(grid), args.variants.split(",")):
        settings = replace(
            RetrievalSettings(),
            dense_weight=w,
            sentence_weight=s,
            heading_weight=h,
            document_weight=d,
        )
        per = {e.name: score(data[(e.name, variant)], settings) for e in entries}
        macro = float(np.mean([(a + m) / 2 for a, _, m in per.values()]))
        rows.append((macro, variant, w, s, h, d, per))
    rows.sort(key=lambda r: -r[0])
    names = [e.name for e in entries]
    print("objective = macro mean of (hit@1 + MRR@10) / 2;", args.split, "halves;", names)
    for macro, variant, w, s, h, d, per in rows[:25]:
        cells = "  ".join(f"{n} {a:.3f}/{b:.3f}/{m:.3f}" for n, (a, b, m) in per.items())
        print(f"{macro:.4f}  {variant:7s} w={w:.2f} s={s:.2f} h={h:.2f} d={d:.2f}  {cells}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
