"""Evaluation: relevance, pure metrics and the report behind `qa eval`.

The question sets and their loaders are in `qa.eval.questionsets`.

Nothing here loads a model or an index: every function is a function of plain
values and of the dataclasses in `qa.types`, so each number can be checked by
hand. The runner that asks the questions receives an `ask` callable.

Relevance
    A chunk is a hit for a question with gold spans when it lies in a gold
    span's document, overlaps that span, and its text contains a gold answer;
    without gold spans (JSONL) when its text contains a gold answer (and, for
    a question naming its `doc_id`, the chunk is in that document); for a
    question naming the `files` that answer it, when the chunk is in one of
    them (and contains a gold answer, if it gives any). "Contains"
    compares case-folded text with runs of whitespace collapsed
    (`normalize_text`). A passage that stands for several sources (`also_in`)
    is a hit when one of them is. Unanswerable questions have no hits.

Metrics (relevances are 0/1 flags of the returned passages, best first)
    `hit_at_k(rels, k)`: 1.0 if a relevant passage is in the top k, else 0.0.
    `reciprocal_rank(rels, *, k=10)`: 1/rank of the first relevant passage in
    the top k, else 0.0.
    `ndcg_at_k(rels, *, k=10)`: binary gains, discount 1/log2(rank + 1). The
    ideal DCG puts min(R, k) relevant passages first, where R counts the
    relevant passages in the whole returned list: the true number of relevant
    chunks in a corpus is unknown, so nDCG here measures the ordering of what
    was returned, while a list with no hit scores 0.0.
    `answer_contains_gold(answer_text, answers)`: the normalised answer text
    contains a normalised gold answer; None (an abstention) is never correct.
    `percentile(values, q)`: linear interpolation, like numpy's default.
    `abstention_precision` / `abstention_recall` (keyword-only `abstained`,
    `unanswerable`): the positive class is "should abstain"; precision =
    correct abstentions / abstentions, recall = correct abstentions /
    unanswerable questions; None when the denominator is 0.

Report
    `EvalRecord(question, relevances, answer, abstained, latency_s)`: one asked
    question; `record_from_result` builds one from an `AskResult`, and
    `evaluate(questions, ask)` asks every question and times it.
    `summarize(records) -> EvalReport`: hit@1/3/5/10, MRR@10 and nDCG@10 averaged
    over answerable questions; answer accuracy (answerable questions whose
    answer contains a gold answer, an abstention counting as wrong);
    abstention precision and recall; page accuracy (over questions with a gold
    `page` whose passages hold a hit: the share where the first hit's page is
    the gold page; None without such questions); latency p50 and p95 in milliseconds over
    all questions; counts. A metric without questions to average is None.
    `format_table({"dense": report, ...})`: a plain-text table, one column per
    method, numbers to 3 decimals, "n/a" for None.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass

from qa.eval.questionsets import EvalQuestion, normalize_text
from qa.eval.scoring import quality
from qa.types import AskResult, Chunk, Citation, Passage

# ---------------------------------------------------------------- relevance


def contains_answer(text: str, answers: Iterable[str]) -> bool:
    """Whether `text` contains any non-blank answer, compared normalised."""
    haystack = normalize_text(text)
    return any(needle and needle in haystack for needle in map(normalize_text, answers))


def in_file(doc_id: str, name: str) -> bool:
    """Whether `doc_id` is the corpus file `name` (a path, or a name in any folder)."""
    return doc_id == name or doc_id.endswith("/" + name)


def is_hit(chunk: Chunk, question: EvalQuestion) -> bool:
    """Whether a retrieved chunk answers the question (see the module docstring)."""
    if question.files and not any(in_file(chunk.doc_id, f) for f in question.files):
        return False
    if question.files and not question.answers:
        return True
    if not contains_answer(chunk.text, question.answers):
        return False
    if question.doc_id and not (
        chunk.doc_id == question.doc_id or chunk.doc_id.endswith("/" + question.doc_id)
    ):
        return False
    if not question.gold:
        return True
    return any(
        span.doc_id == chunk.doc_id and chunk.start < span.end and span.start < chunk.end
        for span in question.gold
    )


def hit_source(passage: Passage, question: EvalQuestion) -> Passage | Citation | None:
    """The passage, or the first of its other sources (`also_in`, see qa.search.repeats),
    that answers the question; None when none does."""
    sources: list[Passage | Citation] = [passage, *passage.also_in]
    return next((s for s in sources if is_hit(s.chunk, question)), None)


def relevances(passages: Sequence[Passage], question: EvalQuestion) -> tuple[bool, ...]:
    """One relevance flag per passage, in the order given: a passage listed once for
    several sources is a hit when any of them is."""
    return tuple(hit_source(p, question) is not None for p in passages)


def _pages(passages: Sequence[Passage], question: EvalQuestion) -> tuple[int | None, ...]:
    """Each passage's page, or the page of the source that makes it a hit."""
    return tuple((hit_source(p, question) or p).page for p in passages)


