"""The real app over the real model and a real FAISS index, through TestClient."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from qa.answer.selection import AnswerSettings
from qa.api import create_app
from qa.api.schemas import AskResponse
from qa.config import Settings
from tests.conftest import DENMARK_DOC, DENMARK_QUESTION

pytestmark = pytest.mark.slow


def test_the_denmark_question_cites_the_denmark_passage_exactly(client: TestClient) -> None:
    r = client.post("/ask", json={"question": DENMARK_QUESTION})
    assert r.status_code == 200
    body = r.json()
    assert body["answerable"] is True
    assert len(body["passages"]) == 5
    first = body["passages"][0]
    assert first["doc_id"] == DENMARK_DOC and first["rank"] == 1
    assert "Denmark offered" in first["text"]
    assert "Denmark offered" in body["answer"]["text"]
    assert 0.0 <= body["answer"]["confidence"] <= 1.0
    texts: dict[str, str] = {}
    for p in body["passages"]:
        doc = texts.setdefault(p["doc_id"], client.get(f"/documents/{p['doc_id']}").json()["text"])
        assert doc[p["start"] : p["end"]] == p["text"]
        assert set(p["scores"]) == {"dense", "lexical", "fused", "rerank"}
        assert p["score"] == p["scores"]["fused"] and p["scores"]["rerank"] is None  # no reranker
    a = body["answer"]
    assert texts[a["doc_id"]][a["start"] : a["end"]] == a["text"]
    assert body["withheld"] is None  # it answered: nothing withheld


def test_an_off_topic_question_abstains_but_still_lists_passages(client: TestClient) -> None:
    body = client.post("/ask", json={"question": "How do I bake sourdough bread?", "k": 3}).json()
    assert body["answerable"] is False and body["answer"] is None
    assert len(body["passages"]) == 3
    # The confidence comes also with an abstention, below the service's threshold, and
    # so does the answer it withheld, cited like a given one, for a client's own threshold.
    assert 0.0 <= body["confidence"] < AnswerSettings().calibration.threshold
    held = body["withheld"]
    assert held["confidence"] == body["confidence"]
    doc = client.get(f"/documents/{held['doc_id']}").json()["text"]
    assert doc[held["start"] : held["end"]] == held["text"]


def test_a_factoid_question_gets_a_short_answer_inside_its_sentence(client: TestClient) -> None:
    question = "How many soldiers does Lithuania deploy to the Global Coalition against Daesh?"
    body = client.post("/ask", json={"question": question}).json()
    a = body["answer"]
    assert body["confidence"] == a["confidence"] and 0.0 < body["confidence"] <= 1.0
    assert a["short"]["text"] == "30" and "30 soldiers" in a["text"]
    doc = client.get(f"/documents/{a['doc_id']}").json()["text"]
    short = a["short"]
    assert doc[short["start"] : short["end"]] == "30"
    assert a["start"] <= short["start"] < short["end"] <= a["end"]
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    assert "confidence" in schema["AskResponse"]["required"]
    assert set(schema["ShortAnswerOut"]["properties"]) == {"text", "start", "end"}


def test_documents_list_and_detail(client: TestClient) -> None:
    listing = client.get("/documents").json()["documents"]
    assert [d["doc_id"] for d in listing] == sorted(d["doc_id"] for d in listing)
    assert {d["doc_id"] for d in listing} >= {DENMARK_DOC}
    detail = client.get(f"/documents/{DENMARK_DOC}").json()
    assert detail["title"] == "Denmark to send additional 285 military personnel to Iraq"
    assert detail["metadata"] == {"source": "Rudaw"}
    assert detail["text"].startswith("In its capacity with the NATO mission")


def test_health_reports_counts_and_model(client: TestClient) -> None:
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["documents"] == 3 and body["chunks"] >= 3
    assert body["model"] == "all-MiniLM-L6-v2"
    assert body["writes"] is False  # no QA_API_KEY: the chat page hides its Add button


@pytest.mark.parametrize(
    ("payload", "status", "fragment"),
    [
        ({"question": "   "}, 422, "question: must not be empty"),
        (
            {"question": "x" * 2001},
            422,
            "question: is 2001 characters long: shorten it to at most 2000",
        ),
        ({"question": "ok", "k": 0}, 422, "k: Input should be greater than or equal to 1"),
        ({"question": "ok", "k": 51}, 422, "k: Input should be less than or equal to 50"),
        ({"question": "ok", "k": "five"}, 422, "k: Input should be a valid integer"),
        # JSON's true and "5" are not numbers (the schema fuzzer found true taken as 1).
        ({"question": "ok", "k": True}, 422, "k: Input should be a valid integer"),
        ({"question": "ok", "k": "5"}, 422, "k: Input should be a valid integer"),
        (
            {"question": "ok", "max_per_document": True},
            422,
            "max_per_document: Input should be a valid integer",
        ),
        ({"question": 42}, 422, "question: Input should be a valid string"),
        ({}, 422, "question: Field required"),
        ({"question": "ok", "colour": "red"}, 422, "colour: Extra inputs are not permitted"),
    ],
)
def test_bad_requests_get_a_json_message(
    client: TestClient, payload: object, status: int, fragment: str
) -> None:
    r = client.post("/ask", json=payload)
    assert r.status_code == status
    body = r.json()
    assert body["error"] == "invalid_request"
    assert fragment in body["message"]


def test_question_is_trimmed_before_its_length_is_checked(client: TestClient) -> None:
    r = client.post("/ask", json={"question": "  " + "why " * 499 + "   ", "k": 1})
    assert r.status_code == 200
    assert r.json()["question"] == ("why " * 499).strip()


def test_malformed_json_and_unknown_routes(client: TestClient) -> None:
    r = client.post("/ask", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and "JSON" in r.json()["message"]
    r = client.get("/documents/no-such.md")
    assert r.status_code == 404 and "GET /documents lists the ids" in r.json()["message"]
    assert client.get("/nope").json()["error"] == "http_error"
    assert client.get("/ask").status_code == 405


def test_unloadable_index_gives_503_with_the_fix(tmp_path: Path) -> None:
    app = create_app(Settings(index_dir=tmp_path / "missing"))
    with TestClient(app) as c:
        for r in (c.post("/ask", json={"question": "hi"}), c.get("/health"), c.get("/documents")):
            assert r.status_code == 503
            assert "run `qa index`" in r.json()["message"]


def test_openapi_documents_the_endpoints(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/ask", "/documents", "/documents/{doc_id}", "/health"} <= set(paths)
    assert client.get("/docs").status_code == 200
    ok = paths["/ask"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/AskResponse"}


def test_the_ask_body_is_the_response_models_own_json(client: TestClient) -> None:
    # Serialised by the route itself: byte for byte what the response model would write.
    r = client.post("/ask", json={"question": DENMARK_QUESTION, "k": 3})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.content == AskResponse.model_validate_json(r.content).model_dump_json().encode()
    assert int(r.headers["content-length"]) == len(r.content)


def test_the_question_length_limit_is_the_setting(service: object) -> None:
    app = create_app(Settings(max_question_chars=40), service_factory=lambda: service)  # type: ignore[arg-type,return-value]
    with TestClient(app) as c:
        assert c.post("/ask", json={"question": "x" * 40, "k": 1}).status_code == 200
        r = c.post("/ask", json={"question": "  " + "x" * 41})
    assert r.status_code == 422
    assert r.json() == {
        "error": "invalid_request",
        "message": "question: is 41 characters long: shorten it to at most 40",
        "details": [
            {
                "loc": ["body", "question"],
                "msg": "is 41 characters long: shorten it to at most 40",
                "type": "value_error",
            }
        ],
    }
