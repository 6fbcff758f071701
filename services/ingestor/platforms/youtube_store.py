"""Persistence of YouTube WebSub state: the verified subscription intents (with the time to
renew each lease) and the videos announced, which a comment poller picks up."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from services.ingestor.ledger import Ledger, insert_ignore
from services.ingestor.platforms import youtube
from services.ingestor.tables import YouTubeSubscription, YouTubeVideo


async def record_intent(
    ledger: Ledger, topic: str, channel_id: str, mode: str, lease_seconds: int | None, now: datetime
) -> YouTubeSubscription:
    """Store the hub's verified (un)subscription. Raises ``LedgerUnavailable``."""
    renew = (
        youtube.resubscribe_at(now, lease_seconds)
        if mode == "subscribe" and lease_seconds
        else None
    )
    values = {
        "channel_id": channel_id,
        "mode": mode,
        "lease_seconds": lease_seconds,
        "verified_at": now,
        "resubscribe_at": renew,
    }
    async with ledger.session(write=True) as session:
        if not await insert_ignore(session, YouTubeSubscription, [{"topic": topic, **values}]):
            await session.execute(
                update(YouTubeSubscription)
                .where(YouTubeSubscription.topic == topic)
                .values(**values)
            )
    return YouTubeSubscription(topic=topic, **values)


async def record_videos(
    ledger: Ledger,
    notices: list[youtube.VideoNotice],
    removed: list[youtube.VideoRemoved],
    now: datetime,
) -> int:
    """Insert announced videos not seen before and mark removed ones; the number of new videos.
    Raises ``LedgerUnavailable``."""
    rows = [
        {
            "video_id": n.video_id,
            "channel_id": n.channel_id,
            "title": (n.title or "")[:1024] or None,
            "published_at": n.published_at,
            "first_seen_at": now,
            "deleted_at": None,
            "comments_polled_at": None,
        }
        for n in {n.video_id: n for n in notices}.values()
    ]
    async with ledger.session(write=True) as session:
        inserted = await insert_ignore(session, YouTubeVideo, rows)
        for gone in removed:
            await session.execute(
                update(YouTubeVideo)
                .where(YouTubeVideo.video_id == gone.video_id)
                .values(deleted_at=gone.removed_at or now)
            )
    return inserted


async def subscriptions(ledger: Ledger) -> list[YouTubeSubscription]:
    async with ledger.session() as session:
        return list(
            (
                await session.scalars(
                    select(YouTubeSubscription).order_by(YouTubeSubscription.topic)
                )
            ).all()
        )
