"""YouTube WebSub (PubSubHubbub): topics, lease arithmetic, the Atom notification parser (pure)
and the notifications' ``PlatformAdapter``.

The hub verifies each subscription intent with a GET (``hub.mode``, ``hub.topic``,
``hub.challenge``, ``hub.lease_seconds``) and then POSTs Atom feeds signed with
``X-Hub-Signature: sha1=<hex HMAC-SHA1(secret, body)>``. A feed entry announces a new or updated
video (``yt:videoId``, ``yt:channelId``); ``at:deleted-entry`` announces a removal.

As WebSub requires, a missing or wrong signature is still answered 2xx (``{"status": "rejected"}``)
and the content ignored — counted as an error of the source; the hub would only retry. A valid
notification records the videos (new ones are left for the comment poller) and is answered 200
after the commit.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from services.ingestor.errors import SignatureRejected, malformed, signature_outcome
from services.ingestor.intake import Reply, read_platform
from services.ingestor.normalized import RawBody
from services.ingestor.platforms.signatures import WEBSUB, check_hmac
from services.ingestor.shapes import PayloadInvalid, iso_time
from shared.events import utcnow
from shared.logging import get_logger

if TYPE_CHECKING:
    from services.ingestor.acceptor import Acceptor

log = get_logger(__name__)
SOURCE = "youtube"
XML_TYPES = ("application/atom+xml", "application/xml", "text/xml", "application/rss+xml")
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
    return VideoNotice(
        video_id=video_id,
        channel_id=channel_id,
        title=(entry.findtext(f"{ATOM}title") or None),
        published_at=iso_time(published, f"{path}.published") if published else None,
    )


def _removed(entry: ET.Element, index: int) -> VideoRemoved:
    match = _VIDEO_REF.match(entry.get("ref", ""))
    if match is None:
        raise PayloadInvalid(f"feed.deleted-entry[{index}]@ref: expected yt:video:<id>")
    when = entry.get("when")
    return VideoRemoved(
        video_id=match.group(1),
        removed_at=iso_time(when, f"feed.deleted-entry[{index}]@when") if when else None,
    )


Notification = tuple[list[VideoNotice], list[VideoRemoved]]
RecordVideos = Callable[[list[VideoNotice], list[VideoRemoved], datetime], Awaitable[int]]


class WebSubNotifications:
    """The ``PlatformAdapter`` of WebSub notifications. ``record`` stores the videos (the number of
    new ones; raises ``Rejected`` 503 when the database is down)."""

    source = SOURCE
    media_types = XML_TYPES

    def __init__(self, hub_secrets: Sequence[bytes], record: RecordVideos) -> None:
        self._keys, self._record = hub_secrets, record

    def verify(self, headers: Mapping[str, str], body: bytes) -> str:
        check_hmac(WEBSUB, headers.get("x-hub-signature"), self._keys, body)
        return ""

    def refused(self, exc: SignatureRejected) -> Reply:
        return Reply(202, {"status": "rejected", "error": exc.reason}, signature_outcome(exc))

    def read(self, body: bytes, raw: RawBody, delivery_id: str) -> Notification:
        try:
            return read_platform(lambda: parse_atom(body))
        except MalformedXml as exc:
            raise malformed("malformed_xml", str(exc)[:300]) from None

    async def accept(self, reading: Notification, raw: RawBody, acceptor: Acceptor) -> Reply:
        notices, removed = reading
        new = await self._record(notices, removed, utcnow())
        log.info("youtube.notified", videos=len(notices), new=new, removed=len(removed))
        body = {
            "status": "recorded",
            "videos": len(notices),
            "new_videos": new,
            "removed": len(removed),
        }
        return Reply(200, body, "accepted", len(notices) + len(removed))
