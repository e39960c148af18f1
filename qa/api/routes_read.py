"""The read routes: ask, list and fetch documents, health. Validate, call the service,
shape the response."""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool

from qa import __version__
from qa.api.routes_files import add_file_routes
from qa.api.schemas import (
    READ_ERRORS,
    AskRequest,
    AskResponse,
    DocumentList,
    DocumentOut,
    HealthOut,
    ask_json,
    document_out,
    summary_out,
)
from qa.api.state import Resolver, Target, get_service, request_id, single_target
from qa.config import Settings


def check_question_length(question: str, limit: int) -> None:
    """The settings' length limit, reported like every other invalid field."""
    if len(question) > limit:
        raise RequestValidationError(
            [
                {
                    "loc": ("body", "question"),
                    "msg": f"is {len(question)} characters long: shorten it to at most {limit}",
                    "type": "value_error",
                }
            ]
        )


def read_router(settings: Settings, resolve: Resolver = single_target) -> APIRouter:
    """/ask and the document routes, on the target `resolve` gives (and lets read)."""
    router = APIRouter(responses=READ_ERRORS)
    # A default, not Annotated: the dependency is a local, and annotations are strings.
    readable = Depends(resolve)

    # The schema documents the body; the route returns it already serialised.
    @router.post("/ask", response_model=AskResponse, summary="Answer a question from the documents")
    async def ask(body: AskRequest, request: Request, target: Target = readable) -> Response:
        check_question_length(body.question, settings.max_question_chars)
        service = target.live()
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
        rid = request_id(request)
        target.feedback.remember(rid, result.question)  # memory only, for its feedback
        return Response(ask_json(result, request_id=rid), media_type="application/json")

    @router.get("/documents", response_model=DocumentList, summary="List the indexed documents")
    async def documents(target: Target = readable) -> DocumentList:
        return DocumentList(documents=[summary_out(d) for d in target.live().documents()])

    # Before /documents/{doc_id:path}, which would take these paths whole. No document id
    # ends in /original or .png (ids end in a format's extension).
    add_file_routes(router, settings, resolve)

    @router.get(
        "/documents/{doc_id:path}",
        response_model=DocumentOut,
        summary="One document with the full text that citations index into",
    )
    async def document(doc_id: str, target: Target = readable) -> DocumentOut:
        return document_out(target.live().document(doc_id))

    return router


def health_router(settings: Settings) -> APIRouter:
    """/health of a server without collections."""
    router = APIRouter(responses=READ_ERRORS)

    @router.get(
        "/health",
        response_model=HealthOut,
        summary="Readiness: document and chunk counts and the models",
    )
    async def health(request: Request) -> HealthOut:
        h = get_service(request).health()
        return HealthOut(
            status="ok",
            documents=h.documents,
            chunks=h.chunks,
            model=h.model,
            version=__version__,
            writes=bool(settings.api_key),
            reranker=h.reranker,
            reader=h.reader,
        )

    return router
