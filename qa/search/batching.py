"""Micro-batching: questions that arrive together are encoded in one model call.

One model call for 8 questions costs far less than 8 calls (the CPU's matrix
units stay busy and per-call overhead is paid once), so under concurrency
requests per second grow instead of queueing one by one.

No question ever waits for company. A question that finds the model idle is
encoded at once, in its own thread. Questions that arrive while the model is
busy queue up; when the running call ends, the oldest of them encodes all that
queued (up to `max_batch`) in its own thread and wakes the others. There is no
batcher thread, so a lone question pays no thread hand-off at all and a queued
one pays exactly one wake-up.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from qa.search.embedding import Embedder, Progress


@dataclass
class _Pending:
    text: str
    wake: threading.Event = field(default_factory=threading.Event)
    vector: np.ndarray | None = None
    error: BaseException | None = None
    lead: bool = False  # woken to encode the queue, not with a result


class MicroBatchingEmbedder:
    """Wraps an embedder: single-text encodes from many threads are batched together;
    everything else goes straight through."""

    def __init__(self, inner: Embedder, *, max_batch: int = 32) -> None:
        self.inner = inner
        self.identity = inner.identity
        self.max_batch = max_batch
        self._lock = threading.Lock()
        self._busy = False  # a model call of ours is running; newcomers queue
        self._queue: list[_Pending] = []

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self.inner.count_tokens(texts)

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: Progress | None = None
    ) -> np.ndarray:
        if len(texts) != 1:
            return self.inner.encode(texts, batch_size=batch_size, progress=progress)
        mine = _Pending(texts[0])
        with self._lock:
            self._queue.append(mine)
            mine.lead = not self._busy
            self._busy = True
        while True:
            if mine.lead:
                mine.lead = False
                self._encode_queue()
            if mine.vector is not None or mine.error is not None:
                break
            mine.wake.wait()
            mine.wake.clear()
        if mine.error is not None:
            raise mine.error
        assert mine.vector is not None
        return mine.vector[None, :]

    def close(self) -> None:
        """Nothing to stop: every model call runs in a caller's thread."""

    def _encode_queue(self) -> None:
        """Encode the oldest queued questions (the caller's among them), wake their
        threads, and hand the rest of the queue to its oldest member."""
        with self._lock:
            batch = self._queue[: self.max_batch]
            del self._queue[: self.max_batch]
        try:
            vectors = self.inner.encode([p.text for p in batch], batch_size=self.max_batch)
            for p, v in zip(batch, vectors, strict=True):
                p.vector = v
        except BaseException as exc:  # every waiter must wake, whatever happened
            for p in batch:
                p.error = exc
        finally:
            with self._lock:
                successor = self._queue[0] if self._queue else None
                if successor is None:
                    self._busy = False
                else:
                    successor.lead = True
            for p in batch:
                p.wake.set()
            if successor is not None:
                successor.wake.set()
