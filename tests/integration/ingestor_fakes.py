"""A real local HTTP server (FastAPI on uvicorn, in a thread, on a free port) that answers like the
platforms the ingestor polls, in their documented response shapes: YouTube Data API v3
``commentThreads.list``, Mastodon ``GET /api/v1/notifications`` (``min_id``/``max_id`` and ``Link``
paging, bearer token), an Atom and an RSS 2.0 feed with ``ETag`` / ``Last-Modified``, and the Graph
API's ``mentioned_comment`` / ``mentioned_media`` fields of an Instagram user (bearer token; an
unknown object is Graph's 400 ``GraphMethodException``). Tests change ``Platforms`` state between
rounds and script failures (429, 5xx) up front."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from html import escape
from urllib.parse import parse_qsl

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from tools.devbroker import free_port

MASTODON_TOKEN = "mastodon-access-token"
GRAPH_TOKEN = "graph-user-access-token"
_MENTIONED = re.compile(
    r"^(mentioned_comment)\.comment_id\((\w+)\)\{([\w,]+)\}$|"
    r"^(mentioned_media)\.media_id\((\w+)\)\{([\w,]+)\}$"
)


@dataclass
class Platforms:
    base: str = ""
    threads: dict[str, list[dict]] = field(
        default_factory=dict
    )  # "video:ID"/"channel:ID" -> newest first
    yt_page_size: int = 2
    yt_refused: dict[str, tuple[int, str]] = field(
        default_factory=dict
    )  # target -> (status, reason)
    yt_replies: dict[str, list[dict]] = field(
        default_factory=dict
    )  # thread id -> every reply (comments.list)
    notifications: list[dict] = field(default_factory=list)  # oldest first
    mastodon_page_size: int = 2
    feeds: dict[str, tuple[str, str]] = field(default_factory=dict)  # path -> (content type, body)
    # answered first, in order: (status, headers) or (status, headers, JSON body)
    failures: list[tuple] = field(default_factory=list)
    requests: list[tuple[str, dict, dict]] = field(default_factory=list)  # path, query, headers
    hub_requests: list[dict] = field(default_factory=list)  # WebSub subscription forms received
    ig_comments: dict[str, dict] = field(default_factory=dict)  # comment id -> IG Comment fields
    ig_media: dict[str, dict] = field(default_factory=dict)  # media id -> IG Media fields
    graph_delay_s: float = 0.0  # before each Graph answer

    def count(self, prefix: str) -> int:
        return sum(1 for path, _, _ in self.requests if path.startswith(prefix))


def comment(
    comment_id: str, video: str, channel: str, published: str, text: str, parent: str | None = None
) -> dict:
    snippet = {
        "channelId": channel,
        "videoId": video,
        "textDisplay": text,
        "textOriginal": text,
        "authorDisplayName": f"@viewer-{comment_id[-3:]}",
        "authorProfileImageUrl": "https://yt3.ggpht.com/a.jpg",
        "authorChannelUrl": "http://www.youtube.com/@viewer",
        "authorChannelId": {"value": f"UCauthor{comment_id[-4:]}"},
        "canRate": True,
        "viewerRating": "none",
        "likeCount": 0,
        "publishedAt": published,
        "updatedAt": published,
    }
    if parent:
        snippet["parentId"] = parent
    return {
        "kind": "youtube#comment",
        "etag": f"e-{comment_id}",
        "id": comment_id,
        "snippet": snippet,
    }


def thread(
    thread_id: str, video: str, channel: str, published: str, text: str, replies: list[dict] = ()
) -> dict:
    body = {
        "kind": "youtube#commentThread",
        "etag": f"t-{thread_id}",
        "id": thread_id,
        "snippet": {
            "channelId": channel,
            "videoId": video,
            "topLevelComment": comment(thread_id, video, channel, published, text),
            "canReply": True,
            "totalReplyCount": len(replies),
            "isPublic": True,
        },
    }
    if replies:
        body["replies"] = {"comments": list(replies)}
    return body


def mention(note_id: int, text: str, visibility: str = "public", kind: str = "mention") -> dict:
    account = {
        "id": f"10{note_id}",
        "username": f"user{note_id}",
        "acct": f"user{note_id}@example.social",
        "display_name": f"User {note_id}",
        "followers_count": 40 + note_id,
        "url": f"https://example.social/@user{note_id}",
    }
    status = {
        "id": f"1100{note_id:04d}",
        "created_at": f"2026-11-20T10:{note_id % 60:02d}:00.000Z",
        "in_reply_to_id": None,
        "in_reply_to_account_id": None,
        "sensitive": False,
        "spoiler_text": "",
        "visibility": visibility,
        "language": "en",
        "uri": f"https://example.social/users/user{note_id}/statuses/1100{note_id:04d}",
        "url": f"https://example.social/@user{note_id}/1100{note_id:04d}",
        "content": f'<p><span class="h-card"><a href="https://mastodon.example/@acme" class="u-url mention">@<span>acme</span></a></span> {text}</p>',
        "account": account,
        "media_attachments": [],
        "mentions": [{"id": "1", "username": "acme", "acct": "acme"}],
    }
    note = {
        "id": str(1000 + note_id),
        "type": kind,
        "created_at": status["created_at"],
        "account": account,
    }
    if kind in ("mention", "favourite", "reblog"):
        note["status"] = status
    return note


def ig_comment(comment_id: str, text: str, username: str, user_id: str) -> dict:
    return {
        "id": comment_id,
        "text": text,
        "timestamp": "2026-11-22T10:15:00+0000",
        "username": username,
        "from": {"id": user_id, "username": username},
        "like_count": 0,
    }


def ig_media(media_id: str, caption: str, username: str) -> dict:
    return {
        "id": media_id,
        "caption": caption,
        "timestamp": "2026-11-22T09:40:00+0000",
        "username": username,
        "permalink": f"https://www.instagram.com/p/{media_id[-6:]}/",
        "media_type": "IMAGE",
    }


def atom(entries: list[tuple[str, str, str]]) -> str:
    items = "".join(
        f"""<entry><id>{eid}</id><title>{title}</title><link href="https://reviews.example/r/{eid[-4:]}"/>
      <updated>2026-11-2{i}T08:00:00Z</updated><published>2026-11-2{i}T08:00:00Z</published>
      <author><name>Reviewer {i}</name></author><content type="html">{escape(f"<p>{body}</p>")}</content></entry>"""
        for i, (eid, title, body) in enumerate(entries)
    )
    return f"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">
      <title>Acme reviews</title><id>urn:acme:reviews</id><updated>2026-11-22T08:00:00Z</updated>{items}</feed>"""


