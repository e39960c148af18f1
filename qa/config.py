"""One validated settings object. Environment variables are read here and nowhere else.

Each component takes its own small options object (ChunkSettings, IndexSettings,
RetrievalSettings, ...), and the module that defines one also makes it from Settings
(`chunk_settings`, `index_settings`, ...): config imports no stage, every stage may
import config.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: The packaged model (qa.search.embedding finds its weights in site-packages).
DEFAULT_MODEL = "all-MiniLM-L6-v2"


class Settings(BaseSettings):
    """Every knob of the service, from `QA_*` environment variables or explicit values."""

    model_config = SettingsConfigDict(env_prefix="QA_", extra="ignore", frozen=True)

    corpus_dir: Path = Path("corpus")
    index_dir: Path = Path("index")
    collections: Path | None = Field(
        default=None,
        description="A collections file (YAML): serve several corpora, each with its own "
        "index and keys, under /collections/{name}/ instead of one corpus.",
    )
    model: str = Field(
        default=DEFAULT_MODEL,
        description="'all-MiniLM-L6-v2' (the packaged model), a local sentence-transformers "
        "model directory, or a Hugging Face model name (org/name) in or fetched into the "
        "standard cache.",
    )
    chunk_tokens: int = Field(default=200, ge=16, le=8192)
    chunk_overlap: int = Field(default=20, ge=0)
    batch_size: int = Field(default=32, ge=1, le=1024)
    # bf16 encodes ~2x faster with unchanged retrieval on CPUs that compute it natively
    # (SQuAD slice: hit@5 0.970 either way); "auto" uses it only there.
    precision: Literal["fp32", "bf16", "auto"] = "auto"
    # Micro-batching of concurrent questions in the server; 0 turns it off. No question
    # waits for a window any more (qa.search.batching): any value above 0 only turns it on.
    batch_window_ms: float = Field(default=2.0, ge=0.0, le=100.0)
    max_question_batch: int = Field(default=32, ge=1, le=256)
    retrieval: Literal["hybrid", "dense", "lexical"] = "hybrid"
    fusion: Literal["rrf", "convex"] = "convex"
    # Fusion defaults chosen on the dev halves of eval/suite.json (eval/tune_fusion.py).
    dense_weight: float = Field(default=0.4, ge=0.0, le=1.0)
    # Hybrid convex fusion: the share of a chunk's best sentence in its score (0 turns it off).
    sentence_weight: float = Field(default=0.7, ge=0.0, le=1.0)
    # Hybrid convex fusion: the weight of BM25 over each chunk's title and heading path.
    heading_weight: float = Field(default=0.1, ge=0.0, le=1.0)
    # Hybrid convex fusion: the weight of the best heading-field score among a passage's
    # document's candidates (the document's title as evidence for all its passages).
    document_weight: float = Field(default=0.1, ge=0.0, le=1.0)
    # The longest question /ask and `qa ask` take (after trimming white space).
    max_question_chars: int = Field(default=2000, ge=1, le=100_000)
    # Exact search below this many chunks, an IVF index above (benchmarks/bench_scale.py).
    ann_threshold: int = Field(default=100_000, ge=1000)
    ivf_nprobe: int = Field(default=32, ge=1, le=4096)
    # Live ingestion and its security: qa/live/writer.py and qa/api/.
    api_key: str | None = Field(
        default=None,
        repr=False,  # never in a log line or a traceback
        description="Bearer key for POST and DELETE /documents; unset or empty disables them.",
    )
    require_key_for_reads: bool = Field(
        default=False,
        description="Reads (/ask, /documents) need the key too; /health, the API docs and "
        "the chat page's static files stay open.",
    )
    sync_corpus: bool = Field(
        default=True,
        description="Mirror documents added or deleted over HTTP into corpus_dir, so that "
        "`qa index` keeps them.",
    )
    max_body_bytes: int = Field(default=1 << 20, ge=1024, le=1 << 30)
    max_upload_bytes: int = Field(default=10 << 20, ge=1024, le=1 << 31)
    # Document files (qa/ingest/formats/): `qa index` skips a larger or slower file with its reason.
    max_file_bytes: int = Field(default=50 << 20, ge=1024, le=1 << 32)
    extract_timeout_s: float = Field(default=60.0, gt=0.0, le=3600.0)
    # Scanned PDF pages and images are read by OCR (Tesseract, qa/ingest/formats/ocr.py).
    ocr: bool = Field(
        default=True,
        description="Read scanned PDF pages and images by OCR; off skips them with that reason.",
    )
    ocr_languages: str = Field(
        default="eng",
        pattern=r"^\s*[A-Za-z][A-Za-z0-9_]*(\s*[+,\s]\s*[A-Za-z][A-Za-z0-9_]*)*\s*$",
        description="Tesseract languages OCR reads, joined by '+' ('eng+deu'); each is the "
        "Debian package tesseract-ocr-LANG.",
    )
    # Optional models (qa/search/rerank.py, qa/answer/reader.py): off unless set; a local
    # folder, or a Hugging Face name (org/name) found in or fetched once into the cache.
    reranker: Path | None = Field(
        default=None,
        description="A cross-encoder folder or Hugging Face name (sentence-transformers "
        "CrossEncoder, one relevance label) that reorders the top QA_RERANK_CANDIDATES passages.",
    )
    rerank_candidates: int = Field(default=20, ge=1, le=200)
    reader: Path | None = Field(
        default=None,
        description="An extractive question-answering model folder or Hugging Face name "
        "(transformers, SQuAD 2.0 style) that picks the short answer in the top "
        "QA_READER_PASSAGES passages.",
    )
    reader_passages: int = Field(default=3, ge=1, le=20)
    # Tokens of one reader window (question + passage) and the overlap of the windows of
    # a passage longer than that.
    reader_max_tokens: int = Field(default=384, ge=32, le=4096)
    reader_stride: int = Field(default=128, ge=0, le=2048)
    # Monitoring (qa/api/metrics.py, qa/api/middleware.py).
    metrics: bool = Field(
        default=True,
        description="Serve GET /metrics in the Prometheus text format; off (QA_METRICS=off) "
        "removes the route.",
    )
    metrics_key: str | None = Field(
        default=None,
        repr=False,  # never in a log line or a traceback
        description="When set, GET /metrics needs 'Authorization: Bearer <this key>' (and "
        "only it): the metrics name every collection.",
    )
    log_questions: bool = Field(
        default=False,
        description="Put the question of each /ask into its access-log line (off by default: "
        "questions can be personal).",
    )

    @field_validator("reranker", "reader", "collections", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _reads_need_a_key(self) -> Settings:
        if self.require_key_for_reads and not self.api_key:
            raise ValueError("QA_REQUIRE_KEY_FOR_READS is set but QA_API_KEY is not: set both")
        return self

    @model_validator(mode="after")
    def _reader_windows(self) -> Settings:
        # The question takes at most a quarter of a window (qa.answer.reader): half is left
        # at least.
        if self.reader_stride > self.reader_max_tokens // 2:
            raise ValueError(
                f"QA_READER_STRIDE ({self.reader_stride}) must be at most half of "
                f"QA_READER_MAX_TOKENS ({self.reader_max_tokens})"
            )
        return self

    @model_validator(mode="after")
    def _overlap_below_size(self) -> Settings:
        if self.chunk_overlap >= self.chunk_tokens:
            raise ValueError(
                f"QA_CHUNK_OVERLAP ({self.chunk_overlap}) must be smaller than "
                f"QA_CHUNK_TOKENS ({self.chunk_tokens})"
            )
        return self
