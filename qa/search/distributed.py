"""Work spread over a Ray cluster: the only import of ray, an optional extra.

`RayEmbedder` is an Embedder whose `encode` hands the texts to a pool of model
actors through Ray Data. Each actor loads the same local model folder with
`SentenceTransformerEmbedder`, so the vectors come from the very code path of a
single-process build; the identity and the token counts (which chunking needs)
come from a copy of the model in this process. `RayActor` runs an instance of any
class in an actor of the same cluster, started on first use (qa.ingest reads files
with it).
"""

from __future__ import annotations

import importlib
import logging
import math
import os
import socket
import threading
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

import numpy as np

from qa.config import DEFAULT_MODEL
from qa.errors import ConfigError, ModelError
from qa.search.embedding import (
    Embedder,
    ModelIdentity,
    Progress,
    SentenceTransformerEmbedder,
)

#: What `--ray` without an address means: start a Ray instance on this machine.
LOCAL = "local"
MISSING_RAY = (
    "`qa index --ray` needs Ray, which is not installed: pip install 'qa[ray]' "
    "(or run `qa index` without --ray)"
)
# Blocks are slices of the length-sorted texts, as in SentenceTransformerEmbedder:
# texts of similar length share a batch, so little compute goes on padding.
_MAX_BLOCK_ROWS = 1024
_BLOCKS_PER_ACTOR = 4  # enough blocks that a slow actor does not hold up the end
_ACTOR_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}  # nothing from a hub


def import_ray() -> Any:
    """The ray module, or a ConfigError that says how to install it."""
    try:
        # Imported by name so that type checks read the same with and without the extra.
        ray = importlib.import_module("ray")
        importlib.import_module("ray.data")  # the [data] part of the extra
    except ImportError as exc:
        raise ConfigError(MISSING_RAY) from exc
    return ray