def rss(entries: list[tuple[str, str, str]]) -> str:
    items = "".join(
        f"""<item><title>{title}</title><link>https://shop.example/review/{guid}</link>
      <guid isPermaLink="false">{guid}</guid><pubDate>Sat, 21 Nov 2026 0{i}:00:00 GMT</pubDate>
      <description>{body}</description><author>buyer{i}@shop.example (Buyer {i})</author></item>"""
        for i, (guid, title, body) in enumerate(entries)
    )
    return f"""<?xml version="1.0"?><rss version="2.0"><channel><title>Shop reviews</title>
      <link>https://shop.example/</link><description>Reviews</description>{items}</channel></rss>"""


def app(state: Platforms) -> FastAPI:
    api = FastAPI()

    @api.middleware("http")
    async def log_and_fail(request: Request, call_next):
        state.requests.append((request.url.path, dict(request.query_params), dict(request.headers)))
        if state.failures:
            status, headers, *body = state.failures.pop(0)
            content = body[0] if body else {"error": {"code": status, "message": "scripted"}}
            return JSONResponse(content, status, headers=headers)
        return await call_next(request)

    @api.get("/youtube/v3/commentThreads")
    async def comment_threads(request: Request):
        q = request.query_params
        if q.get("part") != "snippet,replies" or q.get("order") != "time" or "key" in q:
            return JSONResponse({"error": {"code": 400, "message": "bad request"}}, 400)
        if request.headers.get("x-goog-api-key") != "yt-api-key":
            return JSONResponse(
                {
                    "error": {
                        "code": 400,
                        "message": "API key not valid. Please pass a valid API key.",
                        "errors": [{"reason": "badRequest", "domain": "global"}],
                    }
                },
                400,
            )
        target = (
            f"video:{q['videoId']}"
            if "videoId" in q
            else f"channel:{q['allThreadsRelatedToChannelId']}"
        )
        if target in state.yt_refused:
            status, reason = state.yt_refused[target]
            return JSONResponse(
                {
                    "error": {
                        "code": status,
                        "message": reason,
                        "errors": [
                            {"message": reason, "domain": "youtube.commentThread", "reason": reason}
                        ],
                    }
                },
                status,
            )
        items = state.threads.get(target, [])
        start = int(q.get("pageToken") or 0)
        size = min(int(q.get("maxResults", 20)), state.yt_page_size)
        body = {
            "kind": "youtube#commentThreadListResponse",
            "etag": "x",
            "pageInfo": {"totalResults": len(items), "resultsPerPage": size},
            "items": items[start : start + size],
        }
        if start + size < len(items):
            body["nextPageToken"] = str(start + size)
        return body

    @api.get("/youtube/v3/comments")
    async def comments(request: Request):
        q = request.query_params
        if (
            q.get("part") != "snippet"
            or "parentId" not in q
            or request.headers.get("x-goog-api-key") != "yt-api-key"
        ):
            return JSONResponse({"error": {"code": 400, "message": "bad request"}}, 400)
        if q["parentId"] not in state.yt_replies:
            return JSONResponse(
                {
                    "error": {
                        "code": 404,
                        "message": "The comment could not be found.",
                        "errors": [{"reason": "commentNotFound", "domain": "youtube.comment"}],
                    }
                },
                404,
            )
        items = state.yt_replies[q["parentId"]]
        start, size = (
            int(q.get("pageToken") or 0),
            min(int(q.get("maxResults", 20)), state.yt_page_size),
        )
        body = {"kind": "youtube#commentListResponse", "items": items[start : start + size]}
        if start + size < len(items):
            body["nextPageToken"] = str(start + size)
        return body

    @api.get("/api/v1/notifications")
    async def notifications(request: Request):
        if request.headers.get("authorization") != f"Bearer {MASTODON_TOKEN}":
            return JSONResponse({"error": "The access token is invalid"}, 401)
        q = request.query_params
        kinds = q.getlist("types[]")
        found = [n for n in state.notifications if not kinds or n["type"] in kinds]
        limit = min(int(q.get("limit", 40)), state.mastodon_page_size)
        if "min_id" in q:
            page = [n for n in found if int(n["id"]) > int(q["min_id"])][:limit]
        else:
            newer = [n for n in found if "max_id" not in q or int(n["id"]) < int(q["max_id"])]
            page = newer[-limit:]
        page = sorted(page, key=lambda n: int(n["id"]), reverse=True)
        headers = {}
        if page:
            url = f"{state.base}/api/v1/notifications?types[]=mention&limit={limit}"
            headers["link"] = (
                f'<{url}&max_id={page[-1]["id"]}>; rel="next", <{url}&min_id={page[0]["id"]}>; rel="prev"'
            )
        return JSONResponse(page, headers=headers)

    @api.post("/hub/subscribe")
    async def hub_subscribe(request: Request):
        """A WebSub hub: accept the request (202); the test performs the verification GET."""
        form = dict(parse_qsl((await request.body()).decode()))  # application/x-www-form-urlencoded
        if form.get("hub.mode") not in ("subscribe", "unsubscribe") or not form.get("hub.callback"):
            return Response("bad request", 400)
        state.hub_requests.append(form)
        return Response(status_code=202)

    @api.get("/feeds/{name}")
    async def feed(name: str, request: Request):
        content_type, body = state.feeds[name]
        etag = f'"{abs(hash(body)):x}"'
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers={"etag": etag})
        modified = format_datetime(datetime(2026, 11, 22, 8, tzinfo=UTC), usegmt=True)
        return Response(
            body, media_type=content_type, headers={"etag": etag, "last-modified": modified}
        )

    @api.get("/{version}/{ig_user_id}")
    async def graph_ig_user(version: str, ig_user_id: str, request: Request):
        """``GET /<version>/<ig-user-id>?fields=mentioned_comment.comment_id(<id>){…}`` (or
        ``mentioned_media.media_id``): only the fields asked for, as the Graph API answers."""
        await asyncio.sleep(state.graph_delay_s)
        if not re.fullmatch(r"v\d+\.\d+", version):
            return JSONResponse(
                {
                    "error": {
                        "message": "Unknown path components",
                        "type": "OAuthException",
                        "code": 2500,
                    }
                },
                400,
            )
        if (
            request.headers.get("authorization") != f"Bearer {GRAPH_TOKEN}"
            or "access_token" in request.query_params
        ):
            return JSONResponse(
                {
                    "error": {
                        "message": "Invalid OAuth access token - Cannot parse access token",
                        "type": "OAuthException",
                        "code": 190,
                    }
                },
                400,
            )
        asked = _MENTIONED.match(request.query_params.get("fields", ""))
        if asked is None:
            return JSONResponse(
                {
                    "error": {
                        "message": "(#100) Tried accessing nonexisting field",
                        "type": "OAuthException",
                        "code": 100,
                    }
                },
                400,
            )
        edge, object_id, fields = [part for part in asked.groups() if part is not None]
        found = (state.ig_comments if edge == "mentioned_comment" else state.ig_media).get(
            object_id
        )
        if found is None:
            return JSONResponse(
                {
                    "error": {
                        "message": f"Unsupported get request. Object with ID '{object_id}' does not "
                        "exist",
                        "type": "GraphMethodException",
                        "code": 100,
                        "error_subcode": 33,
                    }
                },
                400,
            )
        return {
            edge: {name: found[name] for name in fields.split(",") if name in found},
            "id": ig_user_id,
        }

    return api


@contextmanager
def serving(state: Platforms):
    """Serve ``state`` on 127.0.0.1:<free port> in a thread; ``state.base`` is its URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app(state), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread_ = threading.Thread(target=server.run, daemon=True)
    thread_.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise TimeoutError("fake platform server did not start")
        time.sleep(0.02)
    state.base = f"http://127.0.0.1:{port}"
    try:
        yield state
    finally:
        server.should_exit = True
        thread_.join(timeout=10)
