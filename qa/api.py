"""FastAPI app factory: request schemas, error mapping and routes. Nothing but translation."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from importlib import resources
from typing import Annotated, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from qa import __version__
from qa.config import Settings
from qa.errors import QAError
from qa.service import QAService
from qa.types import Answer, AskResult, Document, Passage

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 2000
FilterScalar = Annotated[str, Field(max_length=500)] | int | float | bool
FilterValue = FilterScalar | Annotated[list[FilterScalar], Field(min_length=1, max_length=100)]


# ----- schemas ----------------------------------------------------------------------------


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: Annotated[
        str,
        Field(min_length=1, description="The question, 1 to 2000 characters."),
    ]
    k: Annotated[int, Field(ge=1, le=50, description="How many passages to return.")] = 5
    filters: Annotated[
        dict[str, FilterValue] | None,
        Field(
            max_length=20,
            description="Only answer from matching documents: date_from / date_to (ISO "
            "dates, on metadata.date), title (substring), doc_id, or any metadata field "
            "equal to a value (or one of a list of values).",
            examples=[{"source": "Rudaw"}, {"date_from": "2020-01-01", "date_to": "2020-12-31"}],
        ),
    ] = None
    max_per_document: Annotated[
        int | None, Field(ge=1, le=50, description="At most this many passages per document.")
    ] = None

    @field_validator("question")
    @classmethod
    def _trimmed_length(cls, value: str) -> str:
        value = value.strip()
        if any("\ud800" <= c <= "\udfff" for c in value):
            # JSON allows lone surrogates; they cannot be encoded back, so refuse them here.
            raise ValueError("contains an unpaired surrogate (\\ud800-\\udfff): send valid Unicode")
        if not value:
            raise ValueError("must not be empty: send some text to ask about")
        if len(value) > MAX_QUESTION_CHARS:
            raise ValueError(
                f"is {len(value)} characters long: shorten it to at most {MAX_QUESTION_CHARS}"
            )
        return value


class ScoresOut(BaseModel):
    dense: float
    lexical: float | None
    fused: float


class PassageOut(BaseModel):
    rank: int
    score: float
    text: str
    doc_id: str
    title: str
    start: int
    end: int
    metadata: dict[str, Any]
    scores: ScoresOut


class AnswerOut(BaseModel):
    text: str
    doc_id: str
    start: int
    end: int
    confidence: float


class AskResponse(BaseModel):
    question: str
    answerable: bool
    answer: AnswerOut | None
    passages: list[PassageOut]


class DocumentSummary(BaseModel):
    doc_id: str
    title: str
    metadata: dict[str, Any]


class DocumentOut(DocumentSummary):
    text: str


class DocumentList(BaseModel):
    documents: list[DocumentSummary]


class HealthOut(BaseModel):
    status: str
    documents: int
    chunks: int
    model: str
    version: str


class ErrorOut(BaseModel):
    error: str
    message: str
    details: list[dict[str, Any]] | None = None


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (400, 404, 409, 413, 422, 503)
}


# ----- shaping ----------------------------------------------------------------------------


def passage_out(p: Passage) -> PassageOut:
    c = p.chunk
    return PassageOut(
        rank=p.rank,
        score=p.score,
        text=c.text,
        doc_id=c.doc_id,
        title=p.title,
        start=c.start,
        end=c.end,
        metadata=dict(p.metadata),
        scores=ScoresOut(dense=p.scores.dense, lexical=p.scores.lexical, fused=p.scores.fused),
    )


def answer_out(a: Answer | None) -> AnswerOut | None:
    if a is None:
        return None
    return AnswerOut(
        text=a.text, doc_id=a.doc_id, start=a.start, end=a.end, confidence=a.confidence
    )


def ask_response(result: AskResult) -> AskResponse:
    return AskResponse(
        question=result.question,
        answerable=result.answerable,
        answer=answer_out(result.answer),
        passages=[passage_out(p) for p in result.passages],
    )


def summary_out(d: Document) -> DocumentSummary:
    return DocumentSummary(doc_id=d.doc_id, title=d.title, metadata=dict(d.metadata))


def error_response(
    status: int, code: str, message: str, details: list[dict[str, Any]] | None = None
) -> JSONResponse:
    body = ErrorOut(error=code, message=message, details=details)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status)


def _validation_message(errors: list[dict[str, Any]]) -> str:
    parts = []
    for err in errors:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        parts.append(f"{where}: {msg}")
    return "; ".join(parts) or "the request is not valid"


# ----- the app ----------------------------------------------------------------------------


ServiceFactory = Callable[[], QAService]


def create_app(
    settings: Settings | None = None, *, service_factory: ServiceFactory | None = None
) -> FastAPI:
    """The app. The model and index load at start-up (lifespan), not at import."""
    settings = settings or Settings()
    factory = service_factory or (lambda: QAService.from_settings(settings))
    # Only a service this app built is ours to wrap (and close); an injected one is not.
    batching = service_factory is None and settings.batch_window_ms > 0

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.service = None
        app.state.load_error = None
        try:
            service = await run_in_threadpool(factory)
            if batching:
                service.enable_micro_batching(
                    window_ms=settings.batch_window_ms, max_batch=settings.max_question_batch
                )
            app.state.service = service
        except QAError as exc:
            # Stay up and say why on every request, rather than die without a word.
            log.error("the service cannot answer: %s", exc.message)
            app.state.load_error = exc
        yield
        if batching and app.state.service is not None:
            app.state.service.close()

    app = FastAPI(
        title="qa",
        version=__version__,
        lifespan=lifespan,
        description="Answers questions from your documents, with exact citations.",
    )
    _install_error_handlers(app)
    _install_routes(app)
    from qa.ingestion import install_ingestion  # imports this module: load it after

    install_ingestion(app, settings)
    from qa.reload import install_reload

    # Other worker processes' writes: follow the index on disk, when it is ours to follow.
    install_reload(app, settings, watch_index=service_factory is None)
    _install_web(app)
    return app


def create_app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory` (and so for several worker processes)."""
    return create_app(Settings())