# ---------------------------------------------------------------- metrics


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")


def hit_at_k(relevances: Sequence[int], k: int) -> float:
    """1.0 when one of the first k passages is relevant, else 0.0."""
    _check_k(k)
    return 1.0 if any(relevances[:k]) else 0.0


def first_hit(relevances: Sequence[int]) -> int:
    """The 1-based rank of the first relevant passage; 0 when there is none."""
    return next((rank for rank, relevant in enumerate(relevances, start=1) if relevant), 0)


def reciprocal_rank(relevances: Sequence[int], *, k: int = 10) -> float:
    """1 / rank of the first relevant passage among the first k; 0.0 when there is none."""
    _check_k(k)
    rank = first_hit(relevances[:k])
    return 1.0 / rank if rank else 0.0


def ndcg_at_k(relevances: Sequence[int], *, k: int = 10) -> float:
    """Binary-gain nDCG@k; the ideal ranks min(relevant in the list, k) hits first."""
    _check_k(k)
    dcg = sum(1.0 / math.log2(rank + 1) for rank, r in enumerate(relevances[:k], 1) if r)
    ideal_hits = min(sum(1 for r in relevances if r), k)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, ideal_hits + 1))
    return dcg / ideal if ideal else 0.0


def answer_contains_gold(answer_text: str | None, answers: Sequence[str]) -> bool:
    """Whether the answer contains a gold answer (normalised); an abstention (None) is wrong."""
    return answer_text is not None and contains_answer(answer_text, answers)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), interpolating linearly like numpy's default method."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"q must be within [0, 100], got {q}")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _abstention_counts(
    abstained: Sequence[bool], unanswerable: Sequence[bool]
) -> tuple[int, int, int]:
    if len(abstained) != len(unanswerable):
        raise ValueError(f"{len(abstained)} abstention flags for {len(unanswerable)} questions")
    correct = sum(1 for a, u in zip(abstained, unanswerable, strict=True) if a and u)
    return correct, sum(map(bool, abstained)), sum(map(bool, unanswerable))


def abstention_precision(
    *, abstained: Sequence[bool], unanswerable: Sequence[bool]
) -> float | None:
    """Correct abstentions / all abstentions; None when nothing was abstained on."""
    correct, abstentions, _ = _abstention_counts(abstained, unanswerable)
    return correct / abstentions if abstentions else None


def abstention_recall(*, abstained: Sequence[bool], unanswerable: Sequence[bool]) -> float | None:
    """Correct abstentions / all unanswerable questions; None when none is unanswerable."""
    correct, _, impossible = _abstention_counts(abstained, unanswerable)
    return correct / impossible if impossible else None


# ---------------------------------------------------------------- report


@dataclass(frozen=True)
class EvalRecord:
    """What one method did with one question."""

    question: EvalQuestion
    relevances: tuple[bool, ...]
    answer: str | None
    abstained: bool
    latency_s: float
    pages: tuple[int | None, ...] = ()  # each returned passage's page
    confidence: float | None = None  # the reply's top-level confidence
    short: str | None = None  # the short answer's text, when the reply has one

    def page_right(self) -> bool | None:
        """Whether the first hit is on the gold page; None without a gold page or a hit."""
        if self.question.page is None or True not in self.relevances:
            return None
        first = self.relevances.index(True)
        return first < len(self.pages) and self.pages[first] == self.question.page

    def __post_init__(self) -> None:
        if not (math.isfinite(self.latency_s) and self.latency_s >= 0):
            raise ValueError(
                f"latency must be a finite number of seconds >= 0, not {self.latency_s}"
            )


def record_from_result(
    question: EvalQuestion, result: AskResult, *, latency_s: float
) -> EvalRecord:
    """Score one AskResult: no answer, or an answer marked not answerable, is an abstention.
    The answer recorded is the one given or, when it abstained, the one withheld, so that
    the confidence can be judged at every threshold (an abstention still counts as no
    answer for accuracy, exact match and F1)."""
    abstained = result.answer is None or not result.answerable
    answer = result.answer or result.withheld
    return EvalRecord(
        question=question,
        relevances=relevances(result.passages, question),
        answer=None if answer is None else answer.text,
        abstained=abstained,
        latency_s=latency_s,
        pages=_pages(result.passages, question),
        confidence=result.confidence,
        short=None if answer is None or answer.short is None else answer.short.text,
    )


def evaluate(
    questions: Iterable[EvalQuestion],
    ask: Callable[[str], AskResult],
    *,
    clock: Callable[[], float] = time.perf_counter,
) -> list[EvalRecord]:
    """Ask every question in order and time each call with `clock` (seconds)."""
    records = []
    for question in questions:
        started = clock()
        result = ask(question.question)
        records.append(record_from_result(question, result, latency_s=clock() - started))
    return records


