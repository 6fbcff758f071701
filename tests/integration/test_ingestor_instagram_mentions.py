"""Instagram mentions through the signed Meta webhook, a real local Graph API server, the real
broker and both databases: the webhook holds the mention and answers at once; the enrichment
worker fetches the text and author (comment: ``mentioned_comment``, caption: ``mentioned_media``)
and publishes. No token, a Graph refusal, or a Graph outage still publish the mention, with the
placeholder text; a 429 waits and retries; a mention held when the process stops is published
by the next one."""

from __future__ import annotations

import asyncio
import time

import pytest
from pydantic import SecretStr

from services.ingestor.app import create_app
from services.ingestor.pollers.instagram_mentions import UNAVAILABLE
from services.ingestor.settings import IngestorSettings
from shared import topics
from shared.codec import decode
from shared.events import ChannelKind, MessageReceived, Platform
from tests.ingestor_support import platform_examples as ex
from tests.ingestor_support.webhooks import meta_signed, running
from tests.integration.ingestor_fakes import (
    GRAPH_TOKEN,
    Platforms,
    ig_comment,
    ig_media,
    serving,
)
from tests.integration.test_ingestor_webhooks import records, rows

META_SECRET, ACCOUNT, OTHER = "meta-app-secret", "17841400001", "17841400999"


@pytest.fixture
def graph():
    with serving(Platforms()) as state:
        yield state


def settings(
    bootstrap: str, namespace: str, database_url: str, graph_url: str, **extra
) -> IngestorSettings:
    return IngestorSettings(
        environment="test",
        kafka_bootstrap_servers=bootstrap,
        kafka_topic_namespace=namespace,
        database_url=database_url,
        webhook_secrets={},
        meta_app_secrets=[SecretStr(META_SECRET)],
        meta_instagram_tokens={ACCOUNT: SecretStr(GRAPH_TOKEN)},
        meta_graph_url=graph_url,
        pollers_enabled=False,
        silence_enabled=False,
        poll_backoff_s=0.05,
        poll_max_attempts=3,
        **extra,
    )


