"""Standard Webhooks signing (https://www.standardwebhooks.com/) over the raw body bytes.

The signed content is ``{webhook-id}.{webhook-timestamp}.{body}`` exactly as sent (the header
bytes and the raw body); a signature is ``v1,<base64 HMAC-SHA256(key, content)>`` and the key
is the base64 part of a ``whsec_<base64>`` secret. ``sign`` is used by the tests, the demo replay
and the bench; ``verify`` by the ingestor (constant-time, total on hostile input).

The HMAC is computed here rather than with ``standardwebhooks.Webhook.sign`` because that
signer only takes text (it cannot sign arbitrary bytes) and floors fractional timestamps;
the tests check both produce the same signatures for text bodies.

Why not ``standardwebhooks.Webhook.verify`` (1.1.0) directly: it decodes the body as UTF-8
(``UnicodeDecodeError`` on other bytes), raises ``ValueError``/``binascii.Error`` rather than
its own error on a malformed ``webhook-signature`` (``v1`` without a comma, bad base64, two
spaces), hard-codes a 5-minute tolerance, and accepts ``1700000000.5`` as a timestamp while
signing the floored value. This module keeps its algorithm (and is tested against it) but
checks every header strictly and raises one error type, ``SignatureRejected``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from services.ingestor.errors import SignatureRejected

SECRET_PREFIX = "whsec_"


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_<base64>`` secret (the prefix is optional, padding too).

    Raises ``ValueError`` when it is not base64 or empty; the message never contains the secret.
    """
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("webhook secret is not base64 after its whsec_ prefix") from None
    if not key:
        raise ValueError("webhook secret is empty")
    return key


def signature(key: bytes, webhook_id: bytes, timestamp: bytes, body: bytes) -> bytes:
    """The raw HMAC-SHA256 digest of ``webhook_id.timestamp.body``."""
    return hmac.new(key, b"%s.%s.%s" % (webhook_id, timestamp, body), hashlib.sha256).digest()


def sign(
    secret: str, webhook_id: str, timestamp: int | datetime | None, body: bytes | str
) -> dict[str, str]:
    """The three headers that make ``body`` a valid Standard Webhook for ``secret``.

    ``timestamp`` is Unix seconds or an aware datetime (``None``: now). Text is sent as UTF-8.
    Raises ``ValueError`` for an invalid secret.
    """
    if timestamp is None:
        timestamp = int(time.time())
    elif isinstance(timestamp, datetime):
        timestamp = int(timestamp.timestamp())
    raw = body.encode() if isinstance(body, str) else body
    digest = signature(secret_key(secret), webhook_id.encode(), str(timestamp).encode(), raw)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": "v1," + base64.b64encode(digest).decode("ascii"),
    }


REQUIRED_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


@dataclass(frozen=True)
class VerifiedWebhook:
    webhook_id: str
    timestamp: int


def verify(
    key: bytes | Sequence[bytes],
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_s: int,
    now: float,
) -> VerifiedWebhook:
    """Check the signature headers against ``body`` under ``key`` (or any of several active keys,
    during a rotation). Raises ``SignatureRejected``; never blocks.

    ``headers`` are as an ASGI server decodes them (latin-1); the signed bytes are the raw ones.
    """
    values = {name.lower(): value for name, value in headers.items()}
    missing = [name for name in REQUIRED_HEADERS if not values.get(name, "").strip()]
    if missing:
        raise SignatureRejected(
            "missing_signature_headers", f"missing header(s): {', '.join(missing)}"
        )
    webhook_id, stamp = values["webhook-id"], values["webhook-timestamp"]
    timestamp = _fresh_timestamp(stamp, tolerance_s, now)
    keys = [key] if isinstance(key, bytes) else list(key)
    expected = [signature(k, _raw(webhook_id), _raw(stamp), body) for k in keys]
    given = list(_v1_signatures(values["webhook-signature"]))
    # every pair is compared (constant-time each, no early exit): timing does not say which key matched
    if not any([hmac.compare_digest(mine, theirs) for mine in expected for theirs in given]):  # noqa: C419
        raise SignatureRejected(
            "bad_signature", "no v1 signature in webhook-signature matches the body"
        )
    return VerifiedWebhook(webhook_id=webhook_id, timestamp=timestamp)


def _fresh_timestamp(stamp: str, tolerance_s: int, now: float) -> int:
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
        raise SignatureRejected(
            "invalid_timestamp", "webhook-timestamp must be integer Unix seconds"
        )
    timestamp = int(stamp)
    if now - timestamp > tolerance_s:
        raise SignatureRejected(
            "stale_timestamp", f"webhook-timestamp is older than {tolerance_s}s"
        )
    if timestamp - now > tolerance_s:
        raise SignatureRejected(
            "stale_timestamp", f"webhook-timestamp is more than {tolerance_s}s in the future"
        )
    return timestamp


def _v1_signatures(header: str) -> Iterator[bytes]:
    """Decoded ``v1`` signatures of a space-separated list; other versions and junk are skipped."""
    for entry in header.split():
        version, comma, encoded = entry.partition(",")
        if version != "v1" or not comma:
            continue
        try:
            yield base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue


def _raw(value: str) -> bytes:
    try:
        return value.encode(
            "latin-1"
        )  # undo the ASGI server's decoding: the bytes the sender signed
    except UnicodeEncodeError:
        return value.encode("utf-8")