@dataclass(frozen=True)
class EvalReport:
    """Aggregate metrics of one method; None where there was nothing to average."""

    hit_at_1: float | None
    hit_at_3: float | None
    hit_at_5: float | None
    hit_at_10: float | None
    mrr_at_10: float | None
    ndcg_at_10: float | None
    answer_accuracy: float | None
    abstention_precision: float | None
    abstention_recall: float | None
    exact_match: float | None
    f1: float | None
    calibration_error: float | None
    auroc: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    questions: int
    answerable: int
    unanswerable: int
    page_accuracy: float | None = None

    def to_dict(self) -> dict[str, float | int | None]:
        """The metrics by field name (JSON-ready)."""
        return asdict(self)


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def summarize(records: Sequence[EvalRecord]) -> EvalReport:
    """Aggregate one method's records (see the module docstring for each definition)."""
    answerable = [r for r in records if not r.question.unanswerable]
    hits = {k: _mean([hit_at_k(r.relevances, k) for r in answerable]) for k in (1, 3, 5, 10)}
    # An abstention on an answerable question is a wrong answer, whatever was retrieved.
    correct = [
        float(not r.abstained and answer_contains_gold(r.answer, r.question.answers))
        for r in answerable
        if r.question.answers  # a question with only gold files has no answer text
    ]
    abstained = [r.abstained for r in records]
    impossible = [r.question.unanswerable for r in records]
    latencies_ms = [r.latency_s * 1000 for r in records]
    return EvalReport(
        hit_at_1=hits[1],
        hit_at_3=hits[3],
        hit_at_5=hits[5],
        hit_at_10=hits[10],
        mrr_at_10=_mean([reciprocal_rank(r.relevances, k=10) for r in answerable]),
        ndcg_at_10=_mean([ndcg_at_k(r.relevances, k=10) for r in answerable]),
        answer_accuracy=_mean(correct),
        abstention_precision=abstention_precision(abstained=abstained, unanswerable=impossible),
        abstention_recall=abstention_recall(abstained=abstained, unanswerable=impossible),
        **answer_quality(records),
        latency_p50_ms=percentile(latencies_ms, 50) if records else None,
        latency_p95_ms=percentile(latencies_ms, 95) if records else None,
        questions=len(records),
        answerable=len(answerable),
        unanswerable=len(records) - len(answerable),
        page_accuracy=_mean(
            [float(right) for r in records if (right := r.page_right()) is not None]
        ),
    )


def answer_quality(records: Sequence[EvalRecord]) -> dict[str, float | None]:
    """EM and F1 of the short answer (else the sentence; an abstention predicts nothing)
    over answerable questions; the confidence against whether the answer was right."""
    scored = [r for r in records if r.confidence is not None]
    return quality(
        predictions=["" if r.abstained else r.short or r.answer or "" for r in records],
        golds=[r.question.answers for r in records],
        confidences=[float(r.confidence or 0.0) for r in scored],
        right=[answer_contains_gold(r.answer, r.question.answers) for r in scored],
        answerable=[not r.question.unanswerable for r in scored],
    )


_TABLE_ROWS = (
    ("hit@1", "hit_at_1"),
    ("hit@3", "hit_at_3"),
    ("hit@5", "hit_at_5"),
    ("hit@10", "hit_at_10"),
    ("MRR@10", "mrr_at_10"),
    ("nDCG@10", "ndcg_at_10"),
    ("answer accuracy", "answer_accuracy"),
    ("page accuracy", "page_accuracy"),
    ("abstention precision", "abstention_precision"),
    ("abstention recall", "abstention_recall"),
    ("exact match (SQuAD)", "exact_match"),
    ("token F1 (SQuAD)", "f1"),
    ("calibration error", "calibration_error"),
    ("AUROC answerable", "auroc"),
    ("latency p50 (ms)", "latency_p50_ms"),
    ("latency p95 (ms)", "latency_p95_ms"),
    ("questions", "questions"),
    ("answerable", "answerable"),
    ("unanswerable", "unanswerable"),
)


def _cell(value: float | int | None) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, int):
        return str(value)
    return f"{value:.3f}"


def _format_row(cells: Sequence[str], widths: Sequence[int]) -> str:
    padded = [cells[0].ljust(widths[0])]
    padded.extend(cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True))
    return "  ".join(padded)


def format_table(reports: Mapping[str, EvalReport]) -> str:
    """A plain-text table: one row per metric, one column per method, in mapping order."""
    if not reports:
        raise ValueError("no reports to format")
    rows = [["metric", *reports]]
    for label, name in _TABLE_ROWS:
        if name == "page_accuracy" and all(r.page_accuracy is None for r in reports.values()):
            continue  # only sets that carry pages have the row
        rows.append([label, *(_cell(getattr(report, name)) for report in reports.values())])
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = [_format_row(row, widths) for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)
