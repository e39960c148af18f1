"""The API key and request size limits, as plain functions and pure ASGI middleware.

Pure ASGI (no framework import) so that the limits hold for every route, the
chat page and the OpenAPI docs alike, and so that an oversized or unauthorised
request is answered before its body is read into memory.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from qa.errors import QAError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Sent with every 401 so that clients know which scheme to use (RFC 9110).
WWW_AUTHENTICATE = 'Bearer realm="qa"'
#: Paths that stay open even when QA_REQUIRE_KEY_FOR_READS is set: the liveness
#: probe, the API description and the chat page's static shell (which holds no data).
OPEN_PATHS = frozenset(
    {"/health", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json", "/"}
)
OPEN_PREFIXES = ("/static/",)


class UnauthorizedError(QAError):
    """The request needs the API key and did not bring the right one."""

    status_code = 401


class WritesDisabledError(QAError):
    """No API key is configured, so nothing may change the index over HTTP."""

    status_code = 403


# ----- the key ------------------------------------------------------------------------------


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; None when absent or malformed."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def key_matches(presented: str, expected: str) -> bool:
    """Constant-time comparison; hashing first also hides the key's length."""
    a = hashlib.sha256(presented.encode("utf-8", "surrogateescape")).digest()
    b = hashlib.sha256(expected.encode("utf-8", "surrogateescape")).digest()
    return hmac.compare_digest(a, b)


def check_key(expected: str, authorization: str | None) -> None:
    """Raise UnauthorizedError unless `authorization` carries `expected` as a Bearer token."""
    token = bearer_token(authorization)
    if token is None:
        raise UnauthorizedError(
            "this endpoint needs the API key: send it as the header 'Authorization: Bearer <key>'"
        )
    if not key_matches(token, expected):
        raise UnauthorizedError("the API key is not valid: check the key and send it again")


def authorize_write(expected: str | None, authorization: str | None) -> None:
    """Writes need a configured key and a request that presents it."""
    if expected is None:
        raise WritesDisabledError(
            "adding and deleting documents over HTTP is disabled because no API key is set: "
            "start the server with QA_API_KEY=<a long random secret> to enable it, then send "
            "'Authorization: Bearer <key>'"
        )
    check_key(expected, authorization)


def is_open_path(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


# ----- ASGI helpers -------------------------------------------------------------------------


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of a request header, decoded as latin-1 like every ASGI server does."""
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


async def send_error(
    send: Send,
    status: int,
    code: str,
    message: str,
    headers: tuple[tuple[bytes, bytes], ...] = (),
) -> None:
    """A JSON error in the API's shape: {"error": code, "message": message}."""
    body = json.dumps({"error": code, "message": message}).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


# ----- middleware ---------------------------------------------------------------------------


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
                await send_error(
                    send,
                    401,
                    "unauthorized",
                    exc.message,
                    ((b"www-authenticate", WWW_AUTHENTICATE.encode()),),
                )
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
                await send_error(send, 400, "invalid_request", "Content-Length is not a number")
                return
            if int(declared) > limit:
                await _too_large(send, f"is {int(declared)} bytes", limit, setting)
                return
        body, state = await _read_body(receive, limit)
        if state == "too_large":
            await _too_large(send, "is larger than that", limit, setting)
            return
        if state == "disconnected":
            return  # the client has gone; there is nobody to answer
        await self.app(scope, _replay(body, receive), send)


async def _too_large(send: Send, size: str, limit: int, setting: str) -> None:
    await send_error(
        send,
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
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replay
