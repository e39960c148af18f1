"""Request and response schemas of the HTTP API, apart from the domain types, and the
functions that shape domain results into them. Every input is bounded here."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from qa.ingest.corpus import MAX_METADATA_DEPTH
from qa.ingest.doc_rules import (
    DOC_ID_PATTERN,
    DOC_ID_RULES,
    MAX_DOC_ID_CHARS,
    MAX_METADATA_KEYS,
    MAX_TEXT_CHARS,
    MAX_TITLE_CHARS,
    doc_id_problem,
    metadata_problem,
)
from qa.ingest.formats import supported_suffixes
from qa.types import Answer, AskResult, Citation, Document, Passage

FilterScalar = Annotated[str, Field(max_length=500)] | int | float | bool
FilterValue = FilterScalar | Annotated[list[FilterScalar], Field(min_length=1, max_length=100)]


# ----- reads ------------------------------------------------------------------------------


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: Annotated[
        str,
        Field(
            min_length=1,
            description="The question, 1 to QA_MAX_QUESTION_CHARS (default 2000) characters.",
        ),
    ]
    # Strict: JSON's true is not the number 1 (pydantic would take it as one otherwise).
    k: Annotated[
        int, Field(ge=1, le=50, strict=True, description="How many passages to return.")
    ] = 5
    filters: Annotated[
        dict[str, FilterValue] | None,
        Field(
            max_length=20,
            description="Only answer from matching documents: date_from / date_to (ISO "
            "dates, on metadata.date), title (substring), doc_id, or any metadata field "
            "equal to a value (or one of a list of values).",
            examples=[{"source": "Rudaw"}, {"date_from": "2020-01-01", "date_to": "2020-12-31"}],
        ),
    ] = None
    max_per_document: Annotated[
        int | None,
        Field(ge=1, le=50, strict=True, description="At most this many passages per document."),
    ] = None

    @field_validator("question")
    @classmethod
    def _trimmed_length(cls, value: str) -> str:
        value = value.strip()
        if any("\ud800" <= c <= "\udfff" for c in value):
            # JSON allows lone surrogates; they cannot be encoded back, so refuse them here.
            raise ValueError("contains an unpaired surrogate (\\ud800-\\udfff): send valid Unicode")
        if not value:
            raise ValueError("must not be empty: send some text to ask about")
        # The length limit is a setting (QA_MAX_QUESTION_CHARS): the route checks it.
        return value


class ScoresOut(BaseModel):
    dense: float
    lexical: float | None
    fused: float
    rerank: float | None = Field(
        default=None,
        description="The reranker's probability that the passage answers (QA_RERANKER), "
        "which then decides the order; null without a reranker.",
    )


class CitationOut(BaseModel):
    doc_id: str
    title: str
    start: int = Field(description="offset into that document's text, [start, end)")
    end: int
    page: int | None = Field(description="The 1-based page where it starts, or null.")
    section: str | None = Field(description="The heading it sits under, or null.")
    heading_path: list[str] = Field(description="Every heading it sits under, outermost first.")


class PassageOut(BaseModel):
    rank: int
    score: float
    text: str
    doc_id: str
    title: str
    start: int
    end: int
    metadata: dict[str, Any]
    scores: ScoresOut
    page: int | None = Field(
        description="The 1-based page where the passage starts (PDF); null without pages."
    )
    section: str | None = Field(description="The heading the passage sits under, or null.")
    heading_path: list[str] = Field(
        default_factory=list,
        description="Every heading the passage sits under, outermost first.",
    )
    also_in: list[CitationOut] = Field(
        default_factory=list,
        description="Other sources whose text is the same or nearly so (the same chapter "
        "as PDF and HTML, two versions of a file), each cited exactly; the passage is "
        "listed once, at the best rank of them.",
    )


class ShortAnswerOut(BaseModel):
    text: str = Field(description="the words that answer a factoid question")
    start: int = Field(description="offset into the document text; text == doc[start:end]")
    end: int


class AnswerOut(BaseModel):
    text: str
    doc_id: str
    start: int
    end: int
    confidence: float
    page: int | None = Field(description="The 1-based page where the answer starts, or null.")
    section: str | None = Field(description="The heading the answer sits under, or null.")
    short: ShortAnswerOut | None = Field(
        default=None,
        description="inside the answer sentence, for questions after a number, date, "
        "person or place; null otherwise",
    )


class AskResponse(BaseModel):
    question: str
    answerable: bool
    confidence: float = Field(
        ge=0.0,
        le=1.0,
        description="the probability that the answer is right; given also when the service "
        "abstains (then below its threshold), so a client may apply its own",
    )
    answer: AnswerOut | None
    withheld: AnswerOut | None = Field(
        default=None,
        description="when the service abstains, the answer it would have given (its "
        "confidence is the reply's), for a client that applies a lower threshold of its "
        "own; null when it answers",
    )
    passages: list[PassageOut]
    request_id: str | None = Field(
        default=None,
        description="This reply's request id (also its X-Request-ID header): send it with "
        "feedback on the answer (POST /feedback)",
    )


class DocumentSummary(BaseModel):
    doc_id: str
    title: str
    metadata: dict[str, Any]


class PageOut(BaseModel):
    page: int
    start: int
    end: int


class DocumentOut(DocumentSummary):
    text: str
    format: str = Field(
        description="What the text was read from: markdown, text, pdf, html, docx, pptx, "
        "xlsx, csv, tsv, epub, eml."
    )
    pages: list[PageOut] | None = Field(
        default=None,
        description="Paged documents (PDF): where each page lies in `text`, [start, end).",
    )


class DocumentList(BaseModel):
    documents: list[DocumentSummary]


class HealthOut(BaseModel):
    status: str
    documents: int | None = Field(
        description="null on a server with collections: GET /collections gives each one's"
    )
    chunks: int | None
    model: str
    version: str
    writes: bool = Field(
        description="Whether POST and DELETE /documents are enabled (QA_API_KEY is set)."
    )
    reranker: str | None = Field(
        default=None, description="The loaded reranker's folder name (QA_RERANKER), or null."
    )
    reader: str | None = Field(
        default=None, description="The loaded reader's folder name (QA_READER), or null."
    )


class ErrorOut(BaseModel):
    error: str
    message: str
    details: list[dict[str, Any]] | None = None


READ_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (400, 404, 409, 413, 422, 503)
}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (400, 401, 403, 404, 409, 413, 415, 422, 503, 507)
}


# ----- writes -----------------------------------------------------------------------------


class DocumentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    doc_id: Annotated[
        str,
        Field(
            min_length=1,
            max_length=MAX_DOC_ID_CHARS,
            description=DOC_ID_RULES,
            examples=["notes/meeting-2024-05-02.md"],
            # In the schema only: the validator below gives clearer messages than a pattern.
            json_schema_extra={"pattern": DOC_ID_PATTERN},
        ),
    ]
    title: Annotated[
        str | None,
        Field(max_length=MAX_TITLE_CHARS, description="Defaults to the file name, tidied."),
    ] = None
    text: Annotated[
        str,
        Field(
            min_length=1,
            max_length=MAX_TEXT_CHARS,
            description="The document text; citations index into it exactly.",
        ),
    ]
    metadata: Annotated[
        dict[str, Any],
        Field(
            description=f"JSON values, at most {MAX_METADATA_KEYS} keys and "
            f"{MAX_METADATA_DEPTH} levels deep; no 'title' key (use title)."
        ),
    ] = {}

    @field_validator("doc_id")
    @classmethod
    def _doc_id(cls, value: str) -> str:
        problem = doc_id_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("text")
    @classmethod
    def _text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text is empty: send the document's text")
        return value

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, value: dict[str, Any]) -> dict[str, Any]:
        problem = metadata_problem(value)
        if problem:
            raise ValueError(problem)
        return value


class IngestOut(BaseModel):
    doc_id: str
    title: str
    chunks: int = Field(description="How many passages the document was split into.")
    status: Literal["created", "replaced", "unchanged"]
    documents: int = Field(description="Documents in the index now.")


class DeleteOut(BaseModel):
    doc_id: str
    deleted: bool
    documents: int = Field(description="Documents in the index now.")


UPLOAD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["file"],
    "additionalProperties": False,
    "properties": {
        "file": {
            "type": "string",
            "format": "binary",
            "description": "A UTF-8 .md or .txt file (YAML front matter gives title and "
            f"metadata), or a file of another format qa reads ({supported_suffixes()}), "
            "read for its text and layout.",
        },
        "doc_id": {
            "type": "string",
            "maxLength": MAX_DOC_ID_CHARS,
            "pattern": DOC_ID_PATTERN,
            "description": "Defaults to the file's name. " + DOC_ID_RULES,
        },
    },
}


# ----- shaping ----------------------------------------------------------------------------


def passage_out(p: Passage) -> PassageOut:
    c = p.chunk
    return PassageOut(
        rank=p.rank,
        score=p.score,
        text=c.text,
        doc_id=c.doc_id,
        title=p.title,
        start=c.start,
        end=c.end,
        metadata=dict(p.metadata),
        scores=ScoresOut(
            dense=p.scores.dense,
            lexical=p.scores.lexical,
            fused=p.scores.fused,
            rerank=p.scores.rerank,
        ),
        page=p.page,
        section=p.section,
        heading_path=list(p.heading_path),
        also_in=[citation_out(c) for c in p.also_in],
    )


def citation_out(c: Citation) -> CitationOut:
    return CitationOut(
        doc_id=c.chunk.doc_id,
        title=c.title,
        start=c.chunk.start,
        end=c.chunk.end,
        page=c.page,
        section=c.section,
        heading_path=list(c.heading_path),
    )


def answer_out(a: Answer | None) -> AnswerOut | None:
    if a is None:
        return None
    short = None if a.short is None else ShortAnswerOut(**asdict(a.short))
    return AnswerOut(
        text=a.text,
        doc_id=a.doc_id,
        start=a.start,
        end=a.end,
        confidence=a.confidence,
        page=a.page,
        section=a.section,
        short=short,
    )


def ask_response(result: AskResult, *, request_id: str | None = None) -> AskResponse:
    return AskResponse(
        request_id=request_id,
        question=result.question,
        answerable=result.answerable,
        confidence=result.confidence,
        answer=answer_out(result.answer),
        withheld=answer_out(result.withheld),
        passages=[passage_out(p) for p in result.passages],
    )


_ASK_JSON: TypeAdapter[AskResponse] = TypeAdapter(AskResponse)


def ask_json(result: AskResult, *, request_id: str | None = None) -> bytes:
    """The /ask body, serialised once: the very bytes FastAPI's own response-model path
    writes (pydantic's dump_json of AskResponse), without validating the model a second
    time on the way out."""
    return _ASK_JSON.dump_json(ask_response(result, request_id=request_id), by_alias=True)


def summary_out(d: Document) -> DocumentSummary:
    return DocumentSummary(doc_id=d.doc_id, title=d.title, metadata=dict(d.metadata))


def document_out(d: Document) -> DocumentOut:
    pages = [PageOut(page=p.page, start=p.start, end=p.end) for p in d.pages] or None
    return DocumentOut(
        doc_id=d.doc_id,
        title=d.title,
        metadata=dict(d.metadata),
        text=d.text,
        format=d.format,
        pages=pages,
    )
