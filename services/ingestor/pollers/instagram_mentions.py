"""The enrichment worker: fetches the text and author of held Instagram mentions from the Graph
API, then publishes them like any webhook message (``Acceptor``: dedup ledger, ``acks=all``).

A comment mention reads ``GET /<version>/<ig-user-id>?fields=mentioned_comment.comment_id(<id>)
{id,text,timestamp,username,from}``, a caption mention ``mentioned_media.media_id(<id>){id,caption,
timestamp,username,permalink}``, with the account's access token (``INGESTOR_META_INSTAGRAM_TOKENS``)
in the ``Authorization`` header, never in the URL. It runs on the poller core (lease
``_instagram_mentions``: one replica at a time; 429 waits ``Retry-After``, 5xx and transport errors
back off) and is woken by the webhook that held a mention, so it starts at once on that replica.

A mention is never dropped: when there is no token for the account, the Graph API refuses (a
4xx: comment deleted, token expired) or fails after the retries, it is published all the same,
with the placeholder text ``[text unavailable: instagram mention (<reason>)]``
(``shared.events.TEXT_UNAVAILABLE``) and author ``unknown``: the classifier sends it to an agent. Only a failed publication (broker or
database down) keeps it held for the next round.
"""

from __future__ import annotations

import json
from datetime import datetime

from prometheus_client import Counter
from pydantic import ValidationError

from services.ingestor import mentions
from services.ingestor.batch import RawBody
from services.ingestor.normalized import Item, Parsed, canonical
from services.ingestor.pollers.core import PollContext, PollFailed, aware, is_due, json_answer
from services.ingestor.shapes import PayloadInvalid, ident, obj, text
from shared.events import TEXT_UNAVAILABLE, Author, CanonicalMessage
from shared.logging import get_logger
from shared.settings import IngestorSettings, PollSource

log = get_logger(__name__)
NAME = mentions.SOURCE
UNAVAILABLE = f"{TEXT_UNAVAILABLE} instagram mention"  # shared.events.TEXT_UNAVAILABLE: the classifier sees it
ENRICHED = Counter("switchboard_ingestor_mention_enrichment_total", "Held Instagram mentions published, by outcome "
                   "(fetched, no_token, refused, failed, unusable)", ["outcome"])
_COMMENT_FIELDS = "id,text,timestamp,username,from"
_MEDIA_FIELDS = "id,caption,timestamp,username,permalink"


def config(settings: IngestorSettings) -> PollSource:
    """The worker's schedule on the poller core (``kind`` is unused; a round whenever woken, else every 4 s)."""
    return PollSource(kind="feed", url=settings.meta_graph_url, interval_s=4)


def placeholder(message: CanonicalMessage, reason: str) -> CanonicalMessage:
    return message.model_copy(update={"text": f"{UNAVAILABLE} ({reason})]"})


class InstagramMentions:
    platform = "instagram"

    async def round(self, ctx: PollContext) -> None:
        """Publish every held mention that is due, oldest first; each one's row goes once acknowledged."""
        now = ctx.now()
        held = sorted((row for row in (await ctx.store.cursors(ctx.name)).values() if is_due(row, now)),
                      key=lambda row: aware(row.updated_at))
        for row in held:
            position = json.loads(row.position)
            message = CanonicalMessage.model_validate(position["message"])
            enriched, raw, outcome = await self._enrich(ctx, message)
            parsed = Parsed(items=[Item(enriched, position["key"])])
            result = await ctx.acceptor.accept(position["source"], parsed, raw, position["correlation_id"])
            await ctx.store.drop(ctx.name, row.target)
            ENRICHED.labels(outcome).inc()
            log.info("instagram.mention_published", event_id=row.target, outcome=outcome,
                     duplicate=not result.accepted)

    async def _enrich(self, ctx: PollContext, message: CanonicalMessage) -> tuple[CanonicalMessage, RawBody | None, str]:
        """The message with its text and author, the Graph answer it came from, and the outcome;
        or the placeholder (no raw body: ``raw_ref`` stays the webhook's)."""
        token = ctx.settings.meta_instagram_tokens.get(message.account_id)
        if token is None:
            return placeholder(message, "no access token configured for this account"), None, "no_token"
        comment_id = message.platform_message_id if message.in_reply_to is not None else None
        fields = (f"mentioned_comment.comment_id({comment_id}){{{_COMMENT_FIELDS}}}" if comment_id else
                  f"mentioned_media.media_id({message.conversation_id}){{{_MEDIA_FIELDS}}}")
        url = f"{ctx.settings.meta_graph_url.rstrip('/')}/{ctx.settings.meta_graph_version}/{message.account_id}"
        try:
            response = await ctx.http.get(url, params={"fields": fields},
                                          headers={"authorization": f"Bearer {token.get_secret_value()}"})
        except PollFailed as exc:
            refused = exc.status is not None
            log.warning("instagram.mention_fetch_failed", account=message.account_id, error=str(exc)[:300])
            reason = f"Graph API answered HTTP {exc.status}" if refused else "Graph API failed after retries"
            return placeholder(message, reason), None, "refused" if refused else "failed"
        try:
            enriched = with_content(message, json_answer(response, "Graph API", dict), comment_id is not None)
        except (PollFailed, PayloadInvalid, ValidationError) as exc:
            log.warning("instagram.mention_answer_unusable", account=message.account_id, error=str(exc)[:300])
            return placeholder(message, "Graph API answer unusable"), None, "unusable"
        raw = RawBody(response.content, response.headers.get("content-type", "application/json")[:128])
        return enriched.model_copy(update={"raw_ref": raw.ref}), raw, "fetched"


def with_content(message: CanonicalMessage, document: dict, is_comment: bool) -> CanonicalMessage:
    """``message`` with the text, author, time (and permalink) of a Graph answer. Raises
    ``PayloadInvalid`` when the answer lacks the mentioned object."""
    key, body_field = ("mentioned_comment", "text") if is_comment else ("mentioned_media", "caption")
    found = obj(document.get(key), f"$.{key}")
    path = f"$.{key}"
    username = text(found, "username", path)
    sender = obj(found["from"], f"{path}.from") if isinstance(found.get("from"), dict) else {}
    author_id = ident(sender, "id", f"{path}.from", required=False) or username or "unknown"
    when = graph_time(text(found, "timestamp", path)) or message.created_at
    return canonical(path, **{**message.model_dump(), "text": text(found, body_field, path) or "",
                              "author": Author(id=author_id, handle=text(sender, "username", f"{path}.from") or username),
                              "created_at": when, "permalink": text(found, "permalink", path) or message.permalink})


def graph_time(value: str | None) -> datetime | None:
    """Graph timestamps look like ``2026-11-22T10:15:00+0000``; ``None`` when absent or unreadable."""
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo is not None else None
