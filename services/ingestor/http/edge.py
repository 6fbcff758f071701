"""The HTTP edge of every webhook: what needs no secret (the platform or source configured, 404;
content type, 415; size, 413), then the ``Intake`` (verify, read, accept), and the answer as
JSON with one metric and health observation per request. ``answer`` is the one place where a
``Reply`` or a ``Rejected`` becomes JSON; never a 500 from input.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from fastapi import Request
from fastapi.responses import JSONResponse

from services.ingestor.errors import Rejected
from services.ingestor.intake import PlatformAdapter, Reply
from services.ingestor.metrics import REQUESTS
from shared.logging import get_logger

if TYPE_CHECKING:
    from services.ingestor.runtime import Runtime

log = get_logger(__name__)


async def webhook(
    request: Request, label: str, find: Callable[[Runtime], PlatformAdapter]
) -> JSONResponse:
    """The one webhook path: ``find`` the adapter (raises 404), content type, size, then the
    intake; ``label`` is the metric and health source (``unknown`` for an unknown name)."""

    async def handle(runtime: Runtime) -> Reply:
        adapter = find(runtime)
        content_type = require_type(request, adapter.media_types)
        body = await read_body(request, runtime.settings.max_body_bytes)
        return await runtime.intake.receive(adapter, request.headers, body, content_type)

    return await answer(request, label, handle)


async def answer(
    request: Request, source: str, handle: Callable[[Runtime], Awaitable[Reply]]
) -> JSONResponse:
    """Run ``handle`` and turn its ``Reply`` or ``Rejected`` into JSON, counting the outcome."""
    runtime: Runtime = request.app.state.runtime
    try:
        reply = await handle(runtime)
    except Rejected as exc:
        REQUESTS.labels(source, exc.outcome).inc()
        runtime.health.observe(source, exc.outcome)
        log.info("webhook.rejected", source=source, status=exc.status, error=exc.problem.error)
        return JSONResponse(
            exc.problem.model_dump(exclude_none=True), exc.status, headers=exc.headers
        )
    except Exception:
        REQUESTS.labels(source, "internal_error").inc()
        runtime.health.observe(source, "internal_error")
        raise
    REQUESTS.labels(source, reply.outcome).inc()
    runtime.health.observe(source, reply.outcome, reply.messages)
    return JSONResponse(reply.body, reply.status_code)


def require_type(request: Request, accepted: tuple[str, ...]) -> str:
    """The request's media type if it is one of ``accepted`` (or ``+json`` for JSON); else 415."""
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";", 1)[0].strip().lower()
    if media in accepted or (
        "application/json" in accepted
        and media.startswith("application/")
        and media.endswith("+json")
    ):
        return content_type
    raise Rejected(
        415,
        "unsupported_media_type",
        f"Content-Type must be one of {', '.join(accepted)}",
        "unsupported_media_type",
    )


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refusing (413) before reading when Content-Length says too much, and while
    reading when the bytes actually sent exceed ``limit`` (a lying or absent header)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not (declared.isascii() and declared.isdigit()):
            raise Rejected(
                400, "invalid_content_length", "Content-Length is not a number", "malformed"
            )
        if len(declared) > 18 or int(declared) > limit:
            raise _too_large(limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _too_large(limit)
    return bytes(body)


def _too_large(limit: int) -> Rejected:
    return Rejected(413, "body_too_large", f"body exceeds {limit} bytes", "too_large")
