"""A server with collections (`qa serve --collections FILE`): one model, one target per
collection, and the rules of who may see what.

A request names its collection in the path (`/collections/{name}/...`) and shows its key
as `Authorization: Bearer KEY`. A protected collection without a key: 401. With a key
that is none of its keys: 404, the very answer a collection that does not exist gets, so
a caller learns nothing about collections it cannot read. A read key writing: 403.

SIGHUP re-reads the file: keys change at once; collections added are loaded (with the
model already in memory) and removed ones dropped. A file that fails its checks, or a new
collection whose index does not load, leaves the old configuration serving, with an error
in the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from qa import __version__
from qa.api.routes_write import BEARER
from qa.api.schemas import READ_ERRORS, HealthOut
from qa.api.security import bearer_token
from qa.api.state import Target
from qa.collections.config import (
    Access,
    Collection,
    Collections,
    collection_settings,
    load_collections,
)
from qa.config import Settings
from qa.errors import (
    CollectionNotFoundError,
    ConfigError,
    ForbiddenError,
    QAError,
    ServiceUnavailableError,
    UnauthorizedError,
    WritesDisabledError,
)
from qa.ingest.chunking import chunk_settings
from qa.ingest.indexing import expectation
from qa.live.watcher import RELOAD_INTERVAL_S, IndexWatcher, watch
from qa.search.batching import MicroBatchingEmbedder
from qa.search.embedding import Embedder
from qa.service import EmbedderFactory, QAService, load_models

log = logging.getLogger(__name__)


class Registry:
    """The collections being served, swapped whole on a reload (one reference
    assignment: a request sees the old set or the new one)."""

    def __init__(self, settings: Settings, embedder: Embedder, models: Any) -> None:
        self.settings = settings
        self.embedder = embedder
        self.models = models
        self.targets: dict[str, Target] = {}

    @property
    def any_protected(self) -> bool:
        return any(not t.collection.public for t in self.targets.values() if t.collection)

    def load(self, collection: Collection) -> Target:
        """A target for `collection`, its index loaded with the shared model (blocking)."""
        settings = collection_settings(self.settings, collection)
        target = Target(settings, collection)
        try:
            target.service = QAService.from_settings(settings, self.embedder, models=self.models)
        except QAError as exc:
            log.error("collection %r cannot answer: %s", collection.name, exc.message)
            target.load_error = exc
        return target


def _registry(request: Request) -> Registry:
    registry: Registry | None = getattr(request.app.state, "registry", None)
    if registry is None:
        raise ServiceUnavailableError("the service is still starting: try again in a moment")
    return registry


def _not_found(name: str) -> CollectionNotFoundError:
    return CollectionNotFoundError(
        f"no collection named {name!r} that this key may read: GET /collections lists yours"
    )


def resolve(request: Request, name: str, *, need: Access) -> Target:
    """The collection `name` if the request's key allows `need` there; else the error."""
    registry = _registry(request)
    token = bearer_token(request.headers.get("authorization"))
    target = registry.targets.get(name)
    collection = None if target is None else target.collection
    if target is None or collection is None:
        if token is None and registry.any_protected:
            # As a protected collection would answer: no key says nothing about names.
            raise UnauthorizedError(_needs_key(name))
        raise _not_found(name)
    access = collection.access(token)
    if access is Access.NONE:
        if token is None:
            raise UnauthorizedError(_needs_key(name))
        raise _not_found(name)
    if need is Access.WRITE and access is not Access.WRITE:
        if not collection.writable:
            raise WritesDisabledError(
                f"collection {name!r} takes no writes over HTTP: give it write_keys in the "
                "collections file"
            )
        if token is None:
            raise UnauthorizedError(
                f"writing to {name!r} needs one of its write keys: send "
                "'Authorization: Bearer <key>'"
            )
        if collection.public:
            raise UnauthorizedError(f"the key is not one of {name!r}'s write keys")
        raise ForbiddenError(f"this key may read {name!r} but not change it: use a write key")
    return target


def _needs_key(name: str) -> str:
    return f"collection {name!r} needs a key: send it as the header 'Authorization: Bearer <key>'"


def read_collection(request: Request, name: str) -> Target:
    # No security scheme declared: a public collection's reads need no key (a protected
    # one's do, which a schema cannot say per collection).
    return resolve(request, name, need=Access.READ)


def write_collection(
    request: Request, name: str, credentials: Annotated[Any, Depends(BEARER)]
) -> Target:
    return resolve(request, name, need=Access.WRITE)


class CollectionOut(BaseModel):
    name: str
    documents: int | None = Field(description="null while its index cannot be served")
    chunks: int | None
    access: str = Field(description="What the request's key may do here: read or write.")


class CollectionList(BaseModel):
    collections: list[CollectionOut]


