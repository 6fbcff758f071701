"""Triage review on a real database (SQLite and PostgreSQL): every message the classifier dropped or
tagged is kept with its text, reason and evidence in the consumer's transaction (a redelivery adds
nothing, a reply is not kept); ``GET /v1/triage`` lists them newest first with filters, keyset
pagination and team scoping; ``POST /v1/triage/{key}/correction`` stores the correction and puts a
``ClassificationCorrected`` into the outbox — idempotent on a re-post, 404/409/422 for what cannot
be done, never a 500. The broker leg (outbox → classifier → retrain) is test_triage_feedback."""

from __future__ import annotations

from datetime import UTC, timedelta
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import func, select

from services.router.app import build
from services.router.settings import DEV_ROUTER_ADMIN_TOKEN, RouterSettings
from services.router.tables import (
    AuditEntry,
    MessageFact,
    OutboxRow,
    TriageMessage,
    TriageTag,
)
from shared import topics
from shared.codec import decode
from shared.events import ChannelKind, Explanation, Platform, derived_id
from tests.integration.test_router_dispatch import META, T0, Clock, classified

ADMIN = {"Authorization": f"Bearer {DEV_ROUTER_ADMIN_TOKEN}"}
SPAM = Explanation(
    model="spam", model_version="spam-v3", score=0.98, threshold=0.5, evidence=("call now", "free")
)


def message(
    n: int,
    decision: str = "drop",
    language: str = "de",
    tags=("spam",),
    minutes: int = 0,
    channel=ChannelKind.PUBLIC_COMMENT,
    platform: Platform | None = None,
    text: str | None = None,
):
    event = classified(n, language=language, tags=tags, decision=decision, channel=channel)
    msg = event.data.message.model_copy(
        update={
            "created_at": T0 + timedelta(minutes=minutes),
            "text": text or f"Nachricht {n}: jetzt anrufen, gratis!",
            **({"platform": platform} if platform else {}),
        }
    )
    cls = event.data.classification.model_copy(
        update={
            "reason": f"spam score 0.98 at or above 0.50 ({n})"
            if decision == "drop"
            else "no rule asked for a reply",
            "explanation": SPAM
            if decision == "drop"
            else Explanation(rule_ids=("de.noise.praise",)),
        }
    )
    return event.model_copy(
        update={"data": event.data.model_copy(update={"message": msg, "classification": cls})}
    )


@pytest.fixture
async def router(database_url):
    """The router as deployed (API + runtime, not consuming: the test feeds its stage); the outbox
    is not relayed here (no broker), so its rows can be read."""
    app, runtime = build(
        RouterSettings(database_url=database_url, sweep_interval_s=3600), clock=Clock()
    )
    await runtime.prepare()
    relayed = []

    async def publish_outbox():
        relayed.append(1)

    runtime.publish_outbox = publish_outbox
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://router"
    ) as http:
        yield runtime, http, relayed
    await runtime.relay.close()


async def token(http, subject, role, team=None) -> dict:
    answer = await http.post(
        "/v1/admin/tokens", json={"subject": subject, "role": role, "team": team}, headers=ADMIN
    )
    assert answer.status_code == 201, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def stage(runtime):
    return runtime.runners[0].stage


async def rows_of(runtime, table):
    async with runtime.dispatcher._sessions() as s:
        return list((await s.execute(select(table))).scalars())


async def test_drops_and_noise_are_kept_with_their_evidence_once_and_replies_are_not(router):
    runtime, http, _ = router
    drop, noise, reply = (
        message(1),
        message(2, "tag", tags=("praise", "sentiment:positive")),
        message(3, "reply"),
    )
    # one poll with a duplicate inside, then a redelivery of the whole poll: nothing doubles
    for _ in range(2):
        answers = await stage(runtime).process_batch(
            [(drop, META), (noise, META), (drop, META), (reply, META)]
        )
        assert [a == [] for a in answers] == [True, True, True, False]
    triaged = {r.message_key: r for r in await rows_of(runtime, TriageMessage)}
    assert set(triaged) == {drop.data.message.message_key, noise.data.message.message_key}
    row = triaged[drop.data.message.message_key]
    assert (
        row.event_id,
        row.decision,
        row.platform,
        row.channel,
        row.account_id,
        row.author_id,
        row.language,
    ) == (drop.id, "drop", "facebook", "public_comment", "page-1029", "u-381", "de")
    assert row.text == drop.data.message.text and row.reason == drop.data.classification.reason
    assert row.explanation["evidence"] == ["call now", "free"] and row.explanation["score"] == 0.98
    assert row.queue == "support-de"  # where the rules would have put it: care-de may review it
    assert row.corrected_at is None and row.corrections == 0
    assert sorted((t.tag, t.message_key[-3:]) for t in await rows_of(runtime, TriageTag)) == [
        ("praise", "m-2"),
        ("sentiment:positive", "m-2"),
        ("spam", "m-1"),
    ]
    assert len(await rows_of(runtime, MessageFact)) == 3  # the KPI facts, beside them, once each
    # the one-message path (no prefetch) keeps them once too
    assert (
        await stage(runtime)(message(4, "tag"), META) == []
        and await stage(runtime)(message(4, "tag"), META) == []
    )
    assert len(await rows_of(runtime, TriageMessage)) == 3


