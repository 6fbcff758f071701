"""Mastodon mentions poller: ``GET /api/v1/notifications?types[]=mention`` with a bearer token.

Cursor: ``min_id`` = the newest notification id published. With ``min_id`` Mastodon returns the
page *immediately after* it (newest first within the page); the ``Link`` header's ``rel="prev"``
URL continues towards newer ones, so following it until an empty page reads every mention once,
oldest pages first. The cursor is saved after each page was acknowledged. The very first round
(no cursor) reads only the newest page: history is not back-filled.
"""

from __future__ import annotations

import html
import re
from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import urlsplit

from services.ingestor.normalized import Parsed, canonical
from services.ingestor.pollers.context import PollContext
from services.ingestor.pollers.fetch import json_answer
from services.ingestor.pollers.store import is_due
from services.ingestor.shapes import arr, count, ident, iso_time, obj, text
from shared.events import Attachment, Author, ChannelKind, Platform

PATH = "/api/v1/notifications"
_MEDIA = {"image": "image", "gifv": "video", "video": "video", "audio": "audio"}


class MastodonMentions:
    platform = "mastodon"

    async def round(self, ctx: PollContext) -> None:
        if not is_due(await ctx.store.cursor(ctx.name, ""), ctx.now()):
            return
        base = (ctx.config.url or "").rstrip("/")
        account = ctx.config.account or urlsplit(base).hostname or ctx.name
        headers = (
            {"authorization": f"Bearer {ctx.config.token.get_secret_value()}"}
            if ctx.config.token
            else {}
        )
        position = await ctx.position()
        min_id = position.get("min_id")
        url, params = base + PATH, {"types[]": "mention", "limit": "40"}
        if min_id:
            params["min_id"] = min_id
        for _ in range(ctx.settings.poll_max_pages):
            response = await ctx.http.get(url, params=params, headers=headers)
            notifications = json_answer(response, "notifications", list)
            if not notifications:
                break
            parsed, newest = parse_notifications(
                notifications, account, ctx.name, ctx.raw_ref(response)
            )
            await ctx.accept(parsed, response)
            if newest is not None and (min_id is None or _id_key(newest) > _id_key(min_id)):
                min_id = newest
                await ctx.save({"min_id": min_id})
            previous = response.links.get("prev", {}).get("url")
            if not position.get("min_id") or not previous:
                break  # first round: the newest page only; else no newer page announced
            url, params = previous, None
        await ctx.save(
            {"min_id": min_id} if min_id else {},
            next_poll_at=ctx.now() + timedelta(seconds=ctx.config.interval_s),
            polled=True,
        )


def parse_notifications(
    notifications: list, account: str, source: str, raw_ref: str
) -> tuple[Parsed, str | None]:
    """Mentions as messages (``direct`` visibility: a direct message); the newest notification id."""
    parsed, newest = Parsed(), None
    for k, raw in enumerate(notifications):
        path = f"[{k}]"
        if (
            isinstance(raw, dict)
            and isinstance(raw.get("id"), str | int)
            and not isinstance(raw.get("id"), bool)
            and str(raw["id"]).isprintable()
            and 0 < len(str(raw["id"])) <= 512
        ):
            note_id = str(raw["id"])
            newest = note_id if newest is None or _id_key(note_id) > _id_key(newest) else newest
        parsed.guard(
            path,
            raw,
            lambda raw=raw, path=path: _notification(raw, path, account, source, raw_ref, parsed),
        )
    return parsed, newest


def _notification(
    raw: object, path: str, account: str, source: str, raw_ref: str, parsed: Parsed
) -> None:
    """One notification: a mention is a message, other types are skipped; a malformed one is
    ``invalid`` (dead-lettered once)."""
    note = obj(raw, path)
    ident(note, "id", path)
    if note.get("type") != "mention":
        parsed.skipped.append(f"mastodon.{str(note.get('type'))[:32]}")
        return
    parsed.add(_mention(note, path, account, source, raw_ref))


def _mention(note: dict, path: str, account: str, source: str, raw_ref: str):
    status = obj(note.get("status"), f"{path}.status")
    sender = obj(status.get("account") or note.get("account"), f"{path}.account")
    status_id = ident(status, "id", f"{path}.status")
    reply_to = ident(status, "in_reply_to_id", f"{path}.status", required=False)
    direct = status.get("visibility") == "direct"
    media = []
    for j, item in enumerate(arr(status, "media_attachments", f"{path}.status")):
        item = obj(item, f"{path}.status.media_attachments[{j}]")
        kind = text(item, "type", f"{path}.status.media_attachments[{j}]") or "file"
        media.append(
            Attachment(
                type=_MEDIA.get(kind, "file"),
                url=text(item, "url", f"{path}.status.media_attachments[{j}]"),
                id=ident(item, "id", f"{path}.status.media_attachments[{j}]", required=False),
            )
        )
    language = text(status, "language", f"{path}.status")
    return canonical(
        path,
        platform=Platform.MASTODON,
        channel_kind=ChannelKind.DIRECT_MESSAGE if direct else ChannelKind.MENTION,
        source=source,
        account_id=account,
        conversation_id=reply_to or status_id,
        platform_message_id=status_id,
        author=Author(
            id=ident(sender, "id", f"{path}.account"),
            handle=text(sender, "acct", f"{path}.account"),
            display_name=text(sender, "display_name", f"{path}.account") or None,
            follower_count=count(sender, "followers_count", f"{path}.account"),
        ),
        text=html_text(text(status, "content", f"{path}.status") or ""),
        language_hint=language[:16] if language else None,
        created_at=iso_time(status.get("created_at"), f"{path}.status.created_at"),
        in_reply_to=reply_to,
        permalink=text(status, "url", f"{path}.status") or text(status, "uri", f"{path}.status"),
        attachments=tuple(media),
        raw_ref=raw_ref,
    )


def _id_key(value: str) -> tuple[int, str]:
    """Mastodon ids are numeric strings (snowflakes): compare by length, then lexically."""
    return len(value), value


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        if tag in ("br", "p") and self.parts:
            self.parts.append("\n")

    def handle_data(self, data) -> None:
        self.parts.append(data)


def html_text(content: str) -> str:
    """Status HTML (``<p>``, ``<br>``, mention links) as plain text."""
    parser = _Text()
    parser.feed(content)
    parser.close()
    return re.sub(r"\n{3,}", "\n\n", html.unescape("".join(parser.parts))).strip()
