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

Rate limits: Graph says "slow down" with HTTP 400/403 and an error code rather than a 429 (4 app,
17 user, 32 page, 613 custom, 80001–80014 business use case; 80002 is Instagram's). Such a mention
stays held and is tried again later — after Graph's own ``estimated_time_to_regain_access``
(``X-Business-Use-Case-Usage``, minutes) when it gives one, else 30 s doubling to 5 min — and the
account's other held mentions wait with it, without a call. After ``meta_mention_max_hold_s``
(10 minutes; near-live channels are due in 15–20) it is published with the placeholder
(``Graph API rate limit (code 4) for 600 s``): an agent sees it in time and opens it on the platform.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from prometheus_client import Counter
from pydantic import ValidationError

from services.ingestor import mentions
from services.ingestor.ledger import aware
from services.ingestor.normalized import Item, Parsed, RawBody, canonical
from services.ingestor.pollers.context import PollContext
from services.ingestor.pollers.fetch import PollFailed, json_answer
from services.ingestor.pollers.store import is_due
from services.ingestor.settings import IngestorSettings, PollSource
from services.ingestor.shapes import PayloadInvalid, ident, obj, text
from shared.events import TEXT_UNAVAILABLE, Author, CanonicalMessage
from shared.logging import get_logger

log = get_logger(__name__)
NAME = mentions.SOURCE
UNAVAILABLE = f"{TEXT_UNAVAILABLE} instagram mention"  # shared.events.TEXT_UNAVAILABLE: the classifier sees it
ENRICHED = Counter(
    "switchboard_ingestor_mention_enrichment_total",
    "Held Instagram mentions published, by outcome "
    "(fetched, no_token, refused, failed, unusable, rate_limited)",
    ["outcome"],
)
DEFERRED = Counter(
    "switchboard_ingestor_mention_deferrals_total",
    "Held Instagram mentions put back because the Graph API rate-limited the account",
)
# Graph API error codes that mean "slow down" (developers.facebook.com/docs/graph-api/overview/rate-limiting)
THROTTLE_CODES = frozenset({4, 17, 32, 613, *range(80001, 80015)})
THROTTLE_FIRST_S, THROTTLE_MAX_S = 30.0, 300.0
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
        """Publish every held mention that is due, oldest first; each one's row goes once acknowledged.
        A rate-limited account's mentions are put back (see the module docstring)."""
        now = ctx.now()
        held = sorted(
            (row for row in (await ctx.store.cursors(ctx.name)).values() if is_due(row, now)),
            key=lambda row: aware(row.updated_at),
        )
        limited: dict[
            str, tuple[int, float | None]
        ] = {}  # account -> (Graph error code, its own wait) this round
        for row in held:
            position = json.loads(row.position)
            message = CanonicalMessage.model_validate(position["message"])
            try:
                if message.account_id in limited:
                    raise _Throttled(*limited[message.account_id])
                enriched, raw, outcome = await self._enrich(ctx, message)
            except _Throttled as throttle:
                limited[message.account_id] = (throttle.code, throttle.wait_s)
                since = datetime.fromisoformat(
                    position.setdefault("throttled_since", now.isoformat())
                )
                if (now - since).total_seconds() < ctx.settings.meta_mention_max_hold_s:
                    await self._defer(ctx, row.target, position, throttle, since, now)
                    continue
                enriched, raw, outcome = (
                    placeholder(
                        message,
                        f"Graph API rate limit (code {throttle.code}) for "
                        f"{(now - since).total_seconds():.0f} s",
                    ),
                    None,
                    "rate_limited",
                )
            parsed = Parsed(items=[Item(enriched, position["key"])])
            result = await ctx.acceptor.accept(
                position["source"], parsed, raw, position["correlation_id"]
            )
            await ctx.store.drop(ctx.name, row.target)
            ENRICHED.labels(outcome).inc()
            log.info(
                "instagram.mention_published",
                event_id=row.target,
                outcome=outcome,
                duplicate=not result.accepted,
            )

    @staticmethod
    async def _defer(
        ctx: PollContext,
        target: str,
        position: dict,
        throttle: _Throttled,
        since: datetime,
        now: datetime,
    ) -> None:
        """Put a rate-limited mention back: due again after Graph's estimate, else a doubling wait,
        never later than its deadline for the placeholder."""
        tries = int(position.get("throttled", 0))
        wait = (
            throttle.wait_s
            if throttle.wait_s is not None
            else min(THROTTLE_MAX_S, THROTTLE_FIRST_S * 2**tries)
        )
        deadline = since + timedelta(seconds=ctx.settings.meta_mention_max_hold_s)
        due = min(now + timedelta(seconds=wait), deadline)
        await ctx.save({**position, "throttled": tries + 1}, target=target, next_poll_at=due)
        DEFERRED.inc()
        log.info(
            "instagram.mention_rate_limited",
            event_id=target,
            code=throttle.code,
            retry_at=due.isoformat(),
        )

    async def _enrich(
        self, ctx: PollContext, message: CanonicalMessage
    ) -> tuple[CanonicalMessage, RawBody | None, str]:
        """The message with its text and author, the Graph answer it came from, and the outcome;
        or the placeholder (no raw body: ``raw_ref`` stays the webhook's). Raises ``_Throttled``
        when Graph rate-limits the account."""
        token = ctx.settings.meta_instagram_tokens.get(message.account_id)
        if token is None:
            return (
                placeholder(message, "no access token configured for this account"),
                None,
                "no_token",
            )
        comment_id = message.platform_message_id if message.in_reply_to is not None else None
        fields = (
            f"mentioned_comment.comment_id({comment_id}){{{_COMMENT_FIELDS}}}"
            if comment_id
            else f"mentioned_media.media_id({message.conversation_id}){{{_MEDIA_FIELDS}}}"
        )
        url = f"{ctx.settings.meta_graph_url.rstrip('/')}/{ctx.settings.meta_graph_version}/{message.account_id}"
        try:
            response = await ctx.http.get(
                url,
                params={"fields": fields},
                headers={"authorization": f"Bearer {token.get_secret_value()}"},
            )
        except PollFailed as exc:
            if (code := throttle_code(exc)) is not None:
                raise _Throttled(code, regain_s(exc.headers)) from None
            refused = exc.status is not None
            log.warning(
                "instagram.mention_fetch_failed", account=message.account_id, error=str(exc)[:300]
            )
            reason = (
                f"Graph API answered HTTP {exc.status}"
                if refused
                else "Graph API failed after retries"
            )
            return placeholder(message, reason), None, "refused" if refused else "failed"
        try:
            enriched = with_content(
                message, json_answer(response, "Graph API", dict), comment_id is not None
            )
        except (PollFailed, PayloadInvalid, ValidationError) as exc:
            log.warning(
                "instagram.mention_answer_unusable",
                account=message.account_id,
                error=str(exc)[:300],
            )
            return placeholder(message, "Graph API answer unusable"), None, "unusable"
        raw = RawBody(
            response.content, response.headers.get("content-type", "application/json")[:128]
        )
        return enriched.model_copy(update={"raw_ref": raw.ref}), raw, "fetched"


class _Throttled(Exception):
    def __init__(self, code: int, wait_s: float | None) -> None:
        super().__init__(f"Graph API rate limit (code {code})")
        self.code, self.wait_s = code, wait_s


def throttle_code(exc: PollFailed) -> int | None:
    """The Graph error code of a refusal that is a rate limit (``THROTTLE_CODES``), else ``None``."""
    if exc.status is None:
        return None
    try:
        document = json.loads(exc.body)
    except ValueError:
        return None
    error = document.get("error") if isinstance(document, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return (
        code
        if isinstance(code, int) and not isinstance(code, bool) and code in THROTTLE_CODES
        else None
    )


def regain_s(headers: dict[str, str]) -> float | None:
    """Graph's own estimate of when the account may call again, in seconds: the largest
    ``estimated_time_to_regain_access`` (minutes) in ``X-Business-Use-Case-Usage``; ``None`` when
    absent or unreadable (capped at ``THROTTLE_MAX_S`` × 12: an hour)."""
    try:
        usage = json.loads(headers.get("x-business-use-case-usage") or "null")
    except ValueError:
        return None
    minutes = [
        entry.get("estimated_time_to_regain_access")
        for entries in (usage.values() if isinstance(usage, dict) else ())
        if isinstance(entries, list)
        for entry in entries
        if isinstance(entry, dict)
    ]
    minutes = [
        m for m in minutes if isinstance(m, int | float) and not isinstance(m, bool) and m >= 0
    ]
    return min(max(minutes) * 60.0, THROTTLE_MAX_S * 12) if minutes else None


def with_content(message: CanonicalMessage, document: dict, is_comment: bool) -> CanonicalMessage:
    """``message`` with the text, author, time (and permalink) of a Graph answer. Raises
    ``PayloadInvalid`` when the answer lacks the mentioned object."""
    key, body_field = (
        ("mentioned_comment", "text") if is_comment else ("mentioned_media", "caption")
    )
    found = obj(document.get(key), f"$.{key}")
    path = f"$.{key}"
    username = text(found, "username", path)
    sender = obj(found["from"], f"{path}.from") if isinstance(found.get("from"), dict) else {}
    author_id = ident(sender, "id", f"{path}.from", required=False) or username or "unknown"
    when = graph_time(text(found, "timestamp", path)) or message.created_at
    return canonical(
        path,
        **{
            **message.model_dump(),
            "text": text(found, body_field, path) or "",
            "author": Author(
                id=author_id, handle=text(sender, "username", f"{path}.from") or username
            ),
            "created_at": when,
            "permalink": text(found, "permalink", path) or message.permalink,
        },
    )


def graph_time(value: str | None) -> datetime | None:
    """Graph timestamps look like ``2026-11-22T10:15:00+0000``; ``None`` when absent or unreadable."""
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo is not None else None
