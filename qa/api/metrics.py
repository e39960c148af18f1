"""GET /metrics: what the service does, in the Prometheus text format.

Every number comes from a finished request (`qa.api.middleware.RequestRecord`: its
route template, status, collection, the stages of its question and its error code),
except the size of each collection, which is read from the live services when the
metrics are scraped. Each app has its own registry, so that several apps in one process
(tests, a benchmark) never share counters.

Labels are bounded: routes are templates, never paths; a collection label is the name
of a configured collection (a name that is none gets `unknown`); methods outside the
usual few are `OTHER`. No header, key, question or document id is ever a label.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from fastapi import FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from qa.api.middleware import RequestRecord
from qa.api.security import check_key
from qa.service import QAService

#: Seconds, from a cached encode to a slow reader or a large write.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: The label of a request under /collections/{name}/ whose name is no collection.
UNKNOWN = "unknown"
#: Error codes of a write that are the document's file, not the service, and their reason.
EXTRACTION_REASONS = {
    "file_too_large": "too_large",
    "unsupported_media_type": "unsupported_type",
    "unreadable_document": "unreadable",
}

#: The services to report, by collection label (read at every scrape).
Collections = Callable[[], Mapping[str, QAService]]


class Metrics:
    """The app's registry and the metrics that finished requests add to."""

    def __init__(self, collections: Collections, *, default_collection: str = "default") -> None:
        self.collections = collections
        self.default_collection = default_collection
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "qa_http_requests",
            "HTTP requests by method, route template, status and collection.",
            ["method", "route", "status", "collection"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "qa_http_request_duration_seconds",
            "Whole HTTP requests, from the first byte in to the last byte out.",
            ["method", "route", "collection"],
            buckets=BUCKETS,
            registry=r,
        )
        self.stage_seconds = Histogram(
            "qa_ask_stage_seconds",
            "One question's stages: encode (the question's vector), search (retrieval and "
            "the reranker), answer (sentence, span, reader, confidence), request (the whole "
            "HTTP request).",
            ["collection", "stage"],
            buckets=BUCKETS,
            registry=r,
        )
        self.asks = Counter(
            "qa_asks", "Questions answered or withheld.", ["collection"], registry=r
        )
        self.abstentions = Counter(
            "qa_abstentions",
            "Questions whose answer was withheld as not confident enough.",
            ["collection"],
            registry=r,
        )
        self.writes = Counter(
            "qa_live_writes",
            "Documents added (POST) or deleted (DELETE) over HTTP, by outcome (ok or failed).",
            ["collection", "operation", "outcome"],
            registry=r,
        )
        self.write_failures = Counter(
            "qa_live_write_failures",
            "Failed live writes by reason (the error code of the response).",
            ["collection", "operation", "reason"],
            registry=r,
        )
        self.extraction_failures = Counter(
            "qa_extraction_failures",
            "Uploaded files that could not be read, by reason.",
            ["collection", "reason"],
            registry=r,
        )
        r.register(_CollectionSizes(collections))

    def label(self, record: RequestRecord) -> str:
        if record.collection is None:
            return self.default_collection
        return record.collection if record.collection in self.collections() else UNKNOWN

    def observe(self, record: RequestRecord) -> None:
        collection = self.label(record)
        self.requests.labels(record.method, record.route, str(record.status), collection).inc()
        self.request_seconds.labels(record.method, record.route, collection).observe(record.seconds)
        if record.trace.answered is not None:
            self._observe_ask(record, collection)
        operation = {"POST": "add", "DELETE": "delete"}.get(record.method)
        if operation is not None and _is_write_route(record.route):
            self._observe_write(record, collection, operation)

    def _observe_ask(self, record: RequestRecord, collection: str) -> None:
        for stage, seconds in record.trace.stages.items():
            self.stage_seconds.labels(collection, stage).observe(seconds)
        self.stage_seconds.labels(collection, "request").observe(record.seconds)
        self.asks.labels(collection).inc()
        if not record.trace.answered:
            self.abstentions.labels(collection).inc()

    def _observe_write(self, record: RequestRecord, collection: str, operation: str) -> None:
        ok = record.status < 400
        self.writes.labels(collection, operation, "ok" if ok else "failed").inc()
        if ok:
            return
        reason = record.error_code or f"http_{record.status}"
        self.write_failures.labels(collection, operation, reason).inc()
        if reason in EXTRACTION_REASONS:
            self.extraction_failures.labels(
                collection, extraction_reason(reason, record.error_message or "")
            ).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


def extraction_reason(code: str, message: str) -> str:
    """A bounded reason for a file that could not be read: the error code, and for an
    unreadable file what the bounded reader said (qa.ingest.formats.worker)."""
    if code == "unreadable_document":
        if "took longer than" in message:
            return "timeout"
        if "crashed the reader" in message:
            return "crash"
        if "has no text" in message:
            return "no_text"
    return EXTRACTION_REASONS[code]


def _is_write_route(route: str) -> bool:
    return route.endswith("/documents") or route.endswith("/documents/{doc_id:path}")


class _CollectionSizes(Collector):
    """Documents and chunks of each collection, as its live index holds them now."""

    def __init__(self, collections: Collections) -> None:
        self.collections = collections

    def collect(self) -> Iterator[Metric]:
        documents = GaugeMetricFamily(
            "qa_documents", "Documents in the collection's live index.", labels=["collection"]
        )
        chunks = GaugeMetricFamily(
            "qa_chunks", "Chunks in the collection's live index.", labels=["collection"]
        )
        for name, service in sorted(self.collections().items()):
            index = service.index
            documents.add_metric([name], len(index.documents))
            chunks.add_metric([name], len(index.chunks))
        yield documents
        yield chunks


def install_metrics(app: FastAPI, metrics: Metrics, *, key: str | None = None) -> None:
    """GET /metrics on `app`; with `key` (QA_METRICS_KEY), only for a request that shows it."""
    app.state.metrics = metrics

    @app.get("/metrics", include_in_schema=False)
    async def scrape(request: Request) -> Response:
        if key is not None:
            check_key(key, request.headers.get("authorization"))
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)