def collections_router() -> APIRouter:
    """GET /collections and the server-wide /health."""
    router = APIRouter(responses=READ_ERRORS)

    @router.get(
        "/collections",
        response_model=CollectionList,
        summary="The collections the request's key may read",
    )
    async def listing(request: Request) -> CollectionList:
        token = bearer_token(request.headers.get("authorization"))
        found = []
        for target in _registry(request).targets.values():
            assert target.collection is not None
            access = target.collection.access(token)
            if access is Access.NONE:
                continue
            health = None if target.service is None else target.service.health()
            found.append(
                CollectionOut(
                    name=target.collection.name,
                    documents=None if health is None else health.documents,
                    chunks=None if health is None else health.chunks,
                    access="write" if access is Access.WRITE else "read",
                )
            )
        return CollectionList(collections=found)

    @router.get("/health", response_model=HealthOut, summary="Readiness of every collection")
    async def health(request: Request) -> HealthOut:
        registry = _registry(request)
        down = [t for t in registry.targets.values() if t.service is None]
        if down:
            raise ServiceUnavailableError(
                f"{len(down)} of {len(registry.targets)} collections cannot answer: the "
                "server's log says which and why"
            )
        return HealthOut(
            status="ok",
            documents=None,
            chunks=None,
            model=registry.embedder.identity.name,
            version=__version__,
            writes=any(t.collection and t.collection.writable for t in registry.targets.values()),
        )

    return router


# ----- the lifespan: load, watch, reload ----------------------------------------------------


def _start_watching(target: Target, registry: Registry) -> None:
    if target.service is None:
        return
    watcher = IndexWatcher(
        target.service,
        index_dir=target.settings.index_dir,
        expect=expectation(target.service.embedder, chunk_settings(registry.settings)),
    )
    target.watch_task = asyncio.create_task(watch(watcher, interval=RELOAD_INTERVAL_S))


async def _stop_watching(target: Target) -> None:
    task, target.watch_task = target.watch_task, None
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    target.feedback.close()


async def reload(registry: Registry, path: Path) -> bool:
    """Re-read the collections file; keep the old configuration when anything is wrong."""
    try:
        config: Collections = await run_in_threadpool(load_collections, path, dict(os.environ))
    except ConfigError as exc:
        log.error("the collections file was not reloaded (the old one stays): %s", exc.message)
        return False
    old = registry.targets
    kept: dict[str, Collection] = {}
    new: dict[str, Target] = {}
    for c in config:
        t = old.get(c.name)
        if (
            t
            and t.collection
            and (t.collection.index_dir, t.collection.corpus_dir)
            == (
                c.index_dir,
                c.corpus_dir,
            )
        ):
            kept[c.name] = c
            continue
        loaded = await run_in_threadpool(registry.load, c)
        if loaded.service is None:
            log.error(
                "the collections file was not reloaded (the old one stays): "
                "collection %r cannot be loaded",
                c.name,
            )
            for t in new.values():
                await _stop_watching(t)
            return False
        new[c.name] = loaded
    for name, c in kept.items():
        old[name].collection = c  # new keys, same service
    targets = {c.name: new.get(c.name) or old[c.name] for c in config}
    registry.targets = targets
    for t in new.values():
        _start_watching(t, registry)
    for name, t in old.items():
        if targets.get(name) is not t:
            await _stop_watching(t)
    log.info("collections reloaded: %s", ", ".join(targets))
    return True


@contextlib.asynccontextmanager
async def serving_collections(
    app: FastAPI, settings: Settings, embedder_factory: EmbedderFactory
) -> AsyncIterator[None]:
    """Load every collection with one model; watch their indexes; reload on SIGHUP."""
    assert settings.collections is not None
    path = settings.collections
    config = await run_in_threadpool(load_collections, path, dict(os.environ))
    embedder: Embedder = await run_in_threadpool(embedder_factory, settings)
    if settings.batch_window_ms > 0:
        embedder = MicroBatchingEmbedder(embedder, max_batch=settings.max_question_batch)
    models = await run_in_threadpool(load_models, settings)
    registry = Registry(settings, embedder, models)
    registry.targets = {c.name: await run_in_threadpool(registry.load, c) for c in config}
    for target in registry.targets.values():
        _start_watching(target, registry)
    app.state.registry = registry
    app.state.reload_collections = lambda: reload(registry, path)
    loop = asyncio.get_running_loop()
    pending: set[asyncio.Task[bool]] = set()

    def on_sighup() -> None:
        task = asyncio.ensure_future(reload(registry, path))
        pending.add(task)
        task.add_done_callback(pending.discard)

    try:
        loop.add_signal_handler(signal.SIGHUP, on_sighup)
        hup = True
    except (RuntimeError, ValueError, NotImplementedError):  # not the main thread (tests)
        hup = False
    try:
        yield
    finally:
        if hup:
            loop.remove_signal_handler(signal.SIGHUP)
        for target in registry.targets.values():
            await _stop_watching(target)
        embedder_close = getattr(embedder, "close", None)
        if embedder_close is not None:
            embedder_close()
