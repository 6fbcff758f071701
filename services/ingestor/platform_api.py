"""HTTP edge for the platforms' own webhooks: Meta, X Account Activity and Telegram.

Each POST is checked in this order: endpoint configured (404), content type (415), size (413),
signature over the raw bytes (401 missing / 403 wrong), JSON (400), platform shape (422 naming
the path); then every message of the batch is delivered and the answer is 200 only once the
broker acknowledged all of them (503 with ``Retry-After`` otherwise, so the platform re-sends).
Unhandled event kinds are answered 200 as well (metric + dead letter): a retry would not help.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from services.ingestor import edge, meta, platform_signing, telegram, xaa
from services.ingestor.batch import RawBody
from services.ingestor.errors import Rejected
from services.ingestor.intake import Reply, signature_refused
from services.ingestor.normalized import Context
from services.ingestor.verification import SignatureRejected

if TYPE_CHECKING:
    from services.ingestor.app import Runtime

router = APIRouter(prefix="/v1/webhooks", tags=["platform webhooks"])
META_SOURCE, X_SOURCE = "meta", "x"
_CHALLENGE_MAX = 512


def telegram_source(bot: str) -> str:
    return f"telegram.{bot}"


@router.get("/meta", response_class=PlainTextResponse, summary="Meta verification request")
async def meta_verify(request: Request, mode: str = Query("", alias="hub.mode"),
                      token: str = Query("", alias="hub.verify_token"),
                      challenge: str = Query("", alias="hub.challenge")) -> PlainTextResponse:
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
    legacy = request.headers.get("x-hub-signature")
    if not request.headers.get("x-hub-signature-256") and legacy:
        allowed = request.app.state.runtime.settings.meta_legacy_sha1
        return await _hmac_json_webhook(request, META_SOURCE, "meta", lambda k: k.meta, platform_signing.META_SHA1,
                                        "x-hub-signature", meta.parse, None if allowed else LEGACY_REFUSED)
    return await _hmac_json_webhook(request, META_SOURCE, "meta", lambda k: k.meta, platform_signing.META,
                                    "x-hub-signature-256", meta.parse)


LEGACY_REFUSED = SignatureRejected(
    "missing_signature", "X-Hub-Signature-256 is missing; a delivery signed only with the legacy X-Hub-Signature "
    "(sha1) is accepted only when INGESTOR_META_LEGACY_SHA1=true")


@router.get("/x", summary="X CRC check")
async def x_crc(request: Request, crc_token: str = Query("", max_length=1024)) -> JSONResponse:
    """``{"response_token": "sha256=<base64 HMAC-SHA256(consumer secret, crc_token)>"}`` (current secret)."""
    secrets = request.app.state.runtime.keys.x_secrets
    if not secrets:
        return JSONResponse({"error": "not_configured", "detail": "X webhooks are not configured"}, 404)
    if not crc_token:
        return JSONResponse({"error": "missing_crc_token", "detail": "crc_token query parameter is required"}, 400)
    return JSONResponse({"response_token": platform_signing.x_crc_response(secrets[0], crc_token)})


@router.post("/x", summary="X Account Activity webhook")
async def x_webhook(request: Request) -> JSONResponse:
    return await _hmac_json_webhook(request, X_SOURCE, "X", lambda k: k.x, platform_signing.X,
                                    "x-twitter-webhooks-signature", xaa.parse)


async def _hmac_json_webhook(request: Request, source: str, name: str, keys_of, scheme, header: str,
                             parse, refused: SignatureRejected | None = None) -> JSONResponse:
    """A JSON batch signed with an HMAC of the raw body in ``header`` (Meta, X): verify, parse
    every message with ``parse(document, context)``, and answer once all are acknowledged.
    ``refused``: refuse the signature with that reason whatever it is (a scheme not allowed)."""
    def check(body: bytes, keys: list[bytes]) -> None:
        if refused is not None:
            raise refused
        platform_signing.check_hmac(scheme, request.headers.get(header), keys, body)

    async def handle(runtime: Runtime) -> Reply:
        keys = _configured(keys_of(runtime.keys), name)
        body, raw = await _signed_json(request, runtime, lambda b: check(b, keys))
        document = edge.json_document(body)
        parsed = edge.parsed_or_422(lambda: parse(document, Context(source, raw.ref)))
        prefix = name.lower()
        return edge.batch_reply(await runtime.acceptor.accept(source, parsed, raw, f"{prefix}:{raw.sha256[:32]}"))

    return await edge.answer(request, source, handle)


@router.post("/telegram/{bot}", summary="Telegram Bot API webhook")
async def telegram_webhook(bot: str, request: Request) -> JSONResponse:
    runtime: Runtime = request.app.state.runtime
    source = telegram_source(bot) if bot in runtime.keys.telegram else "unknown"

    async def handle(runtime: Runtime) -> Reply:
        keys = _configured(runtime.keys.telegram.get(bot, []), "this Telegram bot")
        body, raw = await _signed_json(request, runtime, lambda _b: platform_signing.check_token(
            request.headers.get("x-telegram-bot-api-secret-token"), keys))
        document = edge.json_document(body)
        parsed = edge.parsed_or_422(lambda: telegram.parse(document, Context(source, raw.ref), bot))
        correlation = f"telegram:{bot}:{document.get('update_id')}"[:128] if isinstance(document, dict) else source
        return edge.batch_reply(await runtime.acceptor.accept(source, parsed, raw, correlation))

    return await edge.answer(request, source, handle)


def _configured(keys: list[bytes], what: str) -> list[bytes]:
    if not keys:
        raise Rejected(404, "not_configured", f"{what} webhooks are not configured", "unknown_source")
    return keys


async def _signed_json(request: Request, runtime: Runtime, check) -> tuple[bytes, RawBody]:
    """Content type, size, then the signature over the raw bytes (before any parsing)."""
    content_type = edge.require_type(request, edge.JSON_TYPES)
    body = await edge.read_body(request, runtime.settings.max_body_bytes)
    try:
        check(body)
    except SignatureRejected as exc:
        raise signature_refused(exc) from None
    return body, RawBody(body, content_type)
