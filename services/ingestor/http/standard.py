"""``POST /v1/webhooks/standard/{source}``: Standard Webhooks, and their OpenAPI documentation.

Checks that need no secret come first (source 404, content type 415, size 413), then the
``Intake`` verifies (any of the source's active secrets: several during a rotation) and
delivers (``platforms.standard``). Every refusal is a ``Problem`` JSON; see
``platforms.standard_payload`` for the body format and ``errors`` for the codes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from services.ingestor.errors import Problem
from services.ingestor.http import edge
from services.ingestor.platforms import standard_payload as payload

if TYPE_CHECKING:
    from services.ingestor.runtime import Runtime

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

_PROBLEMS = {
    400: "Malformed JSON (or an unusable webhook-id / Content-Length)",
    401: "Missing or malformed signature headers, or a timestamp outside the tolerance",
    403: "The signature does not match the body under any active secret of the source",
    404: "No webhook source of that name is configured",
    413: "Body larger than max_body_bytes",
    415: "Content-Type is not JSON",
    422: "Valid JSON that is not a valid event; `fields` names each problem",
    503: "Kafka or the dedup database unavailable; retry after `Retry-After` seconds",
}
RESPONSES = {
    200: {"description": 'Already accepted earlier: `{"status": "duplicate", "event_id": …}`'},
    202: {
        "description": "Acknowledged by Kafka (`accepted`), or an unhandled event type (`ignored`)"
    },
    **{code: {"model": Problem, "description": text} for code, text in _PROBLEMS.items()},
}
BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/MessageCreated"}}
        },
    }
}


@router.post(
    "/standard/{source}",
    status_code=202,
    responses=RESPONSES,
    openapi_extra=BODY,
    summary="Receive a Standard Webhooks event",
    description=payload.__doc__,
)
async def receive_standard_webhook(source: str, request: Request) -> JSONResponse:
    """Answer 202 only after Kafka acknowledged the event (see module docs for the rest)."""
    runtime: Runtime = request.app.state.runtime
    label = source if source in runtime.keys.standard else "unknown"
    return await edge.webhook(request, label, lambda rt: rt.platforms.standard(source))
