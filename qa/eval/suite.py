"""An evaluation suite: several kinds of text, one table per corpus and the macro average.

A suite file is one JSON object `{"suite": [entry, ...]}`; each entry names a corpus:

    {"name": "squad", "questions": "SQuAD.json"}
    {"name": "fastapi", "questions": "fastapi-questions.jsonl", "corpus": "docs/fastapi"}
    {"name": "realdocs-pdf", "questions": "q.jsonl", "corpus": "realdocs/pdf", "tags": ["pdf"]}

Paths are relative to the suite file. `questions` is a SQuAD 2.0 file (it brings its
documents) or JSONL read against the files of `corpus`, which are indexed in memory
with the configured model and settings, as `qa index` would; `tags` keeps the questions
with any of them. An entry with `"optional": true` whose files are missing is skipped
with its `"hint"` (how to get them), so a checkout without them still runs the rest.
`"gold_suffix": ".md"` reads the questions' gold files with that suffix, so one question
set serves the same pages in another format (the Rust book as HTML and as Markdown).

The macro average weighs every corpus alike, whatever its number of questions: the
defaults are chosen on it (eval/tune_fusion.py), so no one kind of text decides them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from qa.config import Settings
from qa.eval.questionsets import EvalQuestion, Split, in_split, load_dataset
from qa.eval.report import EvalReport, evaluate, format_table, summarize
from qa.ingest.chunking import chunk_settings
from qa.ingest.corpus import scan_corpus
from qa.ingest.formats import Limits
from qa.ingest.indexing import build_index
from qa.search.embedding import Embedder, Progress
from qa.search.index import Index
from qa.search.retrieval import Method, retrieval_settings
from qa.service import QAService
from qa.types import Document

_KEYS = frozenset({"name", "questions", "corpus", "tags", "optional", "hint", "gold_suffix"})
#: The columns of the summary table, each averaged over the corpora for the macro row.
SUMMARY = (("hit@1", "hit_at_1"), ("hit@5", "hit_at_5"), ("MRR@10", "mrr_at_10"))


@dataclass(frozen=True)
class SuiteEntry:
    name: str
    questions: Path
    corpus: Path | None = None
    tags: tuple[str, ...] = ()
    optional: bool = False
    hint: str = ""
    gold_suffix: str = ""

    def missing(self) -> str | None:
        """What of this entry is not on disk, or None."""
        for path in (self.questions, self.corpus):
            if path is not None and not path.exists():
                return str(path)
        return None


@dataclass
class SuiteResult:
    """Per corpus, each method's report; and the entries skipped, with why."""

    reports: dict[str, dict[str, EvalReport]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    def macro(self, method: str) -> dict[str, float]:
        """Each summary metric averaged over the corpora, every corpus weighing alike."""
        out = {}
        for label, attr in SUMMARY:
            values = [getattr(r[method], attr) for r in self.reports.values() if method in r]
            values = [v for v in values if v is not None]
            out[label] = sum(values) / len(values) if values else float("nan")
        return out

    def to_dict(self, methods: Sequence[str], **run: Any) -> dict[str, Any]:
        """The numbers as `qa eval SUITE --json` writes them; `run` says how they were
        made (the suite file, k, the split)."""
        return {
            **run,
            "corpora": {
                name: {m: r.to_dict() for m, r in reports.items()}
                for name, reports in self.reports.items()
            },
            "macro": {m: self.macro(m) for m in methods},
            "metrics": [label for label, _ in SUMMARY],
            "skipped": self.skipped,
        }


def is_suite(path: Path) -> bool:
    """Whether `path` is a suite file (a JSON object with a "suite" list)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError):
        return False
    return isinstance(data, dict) and "suite" in data


def load_suite(path: Path) -> list[SuiteEntry]:
    """The entries of a suite file; ValueError names the entry and what is wrong."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("suite"), list):
        raise ValueError('expected {"suite": [ ... ]}')
    entries = [_entry(raw, path.parent, number) for number, raw in enumerate(data["suite"], 1)]
    names = [e.name for e in entries]
    if len(set(names)) != len(names):
        raise ValueError("two entries share a name")
    if not entries:
        raise ValueError("the suite lists no corpus")
    return entries


def _entry(raw: Any, base: Path, number: int) -> SuiteEntry:
    where = f"entry {number}"
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: expected a JSON object")
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}")
    name, questions = raw.get("name"), raw.get("questions")
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{where}: 'name' must be a non-empty string")
    if not isinstance(questions, str) or not questions.strip():
        raise ValueError(f"{where} ({name}): 'questions' must be a path")
    corpus, tags = raw.get("corpus"), raw.get("tags", [])
    if corpus is not None and not isinstance(corpus, str):
        raise ValueError(f"{where} ({name}): 'corpus' must be a path")
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ValueError(f"{where} ({name}): 'tags' must be a list of strings")
    suffix = raw.get("gold_suffix", "")
    if not isinstance(suffix, str) or (suffix and not re.fullmatch(r"\.\w+", suffix)):
        raise ValueError(f"{where} ({name}): 'gold_suffix' must be a file suffix such as \".md\"")
    return SuiteEntry(
        name=name,
        questions=base / questions,
        corpus=None if corpus is None else base / corpus,
        tags=tuple(tags),
        optional=bool(raw.get("optional", False)),
        hint=str(raw.get("hint", "")),
        gold_suffix=suffix,
    )