async def post(client, *entries: dict) -> dict:
    raw, headers = meta_signed(META_SECRET, ex.meta_body("instagram", list(entries)))
    answer = await client.post("/v1/webhooks/meta", content=raw, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def published(
    bootstrap: str, namespace: str, expected: int, timeout_s: float = 10.0
) -> dict[str, MessageReceived]:
    """The mentions on the raw topic by platform message id, once ``expected`` of them arrived."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = [
            decode(r.headers, r.value)
            for r in await records(bootstrap, topics.RAW, namespace, settle_s=0.2, timeout_s=1.0)
        ]
        if len(found) >= expected or time.monotonic() > deadline:
            return {event.data.platform_message_id: event for event in found}


def held(database_url: str) -> list[str]:
    return [
        target
        for (target,) in rows(
            database_url, "SELECT target FROM poller_cursors WHERE source = '_instagram_mentions'"
        )
    ]


async def released(database_url: str, seconds: float = 5.0) -> list[str]:
    """The held mentions once the release that follows the publication has committed (it runs
    right after the broker's ack, so a consumer can see the event a moment before)."""
    for _ in range(int(seconds / 0.1)):
        if not (left := held(database_url)):
            return left
        await asyncio.sleep(0.1)
    return held(database_url)


async def test_comment_and_caption_mentions_get_text_and_author_an_unconfigured_account_the_placeholder(
    graph, kafka_bootstrap, topics_ready, database_url
):
    graph.ig_comments["17900009"] = ig_comment(
        "17900009", "@acme my parcel is lost, help!", "jana.k", "178414009001"
    )
    graph.ig_media["17950010"] = ig_media("17950010", "Loving my new @acme boots", "boots.fan")
    async with running(
        create_app(settings(kafka_bootstrap, topics_ready, database_url, graph.base))
    ) as client:
        answer = await post(
            client,
            ex.instagram_mention_entry(),
            ex.instagram_mention_entry(media_id="17950010", comment_id=None),
            ex.instagram_mention_entry(account=OTHER, media_id="17950011", comment_id="17900011"),
        )
        assert answer["accepted"] == 3 and answer["status"] == "accepted"
        events = await published(kafka_bootstrap, topics_ready, 3)
        assert set(answer["event_ids"]) == {event.id for event in events.values()}
        comment, caption, unconfigured = (
            events["17900009"].data,
            events["17950010"].data,
            events["17900011"].data,
        )
        assert (comment.text, comment.author.id, comment.author.handle) == (
            "@acme my parcel is lost, help!",
            "178414009001",
            "jana.k",
        )
        assert (
            comment.channel_kind,
            comment.conversation_id,
            comment.in_reply_to,
            comment.created_at.isoformat(),
        ) == (ChannelKind.MENTION, "17950009", "17950009", "2026-11-22T10:15:00+00:00")
        assert (
            caption.platform,
            caption.text,
            caption.author.handle,
            caption.permalink,
            caption.in_reply_to,
        ) == (
            Platform.INSTAGRAM,
            "Loving my new @acme boots",
            "boots.fan",
            "https://www.instagram.com/p/950010/",
            None,
        )
        assert unconfigured.text == f"{UNAVAILABLE} (no access token configured for this account)]"
        assert unconfigured.author.id == "unknown"
        # the token went in the header; the other account's mention cost no Graph call
        graph_calls = [
            (path, query, headers)
            for path, query, headers in graph.requests
            if path.startswith("/v26.0/")
        ]
        assert sorted(path for path, _, _ in graph_calls) == [f"/v26.0/{ACCOUNT}"] * 2
        assert {query["fields"] for _, query, _ in graph_calls} == {
            "mentioned_comment.comment_id(17900009){id,text,timestamp,username,from}",
            "mentioned_media.media_id(17950010){id,caption,timestamp,username,permalink}",
        }
        # the fetched text's raw body is the Graph answer; the placeholder's is the webhook body
        for event, source_body in (
            (comment, b'"mentioned_comment"'),
            (unconfigured, b'"mentions"'),
        ):
            sha = event.raw_ref.removeprefix("raw_payloads/")
            assert (
                source_body
                in rows(database_url, f"SELECT body FROM raw_payloads WHERE sha256 = '{sha}'")[0][0]
            )
        assert held(database_url) == []
        assert len(rows(database_url, "SELECT 1 FROM ingested_messages")) == 3
        replay = await post(client, ex.instagram_mention_entry())
        assert (replay["accepted"], replay["duplicates"]) == (0, 1)
        assert len(await published(kafka_bootstrap, topics_ready, 4, timeout_s=1.0)) == 3


async def test_a_graph_refusal_publishes_the_placeholder_and_a_429_is_waited_out(
    graph, kafka_bootstrap, topics_ready, database_url
):
    graph.ig_comments["17900020"] = ig_comment(
        "17900020", "@acme still waiting", "sam", "178414009020"
    )
    async with running(
        create_app(settings(kafka_bootstrap, topics_ready, database_url, graph.base))
    ) as client:
        graph.failures.append((404, {}))  # the comment was deleted before we asked
        await post(client, ex.instagram_mention_entry(comment_id="17900019"))
        gone = (await published(kafka_bootstrap, topics_ready, 1))["17900019"].data
        assert (gone.text, gone.author.id) == (
            f"{UNAVAILABLE} (Graph API answered HTTP 404)]",
            "unknown",
        )
        assert graph.count("/v26.0/") == 1  # a 4xx is final: no retry

        graph.failures.append((429, {"retry-after": "1"}))
        started = time.monotonic()
        await post(client, ex.instagram_mention_entry(comment_id="17900020"))
        events = await published(kafka_bootstrap, topics_ready, 2)
        assert (
            events["17900020"].data.text == "@acme still waiting"
            and time.monotonic() - started >= 1.0
        )
        assert graph.count("/v26.0/") == 3

        graph.failures += [
            (503, {})
        ] * 3  # every attempt (poll_max_attempts) fails: published all the same
        await post(client, ex.instagram_mention_entry(comment_id="17900021"))
        events = await published(kafka_bootstrap, topics_ready, 3)
        assert events["17900021"].data.text == f"{UNAVAILABLE} (Graph API failed after retries)]"
        assert held(database_url) == []


async def test_the_webhook_does_not_wait_for_graph_and_a_held_mention_survives_a_stop(
    graph, kafka_bootstrap, topics_ready, database_url
):
    graph.ig_comments["17900030"] = ig_comment("17900030", "@acme hello?", "kim", "178414009030")
    graph.graph_delay_s = 1.5
    cfg = settings(kafka_bootstrap, topics_ready, database_url, graph.base)
    async with running(create_app(cfg)) as client:
        started = time.monotonic()
        answer = await post(client, ex.instagram_mention_entry(comment_id="17900030"))
        assert time.monotonic() - started < 1.0 and answer["accepted"] == 1
        assert held(database_url) == answer["event_ids"]
        await asyncio.sleep(0.3)
        assert (
            graph.count("/v26.0/") == 1
        )  # the worker is waiting for the slow answer; we stop meanwhile
    assert held(database_url) == answer["event_ids"]
    assert await records(kafka_bootstrap, topics.RAW, topics_ready, timeout_s=0.5) == []
    graph.graph_delay_s = 0.0
    async with running(create_app(cfg)):  # the next process publishes what was held
        event = (await published(kafka_bootstrap, topics_ready, 1))["17900030"]
        assert (event.id, event.data.text, event.data.author.handle) == (
            answer["event_ids"][0],
            "@acme hello?",
            "kim",
        )
        assert held(database_url) == []


def _graph_limit(code: int, regain_minutes: int | None = None, status: int = 400) -> tuple:
    """A Graph API rate-limit refusal as Graph sends it: HTTP 400/403 with an error code, and with a
    business-use-case estimate of when access returns when ``regain_minutes`` is given."""
    headers = (
        {}
        if regain_minutes is None
        else {
            "x-business-use-case-usage": (
                f'{{"1784140": [{{"type": "instagram", "call_count": 100, "estimated_time_to_regain_access": {regain_minutes}}}]}}'
            )
        }
    )
    return (
        status,
        headers,
        {
            "error": {
                "message": "Application request limit reached",
                "type": "OAuthException",
                "code": code,
                "fbtrace_id": "A1",
            }
        },
    )


async def test_a_graph_rate_limit_holds_the_account_s_mentions_and_publishes_their_text_afterwards(
    graph, kafka_bootstrap, topics_ready, database_url
):
    graph.ig_comments["17900040"] = ig_comment("17900040", "@acme my order?", "lea", "178414009040")
    graph.ig_comments["17900041"] = ig_comment("17900041", "@acme me too", "tom", "178414009041")
    async with running(
        create_app(settings(kafka_bootstrap, topics_ready, database_url, graph.base))
    ) as client:
        graph.failures.append(
            _graph_limit(80002, regain_minutes=0)
        )  # Instagram's business-use-case limit
        answer = await post(
            client,
            ex.instagram_mention_entry(comment_id="17900040"),
            ex.instagram_mention_entry(comment_id="17900041"),
        )
        assert answer["accepted"] == 2
        await asyncio.sleep(1.0)
        # refused once; the other mention of the same account waited without a call; both still held
        assert graph.count("/v26.0/") == 1 and sorted(held(database_url)) == sorted(
            answer["event_ids"]
        )
        events = await published(
            kafka_bootstrap, topics_ready, 2, timeout_s=15.0
        )  # the worker's next round
        assert (events["17900040"].data.text, events["17900041"].data.text) == (
            "@acme my order?",
            "@acme me too",
        )
        assert graph.count("/v26.0/") == 3 and held(database_url) == []


async def test_a_rate_limit_outlasting_the_hold_publishes_the_placeholder(
    graph, kafka_bootstrap, topics_ready, database_url
):
    graph.ig_comments["17900050"] = ig_comment("17900050", "@acme hello", "ada", "178414009050")
    cfg = settings(
        kafka_bootstrap, topics_ready, database_url, graph.base, meta_mention_max_hold_s=0
    )
    async with running(create_app(cfg)) as client:
        graph.failures.append(_graph_limit(32, status=403))  # page-level limit, no estimate
        await post(client, ex.instagram_mention_entry(comment_id="17900050"))
        event = (await published(kafka_bootstrap, topics_ready, 1))["17900050"].data
        assert (event.text, event.author.id) == (
            f"{UNAVAILABLE} (Graph API rate limit (code 32) for 0 s)]",
            "unknown",
        )
        assert await released(database_url) == []
