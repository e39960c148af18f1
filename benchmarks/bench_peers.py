"""Our retrieval against txtai's hybrid search: same model, same questions, one run,
on every corpus of the evaluation suite (eval/suite.json).

txtai uses its hybrid search (dense + BM25, its defaults) over the all-MiniLM-L6-v2
weights this package ships, loaded from their folder, never from a hub. On SQuAD it
indexes one passage per paragraph (an easier setting than our chunks of whole articles:
a paragraph is exactly the gold span); on a folder of files it is fed each file's text
(as our readers extract it) split on blank lines, paragraphs merged up to 1,000
characters. We index the documents as `qa index` does, with the default settings. A
passage is a hit as `qa eval` counts it (`qa.eval.report.is_hit`): in a file that
answers the question, or overlapping the gold paragraph and holding a gold answer.

Run it with `make bench-peers`: txtai brings its own dependencies, so it lives
in a venv of its own (`.venv-peers`).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import _common as c

from qa.config import Settings
from qa.eval.questionsets import EvalQuestion, in_split
from qa.eval.report import first_hit, hit_at_k, is_hit, reciprocal_rank
from qa.eval.suite import entry_data, load_suite
from qa.ingest.chunking import chunk_settings
from qa.ingest.indexing import build_index
from qa.search.embedding import SentenceTransformerEmbedder, packaged_model_dir
from qa.search.retrieval import retrieval_settings
from qa.service import QAService
from qa.types import Chunk, Document

K = 10
MERGE_CHARS = 1000  # txtai's passages on file corpora: paragraphs merged up to this size
Search = Callable[[str], list[Chunk]]
_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")


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


def merged_paragraphs(documents: Sequence[Document], limit: int = MERGE_CHARS) -> list[Chunk]:
    """Each document split on blank lines, consecutive paragraphs merged while the merged
    span stays within `limit` characters (a longer paragraph stands alone), exact spans."""
    out = []
    for doc in documents:
        spans, start = [], 0
        for cut in _BLANK_LINE.finditer(doc.text):
            spans.append((start, cut.start()))
            start = cut.end()
        spans.append((start, len(doc.text)))
        spans = [(a, b) for a, b in spans if doc.text[a:b].strip()]
        group: tuple[int, int] | None = None
        for a, b in spans:
            if group is not None and b - group[0] <= limit:
                group = (group[0], b)
                continue
            if group is not None:
                out.append(Chunk(doc.doc_id, *group, doc.text[group[0] : group[1]]))
            group = (a, b)
        if group is not None:
            out.append(Chunk(doc.doc_id, *group, doc.text[group[0] : group[1]]))
    return out


def txtai_search(chunks: Sequence[Chunk]) -> Search:
    from txtai import Embeddings

    embeddings = Embeddings(path=str(packaged_model_dir()), content=True, hybrid=True)
    embeddings.index([(i, chunk.text, None) for i, chunk in enumerate(chunks)])

    def search(question: str) -> list[Chunk]:
        return [chunks[int(hit["id"])] for hit in embeddings.search(question, K)]

    return search


def qa_search(documents: Sequence[Document], *, precision: str) -> Search:
    embedder = SentenceTransformerEmbedder(precision=precision)
    settings = Settings()  # the defaults, as `qa serve` runs without QA_* variables
    index, _ = build_index(documents, embedder=embedder, settings=chunk_settings(settings))
    service = QAService(embedder=embedder, index=index, retrieval=retrieval_settings(settings))

    def search(question: str) -> list[Chunk]:
        return [p.chunk for p in service.ask(question, k=K).passages]

    return search


def measure(
    search: Search, questions: Sequence[EvalQuestion], ranks: dict[str, int] | None = None
) -> dict[str, float]:
    """The metrics over `questions`; each question's first hit's rank (0: none in the top
    K) goes into `ranks` by question id, for the JSON."""
    rels, seconds = [], []
    search(questions[0].question)  # warm-up: lazy loads stay out of the timings
    for q in questions:
        started = time.perf_counter()
        found = search(q.question)
        seconds.append(time.perf_counter() - started)
        rels.append([is_hit(chunk, q) for chunk in found])
        if ranks is not None:
            ranks[q.qid] = first_hit(rels[-1])
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
    p.add_argument("--suite", default=str(c.REPO / "eval" / "suite.json"))
    p.add_argument("--only", help="comma-separated corpus names of the suite (default: all)")
    args = p.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a hub download would be a bug here
    try:
        txtai_version = metadata.version("txtai")
    except metadata.PackageNotFoundError:
        c.fail("txtai is not installed here: run `make bench-peers` (it makes .venv-peers)")
    info = c.machine_info()
    c.print_header("bench_peers: qa against txtai hybrid search", info, quick=args.quick)
    wanted = set(args.only.split(",")) if args.only else None
    summary: dict[str, dict[str, dict[str, float]]] = {}
    ranks: dict[str, dict[str, dict[str, int]]] = {}
    for entry in load_suite(Path(args.suite)):
        if wanted is not None and entry.name not in wanted:
            continue
        if entry.missing() is not None:
            c.note(f"{entry.name}: skipped, {entry.missing()} is missing")
            continue
        documents, questions = entry_data(entry)
        asked = [q for q in questions if in_split(q, args.split)]
        asked = asked[:20] if args.quick else asked
        title = f"{entry.name}, {args.split} half, {len(asked)} questions, k={K}"
        title += f" ({c.cores_label(info)})"
        passages = paragraphs(documents) if entry.corpus is None else merged_paragraphs(documents)
        peer, ours = f"txtai {txtai_version} hybrid", "qa (defaults)"
        ranks[entry.name] = {peer: {}, ours: {}}
        results = {peer: measure(txtai_search(passages), asked, ranks[entry.name][peer])}
        qa = qa_search(documents, precision=args.precision)
        results[ours] = measure(qa, asked, ranks[entry.name][ours])
        c.emit()
        c.emit(table(results, title))
        summary[entry.name] = results
    c.emit()
    c.emit(summary_table(summary, args.split))
    c.note("txtai: a passage per SQuAD paragraph, else paragraphs merged up to 1,000 chars")
    c.note("p50 ms: one question, search only for txtai, the whole /ask path for qa")
    payload = {"benchmark": "bench_peers", "quick": args.quick, "split": args.split}
    payload |= {"machine": info, "results": summary, "ranks": ranks}
    c.save_json(c.json_path(args.json, "bench_peers"), payload)


def summary_table(summary: dict[str, dict[str, dict[str, float]]], split: str) -> str:
    """A row per corpus: both systems' hit@1 and MRR@10, and the macro average."""
    headers = ["corpus", "txtai hit@1", "qa hit@1", "txtai MRR@10", "qa MRR@10", "qa ahead"]
    rows, sums = [], [0.0] * 4
    for name, results in summary.items():
        txtai, ours = list(results.values())
        values = [txtai["hit@1"], ours["hit@1"], txtai["MRR@10"], ours["MRR@10"]]
        sums = [a + b for a, b in zip(sums, values, strict=True)]
        ahead = ours["hit@1"] > txtai["hit@1"] and ours["MRR@10"] > txtai["MRR@10"]
        rows.append([name, *(f"{v:.3f}" for v in values), "yes" if ahead else "no"])
    n = max(len(summary), 1)
    rows.append(["macro average", *(f"{v / n:.3f}" for v in sums), ""])
    return c.table(f"Summary, {split} halves", headers, rows)


def table(results: dict[str, dict[str, Any]], title: str) -> str:
    headers = ["system", "hit@1", "hit@5", "MRR@10", "p50 ms"]
    rows = [
        [name, *(f"{r[h]:.3f}" if h != "p50 ms" else f"{r[h]:.1f}" for h in headers[1:])]
        for name, r in results.items()
    ]
    return c.table(title, headers, rows)


if __name__ == "__main__":
    main()
