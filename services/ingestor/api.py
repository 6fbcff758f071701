"""HTTP edge of the ingestor: ``POST /v1/webhooks/standard/{source}``.

Checks that need no secret come first (source 404, content type 415, size 413), then the
``Intake`` verifies and delivers. Every refusal is a ``Problem`` JSON; see ``payload`` for
the body format and ``errors`` for the codes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from services.ingestor import payload
from services.ingestor.errors import Problem, Rejected
from services.ingestor.intake import Reply
from services.ingestor.metrics import REQUESTS
from shared.logging import get_logger

if TYPE_CHECKING:
    from services.ingestor.app import Runtime

log = get_logger(__name__)
router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

_PROBLEMS = {
    400: "Malformed JSON (or an unusable webhook-id / Content-Length)",
    401: "Missing or bad signature headers, or a timestamp outside the tolerance",
    404: "No webhook source of that name is configured",
    413: "Body larger than max_body_bytes",
    415: "Content-Type is not JSON",
    422: "Valid JSON that is not a valid event; `fields` names each problem",
    503: "Kafka or the dedup database unavailable; retry after `Retry-After` seconds",
}
RESPONSES = {
    200: {"description": "Already accepted earlier: `{\"status\": \"duplicate\", \"event_id\": …}`"},
    202: {"description": "Acknowledged by Kafka (`accepted`), or an unhandled event type (`ignored`)"},
    **{code: {"model": Problem, "description": text} for code, text in _PROBLEMS.items()},
}
BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/MessageCreated"}}}}}


@router.post("/standard/{source}", status_code=202, responses=RESPONSES, openapi_extra=BODY,
             summary="Receive a Standard Webhooks event", description=payload.__doc__)
async def receive_standard_webhook(source: str, request: Request) -> JSONResponse:
    """Answer 202 only after Kafka acknowledged the event (see module docs for the rest)."""
    runtime: Runtime = request.app.state.runtime
    label = source if source in runtime.keys else "unknown"
    try:
        reply = await _receive(runtime, source, request)
    except Rejected as exc:
        REQUESTS.labels(label, exc.outcome).inc()
        log.info("webhook.rejected", source=label, status=exc.status, error=exc.problem.error)
        return JSONResponse(exc.problem.model_dump(exclude_none=True), exc.status, headers=exc.headers)
    except Exception:
        REQUESTS.labels(label, "internal_error").inc()
        raise
    REQUESTS.labels(label, reply.outcome).inc()
    return JSONResponse(reply.body, reply.status_code)


async def _receive(runtime: Runtime, source: str, request: Request) -> Reply:
    if source not in runtime.keys:
        raise Rejected(404, "unknown_source", f"no webhook source named {source[:64]!r} is configured",
                       "unknown_source")
    _require_json(request.headers.get("content-type", ""))
    body = await read_body(request, runtime.settings.max_body_bytes)
    return await runtime.intake.receive(source, request.headers, body)


def _require_json(content_type: str) -> None:
    media = content_type.split(";", 1)[0].strip().lower()
    if media != "application/json" and not (media.startswith("application/") and media.endswith("+json")):
        raise Rejected(415, "unsupported_media_type", "Content-Type must be application/json",
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
