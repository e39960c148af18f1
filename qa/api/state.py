"""What a route works on: a `Target`, one corpus being served (the server's only one, or
one of its collections) with its service, its settings, its writes and its feedback.

Routes take their target from a dependency (`single_target` here, or the collection
resolvers of `qa.api.collections`), so one handler serves both kinds of server.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

import anyio
from fastapi import Request

from qa.collections.config import Collection
from qa.collections.feedback import FeedbackStore
from qa.config import Settings
from qa.errors import QAError, ServiceUnavailableError
from qa.live.writer import Ingestor
from qa.service import QAService

T = TypeVar("T")
#: A request id a client may choose (X-Request-ID): short, and safe in a log line.
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


@dataclass(eq=False)
class Target:
    """One served corpus. `settings` carries its corpus and index folders."""

    settings: Settings
    collection: Collection | None = None  # None on a server without collections
    service: QAService | None = None
    load_error: QAError | None = None
    feedback: FeedbackStore = field(init=False)
    watch_task: asyncio.Task[None] | None = None
    _ingestor: Ingestor | None = None
    _limiter: anyio.CapacityLimiter | None = None
    _loop: asyncio.AbstractEventLoop | None = None

    def __post_init__(self) -> None:
        self.feedback = FeedbackStore(self.settings.index_dir)

    @property
    def name(self) -> str | None:
        return None if self.collection is None else self.collection.name

    def live(self) -> QAService:
        """The live service, or the error that keeps it from answering (as a 503)."""
        if self.service is None:
            raise self.load_error or ServiceUnavailableError(
                "the service is still starting: try again in a moment"
            )
        return self.service

    async def write(self, work: Callable[[Ingestor], T]) -> T:
        """Run a write on a worker thread: one at a time per target, queued on the event
        loop, so waiting writers hold no worker threads that readers need."""
        service = self.live()
        if self._ingestor is None or self._ingestor.service is not service:
            self._ingestor = Ingestor.from_settings(service, self.settings)
        loop = asyncio.get_running_loop()
        if self._limiter is None or self._loop is not loop:
            self._limiter, self._loop = anyio.CapacityLimiter(1), loop
        # Embedding and saving are CPU and disk work: never on the event loop.
        return await anyio.to_thread.run_sync(partial(work, self._ingestor), limiter=self._limiter)


#: A route dependency that gives the target of a request (and checks its access).
Resolver = Callable[..., Target]


def single_target(request: Request) -> Target:
    """The only target of a server without collections."""
    target: Target | None = getattr(request.app.state, "target", None)
    if target is None:
        raise ServiceUnavailableError("the service is still starting: try again in a moment")
    return target


def get_service(request: Request) -> QAService:
    """The live service of a server without collections."""
    return single_target(request).live()


def request_id(request: Request) -> str:
    """This request's id: the one the request-id middleware chose, else a sane one the
    client sent, else a new one (kept on the request for whoever asks next)."""
    found = getattr(request.state, "request_id", None)
    if not isinstance(found, str) or not found:
        sent = request.headers.get("x-request-id", "")
        found = sent if REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex
        request.state.request_id = found
    return found
