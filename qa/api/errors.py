"""The one error mapping of the HTTP edge: domain error to status, and every JSON error body.

Every error a client sees has the shape `{"error": code, "message": text}` (plus
`details` for request validation), built by `error_body` and nowhere else, whether a
route raised it, FastAPI refused the request, or a middleware answered before the app.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from qa import errors
from qa.api.security import WWW_AUTHENTICATE

log = logging.getLogger(__name__)

#: HTTP status per error class; a class not listed takes its nearest listed ancestor's.
STATUS: dict[type[errors.QAError], int] = {
    errors.QAError: 400,
    errors.ModelError: 503,
    errors.RerankerError: 503,
    errors.ReaderError: 503,
    errors.ServiceUnavailableError: 503,
    errors.IndexError_: 503,
    errors.IndexBusyError: 409,
    errors.StorageFullError: 507,
    errors.DocumentNotFoundError: 404,
    errors.InvalidDocumentError: 422,
    errors.InvalidFilterError: 422,
    errors.CorpusSyncError: 503,
    errors.DocIdClashError: 409,
    errors.UnsupportedMediaTypeError: 415,
    errors.FileTooLargeError: 413,
    errors.InvalidSpanError: 400,
    errors.RenderError: 503,
    errors.UnauthorizedError: 401,
    errors.WritesDisabledError: 403,
    errors.ForbiddenError: 403,
    errors.CollectionNotFoundError: 404,
}

#: Every 401 names the scheme to use (RFC 9110).
UNAUTHORIZED_HEADERS = {"WWW-Authenticate": WWW_AUTHENTICATE}


def status_of(exc: errors.QAError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def error_body(
    code: str, message: str, details: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"error": code, "message": message}
    if details is not None:
        body["details"] = details
    return body


def error_response(
    status: int,
    code: str,
    message: str,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


def domain_error_response(exc: errors.QAError) -> JSONResponse:
    status = status_of(exc)
    headers = UNAUTHORIZED_HEADERS if status == 401 else None
    return error_response(status, exc.code, exc.message, headers=headers)


def validation_message(errors_: list[dict[str, Any]]) -> str:
    parts = []
    for err in errors_:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        parts.append(f"{where}: {msg}")
    return "; ".join(parts) or "the request is not valid"


def _http_message(exc: StarletteHTTPException) -> str:
    message = exc.detail if isinstance(exc.detail, str) else "request failed"
    if exc.status_code == 404 and message == "Not Found":
        return "no such endpoint: see /docs for the API"
    if exc.status_code == 400 and message == "There was an error parsing the body":
        return (
            "the request body could not be read as UTF-8 JSON: send a JSON object "
            'such as {"question": "..."}'
        )
    if exc.status_code == 405:
        return "this endpoint does not accept that method: see /docs for the API"
    return message


def note_error(request: Request, code: str, message: str) -> None:
    """Keep what went wrong on the request, for its access-log record and the metrics
    (`qa.api.middleware.RequestRecord`)."""
    request.state.error_code = code
    request.state.error_message = message


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(errors.QAError)
    async def qa_error(request: Request, exc: errors.QAError) -> JSONResponse:
        note_error(request, exc.code, exc.message)
        return domain_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {
                "loc": list(e.get("loc", ())),
                "msg": str(e.get("msg", "")).removeprefix("Value error, "),
                "type": e.get("type"),
            }
            for e in exc.errors()
        ]
        note_error(request, "invalid_request", validation_message(details))
        return error_response(422, "invalid_request", validation_message(details), details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        note_error(request, "http_error", _http_message(exc))
        return error_response(exc.status_code, "http_error", _http_message(exc))

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return error_response(
            500, "internal_error", "the server failed to handle this request; the log has details"
        )
