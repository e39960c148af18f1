"""The one error mapping: every domain error has a public code and a status, and every
error body has one shape, whoever answers (a route, FastAPI, or a middleware)."""

from __future__ import annotations

import inspect
import json

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from qa import errors
from qa.api.errors import STATUS, domain_error_response, install_error_handlers, status_of
from qa.api.middleware import BodyLimitMiddleware

CLASSES = [
    c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, errors.QAError)
]


def test_every_error_class_declares_its_own_public_code() -> None:
    codes = [c.__dict__.get("code") for c in CLASSES]
    assert all(isinstance(code, str) and code for code in codes), codes
    assert len(set(codes)) == len(codes), "two classes share a public code"


@pytest.mark.parametrize(
    ("cls", "status"),
    [
        (errors.QAError, 400),
        (errors.ConfigError, 400),
        (errors.BadRequestError, 400),
        (errors.UnauthorizedError, 401),
        (errors.WritesDisabledError, 403),
        (errors.DocumentNotFoundError, 404),
        (errors.IndexBusyError, 409),
        (errors.DocIdClashError, 409),
        (errors.UnsupportedMediaTypeError, 415),
        (errors.InvalidDocumentError, 422),
        (errors.InvalidFilterError, 422),
        (errors.ModelError, 503),
        (errors.IndexNotFoundError, 503),  # inherits IndexError_'s status
        (errors.IndexCorruptError, 503),
        (errors.CorpusSyncError, 503),
        (errors.ServiceUnavailableError, 503),
        (errors.StorageFullError, 507),
    ],
)
def test_status_of_each_error(cls: type[errors.QAError], status: int) -> None:
    assert status_of(cls("x")) == status


def test_the_mapping_names_only_domain_errors() -> None:
    assert all(issubclass(c, errors.QAError) for c in STATUS)


def test_a_401_names_the_scheme_and_has_the_common_body() -> None:
    r = domain_error_response(errors.UnauthorizedError("send the key"))
    assert r.status_code == 401 and r.headers["www-authenticate"] == 'Bearer realm="qa"'
    assert json.loads(r.body) == {"error": "unauthorized", "message": "send the key"}


def test_a_route_and_a_middleware_send_byte_identical_bodies() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/raise")
    async def boom() -> None:
        raise errors.BadRequestError("the body is not UTF-8")

    app.add_middleware(BodyLimitMiddleware, max_body_bytes=4, max_upload_bytes=4)
    with TestClient(app) as client:
        from_route = client.post("/raise", content=b"ok")
        from_middleware = client.post("/raise", content=b"too long")
    assert from_route.content == b'{"error":"bad_request","message":"the body is not UTF-8"}'
    assert from_middleware.status_code == 413
    assert from_middleware.content.startswith(b'{"error":"request_too_large","message":"the ')
    assert from_middleware.headers["content-type"] == "application/json"
