"""The router's helpdesk endpoint on the real broker and database: Zammad-, Chatwoot- and
Zendesk-shaped webhooks (and Switchboard's own body as a Standard Webhook) become lifecycle
events on the lifecycle topic; a bad signature (401), an unknown item (404) and a malformed
body (422) publish nothing; a broker that does not answer gets 503 with Retry-After; a
re-sent delivery is one event and, once applied, is not published again; during a rotation the
old and the new secret are both accepted; a helpdesk that cannot sign uses its URL token."""

from __future__ import annotations

import uuid
from contextlib import asynccontextmanager

import httpx
import pytest
from sqlalchemy import select

from services.router.app import build, runtime_of
from services.router.outbox import row_event
from services.router.settings import RouterSettings
from services.router.store import RoutedItems
from services.router.tables import OutboxRow
from shared import db, topics
from shared.events import HelpdeskItemUpdated, Lifecycle, LifecycleAction
from shared.runner import RecordMeta
from shared.signatures import sign
from tests.helpdesk_support import payloads as p
from tests.integration.test_router_dispatch import T0, Clock, classified
from tests.kafkautil import collect, decoded
from tools.devbroker import free_port

pytestmark = [pytest.mark.kafka]
META = RecordMeta("t", 0, 0, None)
WHSEC = "whsec_" + "c3dpdGNoYm9hcmQtaGVscGRlc2stdGVzdA=="
OLD_ZAMMAD = "the-old-zammad-token-987654"
URL_TOKEN = "a-long-url-token-for-old-chatwoot"
AGENTS = {"anna@example.com": "anna", "1": "anna"}
HELPDESKS = {
    "zammad": {"kind": "zammad", "secrets": [p.ZAMMAD_TOKEN, OLD_ZAMMAD], "agents": AGENTS},
    "chatwoot": {
        "kind": "chatwoot",
        "secrets": [p.CHATWOOT_SECRET],
        "agents": AGENTS,
        "tag_map": {"billing": "reason:billing"},
    },
    "zendesk": {"kind": "zendesk", "secrets": [p.ZENDESK_SECRET], "agents": AGENTS},
    "desk": {"kind": "standard", "secrets": [WHSEC]},
    "legacy": {"kind": "chatwoot", "url_tokens": [URL_TOKEN]},
}


class Router:
    def __init__(self, http, runtime, bootstrap, namespace) -> None:
        self.http, self.runtime, self.bootstrap, self.namespace = (
            http,
            runtime,
            bootstrap,
            namespace,
        )
        self.seen = 0

    async def item(self, n: int) -> str:
        """Route classified message ``n``; its item id."""
        outputs = await self.runtime.runners[0].stage(classified(n), META)
        return next(o.event.id for o in outputs if o.topic.endswith(topics.ROUTED))

    async def post(self, helpdesk: str, body: bytes, headers: dict, suffix: str = ""):
        return await self.http.post(
            f"/v1/helpdesks/{helpdesk}/events{suffix}", content=body, headers=headers
        )

    async def zammad(self, payload: dict, delivery: str | None = None, token: str = p.ZAMMAD_TOKEN):
        body = p.dumps(payload)
        return await self.post("zammad", body, p.zammad_headers(body, token, delivery))

    async def chatwoot(self, payload: dict, **kw):
        body = p.dumps(payload)
        kw.setdefault("timestamp", int(T0.timestamp()))  # the router's clock
        return await self.post("chatwoot", body, p.chatwoot_headers(body, **kw))

    async def zendesk(self, payload: dict):
        body = p.dumps(payload)
        return await self.post("zendesk", body, p.zendesk_headers(body, at=T0))

    async def new_events(self, expected: int, settle: float = 0.0) -> list:
        """The lifecycle events published since the last call (exactly what arrived)."""
        topic = topics.qualified(topics.LIFECYCLE, self.namespace)
        records = await collect(
            self.bootstrap, topic, self.seen + expected, timeout=15, settle=settle
        )
        fresh = decoded(records[self.seen :])
        self.seen = len(records)
        return fresh

    async def apply(self, events) -> None:
        for event in events:
            await self.runtime.runners[1].stage(event, META)


@asynccontextmanager
async def router(bootstrap: str, namespace: str, database_url: str, **overrides):
    settings = RouterSettings(
        kafka_bootstrap_servers=bootstrap,
        kafka_topic_namespace=namespace,
        database_url=database_url,
        consumer_group=f"r-{uuid.uuid4().hex[:6]}",
        helpdesks=HELPDESKS,
        **overrides,
    )
    app, runtime = build(settings, clock=Clock())
    await runtime.prepare()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://router"
    ) as http:
        yield Router(http, runtime, bootstrap, namespace)
    await runtime.relay.close()


