"""Platform signatures over the raw body, compared in constant time against every active secret
(several during a rotation). Each ``*_signature`` function signs exactly as the platform does;
the platform modules verify with ``check_hmac``/``check_token``; the tests and the bench sign
with them. Standard Webhooks have their own module, ``standard_signing``.

- Meta: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, body)>``; legacy (only when
  allowed): ``X-Hub-Signature: sha1=<hex HMAC-SHA1(app secret, body)>``
- X: ``x-twitter-webhooks-signature: sha256=<base64 HMAC-SHA256(consumer secret, body)>``; the
  CRC answer is ``sha256=<base64 HMAC-SHA256(consumer secret, crc_token)>``
- YouTube (WebSub): ``X-Hub-Signature: sha1=<hex HMAC-SHA1(hub secret, body)>``
- Telegram: ``X-Telegram-Bot-Api-Secret-Token`` equals the ``secret_token`` given to setWebhook
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable, Sequence

from services.ingestor.errors import SignatureRejected

Digest = Callable[[bytes, bytes], bytes]


def _sha256(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def _sha1(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha1).digest()


def meta_signature(secret: str, body: bytes) -> str:
    return "sha256=" + _sha256(secret.encode(), body).hex()


def meta_legacy_signature(secret: str, body: bytes) -> str:
    """The legacy ``X-Hub-Signature`` value Meta also sends (HMAC-SHA1 with the app secret)."""
    return "sha1=" + _sha1(secret.encode(), body).hex()


def x_signature(secret: str, body: bytes) -> str:
    return "sha256=" + base64.b64encode(_sha256(secret.encode(), body)).decode()


def x_crc_response(secret: str, crc_token: str) -> str:
    return x_signature(secret, crc_token.encode())


def websub_signature(secret: str, body: bytes) -> str:
    return "sha1=" + _sha1(secret.encode(), body).hex()


META = ("sha256=", _sha256, "hex")
META_SHA1 = ("sha1=", _sha1, "hex")
X = ("sha256=", _sha256, "base64")
WEBSUB = ("sha1=", _sha1, "hex")


def check_hmac(
    scheme: tuple[str, Digest, str], header: str | None, keys: Sequence[bytes], body: bytes
) -> None:
    """Raise ``SignatureRejected`` unless ``header`` is ``<prefix><digest>`` of ``body`` under one of ``keys``:
    reason ``missing_signature`` (absent or empty) or ``bad_signature`` (malformed or no match)."""
    prefix, digest, encoding = scheme
    if not header or not header.strip():
        raise SignatureRejected("missing_signature", "the signature header is missing")
    given = (
        _decode(header.strip().removeprefix(prefix), encoding)
        if header.strip().startswith(prefix)
        else None
    )
    # every key is compared (no early exit): the time taken does not say which secret matched
    matches = [given is not None and hmac.compare_digest(digest(key, body), given) for key in keys]
    if not any(matches):
        raise SignatureRejected(
            "bad_signature", f"the signature is not {prefix}<{encoding} HMAC> of the body"
        )


def check_token(given: str | None, tokens: Sequence[bytes]) -> None:
    """Raise ``SignatureRejected`` unless ``given`` equals one of ``tokens`` (constant-time)."""
    if not given:
        raise SignatureRejected("missing_signature", "the secret token header is missing")
    raw = given.encode("latin-1", "replace")
    if not any([hmac.compare_digest(raw, token) for token in tokens]):  # noqa: C419 - no early exit
        raise SignatureRejected("bad_signature", "the secret token does not match")


def _decode(value: str, encoding: str) -> bytes | None:
    try:
        return bytes.fromhex(value) if encoding == "hex" else base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error):
        return None
