"""Pollers for what platforms do not push: YouTube comments, Mastodon mentions, RSS/Atom feeds.

Configured by ``INGESTOR_POLL_SOURCES`` (source name -> ``PollSource``); run inside the ingestor
process (``INGESTOR_POLLERS_ENABLED``), one task per source, under a database lease so that only
one replica polls a source. See docs/ingestor.md#pollers.

The common core, by concern: ``fetch`` (HTTP with 429/``Retry-After`` and backoff), ``store``
(leases and cursors in the database), ``context`` (the ``Poller`` protocol and what a round
gets), ``scheduler`` (one task per source, failures and back-off). The platforms:
``youtube_comments`` (with ``quota``), ``mastodon``, ``feeds``; and two workers on the same
core: ``websub`` (YouTube subscription renewal) and ``instagram_mentions`` (held mentions).
"""

from __future__ import annotations

from services.ingestor.pollers.context import Poller
from services.ingestor.pollers.feeds import FeedPoller
from services.ingestor.pollers.mastodon import MastodonMentions
from services.ingestor.pollers.quota import Quota
from services.ingestor.pollers.scheduler import Scheduler
from services.ingestor.pollers.youtube_comments import YouTubeComments
from services.ingestor.settings import IngestorSettings

PLATFORMS = {"youtube": "youtube", "mastodon": "mastodon", "feed": "review"}


def check(settings: IngestorSettings) -> None:
    """Refuse an unusable poll source at start-up. Raises ``ValueError`` naming it (never a token)."""
    for name, source in settings.poll_sources.items():
        if source.kind in ("mastodon", "feed") and not (source.url or "").startswith(
            ("http://", "https://")
        ):
            raise ValueError(f"poll source {name!r} ({source.kind}) needs an http(s) url")
        if source.kind == "mastodon" and source.token is None:
            raise ValueError(f"poll source {name!r} (mastodon) needs an access token")
        if source.kind == "youtube" and source.token is None:
            raise ValueError(f"poll source {name!r} (youtube) needs an API key as token")
        if source.url and not source.url.startswith(("http://", "https://")):
            raise ValueError(f"poll source {name!r}: url must be http(s)")
    if settings.meta_app_secrets and not settings.meta_graph_url.startswith(
        ("http://", "https://")
    ):
        raise ValueError("INGESTOR_META_GRAPH_URL must be an http(s) URL")
    if settings.youtube_callback_url:
        if not settings.youtube_callback_url.startswith(
            ("http://", "https://")
        ) or not settings.youtube_hub_url.startswith(("http://", "https://")):
            raise ValueError(
                "INGESTOR_YOUTUBE_CALLBACK_URL and INGESTOR_YOUTUBE_HUB_URL must be http(s) URLs"
            )
        if not settings.youtube_hub_secrets:
            raise ValueError(
                "INGESTOR_YOUTUBE_CALLBACK_URL needs INGESTOR_YOUTUBE_HUB_SECRETS (notifications are signed)"
            )


def pollers(settings: IngestorSettings, quota: Quota) -> dict[str, Poller]:
    """One poller per configured source."""
    made = {
        "youtube": lambda: YouTubeComments(quota),
        "mastodon": MastodonMentions,
        "feed": FeedPoller,
    }
    return {name: made[source.kind]() for name, source in sorted(settings.poll_sources.items())}


def sources(settings: IngestorSettings) -> dict[str, str]:
    """Polled source name -> platform, for connector health."""
    return {name: PLATFORMS[source.kind] for name, source in settings.poll_sources.items()}


__all__ = ["Scheduler", "Quota", "check", "pollers", "sources"]
