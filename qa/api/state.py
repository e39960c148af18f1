"""What a route needs from the running app: the service the lifespan loaded."""

from __future__ import annotations

from fastapi import Request

from qa.errors import QAError, ServiceUnavailableError
from qa.service import QAService


def get_service(request: Request) -> QAService:
    """The live service, or the error that keeps it from answering (as a 503)."""
    service: QAService | None = request.app.state.service
    if service is None:
        error: QAError | None = request.app.state.load_error
        raise error or ServiceUnavailableError(
            "the service is still starting: try again in a moment"
        )
    return service
