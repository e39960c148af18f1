"""Micro-batching: questions that arrive together are encoded in one model call.

One model call for 8 questions costs far less than 8 calls (the CPU's matrix
units stay busy and per-call overhead is paid once), so under concurrency
requests per second grow instead of queueing one by one. A lone question
waits at most the collection window.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from qa.embedding import Embedder, Progress


@dataclass
class _Pending:
    text: str
    done: threading.Event = field(default_factory=threading.Event)
    vector: np.ndarray | None = None
    error: BaseException | None = None


class MicroBatchingEmbedder:
    """Wraps an embedder: single-text encodes from many threads are batched together;
    everything else goes straight through."""

    def __init__(self, inner: Embedder, *, window_ms: float = 2.0, max_batch: int = 32) -> None:
        self.inner = inner
        self.identity = inner.identity
        self.window = window_ms / 1000.0
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="qa-micro-batcher", daemon=True)
        self._thread.start()

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self.inner.count_tokens(texts)

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: Progress | None = None
    ) -> np.ndarray:
        if len(texts) != 1:
            return self.inner.encode(texts, batch_size=batch_size, progress=progress)
        pending = _Pending(texts[0])
        self._queue.put(pending)
        pending.done.wait()
        if pending.error is not None:
            raise pending.error
        assert pending.vector is not None
        return pending.vector[None, :]

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)

    def _collect(self, first: _Pending) -> tuple[list[_Pending], bool]:
        """`first` plus whatever arrives within the window, up to max_batch."""
        batch, deadline = [first], time.monotonic() + self.window
        while len(batch) < self.max_batch:
            try:
                item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if item is None:
                return batch, True
            batch.append(item)
        return batch, False

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch, stop = self._collect(first)
            try:
                vectors = self.inner.encode([p.text for p in batch], batch_size=self.max_batch)
                for p, v in zip(batch, vectors, strict=True):
                    p.vector = v
            except BaseException as exc:  # every waiter must wake, whatever happened
                for p in batch:
                    p.error = exc
            finally:
                for p in batch:
                    p.done.set()
            if stop:
                return