def get_service(request: Request) -> QAService:
    service: QAService | None = request.app.state.service
    if service is None:
        error: QAError | None = request.app.state.load_error
        raise error or _Unavailable("the service is still starting: try again in a moment")
    return service


class _Unavailable(QAError):
    status_code = 503


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(QAError)
    async def qa_error(_: Request, exc: QAError) -> JSONResponse:
        return error_response(exc.status_code, _code(exc), exc.message)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "loc": list(e.get("loc", ())),
                "msg": str(e.get("msg", "")).removeprefix("Value error, "),
                "type": e.get("type"),
            }
            for e in exc.errors()
        ]
        return error_response(422, "invalid_request", _validation_message(errors), errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404 and message == "Not Found":
            message = "no such endpoint: see /docs for the API"
        if exc.status_code == 400 and message == "There was an error parsing the body":
            message = (
                "the request body could not be read as UTF-8 JSON: send a JSON object "
                'such as {"question": "..."}'
            )
        if exc.status_code == 405:
            message = "this endpoint does not accept that method: see /docs for the API"
        return error_response(exc.status_code, "http_error", message)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return error_response(
            500, "internal_error", "the server failed to handle this request; the log has details"
        )


def _code(exc: QAError) -> str:
    name = type(exc).__name__.rstrip("_")
    words = [c if c.islower() else f"_{c.lower()}" for c in name.removesuffix("Error")]
    return "".join(words).lstrip("_") or "error"


def _install_routes(app: FastAPI) -> None:
    @app.post(
        "/ask",
        response_model=AskResponse,
        responses=ERROR_RESPONSES,
        summary="Answer a question from the documents",
    )
    async def ask(body: AskRequest, request: Request) -> AskResponse:
        service = get_service(request)
        # Encoding is CPU-bound: keep it off the event loop.
        result = await run_in_threadpool(
            partial(
                service.ask,
                body.question,
                k=body.k,
                filters=body.filters,
                max_per_document=body.max_per_document,
            )
        )
        return ask_response(result)

    @app.get(
        "/documents",
        response_model=DocumentList,
        responses=ERROR_RESPONSES,
        summary="List the indexed documents",
    )
    async def documents(request: Request) -> DocumentList:
        return DocumentList(documents=[summary_out(d) for d in get_service(request).documents()])

    @app.get(
        "/documents/{doc_id:path}",
        response_model=DocumentOut,
        responses=ERROR_RESPONSES,
        summary="One document with the full text that citations index into",
    )
    async def document(doc_id: str, request: Request) -> DocumentOut:
        d = get_service(request).document(doc_id)
        return DocumentOut(doc_id=d.doc_id, title=d.title, metadata=dict(d.metadata), text=d.text)

    @app.get(
        "/health",
        response_model=HealthOut,
        responses=ERROR_RESPONSES,
        summary="Readiness: document and chunk counts and the model",
    )
    async def health(request: Request) -> HealthOut:
        h = get_service(request).health()
        return HealthOut(
            status="ok", documents=h.documents, chunks=h.chunks, model=h.model, version=__version__
        )


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
