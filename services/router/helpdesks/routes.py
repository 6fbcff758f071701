"""The HTTP edge of the helpdesk endpoint: ``POST /v1/helpdesks/{name}/events`` (signed) and
``POST /v1/helpdesks/{name}/events/{token}`` (a secret URL token, for a helpdesk that cannot
sign). No bearer token: the signature (or the token) is the authentication. Answers are JSON:
202 with the published event ids (200 when nothing needed publishing), else
``{"error": <code>, "detail": <why>}`` with 401, 404, 413, 422 or 503 (``Retry-After``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from services.router.helpdesks.inbound import Accepted, Inbound, Refused

NAME = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_.-]*$")]
TOKEN = Annotated[str, Path(min_length=1, max_length=256)]
REFUSALS = {
    status: {"description": what}
    for status, what in (
        (401, "Missing, stale or wrong signature or token"),
        (404, "Unknown helpdesk or routed item"),
        (413, "Body too large"),
        (422, "Not JSON, not the helpdesk's webhook shape, or no Switchboard item id"),
        (503, "The broker did not acknowledge: send again after Retry-After"),
    )
}


def helpdesk_router(inbound: Inbound, max_body_bytes: int) -> APIRouter:
    router = APIRouter(prefix="/v1/helpdesks", tags=["helpdesks"])

    async def answer(name: str, request: Request, token: str | None) -> JSONResponse:
        try:
            inbound.helpdesk(name)
            body = await _body(request, max_body_bytes)
            done = await inbound.receive(name, request.headers, body, token)
        except Refused as exc:
            return JSONResponse(
                {"error": exc.error, "detail": exc.detail}, exc.status, headers=exc.headers
            )
        return JSONResponse(_shown(done), 202 if done.published else 200)

    @router.post(
        "/{name}/events",
        summary="Lifecycle events from a helpdesk's signed webhook",
        responses=REFUSALS,
    )
    async def signed(name: NAME, request: Request) -> JSONResponse:
        """Zammad (``X-Hub-Signature``), Chatwoot (``X-Chatwoot-Signature``), Zendesk
        (``X-Zendesk-Webhook-Signature``) or Standard Webhooks, per the helpdesk's kind."""
        return await answer(name, request, None)

    @router.post(
        "/{name}/events/{token}",
        summary="Lifecycle events from a helpdesk that cannot sign (secret URL token)",
        responses=REFUSALS,
    )
    async def tokened(name: NAME, token: TOKEN, request: Request) -> JSONResponse:
        return await answer(name, request, token)

    return router


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise Refused(413, "body_too_large", f"bodies are limited to {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Refused(413, "body_too_large", f"bodies are limited to {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _shown(done: Accepted) -> dict:
    return {
        "published": done.published,
        "duplicates": done.duplicates,
        "skipped": done.skipped,
        "ignored": done.ignored,
    }
