"""Extraction of untrusted files in a child process, bounded in time and memory.

A hostile PDF or zip can make a parser spin or allocate without end; in a child the
parent can stop it. One child is started on first use and reused for every file (its
start-up, a fresh interpreter, costs about as much as reading a few PDFs: see
benchmarks/bench_extract.py); a file that runs past the time limit, or crashes the
child, costs that child, and the next file starts a new one. The child is spawned, not
forked, so a parent holding model threads is never copied mid-lock. A RemoteReader hands
the files to an ExtractionWorker in another process (a Ray actor, for `qa index --ray`).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import warnings
from multiprocessing.connection import Connection
from typing import Any, Protocol

from qa.ingest.formats import TEXT_FORMATS, Extracted, Limits, extract, format_of, render_page

START_TIMEOUT_S = 60.0
DEFAULT_MEMORY_BYTES = 2 << 30


def _serve(conn: Connection, limits: Limits, memory_bytes: int | None) -> None:
    """The child's loop: (job, arguments) in, ("ok", result) or ("error", reason) out."""
    if memory_bytes:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    # Parsers warn about what they skip (openpyxl: "Data Validation extension is not
    # supported"); a reason that matters is the ValueError, and a warning is not for users.
    warnings.simplefilter("ignore")
    from qa.ingest.formats import ocr

    # Each page OCR reads restarts the parent's clock (the limit is per file and per page).
    ocr.on_page(lambda: conn.send(("progress", None)))
    conn.send(("ready", None))
    while True:
        try:
            job, arguments = conn.recv()
        except EOFError:
            return
        conn.send(_answer(job, arguments, limits))


def _run(job: str, arguments: dict[str, Any], limits: Limits) -> Any:
    if job == "render" and arguments.get("fmt") == "pptx":
        from qa.ingest.formats.slide_image import render_slide

        return render_slide(**arguments, limits=limits)
    if job == "render":
        return render_page(**arguments, limits=limits)
    return extract(arguments["data"], arguments["doc_id"], limits=limits)


def _answer(job: str, arguments: dict[str, Any], limits: Limits) -> tuple[str, Any]:
    try:
        return "ok", _run(job, arguments, limits)
    except ValueError as exc:
        return "error", str(exc)
    except MemoryError:
        return "error", "reading it needs more memory than the limit allows"
    except Exception as exc:  # a parser bug on a hostile file must not end the scan
        return "error", f"it could not be read ({type(exc).__name__}: {exc})"


