"""The routes that serve files: a document's original, and its pages as images."""

from __future__ import annotations

from functools import partial
from pathlib import PurePosixPath
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query
from fastapi import Path as PathParam
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from qa.api.state import Resolver, Target
from qa.config import Settings
from qa.errors import OriginalMissingError
from qa.ingest.corpus import extraction_limits
from qa.ingest.formats import MEDIA_TYPES
from qa.ingest.formats.worker import ExtractionWorker
from qa.ingest.originals import OriginalStore, original_bytes
from qa.ingest.page_images import page_image
from qa.types import Document

# Formats a browser shows without running anything: served inline. Anything else (HTML
# above all: an uploaded page must not run script in our origin) is an attachment.
_INLINE = frozenset({"pdf", "text", "markdown"})
_FILE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    # Even if a browser opens it, the file gets no scripts and no access to this origin.
    "Content-Security-Policy": "sandbox",
    "Cache-Control": "private, max-age=300",
}


def _original(settings: Settings, doc: Document) -> bytes:
    data = original_bytes(
        doc, corpus_dir=settings.corpus_dir, store=OriginalStore(settings.index_dir)
    )
    if data is None:
        raise OriginalMissingError(
            f"the file {doc.doc_id!r} was indexed from is gone or has changed since: "
            "run `qa index` (or upload it again)"
        )
    return data


def _disposition(doc: Document) -> str:
    name = PurePosixPath(doc.doc_id).name
    kind = "inline" if doc.format in _INLINE else "attachment"
    return f"{kind}; filename*=UTF-8''{quote(name)}"


def add_file_routes(router: APIRouter, settings: Settings, resolve: Resolver) -> None:
    # Page images are drawn in a child process, bounded in time and memory, one at a time.
    renderer = ExtractionWorker(limits=extraction_limits(settings))
    # A default, not Annotated: the dependency is a local, and annotations are strings.
    readable = Depends(resolve)

    @router.get(
        "/documents/{doc_id:path}/original",
        summary="The file a document was indexed from, with its media type",
        response_class=Response,
    )
    async def original(doc_id: str, target: Target = readable) -> Response:
        doc = target.live().document(doc_id)
        data = await run_in_threadpool(_original, target.settings, doc)
        headers = {**_FILE_HEADERS, "Content-Disposition": _disposition(doc)}
        return Response(data, media_type=MEDIA_TYPES[doc.format], headers=headers)

    @router.get(
        "/documents/{doc_id:path}/pages/{page}.png",
        summary="A page of a paged document as a PNG, with [start, end) highlighted",
        response_class=Response,
    )
    async def page(
        doc_id: str,
        page: Annotated[int, PathParam(ge=1, le=100_000)],
        target: Target = readable,
        start: Annotated[int | None, Query(ge=0, description="Document offset")] = None,
        end: Annotated[int | None, Query(ge=0, description="Document offset")] = None,
    ) -> Response:
        doc = target.live().document(doc_id)
        data = await run_in_threadpool(_original, target.settings, doc) if doc.pages else b""
        png = await run_in_threadpool(
            partial(page_image, doc, data, page=page, start=start, end=end, renderer=renderer)
        )
        return Response(png, media_type="image/png", headers=_FILE_HEADERS)
