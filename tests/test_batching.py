from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import pytest

from qa.batching import MicroBatchingEmbedder
from tests.conftest import FakeEmbedder


class SlowFake(FakeEmbedder):
    """Records each model call's batch and takes a while, like a real model."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[int] = []

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: object = None
    ) -> np.ndarray:
        self.calls.append(len(texts))
        threading.Event().wait(0.05)
        return super().encode(texts)


def test_concurrent_questions_share_model_calls_and_get_their_own_vectors() -> None:
    inner = SlowFake()
    batcher = MicroBatchingEmbedder(inner, window_ms=20, max_batch=8)
    texts = [f"question number {i} about topic {i % 3}" for i in range(16)]
    results: dict[int, np.ndarray] = {}

    def ask(i: int) -> None:
        results[i] = batcher.encode([texts[i]])

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    batcher.close()
    assert sum(inner.calls) == 16 and max(inner.calls) <= 8
    assert len(inner.calls) < 16, "concurrent questions should share model calls"
    for i in range(16):
        assert np.allclose(results[i], FakeEmbedder().encode([texts[i]]))


def test_a_lone_question_and_bulk_encodes_pass_straight_through() -> None:
    inner = SlowFake()
    batcher = MicroBatchingEmbedder(inner, window_ms=1, max_batch=8)
    assert batcher.encode(["alone"]).shape == (1, 64)
    assert batcher.encode(["a", "b", "c"]).shape == (3, 64)
    assert inner.calls == [1, 3]
    assert batcher.identity == inner.identity
    batcher.close()


def test_a_model_error_reaches_every_waiting_caller() -> None:
    class Broken(FakeEmbedder):
        def encode(
            self, texts: Sequence[str], *, batch_size: int = 32, progress: object = None
        ) -> np.ndarray:
            raise RuntimeError("model exploded")

    batcher = MicroBatchingEmbedder(Broken(), window_ms=1)
    with pytest.raises(RuntimeError, match="model exploded"):
        batcher.encode(["q"])
    batcher.close()
