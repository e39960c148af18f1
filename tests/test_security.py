"""The API key, request size limits and bad input: every refusal is a JSON message that
says what to fix, and the server keeps serving."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from qa.api import create_app, security
from qa.api.security import bearer_token, check_key, key_matches
from qa.config import Settings
from qa.service import QAService
from tests.conftest import AUTH, KEY, FakeEmbedder, seed, serving

DOC = {"doc_id": "a.md", "text": "Some text."}


def test_bearer_parsing_and_constant_time_comparison(monkeypatch: pytest.MonkeyPatch) -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer   abc  ") == "abc"
    assert bearer_token("Basic abc") is None and bearer_token("Bearer") is None
    assert bearer_token(None) is None
    calls: list[tuple[bytes, bytes]] = []
    real = security.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(security.hmac, "compare_digest", spy)
    assert key_matches("secret", "secret") and not key_matches("secret", "secreT")
    assert not key_matches("s", "a much longer key")
    # Digests of equal length whatever the key lengths: the comparison leaks neither.
    assert len(calls) == 3 and all(len(a) == len(b) == 32 for a, b in calls)
    check_key("k", "Bearer k")


def test_writes_are_disabled_without_a_configured_key(
    tmp_path: Path, fake_embedder: FakeEmbedder
) -> None:
    for key in (None, ""):
        settings = seed(tmp_path / str(key), fake_embedder, api_key=key)
        with serving(settings, fake_embedder) as client:
            for r in (
                client.post("/documents", json=DOC, headers=AUTH),
                client.delete("/documents/alpha.md", headers=AUTH),
            ):
                assert r.status_code == 403, r.text
                assert r.json()["error"] == "writes_disabled"
                assert "QA_API_KEY" in r.json()["message"]
            assert client.get("/documents").status_code == 200


@pytest.mark.parametrize(
    ("headers", "fragment"),
    [
        ({}, "needs the API key"),
        ({"Authorization": "Bearer wrong"}, "not valid"),
        ({"Authorization": f"Basic {KEY}"}, "Authorization: Bearer <key>"),
        ({"Authorization": f"Bearer {KEY}x"}, "not valid"),
    ],
)
def test_a_missing_or_wrong_key_is_a_401_with_a_challenge(
    api: TestClient, headers: dict[str, str], fragment: str
) -> None:
    for r in (
        api.post("/documents", json=DOC, headers=headers),
        api.post("/documents", content=b"{broken", headers=headers),  # auth comes first
        api.delete("/documents/alpha.md", headers=headers),
    ):
        assert r.status_code == 401, r.text
        assert r.headers["www-authenticate"] == 'Bearer realm="qa"'
        assert r.json()["error"] == "unauthorized" and fragment in r.json()["message"]
    assert api.get("/documents/alpha.md").status_code == 200
    assert api.post("/documents", json=DOC, headers=AUTH).status_code == 201


def test_reads_can_require_the_key_too(
    fake_settings: Settings, fake_embedder: FakeEmbedder
) -> None:
    settings = fake_settings.model_copy(update={"require_key_for_reads": True})
    with serving(settings, fake_embedder) as client:
        for method, path in (
            ("POST", "/ask"),
            ("GET", "/documents"),
            ("GET", "/documents/alpha.md"),
            ("POST", "/documents"),
        ):
            r = client.request(method, path, json={"question": "Denmark?"})
            assert r.status_code == 401, (path, r.text)
            assert r.headers["www-authenticate"] == 'Bearer realm="qa"'
            assert "Authorization: Bearer" in r.json()["message"]
        assert client.post("/ask", json={"question": "Denmark?"}, headers=AUTH).status_code == 200
        assert client.get("/documents", headers=AUTH).status_code == 200
        # Liveness, the API description and the page shell stay open: they hold no data.
        for path in ("/health", "/openapi.json", "/docs"):
            assert client.get(path).status_code == 200, path
        assert client.get("/health").json()["writes"] is True  # a key is set: writes are on


def test_reads_needing_a_key_need_a_key_configured() -> None:
    with pytest.raises(ValidationError, match="QA_REQUIRE_KEY_FOR_READS is set but QA_API_KEY"):
        Settings(require_key_for_reads=True)


def test_the_key_comes_from_the_environment_and_stays_out_of_repr(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QA_API_KEY", "from-env-secret")
    settings = Settings()
    assert settings.api_key == "from-env-secret"
    assert "from-env-secret" not in repr(settings)


# ----- size limits -----------------------------------------------------------------------------


@pytest.fixture
def small_limits(fake_settings: Settings, fake_embedder: FakeEmbedder) -> Iterator[TestClient]:
    settings = fake_settings.model_copy(update={"max_body_bytes": 2048, "max_upload_bytes": 8192})
    with serving(settings, fake_embedder) as client:
        yield client


def test_a_declared_oversized_body_is_a_413(small_limits: TestClient) -> None:
    big = {"question": "x" * 3000}
    r = small_limits.post("/ask", json=big)
    assert r.status_code == 413
    body = r.json()
    assert body["error"] == "request_too_large"
    assert "at most 2048 bytes (QA_MAX_BODY_BYTES)" in body["message"]
    r = small_limits.post("/documents", json={**DOC, "text": "y" * 3000}, headers=AUTH)
    assert r.status_code == 413
    assert small_limits.get("/health").status_code == 200


def test_a_chunked_body_is_counted_as_it_streams(small_limits: TestClient) -> None:
    def chunks(n: int) -> Iterator[bytes]:
        yield b'{"question": "'
        for _ in range(n):
            yield b"why " * 64
        yield b'"}'

    r = small_limits.post("/ask", content=chunks(20), headers={"content-type": "application/json"})
    assert r.status_code == 413 and "larger than that" in r.json()["message"]
    ok = small_limits.post("/ask", content=chunks(2), headers={"content-type": "application/json"})
    assert ok.status_code == 200, ok.text


def test_uploads_have_their_own_larger_limit(small_limits: TestClient) -> None:
    text = b"Upload text. " * 300  # ~3.9 kB: over the JSON limit, under the upload limit
    r = small_limits.post("/documents", files={"file": ("big.md", text)}, headers=AUTH)
    assert r.status_code == 201, r.text
    r = small_limits.post("/documents", files={"file": ("big.md", text * 3)}, headers=AUTH)
    assert r.status_code == 413 and "QA_MAX_UPLOAD_BYTES" in r.json()["message"]


def test_a_nonsense_content_length_is_a_400(small_limits: TestClient) -> None:
    from qa.api.middleware import BodyLimitMiddleware

    sent: list[dict[str, object]] = []

    async def app(*_: object) -> None:
        raise AssertionError("the app must not be called")

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    import anyio

    middleware = BodyLimitMiddleware(app, max_body_bytes=10, max_upload_bytes=10)
    scope = {"type": "http", "headers": [(b"content-length", b"ten")], "path": "/ask"}
    anyio.run(middleware, scope, receive, send)
    assert sent[0]["status"] == 400 and b"Content-Length" in sent[1]["body"]  # type: ignore[operator]


# ----- bad input to /ask, once more through the whole stack ------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (b'{"question": "ok", "k": 0}', 422, "greater than or equal to 1"),
        (b'{"question": "ok", "k": 51}', 422, "less than or equal to 50"),
        (b'{"question": ["a"]}', 422, "valid string"),
        (b'{"question": "ok", "extra": 1}', 422, "Extra inputs"),
        (b'{"question": "' + b"q" * 2001 + b'"}', 422, "at most 2000"),
        (b"{nope", 422, "JSON"),
        (b'{"question": "\xc3\x28"}', 400, "UTF-8"),
    ],
)
def test_bad_questions_get_a_4xx_that_says_what_to_fix(
    api: TestClient, body: bytes, status: int, fragment: str
) -> None:
    r = api.post("/ask", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    assert fragment in r.json()["message"]
    assert api.post("/ask", json={"question": "Denmark?"}).status_code == 200


def test_a_lone_surrogate_in_a_question_is_a_4xx(
    fake_settings: Settings, fake_embedder: FakeEmbedder
) -> None:
    app = create_app(
        fake_settings,
        service_factory=lambda: QAService.from_settings(fake_settings, fake_embedder),
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        body = b'{"question": "Denmark \\ud800"}'
        r = client.post("/ask", content=body, headers={"content-type": "application/json"})
        assert r.status_code == 422, r.text
