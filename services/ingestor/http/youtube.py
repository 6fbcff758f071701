"""HTTP edge for YouTube WebSub: the hub's intent verification (GET) and Atom notifications (POST).

GET: confirm only topics of configured channels (``hub.topic`` of another channel is 404, as
WebSub asks), store the lease and when to renew it, echo ``hub.challenge``.
POST: ``X-Hub-Signature: sha1=<hex HMAC-SHA1(hub secret, body)>``, through the ``Intake`` like
every webhook (``platforms.youtube``: a wrong signature is still answered 2xx, as WebSub requires).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from services.ingestor.http import edge
from services.ingestor.ledger import LedgerUnavailable
from services.ingestor.platforms import youtube, youtube_store
from shared.events import utcnow
from shared.logging import get_logger

if TYPE_CHECKING:
    from services.ingestor.runtime import Runtime

log = get_logger(__name__)
router = APIRouter(prefix="/v1/webhooks", tags=["platform webhooks"])
_MAX_LEASE = 10 * 365 * 24 * 3600


@router.get("/youtube", response_class=PlainTextResponse, summary="WebSub intent verification")
async def youtube_verify(
    request: Request,
    mode: str = Query("", alias="hub.mode"),
    topic: str = Query("", alias="hub.topic", max_length=1024),
    challenge: str = Query("", alias="hub.challenge", max_length=512),
    lease: str = Query("", alias="hub.lease_seconds", max_length=12),
) -> PlainTextResponse:
    """Echo ``hub.challenge`` for a (un)subscription of a configured channel; 404 otherwise."""
    runtime: Runtime = request.app.state.runtime
    channel = youtube.channel_of(topic)
    if not runtime.keys.youtube or channel is None or channel not in runtime.keys.youtube_channels:
        return PlainTextResponse("unknown topic", 404)
    if mode not in ("subscribe", "unsubscribe") or not challenge or not challenge.isprintable():
        return PlainTextResponse("hub.mode or hub.challenge missing or unusable", 400)
    if lease and not (lease.isascii() and lease.isdigit() and 0 < int(lease) <= _MAX_LEASE):
        return PlainTextResponse("hub.lease_seconds is not a positive number of seconds", 400)
    try:
        await youtube_store.record_intent(
            runtime.ledger, topic, channel, mode, int(lease) if lease else None, utcnow()
        )
    except LedgerUnavailable:
        return PlainTextResponse("database unavailable", 503, headers={"Retry-After": "5"})
    log.info("youtube.intent_verified", channel=channel, mode=mode, lease_seconds=lease or None)
    return PlainTextResponse(challenge)


@router.post("/youtube", summary="WebSub notification (Atom)")
async def youtube_notification(request: Request) -> JSONResponse:
    return await edge.webhook(request, youtube.SOURCE, lambda runtime: runtime.platforms.youtube())
