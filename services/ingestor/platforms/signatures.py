"""Platform signatures over the raw body, compared in constant time against every active secret
(several during a rotation). Each ``*_signature`` function signs exactly as the platform does;
the platform modules verify with ``check_hmac``/``check_token``; the tests and the bench sign
with them; the checks themselves are ``shared.signatures``. Standard Webhooks: ``standard_signing``.

- Meta: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, body)>``; legacy (only when
  allowed): ``X-Hub-Signature: sha1=<hex HMAC-SHA1(app secret, body)>``
- X: ``x-twitter-webhooks-signature: sha256=<base64 HMAC-SHA256(consumer secret, body)>``; the
  CRC answer is ``sha256=<base64 HMAC-SHA256(consumer secret, crc_token)>``
- YouTube (WebSub): ``X-Hub-Signature: sha1=<hex HMAC-SHA1(hub secret, body)>``
- Telegram: ``X-Telegram-Bot-Api-Secret-Token`` equals the ``secret_token`` given to setWebhook
"""

from __future__ import annotations

import base64

from shared.signatures import Digest, check_hmac, check_token
from shared.signatures import hmac_sha1 as _sha1
from shared.signatures import hmac_sha256 as _sha256


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

__all__ = [
    "META",
    "META_SHA1",
    "WEBSUB",
    "X",
    "Digest",
    "check_hmac",
    "check_token",
    "meta_legacy_signature",
    "meta_signature",
    "websub_signature",
    "x_crc_response",
    "x_signature",
]
