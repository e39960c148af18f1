"""Pure ASGI middleware: request ids and the access log, the read key, request body
limits and the worker header.

Pure ASGI, not route dependencies, so that the limits hold for every route, the chat
page and the OpenAPI docs alike, and so that an oversized or unauthorised request is
answered before its body is read into memory.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qa.api.errors import UNAUTHORIZED_HEADERS, error_response
from qa.api.security import check_key, is_open_path
from qa.errors import UnauthorizedError
from qa.service import AskTrace, ask_trace

WORKER_HEADER = "X-QA-Worker"
REQUEST_ID_HEADER = "X-Request-ID"
#: A client's request id is kept when it is this sane: printable, short, and nothing a
#: log line or a header could be broken with.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
#: The route label of a request that matched no route (never the raw path: unbounded).
UNMATCHED = "unmatched"
MAX_NAME_CHARS = 128
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
access_log = logging.getLogger("qa.access")


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of a request header, decoded as latin-1 like every ASGI server does."""
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


class ReadKeyMiddleware:
    """Every route but the open ones needs the key (QA_REQUIRE_KEY_FOR_READS); `own_keys`
    are paths that check a key of their own (/metrics with QA_METRICS_KEY)."""

    def __init__(
        self, app: ASGIApp, *, api_key: str, own_keys: frozenset[str] = frozenset()
    ) -> None:
        self.app = app
        self.api_key = api_key
        self.own_keys = own_keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] == "http" and not is_open_path(path) and path not in self.own_keys:
            try:
                check_key(self.api_key, header(scope, b"authorization"))
            except UnauthorizedError as exc:
                response = error_response(401, exc.code, exc.message, headers=UNAUTHORIZED_HEADERS)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """413 for a body over the limit: at once from Content-Length, or while counting the
    bytes of a chunked body. The body is read here, within the limit, and replayed to the
    app, so no route can be made to buffer more than the limit."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes

    def limit_for(self, scope: Scope) -> tuple[int, str]:
        content_type = (header(scope, b"content-type") or "").lower()
        if content_type.startswith("multipart/form-data"):
            return self.max_upload_bytes, "QA_MAX_UPLOAD_BYTES"
        return self.max_body_bytes, "QA_MAX_BODY_BYTES"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, setting = self.limit_for(scope)
        declared = header(scope, b"content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                response = error_response(400, "invalid_request", "Content-Length is not a number")
                await response(scope, receive, send)
                return
            if int(declared) > limit:
                await _too_large(f"is {int(declared)} bytes", limit, setting)(scope, receive, send)
                return
        body, state = await _read_body(receive, limit)
        if state == "too_large":
            await _too_large("is larger than that", limit, setting)(scope, receive, send)
            return
        if state == "disconnected":
            return  # the client has gone; there is nobody to answer
        await self.app(scope, _replay(body, receive), send)


def _too_large(size: str, limit: int, setting: str) -> ASGIApp:
    return error_response(
        413,
        "request_too_large",
        f"the request body {size}; this server accepts at most {limit} bytes ({setting}): "
        "send a smaller body",
    )


async def _read_body(receive: Receive, limit: int) -> tuple[bytes, str]:
    """The whole body, or ('', 'too_large') as soon as it passes `limit`."""
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"", "disconnected"
        chunk = bytes(message.get("body", b""))
        size += len(chunk)
        if size > limit:
            return b"", "too_large"
        parts.append(chunk)
        if not message.get("more_body", False):
            return b"".join(parts), "ok"


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the buffered body once, then defers to the server's."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replay


class WorkerHeaderMiddleware:
    """Adds `X-QA-Worker: <pid>` to every HTTP response, so that clients and tests can
    tell the worker processes apart."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_worker(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append(WORKER_HEADER, str(os.getpid()))
            await send(message)

        await self.app(scope, receive, send_with_worker)


# ----- request ids, the access log and what the metrics observe ---------------------------


@dataclass(frozen=True)
class RequestRecord:
    """One finished request, as the access log and the metrics see it."""

    request_id: str
    method: str  # one of _METHODS, or OTHER
    route: str  # the matched route's template, or UNMATCHED
    collection: str | None  # the route's {name}, when it has one
    status: int
    seconds: float
    trace: AskTrace  # the stages of the question it asked, if any
    error_code: str | None  # the `error` of its JSON error body, when an app handler set one
    error_message: str | None
    question: str | None  # only with QA_LOG_QUESTIONS


def request_id_of(scope: Scope) -> str:
    """The client's X-Request-ID when it is sane, a new random one otherwise."""
    given = header(scope, REQUEST_ID_HEADER.lower().encode())
    if given is not None and SANE_REQUEST_ID.fullmatch(given):
        return given
    return uuid.uuid4().hex


