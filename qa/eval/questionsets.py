"""Question sets for `qa eval`: what a question is, and the loaders that read them.

Every malformed input raises ValueError saying where and what. Nothing here loads a
model or an index.

Question sets
    `GoldSpan(doc_id, start, end)`: a gold paragraph, a half-open character span
    of a document's text. `EvalQuestion(question, answers, unanswerable, gold=(),
    qid="", tags=())`: gold answer texts (empty exactly when `unanswerable`).

Loaders (every malformed input raises ValueError saying where and what)
    `load_squad(path) -> (documents, questions)`: SQuAD 2.0 JSON. One Document
    per article: doc_id `f"{slug(title)}.md"`, title with underscores as
    spaces, text = the paragraphs' contexts joined by a blank line, metadata
    `{"source": "SQuAD 2.0 dev"}`. Each question's gold span is its
    paragraph's span in that text; answers are its distinct answer texts;
    `is_impossible` questions are unanswerable (their `plausible_answers` are
    ignored).
    `load_jsonl(path) -> questions`: one JSON object per line, either
    `{"question": ..., "answers": [...]}` or `{"question": ..., "unanswerable":
    true}`, with optional `"id"` (default `"line-N"`), `"tags"` (list of
    strings), `"doc_id"` (the document that holds the answer: its id, or its
    file name, which matches the same file in any folder of a corpus) and
    `"page"` (the 1-based page of that document the answer is on), `"split"`
    (`"dev"` or `"test"`: the half it belongs to, instead of the hash of its
    id; fresh questions written for a final report say `"test"`), or
    `"files"` (document-level gold: the files that answer it, as paths in the
    corpus folder; a passage of any of them is relevant, and `answers` may
    then be left out, as people ask documentation about sections rather than
    for one string). Blank lines are skipped; unknown keys are errors (they
    are usually typos).
    `load_dataset(path) -> (documents or None, questions)`: SQuAD when the file
    is one JSON object with "data" and "version" keys, JSONL otherwise.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from qa.types import Document

SQUAD_SOURCE = "SQuAD 2.0 dev"
_PARAGRAPH_SEPARATOR = "\n\n"
_JSONL_KEYS = frozenset(
    {"id", "question", "answers", "unanswerable", "tags", "doc_id", "page", "files", "split"}
)


# ---------------------------------------------------------------- question sets


def normalize_text(text: str) -> str:
    """Case-folded, with every run of whitespace collapsed to one space."""
    return " ".join(text.split()).casefold()


@dataclass(frozen=True)
class GoldSpan:
    """A gold paragraph: `document.text[start:end]` in the document `doc_id`."""

    doc_id: str
    start: int
    end: int


@dataclass(frozen=True)
class EvalQuestion:
    """One question with its gold answers; `answers` is empty exactly when unanswerable."""

    question: str
    answers: tuple[str, ...] = ()
    unanswerable: bool = False
    gold: tuple[GoldSpan, ...] = ()
    qid: str = ""
    tags: tuple[str, ...] = ()
    doc_id: str = ""  # the answer's document (id or file name), when the set names it
    page: int | None = None  # the answer's 1-based page in that document
    # Document-level gold: the files (paths in the corpus) any passage of which answers it.
    files: tuple[str, ...] = ()
    half: Literal["dev", "test"] | None = None  # its half, when the set says; else by its id

    def __post_init__(self) -> None:
        if not self.question.strip():
            raise ValueError("a question must not be empty")
        if self.files and self.unanswerable:
            raise ValueError(f"question {self.question!r}: files that answer it, or unanswerable")
        if not self.files and self.unanswerable == bool(self.answers):
            raise ValueError(
                f"question {self.question!r}: give gold answers or mark it unanswerable, not both"
                " or neither"
            )
        if any(not normalize_text(answer) for answer in self.answers):
            raise ValueError(f"question {self.question!r}: a gold answer is blank")


# ---------------------------------------------------------------- loaders


def slug(title: str) -> str:
    """A stable file-name-like id: ASCII letters and digits, runs of others as '-'."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")


