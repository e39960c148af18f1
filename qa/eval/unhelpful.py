"""`qa eval --export-unhelpful FILE`: the questions people marked unhelpful, as a question
set to review.

Each line is one of the JSONL question set's lines (`qa.eval.questionsets`) with its
`answers` left empty: a reviewer writes the right answers (or marks the question
`"unanswerable": true`), and the file is then a question set `qa eval` runs. Until then
`qa eval` refuses it, naming the first line still to review.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from qa.collections.feedback import FeedbackStore
from qa.storage import write_atomic

#: Tags of every exported line; a collection's name is added as "collection:<name>".
TAG = "unhelpful"


@dataclass(frozen=True)
class ExportStats:
    questions: int  # lines written
    without_question: int  # feedback whose question the server never learnt

    def summary(self, out: Path) -> str:
        line = f"wrote {self.questions} question(s) marked unhelpful to {out}"
        if self.without_question:
            line += f"; skipped {self.without_question} whose question the server did not keep"
        return line


def export_unhelpful(
    sources: Iterable[tuple[str | None, Path]], out: Path, *, limit: int = 100_000
) -> ExportStats:
    """Write the unhelpful questions of each (collection name or None, index folder)."""
    lines: list[str] = []
    seen: set[str] = set()
    missing = 0
    for name, index_dir in sources:
        store = FeedbackStore(index_dir)
        try:
            entries = store.entries(helpful=False, limit=limit)
        finally:
            store.close()
        for entry in reversed(entries):  # oldest first, as they were given
            if not entry.question:
                missing += 1
                continue
            qid = f"{name}:{entry.request_id}" if name else entry.request_id
            key = f"{name}\0{entry.question.strip()}"
            if key in seen or qid in seen:  # the same question marked twice: review it once
                continue
            seen.update((key, qid))
            tags = [TAG] + ([f"collection:{name}"] if name else [])
            record = {
                "id": qid,
                "question": entry.question,
                "answers": [],
                "tags": tags,
            }
            lines.append(json.dumps(record, ensure_ascii=False))
    write_atomic(out, "".join(line + "\n" for line in lines).encode("utf-8"))
    return ExportStats(questions=len(lines), without_question=missing)
