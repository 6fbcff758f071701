"""HTTP edge for YouTube WebSub: the hub's intent verification (GET) and Atom notifications (POST).

GET: confirm only topics of configured channels (``hub.topic`` of another channel is 404, as
WebSub asks), store the lease and when to renew it, echo ``hub.challenge``.
POST: ``X-Hub-Signature: sha1=<hex HMAC-SHA1(hub secret, body)>``. As WebSub requires, a missing
or wrong signature is still answered 2xx (``{"status": "rejected"}``) and the content ignored —
counted as an error of the source; the hub would only retry. A valid notification records the
videos (new ones are left for the comment poller) and is answered 200 after the commit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from services.ingestor import edge, platform_signing, youtube, youtube_store
from services.ingestor.errors import Rejected, unavailable
from services.ingestor.intake import Reply
from services.ingestor.ledger import LedgerUnavailable
from services.ingestor.shapes import PayloadInvalid
from services.ingestor.verification import SignatureRejected
from shared.events import utcnow
from shared.logging import get_logger

if TYPE_CHECKING:
    from services.ingestor.app import Runtime

log = get_logger(__name__)
router = APIRouter(prefix="/v1/webhooks", tags=["platform webhooks"])
SOURCE = "youtube"
_MAX_LEASE = 10 * 365 * 24 * 3600


@router.get("/youtube", response_class=PlainTextResponse, summary="WebSub intent verification")
async def youtube_verify(request: Request, mode: str = Query("", alias="hub.mode"),
                         topic: str = Query("", alias="hub.topic", max_length=1024),
                         challenge: str = Query("", alias="hub.challenge", max_length=512),
                         lease: str = Query("", alias="hub.lease_seconds", max_length=12)) -> PlainTextResponse:
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
        await youtube_store.record_intent(runtime.ledger, topic, channel, mode, int(lease) if lease else None, utcnow())
    except LedgerUnavailable:
        return PlainTextResponse("database unavailable", 503, headers={"Retry-After": "5"})
    log.info("youtube.intent_verified", channel=channel, mode=mode, lease_seconds=lease or None)
    return PlainTextResponse(challenge)


@router.post("/youtube", summary="WebSub notification (Atom)")
async def youtube_notification(request: Request) -> JSONResponse:
    async def handle(runtime: Runtime) -> Reply:
        if not runtime.keys.youtube:
            raise Rejected(404, "not_configured", "YouTube webhooks are not configured", "unknown_source")
        edge.require_type(request, edge.XML_TYPES)
        body = await edge.read_body(request, runtime.settings.max_body_bytes)
        try:
            platform_signing.check_hmac(platform_signing.WEBSUB, request.headers.get("x-hub-signature"),
                                        runtime.keys.youtube, body)
        except SignatureRejected as exc:
            return Reply(202, {"status": "rejected", "error": exc.reason}, _refused(exc))
        return await _record(runtime, body)

    return await edge.answer(request, SOURCE, handle)


async def _record(runtime: Runtime, body: bytes) -> Reply:
    try:
        notices, removed = youtube.parse_atom(body)
    except youtube.MalformedXml as exc:
        raise Rejected(400, "malformed_xml", str(exc)[:300], "malformed") from None
    except PayloadInvalid as exc:
        raise Rejected(422, "invalid_payload", str(exc)[:300], "invalid") from None
    try:
        new = await youtube_store.record_videos(runtime.ledger, notices, removed, utcnow())
    except LedgerUnavailable as exc:
        raise unavailable("database_unavailable", f"cannot record videos ({exc})") from None
    log.info("youtube.notified", videos=len(notices), new=new, removed=len(removed))
    body = {"status": "recorded", "videos": len(notices), "new_videos": new, "removed": len(removed)}
    return Reply(200, body, "accepted", len(notices) + len(removed))


def _refused(exc: SignatureRejected) -> str:
    return "forbidden" if exc.reason == "bad_signature" else "unauthorized"
