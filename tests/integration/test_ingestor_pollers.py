"""Pollers against a real local HTTP server speaking each platform's documented shapes, the real
broker and both databases: first poll, paging, resume after a restart without duplicates or
gaps, 429 + Retry-After (seconds and HTTP-date) and 5xx backoff on an injected sleep, the YouTube
quota day (Pacific midnight), and the lease that keeps two replicas off one source."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from pydantic import SecretStr

from services.ingestor import pollers as polling
from services.ingestor.app import create_app
from services.ingestor.platforms.youtube import topic_for
from services.ingestor.pollers import websub
from services.ingestor.pollers.fetch import retry_after_s
from services.ingestor.pollers.quota import next_reset, quota_day
from services.ingestor.pollers.scheduler import Scheduler
from services.ingestor.settings import IngestorSettings, PollSource
from shared import topics
from shared.codec import decode, header
from shared.events import ChannelKind, MessageReceived, Platform
from tests.ingestor_support.webhooks import OPS, OPS_TOKEN, running, websub_signed
from tests.integration.ingestor_fakes import (
    MASTODON_TOKEN,
    Platforms,
    atom,
    comment,
    mention,
    rss,
    serving,
    thread,
)
from tests.integration.test_ingestor_webhooks import records, rows

CHANNEL, VIDEO, HUB = "UCacme0000000000000000aa", "vid0000001a", "hub-secret"
START = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)  # 22:00 Pacific the day before


class Clock:
    """Injected time: ``sleep`` records the delay and moves the clock, never waits."""

    def __init__(self, now: datetime = START) -> None:
        self.now, self.slept = now, []

    def __call__(self) -> datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def platforms():
    with serving(Platforms()) as state:
        yield state


def settings(bootstrap, namespace, database_url, sources: dict, **extra) -> IngestorSettings:
    return IngestorSettings(
        environment="test",
        admin_token=SecretStr(OPS_TOKEN),
        kafka_bootstrap_servers=bootstrap,
        kafka_topic_namespace=namespace,
        database_url=database_url,
        webhook_secrets={},
        youtube_hub_secrets=[SecretStr(HUB)],
        youtube_channels=[CHANNEL],
        poll_sources=sources,
        pollers_enabled=False,
        silence_enabled=False,
        poll_backoff_s=1.0,
        **extra,
    )


def youtube(base: str, **kw) -> PollSource:
    return PollSource(kind="youtube", url=base, token=SecretStr("yt-api-key"), interval_s=60, **kw)


def mastodon(base: str) -> PollSource:
    return PollSource(kind="mastodon", url=base, token=SecretStr(MASTODON_TOKEN), interval_s=30)


def scheduler(app, cfg: IngestorSettings, clock: Clock, owner: str = "replica-a") -> Scheduler:
    runtime = app.state.runtime
    return Scheduler(
        cfg,
        runtime.ledger,
        runtime.acceptor,
        polling.pollers(cfg, polling.Quota(runtime.ledger, cfg.youtube_daily_quota)),
        clock=clock,
        sleep=clock.sleep,
        rand=random.Random(7),
        owner=owner,
        on_accepted=lambda s, n: runtime.health.observe(s, "accepted", n),
    )


async def events(bootstrap, namespace, settle_s=0.3) -> list[MessageReceived]:
    return [
        decode(r.headers, r.value)
        for r in await records(bootstrap, topics.RAW, namespace, settle_s=settle_s, timeout_s=5)
    ]


def at(value) -> datetime:
    """A timestamp column as an aware datetime (SQLite hands back naive UTC, PostgreSQL aware)."""
    value = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def ts(minute: int) -> str:
    return f"2026-11-22T10:{minute:02d}:00Z"


async def test_youtube_pages_resumes_after_restart_without_duplicates_or_gaps(
    platforms, kafka_bootstrap, topics_ready, database_url
):
    namespace = topics_ready
    cfg = settings(
        kafka_bootstrap, namespace, database_url, {"yt": youtube(platforms.base)}, poll_max_pages=2
    )
    reply = comment("Ugw3.rep001", VIDEO, CHANNEL, ts(2), "Same here!", parent="Ugw3")
    platforms.threads[f"video:{VIDEO}"] = [
        thread(f"Ugw{i}", VIDEO, CHANNEL, ts(i), f"comment {i}", [reply] if i == 3 else [])
        for i in (5, 4, 3, 2, 1)
    ]
    app = create_app(cfg)
    async with running(app) as client:
        # a video announced by WebSub starts comment polling for it
        feed = (
            b'<?xml version="1.0"?><feed xmlns:yt="http://www.youtube.com/xml/schemas/2015" '
            b'xmlns="http://www.w3.org/2005/Atom"><entry><id>yt:video:'
            + VIDEO.encode()
            + b"</id><yt:videoId>"
            + VIDEO.encode()
            + b"</yt:videoId><yt:channelId>"
            + CHANNEL.encode()
            + b"</yt:channelId><title>New</title>"
            b"<published>2026-11-22T09:00:00+00:00</published></entry></feed>"
        )
        body, headers = websub_signed(HUB, feed)
        assert (
            await client.post("/v1/webhooks/youtube", content=body, headers=headers)
        ).status_code == 200
        clock = Clock()
        first = scheduler(app, cfg, clock)
        assert (
            await first.run_round("yt") == "ok"
        )  # first sweep: 2 pages (poll_max_pages), cursor = newest
        got = await events(kafka_bootstrap, namespace)
        assert sorted(e.data.platform_message_id for e in got) == [
            "Ugw2",
            "Ugw3",
            "Ugw3.rep001",
            "Ugw4",
            "Ugw5",
        ]
        one = next(e for e in got if e.data.platform_message_id == "Ugw3.rep001")
        assert (
            one.data.platform,
            one.data.channel_kind,
            one.data.account_id,
            one.data.conversation_id,
            one.data.in_reply_to,
        ) == (Platform.YOUTUBE, ChannelKind.PUBLIC_COMMENT, CHANNEL, VIDEO, "Ugw3")
        sha = one.data.raw_ref.removeprefix("raw_payloads/")
        assert rows(database_url, f"SELECT source FROM raw_payloads WHERE sha256 = '{sha}'") == [
            ("yt",)
        ]
        assert rows(database_url, "SELECT comments_polled_at IS NOT NULL FROM youtube_videos") == [
            (True,)
        ]
        assert platforms.count("/youtube") == 2

        # 5 new threads (3 pages of 2): this round reads 2 pages and stops; then the process "restarts"
        platforms.threads[f"video:{VIDEO}"][:0] = [
            thread(f"Ugx{i}", VIDEO, CHANNEL, ts(10 + i), f"new {i}") for i in (5, 4, 3, 2, 1)
        ]
        clock.advance(120)
        assert await first.run_round("yt") == "ok"
        await first.stop()  # releases the lease
        assert platforms.count("/youtube") == 4
        restarted = scheduler(app, cfg, clock, owner="replica-a-restarted")
        assert (
            await restarted.run_round("yt") == "ok"
        )  # resumes at the saved page token, on to the cursor
        # page 3 (token 4) ends at the thread at the cursor time, page 4 (token 6) reaches an older one
        assert [r[1].get("pageToken") for r in platforms.requests[4:]] == ["4", "6"]
        got = await events(kafka_bootstrap, namespace, settle_s=0.5)
        ids = [e.data.platform_message_id for e in got]
        assert len(ids) == len(set(ids)) == 10 and {f"Ugx{i}" for i in range(1, 6)} <= set(ids)
        clock.advance(3600)
        before = platforms.count("/youtube")
        assert (
            await restarted.run_round("yt") == "ok"
        )  # nothing new: one page down to the cursor, no events
        assert platforms.count("/youtube") == before + 1
        assert len(await events(kafka_bootstrap, namespace)) == 10
        await restarted.stop()


async def test_youtube_quota_is_spread_and_exhaustion_waits_for_pacific_midnight(
    platforms, kafka_bootstrap, topics_ready, database_url
):
    cfg = settings(
        kafka_bootstrap,
        topics_ready,
        database_url,
        {"yt": youtube(platforms.base, videos=["vidA", "vidB"])},
        youtube_daily_quota=3,
    )
    for video in ("vidA", "vidB"):
        platforms.threads[f"video:{video}"] = [
            thread(f"Ug{video}{i}", video, CHANNEL, ts(i), "hi") for i in (3, 2, 1)
        ]
    app = create_app(cfg)
    async with running(app):
        clock = Clock()
        poller = scheduler(app, cfg, clock)
        assert (
            await poller.run_round("yt") == "paused"
        )  # vidA: 2 pages, vidB: 1 page, then no units left
        assert platforms.count("/youtube") == 3
        lease = rows(
            cfg.database_url, "SELECT paused_until FROM poller_leases WHERE source = 'yt'"
        )[0][0]
        reset = next_reset(clock.now)
        assert reset == datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # midnight PST = 08:00 UTC
        assert at(lease) == reset
        clock.advance(3600)  # 23:00 Pacific: still the same quota day
        assert await poller.run_round("yt") == "waiting" and platforms.count("/youtube") == 3
        clock.now = reset + timedelta(seconds=1)
        assert quota_day(clock.now) == "2026-11-23"
        assert await poller.run_round("yt") == "ok"  # new day: vidB resumes at its page token
        assert platforms.requests[-1][1] == {
            **platforms.requests[-1][1],
            "videoId": "vidB",
            "pageToken": "2",
        }
        assert (
            len({e.data.platform_message_id for e in await events(kafka_bootstrap, topics_ready)})
            == 6
        )
        # fair spread: 2 targets on 3 units a day -> each target at most every 86400 * 2 / 3 s
        nexts = {
            t: at(n)
            for t, n in rows(cfg.database_url, "SELECT target, next_poll_at FROM poller_cursors")
        }
        assert set(nexts) == {"video:vidA", "video:vidB"}
        assert nexts["video:vidB"] == clock.now + timedelta(seconds=86400 * 2 / 3)
        await poller.stop()


async def test_a_youtube_video_that_refuses_is_parked_and_the_others_go_on(
    platforms, kafka_bootstrap, topics_ready, database_url
):
    cfg = settings(
        kafka_bootstrap,
        topics_ready,
        database_url,
        {"yt": youtube(platforms.base, videos=["vidOff", "vidOn"])},
    )
    platforms.yt_refused["video:vidOff"] = (403, "commentsDisabled")
    platforms.threads["video:vidOn"] = [thread("UgOn1", "vidOn", CHANNEL, ts(1), "hello")]
    app = create_app(cfg)
    async with running(app) as client:
        clock = Clock()
        poller = scheduler(app, cfg, clock)
        poller.on_error = lambda s, outcome: app.state.runtime.health.observe(s, outcome)
        assert await poller.run_round("yt") == "ok"
        assert [
            e.data.platform_message_id for e in await events(kafka_bootstrap, topics_ready)
        ] == ["UgOn1"]
        parked = dict(rows(cfg.database_url, "SELECT target, next_poll_at FROM poller_cursors"))
        assert at(parked["video:vidOff"]) == START + timedelta(days=1)
        health = {
            s["source"]: s for s in (await client.get("/v1/sources", headers=OPS)).json()["sources"]
        }
        assert health["yt"]["errors"] == {"target_refused": 1} and health["yt"]["messages"] == 1
        await poller.stop()
    # a wrong API key fails the whole source (backs off, error recorded) instead of parking each target
    bad = settings(
        kafka_bootstrap,
        topics_ready,
        database_url,
        {
            "yt2": PollSource(
                kind="youtube", url=platforms.base, token=SecretStr("wrong"), videos=["vidOn"]
            )
        },
    )
    platforms.yt_refused["video:vidQ"] = (403, "quotaExceeded")
    spent = settings(
        kafka_bootstrap,
        topics_ready,
        database_url,
        {"yt3": youtube(platforms.base, videos=["vidQ"])},
    )
    for cfg, outcome in ((bad, "failed"), (spent, "paused")):
        app = create_app(cfg)
        async with running(app):
            poller = scheduler(app, cfg, Clock())
            assert await poller.run_round(next(iter(cfg.poll_sources))) == outcome
            await poller.stop()
    failed = rows(
        database_url,
        "SELECT source, last_error, paused_until FROM poller_leases WHERE source <> 'yt'",
    )
    assert {s: "API key not valid" in (e or "") for s, e, _ in failed} == {
        "yt2": True,
        "yt3": False,
    }
    assert at(dict((s, p) for s, _, p in failed)["yt3"]) == next_reset(
        START
    )  # YouTube's own quota verdict
    assert not rows(
        database_url, "SELECT target FROM poller_cursors WHERE source IN ('yt2', 'yt3')"
    )


async def test_youtube_threads_without_ids_busy_threads_and_a_malformed_newest_thread(
    platforms, kafka_bootstrap, topics_ready, database_url
):
    """Threads whose answer lacks channelId/videoId take the target's; replies beyond the inline
    ones come from comments.list (parentId); a malformed newest thread is dead-lettered once,
    however many rounds read its page again."""
    cfg = settings(
        kafka_bootstrap,
        topics_ready,
        database_url,
        {"yt": youtube(platforms.base, channels=[CHANNEL])},
    )
    bare = thread("UgBare", VIDEO, CHANNEL, ts(3), "no ids here")
    for part in (bare["snippet"], bare["snippet"]["topLevelComment"]["snippet"]):
        del part["channelId"], part["videoId"]
    replies = [
        comment(f"UgBusy.r{i}", VIDEO, CHANNEL, ts(2), f"reply {i}", parent="UgBusy")
        for i in range(5)
    ]
    for (
        reply
    ) in replies:  # comments.list answers without videoId (the API leaves it out of replies)
        del reply["snippet"]["videoId"]
    busy = thread("UgBusy", VIDEO, CHANNEL, ts(2), "busy thread", replies[:2])
    busy["snippet"]["totalReplyCount"] = 5
    broken = thread("UgBroken", VIDEO, CHANNEL, ts(4), "newest but broken")
    del broken["snippet"]["topLevelComment"]["id"]
    platforms.threads[f"channel:{CHANNEL}"] = [broken, bare, busy]
    platforms.yt_replies["UgBusy"] = replies
    platforms.yt_page_size = 3
    app = create_app(cfg)
    async with running(app):
        clock = Clock()
        poller = scheduler(app, cfg, clock)
        assert await poller.run_round("yt") == "ok"
        got = {
            e.data.platform_message_id: e.data for e in await events(kafka_bootstrap, topics_ready)
        }
        assert sorted(got) == ["UgBare", "UgBusy", *(f"UgBusy.r{i}" for i in range(5))]
        assert (got["UgBare"].account_id, got["UgBare"].conversation_id) == (CHANNEL, "UgBare")
        assert (got["UgBusy.r4"].conversation_id, got["UgBusy.r4"].in_reply_to) == (VIDEO, "UgBusy")
        assert [
            q.get("pageToken")
            for path, q, _ in platforms.requests
            if path == "/youtube/v3/comments"
        ] == [None, "3"]
        for _ in range(
            2
        ):  # the newest thread's page is read again each round (threads at the cursor)
            clock.advance(3600)
            assert await poller.run_round("yt") == "ok"
        letters = await records(
            kafka_bootstrap, topics.spec(topics.RAW).dlq, topics_ready, settle_s=1.0
        )
        assert len(letters) == 1 and header(letters[0].headers, "dlq.reason") == "invalid_item"
        assert header(letters[0].headers, "dlq.item_path") == "items[0]"
        assert len(await events(kafka_bootstrap, topics_ready)) == 7
        await poller.stop()


async def test_mastodon_min_id_link_paging_and_restart(
    platforms, kafka_bootstrap, topics_ready, database_url
):
    cfg = settings(kafka_bootstrap, topics_ready, database_url, {"fedi": mastodon(platforms.base)})
    platforms.notifications = [mention(i, f"old {i}") for i in range(1, 4)]
    app = create_app(cfg)
    async with running(app):
        clock = Clock()
        poller = scheduler(app, cfg, clock)
        assert (
            await poller.run_round("fedi") == "ok"
        )  # first round: the newest page only, no back-fill
        assert sorted(
            e.data.platform_message_id for e in await events(kafka_bootstrap, topics_ready)
        ) == ["11000002", "11000003"]
        platforms.notifications += [
            mention(4, "new 4"),
            mention(5, "psst", visibility="direct"),
            mention(6, "x", kind="favourite"),
            mention(7, "new 7"),
            mention(8, "new 8"),
        ]
        clock.advance(31)
        assert (
            await poller.run_round("fedi") == "ok"
        )  # min_id, then rel="prev" pages until an empty one
        assert [r[1].get("min_id") for r in platforms.requests if r[0].endswith("notifications")][
            1
        ] == "1003"
        await poller.stop()
        clock.advance(31)
        restarted = scheduler(app, cfg, clock, owner="replica-b")
        assert await restarted.run_round("fedi") == "ok"
        assert platforms.requests[-1][1]["min_id"] == "1008"
        got = await events(kafka_bootstrap, topics_ready, settle_s=0.5)
        assert sorted(e.data.platform_message_id for e in got) == [
            "11000002",
            "11000003",
            "11000004",
            "11000005",
            "11000007",
            "11000008",
        ]
        direct = next(e.data for e in got if e.data.platform_message_id == "11000005")
        assert direct.channel_kind is ChannelKind.DIRECT_MESSAGE and direct.text == "@acme psst"
        assert direct.author.handle == "user5@example.social" and direct.account_id == "127.0.0.1"
        assert all(r[2]["authorization"] == f"Bearer {MASTODON_TOKEN}" for r in platforms.requests)
        await restarted.stop()


async def test_429_retry_after_and_5xx_backoff_keep_the_cursor(
    platforms, kafka_bootstrap, topics_ready, database_url
):
    cfg = settings(
        kafka_bootstrap,
        topics_ready,
        database_url,
        {"fedi": mastodon(platforms.base)},
        poll_max_attempts=4,
    )
    platforms.notifications = [mention(1, "hello")]
    app = create_app(cfg)
    async with running(app):
        clock = Clock()
        http_date = format_datetime(
            START + timedelta(seconds=37), usegmt=True
        )  # 30 s after the first wait
        platforms.failures = [
            (429, {"retry-after": "7"}),
            (429, {"retry-after": http_date}),
            (503, {}),
        ]
        poller = scheduler(app, cfg, clock)
        assert await poller.run_round("fedi") == "ok"
        assert (
            clock.slept[:2] == [7.0, 30.0] and 2.0 <= clock.slept[2] <= 4.0
        )  # 1 s * 2**2, equal jitter
        assert len(await events(kafka_bootstrap, topics_ready)) == 1
        # a source that keeps failing: the cursor stays, the source backs off and counts its errors
        platforms.notifications.append(mention(2, "again"))
        platforms.failures = [(502, {})] * 4
        clock.advance(31)
        assert await poller.run_round("fedi") == "failed"
        assert rows(cfg.database_url, "SELECT position FROM poller_cursors") == [
            ('{"min_id": "1001"}',)
        ]
        paused, errors = rows(
            cfg.database_url, "SELECT paused_until, consecutive_errors FROM poller_leases"
        )[0]
        assert errors == 1 and at(paused) > clock.now
        assert await poller.run_round("fedi") == "waiting"
        clock.advance(600)
        assert await poller.run_round("fedi") == "ok"
        assert sorted(
            e.data.text for e in await events(kafka_bootstrap, topics_ready, settle_s=0.5)
        ) == ["@acme again", "@acme hello"]
        await poller.stop()
    assert (
        retry_after_s("Wed, 21 Oct 2015 07:28:00 GMT", START) == 0.0
        and retry_after_s("soon", START) is None
    )


async def test_feeds_conditional_get_and_entry_dedup(
    platforms, kafka_bootstrap, topics_ready, database_url
):
    platforms.feeds["reviews.atom"] = (
        "application/atom+xml",
        atom(
            [
                ("urn:r:0001", "Great", "Fast delivery"),
                ("urn:r:0002", "Broken", "Arrived <b>broken</b>"),
            ]
        ),
    )
    platforms.feeds["shop.rss"] = ("application/rss+xml", rss([("g-1", "Meh", "Too slow")]))
    sources = {
        "trust": PollSource(
            kind="feed", url=f"{platforms.base}/feeds/reviews.atom", account="acme-trust"
        ),
        "shop": PollSource(kind="feed", url=f"{platforms.base}/feeds/shop.rss"),
    }
    cfg = settings(kafka_bootstrap, topics_ready, database_url, sources)
    app = create_app(cfg)
    async with running(app):
        clock = Clock()
        poller = scheduler(app, cfg, clock)
        assert [await poller.run_round(s) for s in ("trust", "shop")] == ["ok", "ok"]
        clock.advance(61)
        assert [await poller.run_round(s) for s in ("trust", "shop")] == ["ok", "ok"]
        conditional = [r[2] for r in platforms.requests[-2:]]
        assert all("if-none-match" in h and "if-modified-since" in h for h in conditional)
        platforms.feeds["shop.rss"] = (
            "application/rss+xml",
            rss([("g-1", "Meh", "Too slow"), ("g-2", "Ok", "Fine")]),
        )
        clock.advance(61)
        assert await poller.run_round("shop") == "ok"
        got = {
            e.data.platform_message_id: e.data for e in await events(kafka_bootstrap, topics_ready)
        }
        assert sorted(got) == ["g-1", "g-2", "urn:r:0001", "urn:r:0002"]
        review = got["urn:r:0002"]
        assert (review.platform, review.channel_kind, review.account_id, review.text) == (
            Platform.REVIEW,
            ChannelKind.REVIEW,
            "acme-trust",
            "Broken\n\nArrived broken",
        )
        assert (
            got["g-1"].account_id == "127.0.0.1"
            and got["g-1"].permalink == "https://shop.example/review/g-1"
        )
        assert got["g-1"].created_at == datetime(2026, 11, 21, 0, tzinfo=UTC)
        await poller.stop()


async def test_a_lease_keeps_a_second_replica_off_the_source(
    platforms, kafka_bootstrap, topics_ready, database_url
):
    cfg = settings(
        kafka_bootstrap,
        topics_ready,
        database_url,
        {"fedi": mastodon(platforms.base)},
        poll_lease_s=60,
    )
    platforms.notifications = [mention(1, "hello")]
    app = create_app(cfg)
    async with running(app):
        clock = Clock()
        a, b = scheduler(app, cfg, clock, "replica-a"), scheduler(app, cfg, clock, "replica-b")
        outcomes = await asyncio.gather(a.run_round("fedi"), b.run_round("fedi"))
        assert sorted(outcomes) == ["busy", "ok"] and platforms.count("/api") == 1
        holder, other = (a, b) if outcomes[0] == "ok" else (b, a)
        clock.advance(31)
        assert await holder.run_round("fedi") == "ok"  # renews its own lease
        assert await other.run_round("fedi") == "busy"
        clock.advance(
            61
        )  # the holder stopped renewing (crashed): its lease expires, the other takes over
        assert await other.run_round("fedi") == "ok"
        assert await holder.run_round("fedi") == "busy"
        assert len(await events(kafka_bootstrap, topics_ready)) == 1


async def test_pollers_run_with_the_app_lifespan(
    platforms, kafka_bootstrap, topics_ready, database_url
):
    platforms.feeds["r.atom"] = ("application/atom+xml", atom([("urn:r:0009", "Nice", "Good")]))
    cfg = settings(
        kafka_bootstrap,
        topics_ready,
        database_url,
        {"trust": PollSource(kind="feed", url=f"{platforms.base}/feeds/r.atom")},
    ).model_copy(update={"pollers_enabled": True})
    async with running(create_app(cfg)) as client:
        got = await events(kafka_bootstrap, topics_ready)
        assert [e.data.platform_message_id for e in got] == ["urn:r:0009"]
        health = {
            s["source"]: s for s in (await client.get("/v1/sources", headers=OPS)).json()["sources"]
        }
        assert health["trust"]["platform"] == "review" and health["trust"]["messages"] == 1
    assert rows(cfg.database_url, "SELECT owner FROM poller_leases") == [
        (None,)
    ]  # released at shutdown


def test_unusable_poll_sources_are_refused_at_start():
    def app(sources):
        return create_app(
            IngestorSettings(environment="test", webhook_secrets={}, poll_sources=sources)
        )

    for source, error in (
        (PollSource(kind="mastodon", url="https://m.example"), "needs an access token"),
        (PollSource(kind="feed", url="file:///etc/passwd"), "needs an http"),
        (PollSource(kind="youtube"), "needs an API key"),
    ):
        with pytest.raises(ValueError, match=error):
            app({"s": source})
    with pytest.raises(ValueError, match="poll source name"):
        app({"Bad Name": PollSource(kind="feed", url="https://f.example/x")})
    with pytest.raises(ValueError, match="needs INGESTOR_YOUTUBE_HUB_SECRETS"):
        create_app(
            IngestorSettings(
                environment="test",
                webhook_secrets={},
                youtube_callback_url="https://i.example/v1/webhooks/youtube",
            )
        )


async def test_websub_subscriptions_are_requested_and_renewed_before_the_lease_ends(
    platforms, kafka_bootstrap, topics_ready, database_url
):
    callback = "https://ingestor.example/v1/webhooks/youtube"
    cfg = settings(
        kafka_bootstrap,
        topics_ready,
        database_url,
        {},
        youtube_callback_url=callback,
        youtube_hub_url=f"{platforms.base}/hub/subscribe",
    )
    app = create_app(cfg)
    async with running(app) as client:
        clock = Clock(datetime.now(UTC))  # the verification GET stores the real time
        runtime = app.state.runtime
        renewal = Scheduler(
            cfg,
            runtime.ledger,
            runtime.acceptor,
            {websub.NAME: websub.WebSubRenewal()},
            clock=clock,
            sleep=clock.sleep,
            owner="replica-a",
            configs={websub.NAME: websub.config(cfg.youtube_hub_url)},
        )
        assert await renewal.run_round(websub.NAME) == "ok"
        topic = topic_for(CHANNEL)
        assert platforms.hub_requests == [
            {
                "hub.callback": callback,
                "hub.mode": "subscribe",
                "hub.topic": topic,
                "hub.verify": "async",
                "hub.lease_seconds": "864000",
                "hub.secret": HUB,
            }
        ]
        clock.advance(600)
        assert (
            await renewal.run_round(websub.NAME) == "ok" and len(platforms.hub_requests) == 1
        )  # verification pending
        # the hub verifies the intent (GET to the callback), granting 5 days: renewal is due after 4
        verify = {
            "hub.mode": "subscribe",
            "hub.topic": topic,
            "hub.challenge": "c-1",
            "hub.lease_seconds": "432000",
        }
        assert (await client.get("/v1/webhooks/youtube", params=verify)).text == "c-1"
        verified_at, renew_at = rows(
            database_url, "SELECT verified_at, resubscribe_at FROM youtube_subscriptions"
        )[0]
        assert at(renew_at) - at(verified_at) == timedelta(days=4)  # 80 % of the granted lease
        clock.advance(2 * 86400)
        assert await renewal.run_round(websub.NAME) == "ok" and len(platforms.hub_requests) == 1
        clock.now = at(renew_at) + timedelta(seconds=1)
        assert await renewal.run_round(websub.NAME) == "ok" and len(platforms.hub_requests) == 2
        platforms.failures = [
            (503, {})
        ] * cfg.poll_max_attempts  # a hub outage: retried with backoff, then later
        clock.advance(3601)
        assert await renewal.run_round(websub.NAME) == "failed" and len(platforms.hub_requests) == 2
        await renewal.stop()