class ExtractionWorker:
    """`extract` for one file at a time, text formats in process, the rest in a child."""

    def __init__(self, *, limits: Limits | None = None, memory_bytes: int | None = None) -> None:
        self.limits = limits or Limits()
        self.memory_bytes = DEFAULT_MEMORY_BYTES if memory_bytes is None else memory_bytes
        self._process: Any = None
        self._conn: Connection | None = None
        self.started = 0  # children started, for the benchmark and tests
        # One file at a time through the one pipe, whichever thread asks (the server's).
        self._lock = threading.RLock()

    def __enter__(self) -> ExtractionWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def extract(self, data: bytes, doc_id: str) -> Extracted:
        """Raises ValueError with the reason when the file cannot be read in bounds."""
        fmt = format_of(doc_id)
        if fmt is None or fmt in TEXT_FORMATS or len(data) > self.limits.max_file_bytes:
            return extract(data, doc_id, limits=self.limits)
        result: Extracted = self._call("extract", {"data": data, "doc_id": doc_id}, "reading it")
        return result

    def render(
        self,
        data: bytes,
        *,
        page: int,
        page_text: str,
        span: tuple[int, int],
        hyphenated: frozenset[str],
        timeout_s: float | None = None,
        fmt: str = "pdf",
    ) -> bytes:
        """PNG of a page (PDF, image, slide) with `span` highlighted (see the format's
        render_page; a slide's is qa.ingest.formats.slide_image)."""
        arguments = {
            "fmt": fmt,
            "data": data,
            "page": page,
            "page_text": page_text,
            "span": span,
            "hyphenated": hyphenated,
        }
        png: bytes = self._call("render", arguments, "rendering the page", timeout_s)
        return png

    def _call(
        self, job: str, arguments: dict[str, Any], doing: str, timeout_s: float | None = None
    ) -> Any:
        with self._lock:
            return self._call_locked(job, arguments, doing, timeout_s)

    def _call_locked(
        self, job: str, arguments: dict[str, Any], doing: str, timeout_s: float | None
    ) -> Any:
        limit = self.limits.timeout_s if timeout_s is None else timeout_s
        conn = self._connection()
        conn.send((job, arguments))
        status = "progress"
        while status == "progress":  # a page read by OCR: its own time limit starts
            if not conn.poll(limit):
                self.close()
                raise ValueError(f"{doing} took longer than {limit:g} s (QA_EXTRACT_TIMEOUT_S)")
            try:
                status, value = conn.recv()
            except (EOFError, OSError):
                self.close()
                raise ValueError(
                    f"{doing} crashed the reader (a damaged or hostile file?)"
                ) from None
        if status != "ok":
            raise ValueError(str(value))
        return value

    def _connection(self) -> Connection:
        if self._conn is not None and self._process is not None and self._process.is_alive():
            return self._conn
        self.close()
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        process = context.Process(
            target=_serve, args=(child, self.limits, self.memory_bytes), daemon=True
        )
        process.start()
        child.close()
        self._process, self._conn = process, parent
        self.started += 1
        if not parent.poll(START_TIMEOUT_S) or parent.recv()[0] != "ready":
            self.close()
            raise ValueError("the file reader process did not start")
        return parent

    def close(self) -> None:
        """Stop the child, at once: it may be stuck in a parser."""
        with self._lock:
            self._close_locked()

    def _close_locked(self) -> None:
        if self._conn is not None:
            self._conn.close()
        if self._process is not None:
            self._process.kill()
            self._process.join(5)
        self._process, self._conn = None, None


class Reader(Protocol):
    """What reads a corpus's files: an ExtractionWorker, or a RemoteReader."""

    limits: Limits

    def extract(self, data: bytes, doc_id: str) -> Extracted: ...

    def close(self) -> None: ...


class Actor(Protocol):
    """An object in another process (qa.search.distributed.RayActor): `call` runs one
    of its methods there, raising ValueError when that process failed."""

    def call(self, method: str, *args: Any) -> Any: ...

    def close(self) -> None: ...


class ActorExtraction:
    """The far side of a RemoteReader: an ExtractionWorker of its own, so the child's time
    and memory limits hold on whichever machine the actor runs."""

    def __init__(self, *, limits: Limits, memory_bytes: int | None = None) -> None:
        self._worker = ExtractionWorker(limits=limits, memory_bytes=memory_bytes)

    def extract(self, data: bytes, doc_id: str) -> tuple[str, Any]:
        # The reason as a value: an exception would come back wrapped in Ray's traceback.
        try:
            return "ok", self._worker.extract(data, doc_id)
        except ValueError as exc:
            return "error", str(exc)

    def pid(self) -> int:
        return os.getpid()


class RemoteReader:
    """`extract` like ExtractionWorker's, the files that need a parser read by an
    ActorExtraction in `actor` (text formats, and files over the size limit, which
    fail at once, stay in process)."""

    def __init__(self, actor: Actor, *, limits: Limits) -> None:
        self.actor = actor
        self.limits = limits

    def extract(self, data: bytes, doc_id: str) -> Extracted:
        """Raises ValueError with the reason when the file cannot be read in bounds."""
        fmt = format_of(doc_id)
        if fmt is None or fmt in TEXT_FORMATS or len(data) > self.limits.max_file_bytes:
            return extract(data, doc_id, limits=self.limits)
        status, value = self.actor.call("extract", data, doc_id)
        if status != "ok":
            raise ValueError(str(value))
        result: Extracted = value
        return result

    def close(self) -> None:
        self.actor.close()
