"""What every webhook endpoint does the same way, before and after its platform's own checks:
content type (415), size (413), JSON (400), shape (422), the answer as JSON, and one metric and
health observation per request. Never a 500 from input: every refusal is a ``Rejected``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from services.ingestor import payload
from services.ingestor.batch import Acceptance, RawBody
from services.ingestor.errors import Rejected
from services.ingestor.intake import Reply
from services.ingestor.metrics import REQUESTS
from services.ingestor.shapes import PayloadInvalid
from shared.logging import get_logger

if TYPE_CHECKING:
    from services.ingestor.app import Runtime

log = get_logger(__name__)
JSON_TYPES = ("application/json",)
XML_TYPES = ("application/atom+xml", "application/xml", "text/xml", "application/rss+xml")


async def answer(request: Request, source: str, handle: Callable[[Runtime], Awaitable[Reply]]) -> JSONResponse:
    """Run ``handle`` and turn its ``Reply`` or ``Rejected`` into JSON, counting the outcome."""
    runtime: Runtime = request.app.state.runtime
    try:
        reply = await handle(runtime)
    except Rejected as exc:
        REQUESTS.labels(source, exc.outcome).inc()
        runtime.health.observe(source, exc.outcome)
        log.info("webhook.rejected", source=source, status=exc.status, error=exc.problem.error)
        return JSONResponse(exc.problem.model_dump(exclude_none=True), exc.status, headers=exc.headers)
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
    if media in accepted or ("application/json" in accepted and media.startswith("application/")
                             and media.endswith("+json")):
        return content_type
    raise Rejected(415, "unsupported_media_type", f"Content-Type must be one of {', '.join(accepted)}",
                   "unsupported_media_type")


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refusing (413) before reading when Content-Length says too much, and while
    reading when the bytes actually sent exceed ``limit`` (a lying or absent header)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not (declared.isascii() and declared.isdigit()):
            raise Rejected(400, "invalid_content_length", "Content-Length is not a number", "malformed")
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


def json_document(body: bytes) -> object:
    try:
        return payload.parse_json(body)
    except payload.MalformedJson as exc:
        raise Rejected(400, "malformed_json", str(exc), "malformed") from None


def parsed_or_422(parse: Callable[[], object]):
    """Run a platform parser; its ``PayloadInvalid`` (or a limit it hit) is a 422 naming the path."""
    try:
        return parse()
    except PayloadInvalid as exc:
        raise Rejected(422, "invalid_payload", str(exc)[:500], "invalid") from None
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        raise Rejected(422, "invalid_payload", f"{'.'.join(map(str, first['loc']))}: {first['msg']}", "invalid") from None


def batch_reply(result: Acceptance) -> Reply:
    """200 for a batch whose every message the broker acknowledged (or already had). Malformed
    items do not change the status: they are named in ``invalid_items`` (path and reason) and
    were dead-lettered; the platform must not re-send the good ones for them."""
    messages = len(result.accepted) + len(result.duplicates)
    outcome = "accepted" if result.accepted else "duplicate" if result.duplicates else \
        "ignored" if result.unhandled else "invalid_items" if result.invalid else "skipped"
    body = {"status": outcome, "accepted": len(result.accepted), "duplicates": len(result.duplicates),
            "skipped": result.skipped, "unhandled": len(result.unhandled), "invalid": len(result.invalid),
            "event_ids": result.accepted}
    if result.invalid:
        body["invalid_items"] = [{"path": bad.path, "error": bad.error[:200]} for bad in result.invalid[:20]]
    return Reply(200, body, outcome, messages)


def raw_body(body: bytes, content_type: str) -> RawBody:
    return RawBody(body, content_type)
