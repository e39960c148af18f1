"""The optional reader (QA_READER): a local extractive question-answering model (SQuAD 2.0
style) picks the short answer in the top passages and says how likely there is one.

Each passage is read with the question in windows of at most `max_tokens` tokens that
overlap by `stride` (a passage longer than one window is not cut off). A span scores
the sum of its start and end logits; the fast tokenizer's offset mapping turns its
tokens back into exact character offsets of the passage, and so of the document. The
"no answer" score is the [CLS] token's start + end logit, as SQuAD 2.0 readers are
trained: p(answer) = sigmoid(best span score - no-answer score of its passage), where a
passage's no-answer score is the lowest over its windows (the window that sees the
answer best decides, as in the reference SQuAD 2.0 post-processing).

The pure span search is `best_span`; torch and transformers load only in
`ExtractiveReader`.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from qa.config import Settings
from qa.errors import ReaderError
from qa.search.embedding import resolve_precision
from qa.search.model_folder import HeadSpec, ModelSource, checked_source, go_offline
from qa.types import Passage

WHAT = "extractive question-answering model (a *ForQuestionAnswering model, SQuAD 2.0 style)"


@dataclass(frozen=True)
class ReaderSettings:
    passages: int = 3  # how many top passages the reader reads
    max_tokens: int = 384  # one window: question, passage piece and special tokens
    stride: int = 128  # tokens shared by consecutive windows of a long passage
    max_answer_tokens: int = 30
    batch_size: int = 16  # windows per model call
    precision: str = "auto"  # as QA_PRECISION


@dataclass(frozen=True)
class ReadSpan:
    """The reader's best span: `document.text[start:end] == text`."""

    passage: int  # index into the passages read
    start: int
    end: int
    text: str
    score: float  # start + end logit of the span
    null_score: float  # the no-answer score of its passage

    @property
    def p_answer(self) -> float:
        z = max(-60.0, min(60.0, self.score - self.null_score))
        return 1.0 / (1.0 + math.exp(-z))


class Reader(Protocol):
    name: str
    settings: ReaderSettings

    def read(self, question: str, passages: Sequence[Passage]) -> ReadSpan | None: ...


def best_span(
    start_logits: np.ndarray, end_logits: np.ndarray, context: np.ndarray, max_answer_tokens: int
) -> tuple[int, int, float] | None:
    """The (first token, last token, score) of the highest start + end logit over spans
    of context tokens at most `max_answer_tokens` long; None without context tokens."""
    n = len(start_logits)
    start = np.where(context, start_logits.astype(np.float64), -np.inf)
    end = np.where(context, end_logits.astype(np.float64), -np.inf)
    scores = start[:, None] + end[None, :]
    i, j = np.indices((n, n))
    scores[(j < i) | (j - i >= max_answer_tokens)] = -np.inf
    flat = int(np.argmax(scores))
    best = float(scores.flat[flat])
    if best == -np.inf:
        return None
    return flat // n, flat % n, best


READER = HeadSpec(
    setting="QA_READER",
    head="ForQuestionAnswering",
    what=WHAT,
    labels=2,
    wrong_labels="{path} has {labels} outputs per token: an extractive reader has two (the "
    "start and the end logit)",
    error=ReaderError,
)


def reader_source(value: Path) -> ModelSource:
    """The checked folder of a QA_READER value: a local folder or a Hugging Face name."""
    return checked_source(value, READER)


@dataclass
class _Best:
    sample: int
    start: int  # character offsets in the passage
    end: int
    score: float


