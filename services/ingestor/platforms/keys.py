"""Every verification key, decoded once at start-up, and the rule for source names.

Secrets are read from the settings here and nowhere else; a refusal names the source or bot,
never the secret.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import SecretStr

from services.ingestor.platforms.standard_signing import secret_key
from services.ingestor.settings import IngestorSettings

SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class Keys:
    """Every verification key, decoded once at start-up (lists: all active secrets, current first)."""

    standard: dict[str, list[bytes]]
    meta: list[bytes]
    meta_verify_token: bytes | None
    x: list[bytes]
    x_secrets: list[str]
    telegram: dict[str, list[bytes]]
    youtube: list[bytes]
    youtube_channels: frozenset[str]


def check_name(name: str, what: str) -> None:
    """Raise ``ValueError`` unless ``name`` is usable as a source name (``what`` names it)."""
    if not SOURCE_NAME.match(name):
        raise ValueError(f"{what} {name!r} must match {SOURCE_NAME.pattern}")


def _listed(value: SecretStr | list[SecretStr]) -> list[str]:
    return [s.get_secret_value() for s in (value if isinstance(value, list) else [value])]


def webhook_keys(settings: IngestorSettings) -> dict[str, list[bytes]]:
    """Standard Webhooks HMAC keys per source. Raises ``ValueError`` naming the source (never the secret)."""
    keys = {}
    for source, secrets in settings.webhook_secrets.items():
        check_name(source, "webhook source name")
        try:
            keys[source] = [secret_key(secret) for secret in _listed(secrets)]
        except ValueError as exc:
            raise ValueError(f"webhook secret for source {source!r}: {exc}") from None
        if not keys[source]:
            raise ValueError(f"webhook source {source!r} has no secret")
    return keys


def platform_keys(settings: IngestorSettings) -> Keys:
    """All keys. Raises ``ValueError`` on an unusable name or secret (naming it, never its value)."""

    def raw(values: list[SecretStr]) -> list[bytes]:
        return [s.get_secret_value().encode() for s in values]

    telegram = {}
    for bot, tokens in settings.telegram_secret_tokens.items():
        check_name(bot, "telegram bot name")
        telegram[bot] = [t.encode() for t in _listed(tokens)]
    token = settings.meta_verify_token
    return Keys(
        standard=webhook_keys(settings),
        meta=raw(settings.meta_app_secrets),
        meta_verify_token=token.get_secret_value().encode() if token else None,
        x=raw(settings.x_consumer_secrets),
        x_secrets=[s.get_secret_value() for s in settings.x_consumer_secrets],
        telegram=telegram,
        youtube=raw(settings.youtube_hub_secrets),
        youtube_channels=frozenset(settings.youtube_channels),
    )