async def test_listing_filters_paginates_newest_first_and_scopes_teams(router):
    runtime, http, _ = router
    events = [
        message(
            n,
            "drop" if n % 3 == 0 else "tag",
            language="en" if n % 2 else "de",
            minutes=n,
            tags=("spam",) if n % 3 == 0 else ("chatter",),
            platform=Platform.X if n == 7 else None,
            channel=ChannelKind.DIRECT_MESSAGE if n == 8 else ChannelKind.PUBLIC_COMMENT,
        )
        for n in range(1, 13)
    ]
    await stage(runtime).process_batch([(e, META) for e in events])
    keys = {n: e.data.message.message_key for n, e in enumerate(events, 1)}

    async def listed(query: str = "", headers=ADMIN) -> list[int]:
        answer = await http.get(f"/v1/triage{query}", headers=headers)
        assert answer.status_code == 200, answer.text
        return [int(i["message_key"].rsplit("-", 1)[1]) for i in answer.json()["items"]]

    assert await listed() == list(range(12, 0, -1))
    assert await listed("?decision=drop") == [12, 9, 6, 3]
    assert await listed("?decision=tag&language=de") == [10, 8, 4, 2]
    assert await listed("?platform=x") == [7]
    assert await listed("?channel=direct_message") == [8]
    assert await listed("?tag=spam") == [12, 9, 6, 3]
    assert await listed("?tag=nothing") == []
    since, until = (
        quote((T0 + timedelta(minutes=4)).isoformat()),
        quote((T0 + timedelta(minutes=6)).isoformat()),
    )
    assert await listed(f"?since={since}&until={until}") == [5, 4]
    first = (await http.get("/v1/triage?decision=drop", headers=ADMIN)).json()["items"][0]
    assert (
        first["decision"],
        first["reason"],
        first["evidence"],
        first["explanation"]["model"],
    ) == ("drop", "spam score 0.98 at or above 0.50 (12)", ["call now", "free"], "spam")
    assert first["received_at"] == (T0 + timedelta(minutes=12)).astimezone(UTC).isoformat()
    assert first["correction"] is None and first["text"].startswith("Nachricht 12")

    # keyset pages of 5: every row once, in order, the last page without a cursor
    seen, cursor, pages = [], None, 0
    while True:
        answer = (
            await http.get(
                "/v1/triage?limit=5" + (f"&cursor={cursor}" if cursor else ""), headers=ADMIN
            )
        ).json()
        seen += [int(i["message_key"].rsplit("-", 1)[1]) for i in answer["items"]]
        pages, cursor = pages + 1, answer["next"]
        if cursor is None:
            break
    assert (seen, pages) == (list(range(12, 0, -1)), 3)
    # rows arriving at the same instant are split by key, not lost between pages
    same = [message(100 + n, minutes=30) for n in range(3)]
    await stage(runtime).process_batch([(e, META) for e in same])
    one = (await http.get("/v1/triage?limit=2", headers=ADMIN)).json()
    two = (await http.get(f"/v1/triage?limit=2&cursor={one['next']}", headers=ADMIN)).json()
    assert [i["message_key"].rsplit(":", 1)[1] for i in one["items"] + two["items"]] == [
        "m-102",
        "m-101",
        "m-100",
        "m-12",
    ]

    # team scope: care-de sees the German ones (would-be queue support-de), care-en the English ones
    lead_de, agent_en = (
        await token(http, "erika", "lead", "care-de"),
        await token(http, "emma", "agent"),
    )
    assert await listed("?limit=500", lead_de) == [102, 101, 100, 12, 10, 8, 6, 4, 2]
    assert await listed("", agent_en) == [11, 9, 7, 5, 3, 1]
    answer = await http.post(
        f"/v1/triage/{keys[2]}/correction", json={"decision": "reply"}, headers=agent_en
    )
    assert answer.status_code == 404  # not one of emma's team: as if it did not exist
    # corrected filter
    assert (
        await http.post(
            f"/v1/triage/{keys[2]}/correction", json={"decision": "reply"}, headers=lead_de
        )
    ).status_code == 200
    assert await listed("?corrected=true") == [2]
    assert 2 not in await listed("?corrected=false&limit=500")


