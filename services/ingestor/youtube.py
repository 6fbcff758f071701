"""YouTube WebSub (PubSubHubbub): topics, lease arithmetic and the Atom notification parser. Pure.

The hub verifies each subscription intent with a GET (``hub.mode``, ``hub.topic``,
``hub.challenge``, ``hub.lease_seconds``) and then POSTs Atom feeds signed with
``X-Hub-Signature: sha1=<hex HMAC-SHA1(secret, body)>``. A feed entry announces a new or updated
video (``yt:videoId``, ``yt:channelId``); ``at:deleted-entry`` announces a removal.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from services.ingestor.shapes import PayloadInvalid, iso_time

ATOM, YT = "{http://www.w3.org/2005/Atom}", "{http://www.youtube.com/xml/schemas/2015}"
TOMBSTONE = "{http://purl.org/atompub/tombstones/1.0}"
_FEED_PATHS = ("/xml/feeds/videos.xml", "/feeds/videos.xml")
_CHANNEL_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_VIDEO_REF = re.compile(r"^yt:video:([A-Za-z0-9_-]{1,64})$")


class MalformedXml(ValueError):
    """The body is not a well-formed, DTD-free XML document."""


@dataclass(frozen=True)
class VideoNotice:
    video_id: str
    channel_id: str
    title: str | None
    published_at: datetime | None


@dataclass(frozen=True)
class VideoRemoved:
    video_id: str
    removed_at: datetime | None


def topic_for(channel_id: str) -> str:
    return f"https://www.youtube.com/xml/feeds/videos.xml?channel_id={channel_id}"


def channel_of(topic: str) -> str | None:
    """The channel id of a YouTube video-feed topic URL, or ``None`` if it is not one."""
    parts = urlsplit(topic)
    if parts.hostname not in ("www.youtube.com", "youtube.com") or parts.path not in _FEED_PATHS:
        return None
    ids = parse_qs(parts.query).get("channel_id", [])
    return ids[0] if len(ids) == 1 and _CHANNEL_ID.match(ids[0]) else None


def resubscribe_at(verified_at: datetime, lease_seconds: int) -> datetime:
    """When to renew: at 80 % of the lease, and at least an hour before it ends when it is long."""
    margin = max(lease_seconds * 0.2, min(3600, lease_seconds * 0.5))
    return verified_at + timedelta(seconds=lease_seconds - margin)


def parse_atom(body: bytes) -> tuple[list[VideoNotice], list[VideoRemoved]]:
    """Videos announced and removed by a notification. Raises ``MalformedXml`` or ``PayloadInvalid``."""
    if b"<!doctype" in body[:4096].lower() or b"<!entity" in body.lower():
        raise MalformedXml("DTDs and entities are not accepted")  # no entity expansion, ever
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise MalformedXml(f"not well-formed XML: {exc}") from None
    if root.tag != f"{ATOM}feed":
        raise PayloadInvalid("$: the root element is not an Atom <feed>")
    notices = [_notice(entry, i) for i, entry in enumerate(root.iter(f"{ATOM}entry"))]
    removed = [_removed(entry, i) for i, entry in enumerate(root.iter(f"{TOMBSTONE}deleted-entry"))]
    return notices, removed


def _notice(entry: ET.Element, index: int) -> VideoNotice:
    path = f"feed.entry[{index}]"
    video_id, channel_id = entry.findtext(f"{YT}videoId"), entry.findtext(f"{YT}channelId")
    if not video_id or not _CHANNEL_ID.match(video_id):
        raise PayloadInvalid(f"{path}.yt:videoId: missing or not a video id")
    if not channel_id or not _CHANNEL_ID.match(channel_id):
        raise PayloadInvalid(f"{path}.yt:channelId: missing or not a channel id")
    published = entry.findtext(f"{ATOM}published")
    return VideoNotice(video_id=video_id, channel_id=channel_id, title=(entry.findtext(f"{ATOM}title") or None),
                       published_at=iso_time(published, f"{path}.published") if published else None)


def _removed(entry: ET.Element, index: int) -> VideoRemoved:
    match = _VIDEO_REF.match(entry.get("ref", ""))
    if match is None:
        raise PayloadInvalid(f"feed.deleted-entry[{index}]@ref: expected yt:video:<id>")
    when = entry.get("when")
    return VideoRemoved(video_id=match.group(1),
                        removed_at=iso_time(when, f"feed.deleted-entry[{index}]@when") if when else None)