def actions(events) -> list[tuple]:
    return [(e.data.action, e.data.agent_id) for e in events]


async def test_zammad_webhooks_map_to_lifecycle_events(kafka_bootstrap, topics_ready, database_url):
    async with router(kafka_bootstrap, topics_ready, database_url) as r:
        item = await r.item(1)
        reply = await r.zammad(p.zammad(item, at="2026-11-23T09:12:00.000Z"))
        assert reply.status_code == 202, reply.text
        events = await r.new_events(2)
        assert actions(events) == [
            (LifecycleAction.REPLIED, "anna"),
            (LifecycleAction.ASSIGNED, "anna"),
        ]
        assert {e.data.item_id for e in events} == {item} and events[0].data.at.minute == 12
        assert events[0].subject and events[0].correlation_id == item
        await r.apply(events)
        # an internal note keeps its text; the ticket's owner is known by now: not re-published
        note = await r.zammad(p.zammad(item, internal=True, article_id=105))
        assert (
            note.status_code == 202
            and "assigned: already assigned to anna" in note.json()["skipped"]
        )
        [noted] = await r.new_events(1)
        assert noted.data.action is LifecycleAction.NOTE and "Ladegerät" in noted.data.note
        # a customer's article changes nothing; the state, the tags do
        tags = ["sb:reason:billing", "sb:not-spam", "vip"]
        closed = await r.zammad(
            p.zammad(item, state="closed", article_sender="Customer", tags=tags)
        )
        assert closed.status_code == 202, closed.text
        found = await r.new_events(3, settle=0.5)
        assert [e.data.action for e in found] == [
            LifecycleAction.RESOLVED,
            LifecycleAction.RETAGGED,
            LifecycleAction.NOT_SPAM,
        ]
        assert found[1].data.tags == ("reason:billing",)
        await r.apply(found)
        # the same snapshot again: already resolved, same tags, already corrected
        again = await r.zammad(p.zammad(item, state="closed", article_sender=None, tags=tags))
        assert again.status_code == 200 and again.json()["published"] == []
        assert len(again.json()["skipped"]) == 4  # resolved, assigned, tags, not spam


async def test_chatwoot_and_zendesk_webhooks_map_to_lifecycle_events(
    kafka_bootstrap, topics_ready, sqlite_url
):
    async with router(kafka_bootstrap, topics_ready, sqlite_url) as r:
        item, other = await r.item(1), await r.item(2)
        incoming = await r.chatwoot(p.chatwoot_message(item, outgoing=False))
        assert incoming.status_code == 200 and incoming.json()["ignored"]
        assert (await r.chatwoot(p.chatwoot_message(item))).status_code == 202
        assert (
            await r.chatwoot(p.chatwoot_message(item, message_id=119, private=True))
        ).status_code == 202
        assert (await r.chatwoot(p.chatwoot_csat(item, 4))).status_code == 202
        assert (
            await r.chatwoot(p.chatwoot_labels(item, ["billing", "sb-needed-reply"]))
        ).status_code == 202
        assert (await r.chatwoot(p.chatwoot_status(item, "resolved"))).status_code == 202
        events = await r.new_events(6, settle=0.5)
        assert actions(events) == [
            (LifecycleAction.REPLIED, "anna"),
            (LifecycleAction.NOTE, "anna"),
            (LifecycleAction.SATISFACTION, None),
            (LifecycleAction.RETAGGED, None),
            (LifecycleAction.NEEDED_REPLY, None),
            (LifecycleAction.RESOLVED, None),
        ]
        assert events[2].data.satisfaction == 4.0 and events[3].data.tags == ("reason:billing",)
        comment = {
            "comment": {
                "id": "9001",
                "body": "Done",
                "is_public": True,
                "author": {"id": "1", "is_staff": True, "name": "Anna"},
            }
        }
        assert (await r.zendesk(p.zendesk(other, "comment_added", comment))).status_code == 202
        solved = {"current": "SOLVED", "previous": "OPEN"}
        assert (await r.zendesk(p.zendesk(other, "status_changed", solved))).status_code == 202
        tagged = {"tags_added": ["sb:complaint"], "tags_removed": []}
        assert (
            await r.zendesk(p.zendesk(other, "tags_changed", tagged, tags=("sb:complaint", "vip")))
        ).status_code == 202
        zen = await r.new_events(3, settle=0.5)
        assert actions(zen) == [
            (LifecycleAction.REPLIED, "anna"),
            (LifecycleAction.RESOLVED, None),
            (LifecycleAction.RETAGGED, None),
        ]
        assert {e.data.item_id for e in zen} == {other} and zen[2].data.tags == ("complaint",)


