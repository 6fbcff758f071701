"""Webhook signatures over the raw body bytes, verified in constant time against every active
secret (several during a rotation). Pure: no I/O, no clock (``now`` is passed in). The ingestor
verifies platform webhooks with it, the router the helpdesks' webhooks.

- **Standard Webhooks** (https://www.standardwebhooks.com/): the signed content is
  ``{webhook-id}.{webhook-timestamp}.{body}`` exactly as sent (the header bytes and the raw body);
  a signature is ``v1,<base64 HMAC-SHA256(key, content)>`` and the key is the base64 part of a
  ``whsec_<base64>`` secret. ``sign`` is used by the tests, the demo replay and the benches;
  ``verify`` checks every header strictly and raises one error type, ``SignatureRejected``.
- **HMAC headers** of one digest over the body (``check_hmac``: a prefix such as ``sha256=``,
  the digest in hex or base64) and **shared tokens** compared as they are (``check_token``).
- **Freshness** of a signed timestamp (``fresh``): outside the tolerance either way is refused.

The HMAC is computed here rather than with ``standardwebhooks.Webhook.sign`` because that signer
only takes text (it cannot sign arbitrary bytes) and floors fractional timestamps. And
``standardwebhooks.Webhook.verify`` (1.1.0) decodes the body as UTF-8, raises
``ValueError``/``binascii.Error`` rather than its own error on a malformed ``webhook-signature``,
hard-codes a 5-minute tolerance and accepts ``1700000000.5`` while signing the floored value; this
module keeps its algorithm (the ingestor's tests check both agree) without those.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

SECRET_PREFIX = "whsec_"
REQUIRED_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")

Digest = Callable[[bytes, bytes], bytes]


class SignatureRejected(Exception):
    """The request is not correctly signed (or not fresh). ``reason`` is a stable code:
    ``missing_signature``, ``missing_signature_headers``, ``bad_signature``,
    ``invalid_timestamp`` or ``stale_timestamp``; ``detail`` says why, never with a secret."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def hmac_sha1(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha1).digest()


# -- Standard Webhooks ----------------------------------------------------------------------


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
    return hmac_sha256(key, b"%s.%s.%s" % (webhook_id, timestamp, body))


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
    """Check the Standard Webhooks headers against ``body`` under ``key`` (or any of several
    active keys, during a rotation). Raises ``SignatureRejected``; never blocks.

    ``headers`` are as an ASGI server decodes them (latin-1); the signed bytes are the raw ones.
    """
    values = {name.lower(): value for name, value in headers.items()}
    missing = [name for name in REQUIRED_HEADERS if not values.get(name, "").strip()]
    if missing:
        raise SignatureRejected(
            "missing_signature_headers", f"missing header(s): {', '.join(missing)}"
        )
    webhook_id, stamp = values["webhook-id"], values["webhook-timestamp"]
    timestamp = unix_timestamp(stamp, "webhook-timestamp")
    fresh(timestamp, "webhook-timestamp", tolerance_s, now)
    keys = [key] if isinstance(key, bytes) else list(key)
    expected = [signature(k, raw(webhook_id), raw(stamp), body) for k in keys]
    given = list(_v1_signatures(values["webhook-signature"]))
    if not any_match(expected, given):
        raise SignatureRejected(
            "bad_signature", "no v1 signature in webhook-signature matches the body"
        )
    return VerifiedWebhook(webhook_id=webhook_id, timestamp=timestamp)


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


# -- timestamps -----------------------------------------------------------------------------


def unix_timestamp(stamp: str, header: str) -> int:
    """``stamp`` as integer Unix seconds. Raises ``SignatureRejected`` (``invalid_timestamp``)."""
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
        raise SignatureRejected("invalid_timestamp", f"{header} must be integer Unix seconds")
    return int(stamp)


def fresh(timestamp: float, header: str, tolerance_s: int, now: float) -> None:
    """Raise ``SignatureRejected`` (``stale_timestamp``) unless ``timestamp`` is within
    ``tolerance_s`` of ``now`` either way (old: a replay; ahead: a clock too far off)."""
    if now - timestamp > tolerance_s:
        raise SignatureRejected("stale_timestamp", f"{header} is older than {tolerance_s}s")
    if timestamp - now > tolerance_s:
        raise SignatureRejected(
            "stale_timestamp", f"{header} is more than {tolerance_s}s in the future"
        )


# -- one digest in one header, shared tokens ------------------------------------------------


def any_match(expected: Sequence[bytes], given: Sequence[bytes | None]) -> bool:
    """Whether any pair matches. Every pair is compared (constant time each, no early exit), so
    the time taken does not say which secret matched."""
    return any(
        [  # noqa: C419 - a list on purpose: no short-circuit
            theirs is not None and hmac.compare_digest(mine, theirs)
            for mine in expected
            for theirs in given
        ]
    )


def check_hmac(
    scheme: tuple[str, Digest, str], header: str | None, keys: Sequence[bytes], body: bytes
) -> None:
    """Raise ``SignatureRejected`` unless ``header`` is ``<prefix><digest>`` of ``body`` under one
    of ``keys`` (``scheme``: prefix, digest function, ``hex`` or ``base64``): reason
    ``missing_signature`` (absent or empty) or ``bad_signature`` (malformed or no match)."""
    prefix, digest, encoding = scheme
    if not header or not header.strip():
        raise SignatureRejected("missing_signature", "the signature header is missing")
    value = header.strip()
    given = (
        decode_digest(value.removeprefix(prefix), encoding) if value.startswith(prefix) else None
    )
    if not any_match([digest(key, body) for key in keys], [given]):
        raise SignatureRejected(
            "bad_signature", f"the signature is not {prefix}<{encoding} HMAC> of the body"
        )


def check_token(given: str | None, tokens: Sequence[bytes]) -> None:
    """Raise ``SignatureRejected`` unless ``given`` equals one of ``tokens`` (constant-time)."""
    if not given:
        raise SignatureRejected("missing_signature", "the secret token is missing")
    if not any_match(list(tokens), [given.encode("latin-1", "replace")]):
        raise SignatureRejected("bad_signature", "the secret token does not match")


def decode_digest(value: str, encoding: str) -> bytes | None:
    """``value`` decoded from ``hex`` or ``base64``; ``None`` when it is not that."""
    try:
        return bytes.fromhex(value) if encoding == "hex" else base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error):
        return None


def raw(value: str) -> bytes:
    """A header value as the bytes the sender signed (undoing the ASGI server's latin-1)."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")