async def test_auth_and_clear_errors_never_a_server_error(router):
    runtime, http, _ = router
    await stage(runtime)(message(1), META)
    key = message(1).data.message.message_key
    assert (await http.get("/v1/triage")).status_code == 401
    assert (
        await http.get("/v1/triage", headers={"Authorization": "Bearer nope"})
    ).status_code == 401
    assert (
        await http.post(f"/v1/triage/{key}/correction", json={"decision": "reply"})
    ).status_code == 401
    bad_queries = [
        "?limit=0",
        "?limit=501",
        "?decision=reply",
        "?platform=myspace",
        "?channel=fax",
        "?corrected=maybe",
        "?since=2026-11-23T10:00:00",
        "?since=yesterday",
        f"?since={quote('2026-11-23T10:00:00+00:00')}&until={quote('2026-11-23T09:00:00+00:00')}",
        "?cursor=not-a-cursor",
        "?cursor=WyJ4IiwgMV0",
        "?cursor=%C3%A9%E2%82%AC",
        "?language=x",
    ]
    for query in bad_queries:
        answer = await http.get(f"/v1/triage{query}", headers=ADMIN)
        assert answer.status_code == 422, (query, answer.status_code, answer.text)
        assert answer.json()["detail"], query
    assert "cursor" in (await http.get("/v1/triage?cursor=abc", headers=ADMIN)).json()["detail"]
    assert (
        "offset"
        in (await http.get("/v1/triage?since=2026-11-23T10:00:00", headers=ADMIN)).json()["detail"]
    )
    bad_bodies = [
        {},
        {"decision": "maybe"},
        {"decision": "reply", "tags": "refund"},
        {"decision": "reply", "tags": [""]},
        {"decision": "reply", "tags": ["x" * 257]},
        {"decision": "reply", "tags": ["t"] * 51},
        {"decision": "reply", "note": "n" * 1025},
        {"decision": "reply", "colour": "red"},
        [],
        "reply",
        None,
    ]
    for body in bad_bodies:
        answer = await http.post(f"/v1/triage/{key}/correction", json=body, headers=ADMIN)
        assert answer.status_code == 422, (body, answer.status_code, answer.text)
    answer = await http.post(
        f"/v1/triage/{key}/correction",
        content=b"{not json",
        headers={**ADMIN, "Content-Type": "application/json"},
    )
    assert answer.status_code == 422
    unknown = await http.post(
        "/v1/triage/facebook:page-1029:nope/correction", json={"decision": "reply"}, headers=ADMIN
    )
    assert unknown.status_code == 404 and "no dropped or tagged message" in unknown.json()["detail"]
    assert (
        await http.post(
            f"/v1/triage/{'k' * 1025}/correction", json={"decision": "reply"}, headers=ADMIN
        )
    ).status_code == 422
    same = await http.post(f"/v1/triage/{key}/correction", json={"decision": "drop"}, headers=ADMIN)
    assert same.status_code == 409 and "nothing to correct" in same.json()["detail"]
    same_tags = await http.post(
        f"/v1/triage/{key}/correction", json={"decision": "drop", "tags": ["spam"]}, headers=ADMIN
    )
    assert same_tags.status_code == 409
    assert await rows_of(runtime, OutboxRow) == []  # nothing was emitted by any of these