async def test_refusals_say_why_and_publish_nothing(kafka_bootstrap, topics_ready, sqlite_url):
    async with router(kafka_bootstrap, topics_ready, sqlite_url) as r:
        item = await r.item(1)
        body = p.dumps(p.zammad(item))
        forged = p.zammad_headers(body, token="not-the-token-at-all")
        bad = await r.post("zammad", body, forged)
        assert (bad.status_code, bad.json()["error"]) == (401, "bad_signature")
        unsigned = {k: v for k, v in p.zammad_headers(body).items() if k != "X-Hub-Signature"}
        assert (await r.post("zammad", body, unsigned)).json()["error"] == "missing_signature"
        stale = await r.chatwoot(p.chatwoot_message(item), timestamp=int(T0.timestamp()) - 3600)
        assert (stale.status_code, stale.json()["error"]) == (401, "stale_timestamp")
        unknown = await r.zammad(p.zammad("0a1b2c3d-0000-4000-8000-000000000000"))
        assert (unknown.status_code, unknown.json()["error"]) == (404, "unknown_item")
        assert "no routed item 0a1b2c3d" in unknown.json()["detail"]
        torn = b'{"ticket": {"id": 81, '
        malformed = await r.post("zammad", torn, p.zammad_headers(torn))
        assert (malformed.status_code, malformed.json()["error"]) == (422, "malformed_body")
        shape = p.dumps({"ticket": "81"})
        invalid = await r.post("zammad", shape, p.zammad_headers(shape))
        assert (
            invalid.status_code == 422 and "ticket: expected an object" in invalid.json()["detail"]
        )
        foreign = await r.zammad(p.zammad(None))
        assert (foreign.status_code, foreign.json()["error"]) == (422, "no_item_id")
        assert "ticket.switchboard_item_id" in foreign.json()["detail"]
        nobody = await r.post("nobody", body, p.zammad_headers(body))
        assert (nobody.status_code, nobody.json()["error"]) == (404, "unknown_helpdesk")
        lifecycle = topics.qualified(topics.LIFECYCLE, r.namespace)
        assert await collect(r.bootstrap, lifecycle, 1, timeout=2) == []


async def test_duplicate_delivery_is_one_event_and_not_republished_once_applied(
    kafka_bootstrap, topics_ready, sqlite_url
):
    async with router(kafka_bootstrap, topics_ready, sqlite_url) as r:
        item = await r.item(1)
        payload = p.zammad(item, owner=None)
        first = await r.zammad(payload, delivery="d-1")
        second = await r.zammad(payload, delivery="d-2")  # Zammad re-sent the same article
        assert first.json()["published"] == second.json()["published"]
        events = await r.new_events(2, settle=0.5)
        assert len({e.id for e in events}) == 1
        await r.apply(events)
        third = await r.zammad(payload, delivery="d-1")
        assert (third.status_code, third.json()["duplicates"], third.json()["published"]) == (
            200,
            [events[0].id],
            [],
        )
        assert await r.new_events(0, settle=1.0) == []
        row = await item_row(r, item)
        assert (row.responses, row.first_response_s is not None) == (1, True)


async def item_row(r: Router, item_id: str):
    return await RoutedItems(r.runtime.relay._sessions).by_id(item_id)  # noqa: SLF001


