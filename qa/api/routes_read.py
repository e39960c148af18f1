"""The read routes: ask, list and fetch documents, health. Validate, call the service,
shape the response."""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, Request, Response
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
from qa.api.state import get_service
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


def read_router(settings: Settings) -> APIRouter:
    router = APIRouter(responses=READ_ERRORS)

    # The schema documents the body; the route returns it already serialised.
    @router.post("/ask", response_model=AskResponse, summary="Answer a question from the documents")
    async def ask(body: AskRequest, request: Request) -> Response:
        check_question_length(body.question, settings.max_question_chars)
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
        return Response(ask_json(result), media_type="application/json")

    @router.get("/documents", response_model=DocumentList, summary="List the indexed documents")
    async def documents(request: Request) -> DocumentList:
        return DocumentList(documents=[summary_out(d) for d in get_service(request).documents()])

    # Before /documents/{doc_id:path}, which would take these paths whole. No document id
    # ends in /original or .png (ids end in a format's extension).
    add_file_routes(router, settings)

    @router.get(
        "/documents/{doc_id:path}",
        response_model=DocumentOut,
        summary="One document with the full text that citations index into",
    )
    async def document(doc_id: str, request: Request) -> DocumentOut:
        return document_out(get_service(request).document(doc_id))

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