class ExtractiveReader:
    """A local transformers question-answering model with its fast tokenizer."""

    def __init__(self, path: Path, settings: ReaderSettings | None = None) -> None:
        self.settings = settings or ReaderSettings()
        source = reader_source(path)
        path, self.name, self.revision = source.path, source.name, source.revision
        self.precision = resolve_precision(self.settings.precision)
        go_offline()
        import torch
        from transformers import AutoModelForQuestionAnswering, AutoTokenizer

        try:
            self._tokenizer: Any = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
            self._model: Any = AutoModelForQuestionAnswering.from_pretrained(
                str(path), local_files_only=True
            )
        except Exception as exc:  # the libraries raise many types for a broken folder
            raise ReaderError(f"could not load the reader in {path}: {exc}") from exc
        if not self._tokenizer.is_fast:
            raise ReaderError(
                f"the tokenizer in {path} is not a fast one: the reader needs its offset "
                "mapping for exact answer offsets (save the model with its tokenizer.json)"
            )
        self._model.eval()
        if self.precision == "bf16":
            self._model.to(torch.bfloat16)
        limits = (self._model.config.max_position_embeddings, self._tokenizer.model_max_length)
        self.max_tokens = min(self.settings.max_tokens, *limits)
        self.stride = min(self.settings.stride, self.max_tokens // 2)
        self._lock = threading.Lock()  # torch modules are not safe to call from two threads

    def read(self, question: str, passages: Sequence[Passage]) -> ReadSpan | None:
        """The best span of the first `settings.passages` passages, or None when no
        window has a context token."""
        passages = passages[: self.settings.passages]
        if not passages:
            return None
        texts = [p.chunk.text for p in passages]
        question = self.trim_question(question)
        enc = self._tokenizer(
            [question] * len(texts),
            texts,
            truncation="only_second",
            max_length=self.max_tokens,
            stride=self.stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
            padding=True,
            return_tensors="np",
        )
        start, end = self.logits(enc)
        best, nulls = self.search(enc, start, end, len(texts))
        if best is None:
            return None
        chunk = passages[best.sample].chunk
        return ReadSpan(
            passage=best.sample,
            start=chunk.start + best.start,
            end=chunk.start + best.end,
            text=chunk.text[best.start : best.end],
            score=best.score,
            null_score=nulls[best.sample],
        )

    def trim_question(self, question: str) -> str:
        """At most a quarter of a window, so every window keeps room for the passage."""
        limit = max(1, self.max_tokens // 4)
        offsets = self._tokenizer(question, add_special_tokens=False, return_offsets_mapping=True)[
            "offset_mapping"
        ]
        return question if len(offsets) <= limit else question[: offsets[limit - 1][1]]

    def logits(self, enc: Any) -> tuple[np.ndarray, np.ndarray]:
        """Start and end logits of every window, in batches of `settings.batch_size`."""
        import torch

        names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in enc]
        starts, ends = [], []
        step = self.settings.batch_size
        with self._lock, torch.inference_mode():
            for lo in range(0, len(enc["input_ids"]), step):
                batch = {n: torch.from_numpy(enc[n][lo : lo + step]) for n in names}
                out = self._model(**batch)
                starts.append(out.start_logits.float().numpy())
                ends.append(out.end_logits.float().numpy())
        return np.concatenate(starts), np.concatenate(ends)

    def search(
        self, enc: Any, start: np.ndarray, end: np.ndarray, samples: int
    ) -> tuple[_Best | None, list[float]]:
        """The best span over all windows, and each passage's no-answer score."""
        nulls = [math.inf] * samples
        best: _Best | None = None
        cls_id = self._tokenizer.cls_token_id
        for w, sample in enumerate(enc["overflow_to_sample_mapping"].tolist()):
            ids = enc["input_ids"][w].tolist()
            cls = ids.index(cls_id) if cls_id in ids else 0
            nulls[sample] = min(nulls[sample], float(start[w, cls] + end[w, cls]))
            context = np.array([s == 1 for s in enc.sequence_ids(w)])
            found = best_span(start[w], end[w], context, self.settings.max_answer_tokens)
            if found is None:
                continue
            i, j, score = found
            if best is None or score > best.score:
                offsets = enc["offset_mapping"][w]
                best = _Best(sample, int(offsets[i][0]), int(offsets[j][1]), score)
        return best, nulls


def reader_settings(settings: Settings) -> ReaderSettings:
    return ReaderSettings(
        passages=settings.reader_passages,
        max_tokens=settings.reader_max_tokens,
        stride=settings.reader_stride,
        precision=settings.precision,
    )