class RayEmbedder:
    """Normalised sentence embeddings computed by `actors` model replicas on Ray.

    Connects to the cluster at `address`, or starts Ray on this machine for
    `LOCAL`, when there is first something to encode (an update that changed
    nothing never waits for Ray); joins the Ray instance this process already
    runs, if any. Use it as a context manager (or call `close`): Ray is shut
    down only if we started it.
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        address: str = LOCAL,
        actors: int | None = None,
        local: Embedder | None = None,
        precision: str = "auto",
    ) -> None:
        """`local` is this process's copy of `model`; it is loaded when not given."""
        if actors is not None and actors < 1:
            raise ConfigError(f"--ray-actors must be at least 1, not {actors}")
        self._ray = import_ray()
        if address != LOCAL:
            _check_reachable(address)
        self._model = model
        self._address = address
        self._actors = actors
        self._owns_ray = False
        self._precision = precision
        self._local = local or SentenceTransformerEmbedder(model, precision=precision)
        self.identity: ModelIdentity = self._local.identity

    def _start(self) -> int:
        """Connect to (or start) Ray if not yet done; the number of model replicas to use:
        as asked, or one per CPU of the cluster."""
        if not self._ray.is_initialized():
            self._connect()
        return self._actors or max(1, int(self._ray.cluster_resources().get("CPU", 1)))

    def _connect(self) -> None:
        options: dict[str, Any] = {"address": self._address, "log_to_driver": False}
        if self._address == LOCAL:
            # A fresh instance of our own, never someone else's stray local cluster;
            # its notice about token authentication is not news on loopback.
            cpus = self._actors or os.cpu_count() or 1
            options.update(num_cpus=cpus, include_dashboard=False, logging_level=logging.ERROR)
        else:
            options.update(logging_level=logging.WARNING)
        try:
            self._ray.init(**options)
        except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
            raise ConfigError(f"could not start or reach Ray at {self._address!r}: {exc}") from exc
        self._owns_ray = True

    def planned_actors(self) -> int:
        """How many actors a pool on this cluster should have: as asked, else one per CPU.
        Learning that connects only to a remote cluster (a local Ray gets this machine's
        CPUs), so a run with nothing to read or embed still never waits for Ray."""
        if self._actors or (self._address == LOCAL and not self._ray.is_initialized()):
            return self._actors or os.cpu_count() or 1
        return self._start()

    def actor(self, cls: type, **kwargs: Any) -> RayActor:
        """An instance of `cls(**kwargs)` in a one-CPU actor on this cluster, started
        (and Ray with it) on the first call."""
        return RayActor(self._start_ray, cls, kwargs)

    def _start_ray(self) -> Any:
        self._start()
        return self._ray

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self._local.count_tokens(texts)

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: Progress | None = None
    ) -> np.ndarray:
        """Unit-length float32 vectors, one row per text, in the order given."""
        dim = self.identity.dimension
        out = np.zeros((len(texts), dim), dtype=np.float32)
        if not texts:
            return out
        actors = self._start()
        dataset, blocks = self._dataset(texts, batch_size=batch_size, actors=actors)
        vectors = dataset.map_batches(
            _EncodeBlock,
            fn_constructor_kwargs={
                "model": self._model,
                "identity": self.identity.as_dict(),
                "batch_size": batch_size,
                "precision": self._precision,
            },
            batch_size=None,  # one block, already sorted and sized, is one call
            batch_format="numpy",
            # No more model replicas than blocks: a replica with nothing to do costs a load.
            compute=self._ray.data.ActorPoolStrategy(size=min(actors, blocks)),
            num_cpus=1,
            runtime_env={"env_vars": _ACTOR_ENV},
        )
        done = 0
        try:
            for batch in vectors.iter_batches(batch_size=None, batch_format="numpy"):
                out[batch["pos"]] = batch["vector"]
                done += len(batch["pos"])
                if progress is not None:
                    progress(done, len(texts))
        except self._ray.exceptions.RayError as exc:
            raise ModelError(f"embedding on Ray failed: {_summary(exc)}") from exc
        if done != len(texts):  # a lost block must not leave zero vectors in the index
            raise ModelError(f"embedding on Ray returned {done} of {len(texts)} vectors")
        return out

    def _dataset(self, texts: Sequence[str], *, batch_size: int, actors: int) -> tuple[Any, int]:
        pa = importlib.import_module("pyarrow")  # comes with ray[data]

        self._quiet_ray_data()
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        rows = _block_rows(len(texts), batch_size=batch_size, actors=actors)
        tables = [
            pa.table(
                {
                    "pos": pa.array(order[lo : lo + rows], pa.int64()),
                    "text": pa.array([texts[i] for i in order[lo : lo + rows]], pa.string()),
                }
            )
            for lo in range(0, len(order), rows)
        ]
        return self._ray.data.from_arrow(tables), len(tables)

    def _quiet_ray_data(self) -> None:
        # Our own progress goes through `progress`; Ray Data's bars and banners
        # would interleave with it on stderr.
        context = self._ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        for handler in logging.getLogger("ray.data").handlers:
            if isinstance(handler, logging.StreamHandler):  # the console, not the log file
                handler.setLevel(max(handler.level, logging.WARNING))

    def close(self) -> None:
        if self._owns_ray and self._ray.is_initialized():
            self._ray.shutdown()
        self._owns_ray = False

    def __enter__(self) -> RayEmbedder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class RayActor:
    """One instance of a class living in a Ray actor on whichever node has a free CPU.

    `call(method, *args)` runs the method there and waits for its result; calls from
    several threads queue up at the actor, which runs one at a time. The actor is
    created on the first call, so an unused one never starts Ray.
    """

    def __init__(self, start: Callable[[], Any], cls: type, kwargs: dict[str, Any]) -> None:
        self._start = start
        self._cls = cls
        self._kwargs = kwargs
        self._ray: Any = None
        self._handle: Any = None
        self._lock = threading.Lock()
        self.calls = 0  # answered calls, for tests and the benchmark

    def call(self, method: str, *args: Any) -> Any:
        """The method's result; ValueError with the reason when the actor failed or died."""
        with self._lock:
            if self._handle is None:
                self._ray = self._start()
                remote = self._ray.remote(num_cpus=1, runtime_env={"env_vars": _ACTOR_ENV})
                self._handle = remote(self._cls).remote(**self._kwargs)
            handle, ray = self._handle, self._ray
        try:
            result = ray.get(getattr(handle, method).remote(*args))
        except ray.exceptions.RayError as exc:
            if isinstance(exc, ray.exceptions.RayActorError):
                with self._lock:  # a lost node: the next call starts a new actor
                    self._handle = None if self._handle is handle else self._handle
            raise ValueError(f"it failed on Ray: {_summary(exc)}") from exc
        self.calls += 1
        return result

    def close(self) -> None:
        with self._lock:
            if self._handle is not None and self._ray.is_initialized():
                self._ray.kill(self._handle)
            self._handle = None


class _EncodeBlock:
    """A Ray Data actor: one model replica that encodes whole blocks."""

    def __init__(
        self, *, model: str, identity: dict[str, Any], batch_size: int, precision: str = "auto"
    ) -> None:
        self._embedder = SentenceTransformerEmbedder(model, precision=precision)
        if self._embedder.identity.as_dict() != identity:
            # Another model under the same setting on some node: vectors would not compare.
            raise ModelError(
                f"a Ray worker loaded {self._embedder.identity.as_dict()} for {model!r}, "
                f"not {identity}: install the same model on every node"
            )
        self._batch_size = batch_size

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        texts = [str(t) for t in batch["text"]]
        vectors = self._embedder.encode(texts, batch_size=self._batch_size)
        return {"pos": batch["pos"], "vector": vectors}


def _block_rows(total: int, *, batch_size: int, actors: int) -> int:
    """Rows per block: a whole number of batches, several blocks per actor, at most ~1024."""
    ceiling = max(batch_size, _MAX_BLOCK_ROWS // batch_size * batch_size)
    wanted = math.ceil(total / (actors * _BLOCKS_PER_ACTOR))
    return min(ceiling, max(batch_size, math.ceil(wanted / batch_size) * batch_size))


def _check_reachable(address: str, timeout: float = 10.0) -> None:
    """Fail fast on a `host:port` nobody listens on: ray.init would retry it forever."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        return  # "auto" and the like: Ray resolves those itself, and says when it cannot
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ConfigError(
            f"no Ray cluster answers at {address} ({exc.strerror or exc}): start one with "
            "`ray start --head`, fix the address, or use --ray without one to run Ray here"
        ) from exc


def _summary(exc: BaseException) -> str:
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__
