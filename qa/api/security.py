"""The API key rules, as plain functions: what a request must present, compared safely.

The HTTP edge applies them (`qa.api.middleware` for reads, the write routes' dependency
for writes); nothing here knows about HTTP beyond the `Authorization` header's text.
"""

from __future__ import annotations

import hashlib
import hmac

from qa.errors import UnauthorizedError, WritesDisabledError

#: Sent with every 401 so that clients know which scheme to use (RFC 9110).
WWW_AUTHENTICATE = 'Bearer realm="qa"'
#: Paths that stay open even when QA_REQUIRE_KEY_FOR_READS is set: the liveness
#: probe, the API description and the chat page's static shell (which holds no data).
OPEN_PATHS = frozenset(
    {"/health", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json", "/"}
)
OPEN_PREFIXES = ("/static/",)


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
