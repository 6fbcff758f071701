"""Standard Webhooks signing (https://www.standardwebhooks.com/) over the raw body bytes.

The signed content is ``{webhook-id}.{webhook-timestamp}.{body}`` exactly as sent (the header
bytes and the raw body); a signature is ``v1,<base64 HMAC-SHA256(key, content)>`` and the key
is the base64 part of a ``whsec_<base64>`` secret. Used by the ingestor's verifier, the tests,
the demo replay and the bench.

The HMAC is computed here rather than with ``standardwebhooks.Webhook.sign`` because that
signer only takes text (it cannot sign arbitrary bytes) and floors fractional timestamps;
the tests check both produce the same signatures for text bodies.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from datetime import datetime

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


def sign(secret: str, webhook_id: str, timestamp: int | datetime | None, body: bytes | str) -> dict[str, str]:
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
