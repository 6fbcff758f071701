"""YouTube comments poller: ``commentThreads.list`` (``part=snippet,replies``, ``order=time``,
newest first, ``nextPageToken`` paging) per configured channel (``allThreadsRelatedToChannelId``),
per configured video and per video announced by WebSub (``youtube_videos``, for
``INGESTOR_YOUTUBE_VIDEO_DAYS``).

Cursor per target: ``since`` = the newest thread time of the last completed sweep. A sweep pages
newest-first until a thread older than ``since`` (or the last page); each page is published and
acknowledged before the in-progress position (``page`` token, ``newest`` so far) is saved, so a
restart resumes at the page it stopped on; ``since`` moves only when the sweep is complete.
Threads at exactly ``since`` are read again and dropped by the dedup ledger.

Quota: each list call costs 1 unit of ``INGESTOR_YOUTUBE_DAILY_QUOTA`` (shared in the database by
every replica), spread fairly: each of the N targets is polled at most every
``max(interval_s, 86400 * N / quota)`` seconds, least recently polled first. When the day's
units are spent, the source pauses until the next Pacific midnight.

Replies: a thread carries at most a few replies inline (``replies.comments``); when its
``totalReplyCount`` says there are more, they are read with ``comments.list`` (``parentId``,
``part=snippet``, paged, 1 unit per call from the same quota) right after the thread's page was
accepted. A comment without ``channelId``/``videoId`` (the API leaves them out of replies and of
some threads) takes the thread's, else the target's own channel or video; a thread that is still
malformed is dead-lettered once (ledger key per item), however often its page is read again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from services.ingestor.ledger import aware
from services.ingestor.normalized import Parsed, canonical
from services.ingestor.pollers.context import Paused, PollContext
from services.ingestor.pollers.fetch import PollFailed, json_answer
from services.ingestor.pollers.quota import Quota, next_reset
from services.ingestor.pollers.store import is_due
from services.ingestor.shapes import PayloadInvalid, arr, ident, iso_time, obj, text
from services.ingestor.tables import YouTubeVideo
from shared.events import Author, ChannelKind, Platform
from shared.logging import get_logger

log = get_logger(__name__)
API = "https://www.googleapis.com"
_TARGET_REFUSED = (400, 403, 404)
_TARGET_REASONS = {
    "commentsDisabled",
    "videoNotFound",
    "channelNotFound",
    "forbidden",
    "processingFailure",
    "operationNotSupported",
    "invalidVideoId",
    "commentThreadNotFound",
}  # this target, not the source
_REFUSED_PAUSE = timedelta(days=1)
_NEVER = datetime(1970, 1, 1, tzinfo=UTC)
PATH = "/youtube/v3/commentThreads"
REPLIES_PATH = "/youtube/v3/comments"


class YouTubeComments:
    platform = "youtube"

    def __init__(self, quota: Quota) -> None:
        self.quota = quota

    async def targets(self, ctx: PollContext) -> list[str]:
        """channel:<id> and video:<id> targets: configured, then announced (recent, not deleted) videos
        of channels the source does not already poll whole (``allThreadsRelatedToChannelId`` covers them)."""
        config, since = ctx.config, ctx.now() - timedelta(days=ctx.settings.youtube_video_days)
        found = [f"channel:{c}" for c in config.channels] + [f"video:{v}" for v in config.videos]
        query = select(YouTubeVideo.video_id).where(
            YouTubeVideo.deleted_at.is_(None), YouTubeVideo.first_seen_at >= since
        )
        if config.channels:
            query = query.where(YouTubeVideo.channel_id.not_in(config.channels))
        async with ctx.store.ledger.session() as session:
            found += [
                f"video:{v}"
                for v in (await session.scalars(query.order_by(YouTubeVideo.first_seen_at)))
            ]
        return list(dict.fromkeys(found))

    async def round(self, ctx: PollContext) -> None:
        targets = await self.targets(ctx)
        if not targets:
            return
        interval = max(
            ctx.config.interval_s, 86400 * len(targets) / ctx.settings.youtube_daily_quota
        )
        cursors = await ctx.store.cursors(ctx.name)
        now = ctx.now()
        due = [t for t in targets if is_due(cursors.get(t), now)]
        due.sort(
            key=lambda t: aware(cursors[t].last_polled_at) or _NEVER if t in cursors else _NEVER
        )  # fair
        for target in due:
            try:
                await self.sweep(ctx, target, interval)
            except PollFailed as exc:
                reasons = _error_reasons(exc.body)
                if "quotaExceeded" in reasons or "dailyLimitExceeded" in reasons:
                    raise Paused(
                        "YouTube says the daily quota is spent", next_reset(ctx.now())
                    ) from None
                if exc.status not in _TARGET_REFUSED or not reasons & _TARGET_REASONS:
                    raise  # a bad key or request fails the source (and backs off), not one target
                # this video or channel refuses (comments disabled, not found, private): park it for a
                # day and go on with the others; counted as an error of the source
                log.warning(
                    "youtube.target_refused", source=ctx.name, target=target, error=str(exc)[:200]
                )
                ctx.on_error(ctx.name, "target_refused")
                await ctx.save(
                    await ctx.position(target),
                    target,
                    next_poll_at=ctx.now() + _REFUSED_PAUSE,
                    polled=True,
                )

    async def sweep(self, ctx: PollContext, target: str, interval_s: float) -> None:
        position = await ctx.position(target)
        since, newest = _time(position.get("since")), _time(position.get("newest"))
        token, pages = position.get("page"), 0
        kind, ident_ = target.split(":", 1)
        known = Known(
            channel=ident_ if kind == "channel" else await _video_channel(ctx, ident_),
            video=ident_ if kind == "video" else None,
            fallback_account=ctx.name,
        )
        while True:
            if not await self.quota.take(ctx.now()):
                raise Paused("YouTube daily quota spent", next_reset(ctx.now()))
            params = {
                "part": "snippet,replies",
                "order": "time",
                "maxResults": "100",
                "textFormat": "plainText",
                ("videoId" if kind == "video" else "allThreadsRelatedToChannelId"): ident_,
            }
            if token:
                params["pageToken"] = token
            response = await ctx.http.get(
                (ctx.config.url or API).rstrip("/") + PATH, params=params, headers=_key_header(ctx)
            )
            document = _document(response)
            parsed, page_newest, reached = parse_threads(
                document, since, ctx.name, ctx.raw_ref(response), known
            )
            await ctx.accept(parsed, response)
            for thread_id, thread_snippet in parsed_more_replies(document, since):
                await self.replies(ctx, thread_id, thread_snippet, known)
            newest = max(filter(None, (newest, page_newest)), default=None)
            token, pages = document.get("nextPageToken") or None, pages + 1
            if not isinstance(token, str | None):
                raise PollFailed("nextPageToken is not a string")
            if reached or token is None or (since is None and pages >= ctx.settings.poll_max_pages):
                done = newest or since
                await ctx.save(
                    {"since": done.isoformat() if done else None},
                    target,
                    next_poll_at=ctx.now() + timedelta(seconds=interval_s),
                    polled=True,
                )
                if kind == "video":
                    await _mark_polled(ctx, ident_)
                return
            await ctx.save(
                {
                    "since": since.isoformat() if since else None,
                    "newest": newest.isoformat() if newest else None,
                    "page": token,
                },
                target,
            )
            if pages >= ctx.settings.poll_max_pages:
                await ctx.save(
                    {
                        "since": since.isoformat() if since else None,
                        "newest": newest.isoformat() if newest else None,
                        "page": token,
                    },
                    target,
                    next_poll_at=ctx.now(),
                    polled=True,
                )
                return

    async def replies(
        self, ctx: PollContext, thread_id: str, thread_snippet: dict, known: Known
    ) -> None:
        """Every reply of ``thread_id`` with ``comments.list`` (``parentId``), page by page (at most
        ``INGESTOR_POLL_MAX_PAGES``), each page accepted before the next; the ledger drops the ones
        already published inline or in an earlier round."""
        token = None
        for _ in range(ctx.settings.poll_max_pages):
            if not await self.quota.take(ctx.now()):
                raise Paused("YouTube daily quota spent", next_reset(ctx.now()))
            params = {
                "part": "snippet",
                "parentId": thread_id,
                "maxResults": "100",
                "textFormat": "plainText",
            }
            if token:
                params["pageToken"] = token
            try:
                response = await ctx.http.get(
                    (ctx.config.url or API).rstrip("/") + REPLIES_PATH,
                    params=params,
                    headers=_key_header(ctx),
                )
            except PollFailed as exc:
                reasons = _error_reasons(exc.body)
                if exc.status in _TARGET_REFUSED and not reasons & {
                    "quotaExceeded",
                    "dailyLimitExceeded",
                }:
                    # the thread went away (deleted, held for review): its inline replies were kept
                    log.warning(
                        "youtube.replies_refused",
                        source=ctx.name,
                        thread=thread_id,
                        error=str(exc)[:200],
                    )
                    return
                raise
            document = json_answer(response, "comments", dict)
            items = document.get("items", [])
            if not isinstance(items, list):
                raise PollFailed("comments: items is not an array")
            parsed, raw_ref = Parsed(), ctx.raw_ref(response)
            for k, raw in enumerate(items):
                path = f"items[{k}]"
                parsed.guard(
                    path,
                    raw,
                    lambda raw=raw, path=path: parsed.add(
                        _comment(
                            obj(raw, path),
                            path,
                            ctx.name,
                            raw_ref,
                            thread_snippet,
                            known,
                            parent=thread_id,
                        )
                    ),
                )
            await ctx.accept(parsed, response)
            token = document.get("nextPageToken") or None
            if not isinstance(token, str):
                return


@dataclass(frozen=True)
class Known:
    """What the poller knows when a comment does not say: the target's channel and video, and the
    account to use when no channel is known at all (the source's name)."""

    channel: str | None = None
    video: str | None = None
    fallback_account: str = "youtube"


def parse_threads(
    document: dict, since: datetime | None, source: str, raw_ref: str, known: Known | None = None
) -> tuple[Parsed, datetime | None, bool]:
    """Comments (top-level and replies) of threads at or after ``since``; the newest thread time;
    whether a thread older than ``since`` was reached. A malformed thread is ``invalid`` (dead-lettered
    once), never a reason to stall the cursor."""
    parsed, newest, reached, known = Parsed(), None, False, known or Known(fallback_account=source)
    items = document.get("items", [])
    if not isinstance(items, list):
        raise PollFailed("commentThreads: items is not an array")
    for k, raw in enumerate(items):
        path = f"items[{k}]"
        published = _published(raw)
        if published is not None and since is not None and published < since:
            reached = True
            continue
        if published is not None:
            newest = max(newest, published) if newest else published
        parsed.guard(
            path, raw, lambda raw=raw, path=path: _thread(raw, path, source, raw_ref, known, parsed)
        )
    return parsed, newest, reached


def parsed_more_replies(document: dict, since: datetime | None) -> list[tuple[str, dict]]:
    """``(thread id, thread snippet)`` of the threads at or after ``since`` whose
    ``totalReplyCount`` is more than the replies they carry inline."""
    found = []
    for raw in document.get("items", []) if isinstance(document.get("items"), list) else []:
        published = _published(raw)
        if published is None or (since is not None and published < since):
            continue
        snippet, replies = raw.get("snippet"), raw.get("replies")
        inline = replies.get("comments") if isinstance(replies, dict) else None
        total = snippet.get("totalReplyCount") if isinstance(snippet, dict) else None
        if (
            isinstance(total, int)
            and total > (len(inline) if isinstance(inline, list) else 0)
            and isinstance(raw.get("id"), str)
            and raw["id"]
        ):
            found.append((raw["id"], snippet))
    return found


def _published(raw: object) -> datetime | None:
    """The thread's time (its top-level comment's ``publishedAt``), or ``None`` if unreadable."""
    try:
        top = obj(
            obj(obj(raw, "thread").get("snippet"), "snippet").get("topLevelComment"),
            "topLevelComment",
        )
        return iso_time(obj(top.get("snippet"), "snippet").get("publishedAt"), "publishedAt")
    except PayloadInvalid:
        return None


def _thread(
    raw: object, path: str, source: str, raw_ref: str, known: Known, parsed: Parsed
) -> None:
    thread = obj(raw, path)
    snippet = obj(thread.get("snippet"), f"{path}.snippet")
    top = obj(snippet.get("topLevelComment"), f"{path}.snippet.topLevelComment")
    comments = [(top, f"{path}.snippet.topLevelComment")]
    replies = thread.get("replies")
    if replies is not None:
        comments += [
            (c, f"{path}.replies.comments[{j}]")
            for j, c in enumerate(
                arr(obj(replies, f"{path}.replies"), "comments", f"{path}.replies")
            )
        ]
    thread_id = ident(thread, "id", path, required=False)
    for c, p in comments:
        parsed.add(
            _comment(
                obj(c, p),
                p,
                source,
                raw_ref,
                snippet,
                known,
                parent=thread_id if c is not top else None,
            )
        )


def _comment(
    comment: dict,
    path: str,
    source: str,
    raw_ref: str,
    thread: dict,
    known: Known | None = None,
    parent: str | None = None,
):
    known = known or Known(fallback_account=source)
    snippet = obj(comment.get("snippet"), f"{path}.snippet")
    comment_id = ident(comment, "id", path)
    video = (
        ident(snippet, "videoId", f"{path}.snippet", required=False)
        or ident(thread, "videoId", path, required=False)
        or known.video
    )
    channel = (
        ident(snippet, "channelId", f"{path}.snippet", required=False)
        or ident(thread, "channelId", path, required=False)
        or known.channel
        or known.fallback_account
    )
    author_channel = snippet.get("authorChannelId")
    author_id = (
        ident(
            obj(author_channel, f"{path}.snippet.authorChannelId"),
            "value",
            f"{path}.snippet.authorChannelId",
        )
        if author_channel is not None
        else None
    )
    name = text(snippet, "authorDisplayName", f"{path}.snippet")
    body = (
        text(snippet, "textOriginal", f"{path}.snippet")
        or text(snippet, "textDisplay", f"{path}.snippet")
        or ""
    )
    top_id = parent or comment_id
    return canonical(
        path,
        platform=Platform.YOUTUBE,
        channel_kind=ChannelKind.PUBLIC_COMMENT,
        source=source,
        account_id=channel,
        conversation_id=video or top_id,
        platform_message_id=comment_id,  # a channel discussion: its thread
        author=Author(id=author_id or name or "unknown", handle=name, display_name=name),
        text=body,
        created_at=iso_time(snippet.get("publishedAt"), f"{path}.snippet.publishedAt"),
        in_reply_to=ident(snippet, "parentId", f"{path}.snippet", required=False) or parent,
        permalink=f"https://www.youtube.com/watch?v={video}&lc={comment_id}" if video else None,
        raw_ref=raw_ref or None,
    )


def _document(response) -> dict:
    return json_answer(response, "commentThreads", dict)


def _key_header(ctx: PollContext) -> dict[str, str]:
    # the API key goes in a header, not the URL, so no request log can show it
    return (
        {"x-goog-api-key": ctx.config.token.get_secret_value()}
        if ctx.config.token is not None
        else {}
    )


async def _video_channel(ctx: PollContext, video_id: str) -> str | None:
    """The channel WebSub announced ``video_id`` for, else the source's one configured channel."""
    async with ctx.store.ledger.session() as session:
        channel = await session.scalar(
            select(YouTubeVideo.channel_id).where(YouTubeVideo.video_id == video_id)
        )
    return channel or (ctx.config.channels[0] if len(ctx.config.channels) == 1 else None)


def _time(value) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


async def _mark_polled(ctx: PollContext, video_id: str) -> None:
    async with ctx.store.ledger.session(write=True) as session:
        await session.execute(
            update(YouTubeVideo)
            .where(YouTubeVideo.video_id == video_id)
            .values(comments_polled_at=ctx.now())
        )


def _error_reasons(body: bytes) -> set[str]:
    """``error.errors[].reason`` of a YouTube Data API error body (empty when it is not one)."""
    try:
        errors = json.loads(body).get("error", {}).get("errors", [])
        return {
            e.get("reason")
            for e in errors
            if isinstance(e, dict) and isinstance(e.get("reason"), str)
        }
    except (ValueError, AttributeError):
        return set()
