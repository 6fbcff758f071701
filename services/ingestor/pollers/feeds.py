"""RSS/Atom feed poller (review sites and others), parsed by ``feedparser`` (every RSS and Atom
dialect, dates, sanitised HTML).

Conditional GET: the stored ``ETag`` / ``Last-Modified`` go out as ``If-None-Match`` /
``If-Modified-Since``; a 304 costs nothing. Each entry is one review: its ``id`` (else its
``link``) is the platform message id, so an entry seen again — in the next fetch, or after a
restart — is dropped by the dedup ledger. The validators are saved only after every entry of
the body was acknowledged.
"""

from __future__ import annotations

import calendar
import hashlib
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import feedparser

from services.ingestor.normalized import Parsed, canonical, edit_marker
from services.ingestor.pollers.context import PollContext
from services.ingestor.pollers.fetch import PollFailed
from services.ingestor.pollers.mastodon import html_text
from services.ingestor.pollers.store import is_due
from services.ingestor.shapes import PayloadInvalid
from shared.events import Author, ChannelKind, Platform

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class FeedPoller:
    platform = "review"

    async def round(self, ctx: PollContext) -> None:
        if not is_due(await ctx.store.cursor(ctx.name, ""), ctx.now()):
            return
        url = ctx.config.url or ""
        position = await ctx.position()
        headers = {}
        if position.get("etag"):
            headers["if-none-match"] = position["etag"]
        if position.get("modified"):
            headers["if-modified-since"] = position["modified"]
        response = await ctx.http.get(url, headers=headers)
        if response.status_code == 200:
            account = ctx.config.account or urlsplit(url).hostname or ctx.name
            newest = datetime.fromisoformat(position["newest"]) if position.get("newest") else None
            # entries far older than the newest seen were read before and may have left the dedup ledger
            cutoff = (
                newest - timedelta(days=ctx.settings.dedup_retention_days - 1) if newest else None
            )
            parsed = parse_feed(
                response.content,
                account,
                ctx.name,
                ctx.raw_ref(response),
                fetched_at=ctx.now(),
                older_than=cutoff,
            )
            await ctx.accept(parsed, response)
            newest = max(
                [newest, *(item.message.created_at for item in parsed.items)],
                key=lambda t: t or _EPOCH,
            )
            position = {
                "etag": response.headers.get("etag"),
                "modified": response.headers.get("last-modified"),
                "newest": newest.isoformat() if newest else None,
            }
        await ctx.save(
            {k: v for k, v in position.items() if v},
            next_poll_at=ctx.now() + timedelta(seconds=ctx.config.interval_s),
            polled=True,
        )


def parse_feed(
    body: bytes,
    account: str,
    source: str,
    raw_ref: str,
    fetched_at: datetime,
    older_than: datetime | None = None,
) -> Parsed:
    """Every entry of an RSS or Atom document as a review (entries dated before ``older_than`` are
    skipped). Raises ``PollFailed`` when the body is not a feed at all; an unusable entry is
    ``invalid`` (dead-lettered once, with its path)."""
    feed = feedparser.parse(body)
    if feed.bozo and not feed.entries and not feed.feed:
        raise PollFailed(f"not an RSS/Atom feed: {str(feed.get('bozo_exception'))[:200]}")
    parsed = Parsed()
    for k, entry in enumerate(feed.entries):
        path = f"entries[{k}]"
        parsed.guard(
            path,
            entry,
            lambda entry=entry, path=path: _entry(
                entry, path, account, source, raw_ref, fetched_at, older_than, parsed
            ),
        )
    return parsed


def _entry(
    entry,
    path: str,
    account: str,
    source: str,
    raw_ref: str,
    fetched_at: datetime,
    older_than: datetime | None,
    parsed: Parsed,
) -> None:
    review = _review(entry, path, account, source, raw_ref, fetched_at)
    if older_than is not None and review.created_at < older_than:
        parsed.skipped.append("feed.old_entry")
        return
    parsed.add(review)


def _review(entry, path: str, account: str, source: str, raw_ref: str, fetched_at: datetime):
    entry_id = entry.get("id") or entry.get("link")
    if not entry_id:
        title = entry.get("title") or ""
        if not title:
            raise PayloadInvalid(f"{path}: an entry with neither id, link nor title")
        entry_id = "sha256:" + edit_marker(title + (entry.get("summary") or ""))
    if len(entry_id) > 512:
        entry_id = "sha256:" + hashlib.sha256(entry_id.encode()).hexdigest()
    when = entry.get("published_parsed") or entry.get("updated_parsed")
    created = datetime.fromtimestamp(calendar.timegm(when), UTC) if when else fetched_at
    title, summary = entry.get("title") or "", _content(entry)
    body = (
        f"{title}\n\n{summary}".strip()
        if title and summary and not summary.startswith(title)
        else (summary or title)
    )
    author = (entry.get("author") or "").strip()
    return canonical(
        path,
        platform=Platform.REVIEW,
        channel_kind=ChannelKind.REVIEW,
        source=source,
        account_id=account[:256],
        conversation_id=entry_id,
        platform_message_id=entry_id,
        author=Author(id=(author or "anonymous")[:256], display_name=author[:512] or None),
        text=body[:100_000],
        created_at=created,
        permalink=(entry.get("link") or None),
        raw_ref=raw_ref,
        language_hint=(entry.get("language") or None) and entry.get("language")[:16],
    )


def _content(entry) -> str:
    contents = entry.get("content") or []
    value = contents[0].get("value") if contents else entry.get("summary")
    return html_text(value or "")
