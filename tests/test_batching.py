from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import numpy as np
import pytest

from qa.search.batching import MicroBatchingEmbedder
from tests.conftest import FakeEmbedder


class SlowFake(FakeEmbedder):
    """Records each model call's batch and calling thread, and takes a while, like a
    real model."""

    def __init__(self, seconds: float = 0.05) -> None:
        super().__init__()
        self.seconds = seconds
        self.calls: list[int] = []
        self.threads: list[str] = []

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: object = None
    ) -> np.ndarray:
        self.calls.append(len(texts))
        self.threads.append(threading.current_thread().name)
        threading.Event().wait(self.seconds)
        return super().encode(texts)


def _ask_concurrently(
    batcher: MicroBatchingEmbedder, texts: Sequence[str]
) -> dict[int, np.ndarray]:
    results: dict[int, np.ndarray] = {}

    def ask(i: int) -> None:
        results[i] = batcher.encode([texts[i]])

    threads = [
        threading.Thread(target=ask, args=(i,), name=f"asker-{i}") for i in range(len(texts))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    return results


def test_concurrent_questions_share_model_calls_and_get_their_own_vectors() -> None:
    inner = SlowFake()
    batcher = MicroBatchingEmbedder(inner, max_batch=8)
    texts = [f"question number {i} about topic {i % 3}" for i in range(16)]
    results = _ask_concurrently(batcher, texts)
    assert sum(inner.calls) == 16 and max(inner.calls) <= 8
    assert len(inner.calls) < 16, "concurrent questions should share model calls"
    for i in range(16):
        assert np.allclose(results[i], FakeEmbedder().encode([texts[i]]))
    # Every model call ran in one of the asking threads: there is no batcher thread.
    assert all(name.startswith("asker-") for name in inner.threads)


def test_a_lone_question_is_encoded_at_once_in_the_callers_thread() -> None:
    inner = SlowFake(seconds=0.0)
    batcher = MicroBatchingEmbedder(inner, max_batch=8)
    for _ in range(20):
        assert batcher.encode(["alone"]).shape == (1, 64)
    # One model call per question, each in the asking thread: no hand-off to wait on.
    assert inner.calls == [1] * 20
    assert inner.threads == [threading.current_thread().name] * 20


def test_questions_arriving_during_an_encode_form_the_next_batch() -> None:
    inner = SlowFake(seconds=0.2)
    batcher = MicroBatchingEmbedder(inner, max_batch=32)
    first = threading.Thread(target=batcher.encode, args=(["first"],), name="asker-first")
    first.start()
    time.sleep(0.05)  # the first call is now running inside the model
    _ask_concurrently(batcher, [f"q{i}" for i in range(5)])
    first.join(timeout=10)
    assert inner.calls == [1, 5]


def test_bulk_encodes_pass_straight_through() -> None:
    inner = SlowFake()
    batcher = MicroBatchingEmbedder(inner, max_batch=8)
    assert batcher.encode(["a", "b", "c"]).shape == (3, 64)
    assert inner.calls == [3]
    assert batcher.identity == inner.identity


def test_a_model_error_reaches_every_waiting_caller_and_the_next_call_works() -> None:
    class Flaky(SlowFake):
        def encode(
            self, texts: Sequence[str], *, batch_size: int = 32, progress: object = None
        ) -> np.ndarray:
            if any("boom" in t for t in texts):
                super().encode(texts)
                raise RuntimeError("model exploded")
            return super().encode(texts)

    inner = Flaky(seconds=0.1)
    batcher = MicroBatchingEmbedder(inner, max_batch=8)
    errors: list[str] = []

    def ask(text: str) -> None:
        try:
            batcher.encode([text])
        except RuntimeError as exc:
            errors.append(str(exc))

    first = threading.Thread(target=ask, args=("boom first",))
    first.start()
    time.sleep(0.03)
    others = [threading.Thread(target=ask, args=(f"boom {i}",)) for i in range(3)]
    for t in others:
        t.start()
    for t in [first, *others]:
        t.join(timeout=10)
    assert errors == ["model exploded"] * 4
    with pytest.raises(RuntimeError, match="model exploded"):
        batcher.encode(["boom"])
    assert batcher.encode(["fine"]).shape == (1, 64)
