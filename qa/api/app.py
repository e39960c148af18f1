"""The app factory: the service loads at start-up (lifespan), never at import.

The app is assembled from the api package's parts: the error mapping, the read and
write routes, the middlewares and the chat page. When the app built its own service it
also keeps it on the live index version (`qa.live.watcher`), since other worker processes
and `qa index` may save new versions while it serves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from importlib import resources

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from qa import __version__
from qa.api.collections import (
    collections_router,
    read_collection,
    serving_collections,
    write_collection,
)
from qa.api.errors import install_error_handlers
from qa.api.metrics import Metrics, install_metrics
from qa.api.middleware import (
    BodyLimitMiddleware,
    ReadKeyMiddleware,
    RequestContextMiddleware,
    WorkerHeaderMiddleware,
)
from qa.api.routes_feedback import feedback_router
from qa.api.routes_read import health_router, read_router
from qa.api.routes_write import single_writer, write_router
from qa.api.state import Target, single_target
from qa.config import Settings
from qa.errors import QAError
from qa.ingest.chunking import chunk_settings
from qa.ingest.indexing import expectation
from qa.live.watcher import RELOAD_INTERVAL_S, IndexWatcher, watch
from qa.service import EmbedderFactory, QAService, load_embedder

log = logging.getLogger(__name__)

ServiceFactory = Callable[[], QAService]


def create_app(
    settings: Settings | None = None,
    *,
    service_factory: ServiceFactory | None = None,
    embedder_factory: EmbedderFactory = load_embedder,
) -> FastAPI:
    """The app. Give `service_factory` to serve a service built elsewhere (as is: no
    batching, no index watching), or `embedder_factory` to load the index from
    `settings` with another model (tests do)."""
    settings = settings or Settings()
    if settings.collections is not None:
        return _collections_app(settings, embedder_factory)
    owned = service_factory is None
    factory = service_factory or (
        lambda: QAService.from_settings(settings, embedder_factory=embedder_factory)
    )
    app = FastAPI(
        title="qa",
        version=__version__,
        lifespan=_lifespan(settings, factory, owned=owned),
        description="Answers questions from your documents, with exact citations.",
    )
    install_error_handlers(app)
    app.include_router(read_router(settings))
    app.include_router(health_router(settings))
    app.include_router(write_router(settings))
    app.include_router(feedback_router(single_target, single_writer(settings)))
    _install_middleware(app, settings)
    _install_monitoring(app, settings, default_collection="default")
    _install_web(app)
    return app


def _collections_app(settings: Settings, embedder_factory: EmbedderFactory) -> FastAPI:
    """Every collection of the file under /collections/{name}/, with the same handlers."""
    if settings.api_key or settings.require_key_for_reads:
        log.warning(
            "QA_API_KEY and QA_REQUIRE_KEY_FOR_READS do not apply with collections: each "
            "collection's keys are in the collections file"
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with serving_collections(app, settings, embedder_factory):
            yield

    app = FastAPI(
        title="qa",
        version=__version__,
        lifespan=lifespan,
        description="Answers questions from several collections of documents, each with its "
        "own keys, with exact citations.",
    )
    install_error_handlers(app)
    app.include_router(collections_router())
    prefix = "/collections/{name}"
    app.include_router(read_router(settings, read_collection), prefix=prefix)
    app.include_router(write_router(settings, write_collection), prefix=prefix)
    app.include_router(feedback_router(read_collection, write_collection), prefix=prefix)
    _install_middleware(app, settings.model_copy(update={"require_key_for_reads": False}))
    # Requests outside a collection (/health, /collections, /metrics, the page): no label.
    _install_monitoring(app, settings, default_collection="")
    _install_web(app)
    return app


def _install_monitoring(app: FastAPI, settings: Settings, *, default_collection: str) -> None:
    """GET /metrics (unless QA_METRICS=off) and, outermost of all middleware, request ids
    and the access log: every response, a middleware's refusal included, carries the id."""
    metrics = None
    if settings.metrics:
        metrics = Metrics(lambda: _served(app), default_collection=default_collection)
        install_metrics(app, metrics, key=settings.metrics_key or None)
    app.add_middleware(
        RequestContextMiddleware,
        log_questions=settings.log_questions,
        observers=[metrics.observe] if metrics is not None else [],
    )


def _served(app: FastAPI) -> dict[str, QAService]:
    """The live service of each collection by its label, for the metrics: every loaded
    collection's, or the only corpus's as `default` (none while starting)."""
    registry = getattr(app.state, "registry", None)
    if registry is not None:
        return {n: t.service for n, t in registry.targets.items() if t.service is not None}
    target: Target | None = getattr(app.state, "target", None)
    service = None if target is None else target.service
    return {} if service is None else {"default": service}


def create_app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory` (and so for several worker processes)."""
    return create_app(Settings())


def _lifespan(
    settings: Settings, factory: ServiceFactory, *, owned: bool
) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    # Only a service this app built is ours to wrap (and close) and to keep current.
    batching = owned and settings.batch_window_ms > 0

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        target = app.state.target = Target(settings)
        try:
            service = await run_in_threadpool(factory)
        except QAError as exc:
            # Stay up and say why on every request, rather than die without a word.
            log.error("the service cannot answer: %s", exc.message)
            target.load_error = exc
            yield
            return
        if batching:
            service.enable_micro_batching(max_batch=settings.max_question_batch)
        target.service = service
        async with _watching(app, service, settings, enabled=owned):
            yield
        target.feedback.close()
        if batching:
            service.close()

    return lifespan


@contextlib.asynccontextmanager
async def _watching(
    app: FastAPI, service: QAService, settings: Settings, *, enabled: bool
) -> AsyncIterator[None]:
    """Keep the service on the version the index folder's CURRENT names, while serving."""
    if not enabled:
        yield
        return
    watcher = IndexWatcher(
        service,
        index_dir=settings.index_dir,
        expect=expectation(service.embedder, chunk_settings(settings)),
    )
    app.state.index_watcher = watcher
    task = asyncio.create_task(watch(watcher, interval=RELOAD_INTERVAL_S))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _install_middleware(app: FastAPI, settings: Settings) -> None:
    # Added last runs first: the worker header wraps every response, key checks and
    # body limits run before any route reads a byte.
    key = settings.api_key or None  # an empty QA_API_KEY means none, never "any key"
    app.add_middleware(
        BodyLimitMiddleware,
        max_body_bytes=settings.max_body_bytes,
        max_upload_bytes=settings.max_upload_bytes,
    )
    if settings.require_key_for_reads and key:
        own = frozenset({"/metrics"} if settings.metrics_key else ())
        app.add_middleware(ReadKeyMiddleware, api_key=key, own_keys=own)
    app.add_middleware(WorkerHeaderMiddleware)


def _install_web(app: FastAPI) -> None:
    web = resources.files("qa") / "web"
    index_html = web / "index.html"
    if not index_html.is_file():
        log.warning("the chat page is missing from this installation")
        return
    app.mount("/static", StaticFiles(directory=str(web)), name="static")

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(str(index_html), media_type="text/html")
