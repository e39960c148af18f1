"""Our retrieval against txtai's hybrid search: same model, same questions, one run.

txtai indexes one passage per SQuAD paragraph (an easier setting than our
chunks of whole articles: a paragraph is exactly the gold span) with its
hybrid search (dense + BM25, its defaults) over the all-MiniLM-L6-v2 weights
this package ships, loaded from their folder, never from a hub. We index the
articles as `qa index` does. A passage is a hit when it overlaps the
question's gold paragraph and contains a gold answer (`qa.eval.report.is_hit`).

Run it with `make bench-peers`: txtai brings its own dependencies, so it lives
in a venv of its own (`.venv-peers`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from typing import Any

import _common as c

from qa.eval.questionsets import EvalQuestion, in_split, load_squad
from qa.eval.report import hit_at_k, is_hit, reciprocal_rank
from qa.ingest.chunking import ChunkSettings
from qa.ingest.indexing import build_index
from qa.search.embedding import SentenceTransformerEmbedder, packaged_model_dir
from qa.service import QAService
from qa.types import Chunk, Document

K = 10
Search = Callable[[str], list[Chunk]]


def paragraphs(documents: Sequence[Document]) -> list[Chunk]:
    """Each SQuAD paragraph as a chunk with its exact span (the loader joins them with a
    blank line)."""
    out = []
    for doc in documents:
        start = 0
        for text in doc.text.split("\n\n"):
            out.append(Chunk(doc.doc_id, start, start + len(text), text))
            start += len(text) + 2
    return out


def txtai_search(documents: Sequence[Document]) -> Search:
    from txtai import Embeddings

    chunks = paragraphs(documents)
    embeddings = Embeddings(path=str(packaged_model_dir()), content=True, hybrid=True)
    embeddings.index([(i, chunk.text, None) for i, chunk in enumerate(chunks)])

    def search(question: str) -> list[Chunk]:
        return [chunks[int(hit["id"])] for hit in embeddings.search(question, K)]

    return search


def qa_search(documents: Sequence[Document], *, precision: str) -> Search:
    embedder = SentenceTransformerEmbedder(precision=precision)
    index, _ = build_index(documents, embedder=embedder, settings=ChunkSettings())
    service = QAService(embedder=embedder, index=index)

    def search(question: str) -> list[Chunk]:
        return [p.chunk for p in service.ask(question, k=K).passages]

    return search


def measure(search: Search, questions: Sequence[EvalQuestion]) -> dict[str, float]:
    rels, seconds = [], []
    search(questions[0].question)  # warm-up: lazy loads stay out of the timings
    for q in questions:
        started = time.perf_counter()
        found = search(q.question)
        seconds.append(time.perf_counter() - started)
        rels.append([is_hit(chunk, q) for chunk in found])
    n = len(questions)
    return {
        "hit@1": sum(hit_at_k(r, 1) for r in rels) / n,
        "hit@5": sum(hit_at_k(r, 5) for r in rels) / n,
        "MRR@10": sum(reciprocal_rank(r, k=K) for r in rels) / n,
        "p50 ms": c.median(seconds) * 1000,
    }


def main() -> None:
    p = c.parser("bench_peers", __doc__.splitlines()[0])
    p.add_argument("--split", choices=("test", "dev", "all"), default="test")
    p.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    args = p.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a hub download would be a bug here
    try:
        txtai_version = metadata.version("txtai")
    except metadata.PackageNotFoundError:
        c.fail("txtai is not installed here: run `make bench-peers` (it makes .venv-peers)")
    info = c.machine_info()
    c.print_header("bench_peers: qa against txtai hybrid search", info, quick=args.quick)
    if not c.SQUAD.is_file():
        c.fail(f"the SQuAD slice is missing: {c.SQUAD}")
    documents, questions = load_squad(c.SQUAD)
    asked = [q for q in questions if not q.unanswerable and in_split(q.qid, args.split)]
    asked = asked[:20] if args.quick else asked
    results: dict[str, dict[str, float]] = {}
    title = f"SQuAD slice, {args.split} half, {len(asked)} answerable questions, k={K}"
    title += f" ({c.cores_label(info)})"
    results[f"txtai {txtai_version} hybrid"] = measure(txtai_search(documents), asked)
    c.emit(table(results, title))
    results["qa hybrid"] = measure(qa_search(documents, precision=args.precision), asked)
    c.emit()
    c.emit(table(results, title))
    c.note("txtai: one passage per paragraph; qa: chunks of whole articles (harder)")
    c.note("p50 ms: one question, search only for txtai, the whole /ask path for qa")
    payload = {"benchmark": "bench_peers", "quick": args.quick, "split": args.split}
    payload |= {"machine": info, "results": results}
    c.save_json(c.json_path(args.json, "bench_peers"), payload)


def table(results: dict[str, dict[str, Any]], title: str) -> str:
    headers = ["system", "hit@1", "hit@5", "MRR@10", "p50 ms"]
    rows = [
        [name, *(f"{r[h]:.3f}" if h != "p50 ms" else f"{r[h]:.1f}" for h in headers[1:])]
        for name, r in results.items()
    ]
    return c.table(title, headers, rows)


if __name__ == "__main__":
    main()
