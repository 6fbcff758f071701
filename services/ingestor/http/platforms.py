"""HTTP edge for the platforms' own webhooks: Meta, X Account Activity and Telegram.

Each POST is checked in this order: endpoint configured (404), content type (415), size (413),
signature over the raw bytes (401 missing / 403 wrong), JSON (400), platform shape (422 naming
the path); then every message of the batch is delivered and the answer is 200 only once the
broker acknowledged all of them (503 with ``Retry-After`` otherwise, so the platform re-sends).
Unhandled event kinds are answered 200 as well (metric + dead letter): a retry would not help.
The checks from the signature on are the platforms' own (``platforms.meta``, ``.x``,
``.telegram``) run by the ``Intake``; the GET handshakes are answered here.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from services.ingestor.http import edge
from services.ingestor.platforms import meta, telegram, x

router = APIRouter(prefix="/v1/webhooks", tags=["platform webhooks"])
_CHALLENGE_MAX = 512


@router.get("/meta", response_class=PlainTextResponse, summary="Meta verification request")
async def meta_verify(
    request: Request,
    mode: str = Query("", alias="hub.mode"),
    token: str = Query("", alias="hub.verify_token"),
    challenge: str = Query("", alias="hub.challenge"),
) -> PlainTextResponse:
    """Echo ``hub.challenge`` when ``hub.mode=subscribe`` and ``hub.verify_token`` matches (else 403)."""
    expected = request.app.state.runtime.keys.meta_verify_token
    if expected is None:
        return PlainTextResponse("meta webhooks are not configured", 404)
    if mode != "subscribe" or not hmac.compare_digest(token.encode("utf-8", "replace"), expected):
        return PlainTextResponse("verification refused", 403)
    if not challenge or len(challenge) > _CHALLENGE_MAX or not challenge.isprintable():
        return PlainTextResponse("hub.challenge missing or unusable", 400)
    return PlainTextResponse(challenge)


@router.post("/meta", summary="Meta webhook (Page feed, Messenger, Instagram, WhatsApp)")
async def meta_webhook(request: Request) -> JSONResponse:
    """Signed with ``X-Hub-Signature-256``; a delivery carrying only the legacy ``X-Hub-Signature``
    (``sha1=``) is verified with HMAC-SHA1 when ``INGESTOR_META_LEGACY_SHA1`` allows it, else 401
    saying so. When both headers are present only the SHA-256 one counts."""
    return await edge.webhook(request, meta.SOURCE, lambda runtime: runtime.platforms.meta())


@router.get("/x", summary="X CRC check")
async def x_crc(request: Request, crc_token: str = Query("", max_length=1024)) -> JSONResponse:
    """``{"response_token": "sha256=<base64 HMAC-SHA256(consumer secret, crc_token)>"}`` (current secret)."""
    adapter = request.app.state.runtime.platforms.x_webhooks
    if adapter is None:
        return JSONResponse(
            {"error": "not_configured", "detail": "X webhooks are not configured"}, 404
        )
    if not crc_token:
        return JSONResponse(
            {"error": "missing_crc_token", "detail": "crc_token query parameter is required"}, 400
        )
    return JSONResponse({"response_token": adapter.crc_response(crc_token)})


@router.post("/x", summary="X Account Activity webhook")
async def x_webhook(request: Request) -> JSONResponse:
    return await edge.webhook(request, x.SOURCE, lambda runtime: runtime.platforms.x())


@router.post("/telegram/{bot}", summary="Telegram Bot API webhook")
async def telegram_webhook(bot: str, request: Request) -> JSONResponse:
    configured = bot in request.app.state.runtime.keys.telegram
    label = telegram.source_name(bot) if configured else "unknown"
    return await edge.webhook(request, label, lambda runtime: runtime.platforms.telegram(bot))
