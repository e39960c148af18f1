"""Feedback on answers: POST (anyone who may read the target) and GET (writers only) of
/feedback, stored by `qa.collections.feedback` beside the target's index."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from qa.api.schemas import WRITE_ERRORS
from qa.api.state import REQUEST_ID, Resolver, Target

MAX_COMMENT_CHARS = 2000


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(
        min_length=1,
        max_length=128,
        pattern=f"^{REQUEST_ID.pattern}$",
        description="The request id of the /ask reply this is about (its `request_id`).",
    )
    # Strict: 0, 1, "yes" or "false" are not a thumb (the schema says boolean).
    helpful: bool = Field(strict=True)
    comment: str | None = Field(default=None, max_length=MAX_COMMENT_CHARS)
    question: str | None = Field(
        default=None,
        min_length=1,
        # Within the body limit however it is escaped (a question the server took is at
        # most QA_MAX_QUESTION_CHARS, 2,000 by default).
        max_length=20_000,
        description="The question asked. The server keeps the questions it answered lately and "
        "stores its own; this one is kept only for a request it does not remember "
        "(another worker's, or from before a restart).",
    )


class FeedbackOut(BaseModel):
    request_id: str
    helpful: bool
    comment: str | None
    question: str | None
    at: float = Field(description="When it was given, in seconds since the epoch.")


class FeedbackList(BaseModel):
    feedback: list[FeedbackOut]


def feedback_router(read: Resolver, write: Resolver) -> APIRouter:
    router = APIRouter(responses=WRITE_ERRORS)
    # Defaults, not Annotated: the dependencies are locals, and annotations are strings.
    readable, writable = Depends(read), Depends(write)

    @router.post(
        "/feedback",
        status_code=201,
        response_model=FeedbackOut,
        summary="Say whether an answer helped (anyone who may ask)",
    )
    async def give(body: FeedbackIn, target: Target = readable) -> FeedbackOut:
        store = target.feedback
        # A synced disk write: off the event loop.
        entry = await run_in_threadpool(
            partial(
                store.add,
                body.request_id,
                helpful=body.helpful,
                comment=body.comment or None,
                question=body.question,
            )
        )
        return FeedbackOut(**entry.to_dict())

    @router.get(
        "/feedback",
        response_model=FeedbackList,
        summary="The feedback given, latest first (needs a write key)",
    )
    async def entries(
        request: Request,
        target: Target = writable,
        helpful: Annotated[bool | None, Query(description="Only helpful or unhelpful")] = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    ) -> FeedbackList:
        unknown = sorted(set(request.query_params) - {"helpful", "limit"})
        if unknown:  # a misspelt filter must not quietly list everything
            raise RequestValidationError(
                [
                    {
                        "loc": ("query", name),
                        "msg": "unknown parameter: use helpful=true|false and limit=N",
                        "type": "value_error",
                    }
                    for name in unknown
                ]
            )
        found = await run_in_threadpool(
            partial(target.feedback.entries, helpful=helpful, limit=limit)
        )
        return FeedbackList(feedback=[FeedbackOut(**e.to_dict()) for e in found])

    return router