def route_template(scope: Scope) -> str:
    """The template of the route that matched (`/collections/{name}/documents/{doc_id:path}`),
    never the path."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return UNMATCHED
    if isinstance(route, Mount):
        return f"{path}/{{path}}"
    # A route of a router included with a prefix keeps its own path; FastAPI keeps the
    # whole template (prefix included) in the context of the route it matched.
    context = scope.get("fastapi", {}).get("effective_route_context")
    full = getattr(context, "path", None)
    if getattr(context, "original_route", None) is route and isinstance(full, str) and full:
        return full
    return path or "/"


def collection_of(scope: Scope, route: str) -> str | None:
    """The collection a route is about: its `{name}` path parameter, when it has one."""
    if "{name}" not in route and "{name:" not in route:
        return None
    name = scope.get("path_params", {}).get("name")
    # The client's text: bounded, since no collection name is longer.
    return name[:MAX_NAME_CHARS] if isinstance(name, str) else None


class RequestContextMiddleware:
    """Outermost: gives every request an id (`request.state.request_id`, and the
    X-Request-ID header of every response, errors and static files included), opens the
    request's ask trace, writes one JSON access-log line and hands the record to the
    observers (the metrics)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        log_questions: bool = False,
        observers: Sequence[Callable[[RequestRecord], None]] = (),
    ) -> None:
        self.app = app
        self.log_questions = log_questions
        self.observers = tuple(observers)
        _ensure_access_handler()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_of(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        status: list[int] = []  # the status sent, once the response has started
        body: list[bytes] = []

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        async def receive_copy() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                body.append(bytes(message.get("body", b"")))
            return message

        # Only a question's body is kept (never an upload's), and only when it is logged.
        keep_body = (
            self.log_questions
            and scope.get("method") == "POST"
            and str(scope.get("path", "")).endswith("/ask")
        )
        trace = AskTrace()
        token = ask_trace.set(trace)
        try:
            await self.app(scope, receive_copy if keep_body else receive, send_with_id)
        except Exception:
            # Answered here, not by the server's last-resort handler outside, so that
            # even a 500 carries the request id; raised on for the server to log.
            if not status:
                await _internal_error()(scope, receive, send_with_id)
            raise
        finally:
            ask_trace.reset(token)
            code = status[0] if status else 499  # no answer sent: the client went away
            self._emit(self._record(scope, request_id, code, started, trace, b"".join(body)))

    def _record(
        self,
        scope: Scope,
        request_id: str,
        status: int,
        started: float,
        trace: AskTrace,
        body: bytes,
    ) -> RequestRecord:
        route = route_template(scope)
        state: dict[str, Any] = scope.get("state", {})
        method = str(scope.get("method", "")).upper()
        return RequestRecord(
            request_id=request_id,
            method=method if method in _METHODS else "OTHER",
            route=route,
            collection=collection_of(scope, route),
            status=status,
            seconds=time.perf_counter() - started,
            trace=trace,
            error_code=state.get("error_code"),
            error_message=state.get("error_message"),
            question=_question(body) if body and route.endswith("/ask") else None,
        )

    def _emit(self, record: RequestRecord) -> None:
        access_log.info(access_line(record))
        for observe in self.observers:
            try:
                observe(record)
            except Exception:  # a broken observer must not break the request
                logging.getLogger(__name__).exception("a request observer failed")


def access_line(record: RequestRecord) -> str:
    """The JSON access-log line of a request: never a header, a key or (unless asked for)
    the question."""
    line: dict[str, Any] = {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "id": record.request_id,
        "method": record.method,
        "route": record.route,
        "collection": record.collection,
        "status": record.status,
        "ms": round(record.seconds * 1000, 1),
    }
    if record.question is not None:
        line["question"] = record.question
    return json.dumps(line, ensure_ascii=False)


def _question(body: bytes) -> str | None:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    question = data.get("question") if isinstance(data, dict) else None
    return question if isinstance(question, str) else None


def _internal_error() -> ASGIApp:
    return error_response(
        500, "internal_error", "the server failed to handle this request; the log has details"
    )


class _StderrHandler(logging.Handler):
    """Writes to whatever sys.stderr is when a line is written (test runners swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:
            self.handleError(record)


def _ensure_access_handler() -> None:
    """One JSON line per request on stderr, whatever the root logger is set to."""
    if not any(isinstance(h, _StderrHandler) for h in access_log.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        access_log.addHandler(handler)
    access_log.setLevel(logging.INFO)
    access_log.propagate = False