def entry_data(
    entry: SuiteEntry, *, limits: Limits | None = None
) -> tuple[list[Document], list[EvalQuestion]]:
    """The documents and the (tag-filtered) questions of one entry."""
    documents, questions = load_dataset(entry.questions)
    if documents is None:
        if entry.corpus is None:
            raise ValueError(f"{entry.name}: a JSONL question set needs a 'corpus' folder")
        documents = scan_corpus(entry.corpus, limits=limits).documents
    if entry.tags:
        questions = [q for q in questions if set(q.tags) & set(entry.tags)]
    if entry.gold_suffix:
        questions = [
            replace(q, files=tuple(str(Path(f).with_suffix(entry.gold_suffix)) for f in q.files))
            for q in questions
        ]
    return documents, [q for q in questions if not q.unanswerable]


def entry_index(
    documents: Sequence[Document],
    settings: Settings,
    embedder: Embedder,
    progress: Progress | None = None,
) -> Index:
    index, _ = build_index(
        documents,
        embedder=embedder,
        settings=chunk_settings(settings),
        batch_size=settings.batch_size,
        progress=progress,
    )
    return index


def run_suite(
    path: Path,
    *,
    settings: Settings,
    methods: Sequence[Method],
    embedder: Embedder,
    split: Split = "all",
    k: int = 10,
    progress: Callable[[str], Progress | None] | None = None,
) -> SuiteResult:
    """Ask every corpus of the suite its answerable questions of `split`, per method."""
    result = SuiteResult()
    for entry in load_suite(path):
        missing = entry.missing()
        if missing is not None:
            if not entry.optional:
                raise ValueError(f"{entry.name}: {missing} does not exist")
            result.skipped.append(f"{entry.name}: {missing} is missing. {entry.hint}".strip())
            continue
        documents, questions = entry_data(entry)
        questions = [q for q in questions if in_split(q, split)]
        index = entry_index(documents, settings, embedder, progress and progress(entry.name))
        reports: dict[str, EvalReport] = {}
        for method in methods:
            retrieval = retrieval_settings(settings.model_copy(update={"retrieval": method}))
            service = QAService(embedder=embedder, index=index, retrieval=retrieval)
            reports[method] = summarize(evaluate(questions, partial(service.ask, k=k)))
        result.reports[entry.name] = reports
    return result


def format_suite(result: SuiteResult, methods: Sequence[str]) -> str:
    """One table per corpus, then the summary: a row per corpus and the macro average."""
    parts = [f"== {name}\n{format_table(reports)}" for name, reports in result.reports.items()]
    parts.append(summary_table(result.reports, methods, result.macro))
    parts.extend(f"skipped {line}" for line in result.skipped)
    return "\n\n".join(parts)


def summary_table(
    reports: Mapping[str, Mapping[str, EvalReport]],
    methods: Sequence[str],
    macro: Callable[[str], Mapping[str, float]],
) -> str:
    heads = [f"{m} {label}" for m in methods for label, _ in SUMMARY]
    rows = [["corpus", "questions", *heads]]
    for name, by_method in reports.items():
        first = by_method[methods[0]]
        cells = [_num(getattr(by_method[m], attr)) for m in methods for _, attr in SUMMARY]
        rows.append([name, str(first.answerable), *cells])
    averages = [_num(macro(m)[label]) for m in methods for label, _ in SUMMARY]
    rows.append(["macro average", "", *averages])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
    return "\n".join(lines)


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
