"""Standard Webhooks signing (https://www.standardwebhooks.com/) over the raw body bytes.

The verification is shared with the router's helpdesk endpoint and lives in
``shared.signatures`` (``sign``, ``verify``, ``secret_key``: why the reference library is not
used directly is said there); this module keeps the names the ingestor, its tests, the demo
replay and the bench import.
"""

from __future__ import annotations

from shared.signatures import (
    REQUIRED_HEADERS,
    SECRET_PREFIX,
    VerifiedWebhook,
    secret_key,
    sign,
    signature,
    verify,
)

__all__ = [
    "REQUIRED_HEADERS",
    "SECRET_PREFIX",
    "VerifiedWebhook",
    "secret_key",
    "sign",
    "signature",
    "verify",
]