async def test_old_and_new_secrets_during_a_rotation_and_the_url_token(
    kafka_bootstrap, topics_ready, sqlite_url
):
    async with router(kafka_bootstrap, topics_ready, sqlite_url) as r:
        item = await r.item(1)
        new = await r.zammad(p.zammad(item, article_id=201, owner=None))
        old = await r.zammad(p.zammad(item, article_id=202, owner=None), token=OLD_ZAMMAD)
        assert (new.status_code, old.status_code) == (202, 202)
        body = p.dumps(p.chatwoot_message(item, message_id=300))
        plain = {"Content-Type": "application/json"}
        tokened = await r.post("legacy", body, plain, suffix=f"/{URL_TOKEN}")
        assert tokened.status_code == 202, tokened.text
        wrong = await r.post("legacy", body, plain, suffix="/a-wrong-token-of-some-length")
        assert (wrong.status_code, wrong.json()["error"]) == (401, "bad_signature")
        unsigned = await r.post("legacy", body, plain)
        assert unsigned.status_code == 401 and "URL-token" in unsigned.json()["detail"]
        lifecycle = {
            "item_id": item,
            "action": "satisfaction",
            "at": T0.isoformat(),
            "satisfaction": 5,
        }
        raw = p.dumps(lifecycle)
        standard = await r.post(
            "desk", raw, {"Content-Type": "application/json", **sign(WHSEC, "msg_1", T0, raw)}
        )
        assert standard.status_code == 202, standard.text
        events = await r.new_events(4, settle=0.5)
        assert [e.data.action for e in events] == [LifecycleAction.REPLIED] * 3 + [
            LifecycleAction.SATISFACTION
        ]
        forged = sign("whsec_" + "b3RoZXItc2VjcmV0LWVudGlyZWx5", "msg_2", T0, raw)
        assert (
            await r.post("desk", raw, {"Content-Type": "application/json", **forged})
        ).status_code == 401


async def test_broker_down_is_503_with_retry_after(kafka_bootstrap, topics_ready, sqlite_url):
    async with router(kafka_bootstrap, topics_ready, sqlite_url) as up:
        item = await up.item(1)
    dead = f"127.0.0.1:{free_port()}"  # nothing listens there
    async with router(dead, topics_ready, sqlite_url, helpdesk_publish_timeout_s=2.0) as down:
        answer = await down.zammad(p.zammad(item, owner=None))
        assert (answer.status_code, answer.json()["error"]) == (503, "broker_unavailable")
        assert answer.headers["Retry-After"] == "5"
        # the same delivery later, with the broker back, is accepted
    async with router(kafka_bootstrap, topics_ready, sqlite_url) as back:
        assert (await back.zammad(p.zammad(item, owner=None))).status_code == 202


async def test_the_router_applies_reopened_note_and_corrections(database_url):
    """The lifecycle consumer: reopened puts a resolved item back to waiting (not an open one),
    a note is kept in the audit trail, not spam / needed a reply become classifier corrections."""
    engine = db.engine(database_url)
    runtime = runtime_of(RouterSettings(database_url=database_url), db.sessions(engine), Clock())
    await runtime.prepare()
    sessions = db.sessions(engine)
    try:
        outputs = await runtime.runners[0].stage(classified(1), META)
        item = next(o.event for o in outputs if o.topic.endswith(topics.ROUTED))

        async def change(n: int, action: LifecycleAction, **data) -> None:
            event = HelpdeskItemUpdated(
                id=f"hd-{n}",
                source="test",
                time=T0,
                correlation_id=item.id,
                subject=item.subject,
                data=Lifecycle(item_id=item.id, action=action, at=T0, **data),
            )
            await runtime.runners[1].stage(event, META)

        async def state() -> str:
            return (await RoutedItems(sessions).by_id(item.id)).work_state

        await change(1, LifecycleAction.REOPENED)
        assert await state() == "waiting"  # it was never resolved: nothing changes
        await change(2, LifecycleAction.RESOLVED)
        assert await state() == "resolved"
        await change(3, LifecycleAction.REOPENED)
        assert await state() == "waiting"
        await change(4, LifecycleAction.NOTE, note="Kunde ruft morgen an")
        await change(5, LifecycleAction.NOT_SPAM, agent_id="anna")
        await change(6, LifecycleAction.NEEDED_REPLY)
        await change(6, LifecycleAction.NEEDED_REPLY)  # redelivered: once
        trail = await RoutedItems(sessions).audit_trail(None, 50)
        [note] = [a for a in trail if a.action == "helpdesk_note"]
        assert note.detail["note"] == "Kunde ruft morgen an"
        async with sessions() as s:
            rows = (await s.execute(select(OutboxRow).order_by(OutboxRow.seq))).scalars().all()
        corrections = [row_event(r) for r in rows if r.topic == topics.CORRECTIONS]
        assert [(c.data.origin, c.data.decision, c.data.corrected_by) for c in corrections] == [
            ("helpdesk-not-spam", "reply", "anna"),
            ("helpdesk-needed-reply", "reply", "test"),
        ]
        assert corrections[0].data.tags == tuple(classified(1).data.classification.tags)
    finally:
        await engine.dispose()