async def test_a_correction_is_stored_emitted_through_the_outbox_and_idempotent(router):
    runtime, http, relayed = router
    drop = message(1, text="Seit zwei Wochen kein Internet, bitte ruft mich an: 0171 234567")
    await stage(runtime)(drop, META)
    key = drop.data.message.message_key
    slashed = message(2, "tag", tags=("chatter",))  # RSS/review ids may hold slashes
    slashed = slashed.model_copy(
        update={
            "data": slashed.data.model_copy(
                update={
                    "message": slashed.data.message.model_copy(
                        update={"platform_message_id": "https://reviews.example/r/9"}
                    )
                }
            )
        }
    )
    await stage(runtime)(slashed, META)
    agent = await token(http, "anna", "agent")  # care-de, through her directory entry

    body = {"decision": "reply", "note": "a customer without internet, not spam"}
    answer = await http.post(f"/v1/triage/{quote(key)}/correction", json=body, headers=agent)
    assert answer.status_code == 200, answer.text
    done = answer.json()
    assert done["repeated"] is False and relayed == [1]
    correction = done["triage"]["correction"]
    assert (correction["decision"], correction["tags"], correction["by"], correction["note"]) == (
        "reply",
        None,
        "anna",
        body["note"],
    )
    assert done["triage"]["decision"] == "drop"  # the classifier's decision stays visible beside it
    [row] = await rows_of(runtime, OutboxRow)
    assert (row.topic, row.key, row.event_id) == (topics.CORRECTIONS, key, done["event_id"])
    event = decode([(k, v.encode()) for k, v in row.headers], row.value.encode())
    c = event.data
    assert (c.message_key, c.text, c.language, c.decision.value, c.tags) == (
        key,
        drop.data.message.text,
        "de",
        "reply",
        (),
    )
    assert (c.previous_decision.value, c.previous_tags, c.corrected_by, c.origin) == (
        "drop",
        ("spam",),
        "anna",
        "router-triage",
    )
    assert event.correlation_id == drop.id and event.subject == key
    assert event.id == derived_id(f"{key}#0:reply:null", "router:triage-correction")

    again = await http.post(f"/v1/triage/{quote(key)}/correction", json=body, headers=agent)
    assert (
        again.status_code == 200
        and again.json()["event_id"] == done["event_id"]
        and again.json()["repeated"]
    )
    assert len(await rows_of(runtime, OutboxRow)) == 1 and relayed == [1]  # nothing new to send
    # now reply is in force: the same decision without a tag change is a conflict
    assert (
        await http.post(
            f"/v1/triage/{quote(key)}/correction",
            json={"decision": "reply", "tags": []},
            headers=agent,
        )
    ).status_code == 200  # a tag change ([] vs unchanged) is one
    repost = await http.post(
        f"/v1/triage/{quote(key)}/correction", json={"decision": "reply", "tags": []}, headers=agent
    )
    assert repost.status_code == 200 and repost.json()["repeated"]
    refined = await http.post(
        f"/v1/triage/{quote(key)}/correction",
        json={"decision": "reply", "tags": ["reason:outage", "sentiment:negative"]},
        headers=agent,
    )
    assert refined.status_code == 200 and not refined.json()["repeated"]
    nothing = await http.post(
        f"/v1/triage/{quote(key)}/correction",
        json={"decision": "reply", "tags": ["sentiment:negative", "reason:outage"]},
        headers=agent,
    )
    assert nothing.status_code == 409  # the same tags in another order: nothing to correct
    assert len(await rows_of(runtime, OutboxRow)) == 3
    async with runtime.dispatcher._sessions() as s:
        stored = await s.get(TriageMessage, key)
        assert (stored.corrected_decision, stored.corrected_tags, stored.corrections) == (
            "reply",
            ["reason:outage", "sentiment:negative"],
            3,
        )
        trail = (
            await s.execute(
                select(AuditEntry.action, func.count())
                .where(AuditEntry.message_key == key)
                .group_by(AuditEntry.action)
            )
        ).all()
    assert dict(trail) == {"triage_corrected": 3}

    # a key with slashes, by path
    skey = slashed.data.message.message_key
    answer = await http.post(
        f"/v1/triage/{skey}/correction", json={"decision": "drop"}, headers=ADMIN
    )
    assert answer.status_code == 200 and answer.json()["message_key"] == skey
    listed = (await http.get("/v1/triage?corrected=true&decision=tag", headers=ADMIN)).json()[
        "items"
    ]
    assert [i["message_key"] for i in listed] == [skey] and listed[0]["correction"][
        "decision"
    ] == "drop"
