"""Pure ASGI middleware: the read key, request body limits and the worker header.

Pure ASGI, not route dependencies, so that the limits hold for every route, the chat
page and the OpenAPI docs alike, and so that an oversized or unauthorised request is
answered before its body is read into memory.
"""

from __future__ import annotations

import os

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qa.api.errors import UNAUTHORIZED_HEADERS, error_response
from qa.api.security import check_key, is_open_path
from qa.errors import UnauthorizedError

WORKER_HEADER = "X-QA-Worker"


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of a request header, decoded as latin-1 like every ASGI server does."""
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


class ReadKeyMiddleware:
    """Every route but the open ones needs the key (QA_REQUIRE_KEY_FOR_READS)."""

    def __init__(self, app: ASGIApp, *, api_key: str) -> None:
        self.app = app
        self.api_key = api_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not is_open_path(str(scope.get("path", ""))):
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
