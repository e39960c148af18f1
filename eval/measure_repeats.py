"""Measure the repeat threshold of qa.search.repeats on ../shared/realdocs.

Every realdocs file is read and chunked as `qa index` does (the packaged model's
tokenizer counts). Two kinds of pairs are scored by `containment` of their word 3-grams:

- same text: each passage of a chapter kept in more than one format (PDF, HTML, Word)
  against the other format's passage that overlaps it most (its best match), which is
  what a reply would list twice;
- different texts: every pair of passages of one document that do not overlap (what
  retrieval may return side by side), and every pair from two different chapters.

It prints the distribution of both and, for candidate thresholds, the share of same-text
pairs merged and of different-text pairs wrongly merged:

    python eval/measure_repeats.py [--realdocs ../shared/realdocs]
"""

from __future__ import annotations

import argparse
import itertools
from collections import defaultdict
from pathlib import Path

import numpy as np

from qa.ingest.chunking import ChunkSettings, chunk_document
from qa.ingest.corpus import document_from
from qa.ingest.formats import extract
from qa.search.embedding import SentenceTransformerEmbedder
from qa.search.repeats import REPEAT_THRESHOLD, containment, shingles
from qa.types import Chunk

THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def chapter(doc_id: str) -> str:
    return Path(doc_id).stem


def load(root: Path) -> dict[str, list[Chunk]]:
    embedder = SentenceTransformerEmbedder()
    chunks: dict[str, list[Chunk]] = {}
    for path in sorted(root.rglob("*")):
        if path.suffix not in {".pdf", ".html", ".docx"}:
            continue
        doc_id = path.relative_to(root).as_posix()
        data = path.read_bytes()  # files nobody here wrote, but trusted: read in process
        doc = document_from(doc_id, extract(data, doc_id), data=data)
        count = embedder.count_tokens
        chunks[doc_id] = chunk_document(doc, count=count, settings=ChunkSettings())
    return chunks


def measure(chunks: dict[str, list[Chunk]]) -> tuple[list[float], list[float], list[float]]:
    grams = {d: [shingles(c.text) for c in cs] for d, cs in chunks.items()}
    by_chapter: dict[str, list[str]] = defaultdict(list)
    for d in chunks:
        by_chapter[chapter(d)].append(d)
    same: list[float] = []
    for docs in by_chapter.values():
        for a, b in itertools.permutations(docs, 2):
            same.extend(max(containment(g, h) for h in grams[b]) for g in grams[a])
    within: list[float] = []
    for d, cs in chunks.items():
        for i, j in itertools.combinations(range(len(cs)), 2):
            if cs[i].end <= cs[j].start or cs[j].end <= cs[i].start:
                within.append(containment(grams[d][i], grams[d][j]))
    across: list[float] = []
    for a, b in itertools.combinations(chunks, 2):
        if chapter(a) != chapter(b):
            across.extend(containment(g, h) for g in grams[a] for h in grams[b])
    return same, within, across


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--realdocs", type=Path, default=Path("../shared/realdocs"))
    args = parser.parse_args()
    same, within, across = measure(load(args.realdocs))
    print(f"pairs: same text {len(same)}, different in one document {len(within)}, "
          f"different chapters {len(across)}")  # fmt: skip
    print("\npercentiles of containment")
    print(f"{'pairs':<28}" + "".join(f"{q:>7}" for q in ("p1", "p5", "p50", "p95", "p99", "max")))
    for name, values in (("same text", same), ("different, one document", within),
                         ("different chapters", across)):  # fmt: skip
        v = np.asarray(values)
        row = [*np.percentile(v, [1, 5, 50, 95, 99]), v.max()]
        print(f"{name:<28}" + "".join(f"{x:>7.3f}" for x in row))
    print("\nthreshold  same text merged  different merged (one document / chapters)")
    for t in sorted({*THRESHOLDS, REPEAT_THRESHOLD}):
        mark = "  <- REPEAT_THRESHOLD" if t == REPEAT_THRESHOLD else ""
        merged = np.mean(np.asarray(same) >= t)
        wrong_in = np.mean(np.asarray(within) >= t)
        wrong_across = np.mean(np.asarray(across) >= t)
        print(f"{t:>9.2f}  {merged:>16.3f}  {wrong_in:>10.4f} / {wrong_across:.4f}{mark}")


if __name__ == "__main__":
    main()
