"""The webhook platforms this deployment has keys for: one ``PlatformAdapter`` per source, built
once at start-up, and looked up per request (404 for one that is not configured)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from services.ingestor.errors import Rejected, not_configured, unavailable
from services.ingestor.ledger import Ledger, LedgerUnavailable
from services.ingestor.platforms import meta, telegram, x, youtube, youtube_store
from services.ingestor.platforms.keys import Keys
from services.ingestor.platforms.meta import MetaWebhooks
from services.ingestor.platforms.standard import StandardWebhooks
from services.ingestor.platforms.telegram import TelegramBot
from services.ingestor.platforms.x import XWebhooks
from services.ingestor.platforms.youtube import WebSubNotifications
from services.ingestor.settings import IngestorSettings

T = TypeVar("T")


@dataclass(frozen=True)
class Platforms:
    """The adapters, by platform; each lookup raises ``Rejected`` (404) for one not configured."""

    standard_sources: dict[str, StandardWebhooks]
    telegram_bots: dict[str, TelegramBot]
    meta_webhooks: MetaWebhooks | None = None
    x_webhooks: XWebhooks | None = None
    websub: WebSubNotifications | None = None

    def standard(self, source: str) -> StandardWebhooks:
        if source not in self.standard_sources:
            detail = f"no webhook source named {source[:64]!r} is configured"
            raise Rejected(404, "unknown_source", detail, "unknown_source")
        return self.standard_sources[source]

    def telegram(self, bot: str) -> TelegramBot:
        return _configured(self.telegram_bots.get(bot), "this Telegram bot")

    def meta(self) -> MetaWebhooks:
        return _configured(self.meta_webhooks, "meta")

    def x(self) -> XWebhooks:
        return _configured(self.x_webhooks, "X")

    def youtube(self) -> WebSubNotifications:
        return _configured(self.websub, "YouTube")


def _configured(adapter: T | None, what: str) -> T:
    if adapter is None:
        raise not_configured(what)
    return adapter


def build(settings: IngestorSettings, keys: Keys, ledger: Ledger) -> Platforms:
    """An adapter for every platform (and source, and bot) with at least one key."""
    standard = {
        source: StandardWebhooks(source, secrets, tolerance_s=settings.webhook_tolerance_s)
        for source, secrets in keys.standard.items()
    }
    bots = {bot: TelegramBot(bot, tokens) for bot, tokens in keys.telegram.items() if tokens}
    meta_hooks = (
        MetaWebhooks(keys.meta, legacy_sha1=settings.meta_legacy_sha1) if keys.meta else None
    )
    return Platforms(
        standard_sources=standard,
        telegram_bots=bots,
        meta_webhooks=meta_hooks,
        x_webhooks=XWebhooks(keys.x_secrets) if keys.x else None,
        websub=WebSubNotifications(keys.youtube, _video_recorder(ledger)) if keys.youtube else None,
    )


def configured_sources(keys: Keys) -> dict[str, str]:
    """Source name -> platform, for the health registry and ``GET /v1/sources``."""
    sources = {name: "standard" for name in keys.standard}
    sources.update({telegram.source_name(bot): "telegram" for bot in keys.telegram})
    for name, platform, enabled in (
        (meta.SOURCE, "meta", keys.meta),
        (x.SOURCE, "x", keys.x),
        (youtube.SOURCE, "youtube", keys.youtube),
    ):
        if enabled:
            sources[name] = platform
    return sources


def _video_recorder(ledger: Ledger) -> youtube.RecordVideos:
    async def record(notices: list, removed: list, now: datetime) -> int:
        try:
            return await youtube_store.record_videos(ledger, notices, removed, now)
        except LedgerUnavailable as exc:
            raise unavailable("database_unavailable", f"cannot record videos ({exc})") from None

    return record