def load_squad(path: str | Path) -> tuple[list[Document], list[EvalQuestion]]:
    """Documents and questions of a SQuAD 2.0 JSON file (see the module docstring)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not _is_squad(data):
        raise ValueError(f"{path}: not SQuAD JSON (expected an object with 'data' and 'version')")
    return _parse_squad(data, source=str(path))


def _is_squad(data: Any) -> bool:
    return isinstance(data, dict) and "data" in data and "version" in data


def _parse_squad(
    data: Mapping[str, Any], *, source: str
) -> tuple[list[Document], list[EvalQuestion]]:
    documents: list[Document] = []
    questions: list[EvalQuestion] = []
    for number, article in enumerate(data["data"], start=1):
        try:
            document, article_questions = _parse_article(article)
        except (KeyError, TypeError, ValueError) as error:
            problem = f"missing key {error}" if isinstance(error, KeyError) else str(error)
            raise ValueError(f"{source}: article {number}: {problem}") from error
        if any(known.doc_id == document.doc_id for known in documents):
            raise ValueError(f"{source}: two articles share the id {document.doc_id!r}")
        documents.append(document)
        questions.extend(article_questions)
    return documents, questions


def _parse_article(article: Mapping[str, Any]) -> tuple[Document, list[EvalQuestion]]:
    title = str(article["title"])
    doc_id = f"{slug(title) or 'article'}.md"
    paragraphs = article["paragraphs"]
    contexts = [str(paragraph["context"]) for paragraph in paragraphs]
    text = _PARAGRAPH_SEPARATOR.join(contexts)
    questions: list[EvalQuestion] = []
    start = 0
    for paragraph, context in zip(paragraphs, contexts, strict=True):
        span = GoldSpan(doc_id, start, start + len(context))
        questions.extend(_squad_question(qa, span) for qa in paragraph["qas"])
        start = span.end + len(_PARAGRAPH_SEPARATOR)
    document = Document(
        doc_id=doc_id,
        title=title.replace("_", " "),
        text=text,
        content_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        metadata={"source": SQUAD_SOURCE},
    )
    return document, questions


def _squad_question(qa: Mapping[str, Any], span: GoldSpan) -> EvalQuestion:
    unanswerable = bool(qa.get("is_impossible", False))
    # dict.fromkeys keeps the first-seen order: annotators often repeat one answer.
    answers = () if unanswerable else tuple(dict.fromkeys(str(a["text"]) for a in qa["answers"]))
    return EvalQuestion(
        question=str(qa["question"]),
        answers=answers,
        unanswerable=unanswerable,
        gold=(span,),
        qid=str(qa["id"]),
    )


def load_jsonl(path: str | Path) -> list[EvalQuestion]:
    """Questions of a JSONL file (see the module docstring); ValueError names the bad line."""
    return _parse_jsonl(Path(path).read_text(encoding="utf-8"), source=str(path))


def _parse_jsonl(text: str, *, source: str) -> list[EvalQuestion]:
    questions: list[EvalQuestion] = []
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            question = _parse_jsonl_line(line, number=number)
        except ValueError as error:
            raise ValueError(f"{source}: line {number}: {error}") from None
        if question.qid in seen:
            raise ValueError(f"{source}: line {number}: duplicate id {question.qid!r}")
        seen.add(question.qid)
        questions.append(question)
    if not questions:
        raise ValueError(f"{source}: no questions found")
    return questions


def _parse_jsonl_line(line: str, *, number: int) -> EvalQuestion:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise ValueError(f"invalid JSON ({error.msg} at column {error.colno})") from None
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, got {type(record).__name__}")
    unknown = sorted(set(record) - _JSONL_KEYS)
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(map(repr, unknown))}")
    question = record.get("question")
    if not isinstance(question, str) or not question.strip():
        raise ValueError("'question' must be a non-empty string")
    answers = _string_list(record.get("answers", []), key="answers")
    files = _string_list(record.get("files", []), key="files")
    unanswerable = record.get("unanswerable", False)
    if not isinstance(unanswerable, bool):
        raise ValueError("'unanswerable' must be true or false")
    if unanswerable and files:
        raise ValueError("a question with 'files' that answer it is not unanswerable")
    if not files and unanswerable == bool(answers):
        raise ValueError(
            "give either a non-empty 'answers' list (or the 'files' that answer it) or "
            '"unanswerable": true'
        )
    qid = record.get("id", f"line-{number}")
    if not isinstance(qid, str) or not qid.strip():
        raise ValueError("'id' must be a non-empty string")
    tags = _string_list(record.get("tags", []), key="tags")
    doc_id, page = _gold_place(record)
    half = record.get("split")
    if half not in (None, "dev", "test"):
        raise ValueError('\'split\' must be "dev" or "test"')
    return EvalQuestion(
        half=half,
        doc_id=doc_id,
        page=page,
        question=question,
        answers=tuple(answers),
        unanswerable=unanswerable,
        qid=qid,
        tags=tuple(tags),
        files=tuple(files),
    )


def _gold_place(record: Mapping[str, Any]) -> tuple[str, int | None]:
    doc_id, page = record.get("doc_id", ""), record.get("page")
    if not isinstance(doc_id, str):
        raise ValueError("'doc_id' must be a string")
    if page is not None and (type(page) is not int or page < 1 or not doc_id):
        raise ValueError("'page' must be a page number >= 1, given with 'doc_id'")
    return doc_id, page


def _string_list(value: Any, *, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"{key!r} must be a list of non-empty strings")
    return value


Split = Literal["dev", "test", "all"]


def in_split(question: EvalQuestion, split: Split) -> bool:
    """Whether a question belongs to a half: the one its set names (`"split"`), else by a
    hash of its id. "dev" (even) is for tuning (eval/fit_confidence.py, eval/tune_fusion.py),
    "test" (odd) only for reporting."""
    if split == "all":
        return True
    if question.half is not None:
        return question.half == split
    even = int(hashlib.sha256(question.qid.encode()).hexdigest(), 16) % 2 == 0
    return even == (split == "dev")


def load_dataset(path: str | Path) -> tuple[list[Document] | None, list[EvalQuestion]]:
    """SQuAD JSON (documents and questions) or JSONL (questions only), told apart by content."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = None  # more than one JSON value: JSONL
    if _is_squad(data):
        return _parse_squad(data, source=str(path))
    return None, _parse_jsonl(text, source=str(path))
