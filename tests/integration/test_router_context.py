"""The router as a service on the real broker and database, on the customer's clock: a routed
item carries its customer context (the conversation so far in both directions with PII masked
and long texts cut, the customer's earlier contacts with the last one's reason, outcome and
CSAT from real helpdesk webhooks (Zammad, Chatwoot) through the router's helpdesk endpoint,
the conversation's internal notes) and the suggested
templates; a replayed backlog is routed already breached with its ingestion delay; the templates
API lists, suggests and renders; the KPIs report CSAT per team, sentiment change and the delay."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from services.router.app import build
from services.router.settings import DEV_ROUTER_ADMIN_TOKEN, RouterSettings
from services.router.tables import ConversationNote, RoutedItem
from shared import topics
from shared.events import (
    CONTEXT_TEXT_CHARS,
    Author,
)
from tests.helpdesk_support import payloads as p
from tests.integration.test_router_dispatch import T0, Clock, classified
from tests.kafkautil import collect, decoded, produce

pytestmark = [pytest.mark.kafka]
ADMIN = {"Authorization": f"Bearer {DEV_ROUTER_ADMIN_TOKEN}"}
AGENTS = {"anna@example.com": "anna", "1": "anna"}
HELPDESKS = {
    "zammad": {"kind": "zammad", "secrets": [p.ZAMMAD_TOKEN], "agents": AGENTS},
    "chatwoot": {"kind": "chatwoot", "secrets": [p.CHATWOOT_SECRET], "agents": AGENTS},
}
PII = "Ruft mich an: 0151 23456789 oder jana.k@example.com"


def message(n, conversation, minutes, text="Hallo", tags=(), decision="reply", author=None):
    """Classified message ``m-<n>`` posted ``minutes`` before T0 (Monday 10:00 Berlin)."""
    event = classified(n, conversation=conversation, tags=tags, decision=decision)
    m = event.data.message.model_copy(
        update={"created_at": T0 - timedelta(minutes=minutes), "text": text}
    )
    if author is not None:
        m = m.model_copy(update={"author": Author(id=author)})
    return event.model_copy(update={"data": event.data.model_copy(update={"message": m})})


async def zammad(http, payload: dict) -> None:
    """Post a Zammad trigger webhook to the router's helpdesk endpoint (published before 202)."""
    body = p.dumps(payload)
    answer = await http.post(
        "/v1/helpdesks/zammad/events", content=body, headers=p.zammad_headers(body)
    )
    assert answer.status_code == 202, answer.text


async def routed_events(bootstrap: str, topic: str, count: int) -> dict:
    """The routed events by message id (``m-<n>``), once ``count`` distinct ones arrived."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        events = decoded(await collect(bootstrap, topic, count, timeout=10))
        found = {e.data.message.platform_message_id: e for e in events}
        if len(found) >= count:
            return found
    raise AssertionError(f"fewer than {count} routed items on {topic}")


async def until(check, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.2)


async def test_routed_items_carry_context_templates_and_the_customers_clock(
    kafka_bootstrap, topics_ready, database_url
):
    ns = topics_ready
    settings = RouterSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_topic_namespace=ns,
        database_url=database_url,
        consumer_group=f"r-{uuid.uuid4().hex[:6]}",
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
        poll_timeout_ms=100,
        sweep_interval_s=3600,
        helpdesks=HELPDESKS,
    )
    app, runtime = build(settings, clock=Clock())
    routed_topic = topics.qualified(topics.ROUTED, ns)
    task = asyncio.create_task(runtime.run())
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://router"
        ) as http:
            # an earlier contact ten days ago, then a conversation: a noise message with PII,
            # and a long complaint about an order that an agent answers and the helpdesk closes
            earlier = [
                message(1, "conv-old", 10 * 24 * 60, "Doppelt abgebucht!", ("reason:refund",)),
                message(2, "conv-now", 40, PII, ("sentiment:negative",), decision="tag"),
                message(3, "conv-now", 30, "Wo bleibt mein Paket? " * 80, ("reason:order",)),
            ]
            await produce(kafka_bootstrap, topics.qualified(topics.CLASSIFIED, ns), earlier)
            first = await routed_events(kafka_bootstrap, routed_topic, 2)
            m1, m3 = first["m-1"].id, first["m-3"].id
            assert first["m-3"].data.suggested_templates == ("de-bestellung", "de-allgemein")
            draft = await http.post(
                f"/v1/items/{m3}/drafts",
                json={"text": "Hallo Jana, schreib uns an hilfe@nordnetz.example"},
                headers=ADMIN,
            )
            assert draft.status_code == 201 and draft.json()["state"] == "released"
            # the helpdesks report back with their own webhooks: Zammad closes the refund, the
            # agent answers the complaint, notes a call-back and closes it; Chatwoot's CSAT: 4
            await zammad(
                http,
                p.zammad(m1, state="closed", article_sender=None, at="2026-11-14T09:00:00.000Z"),
            )
            await zammad(http, p.zammad(m3, at="2026-11-23T09:05:00.000Z"))  # 10:05 Berlin
            note = p.zammad(m3, internal=True, article_id=105, at="2026-11-23T08:40:00.000Z")
            note["article"]["body"] = "Kunde hat angerufen, Rückruf unter 0151 23456789"
            await zammad(http, note)
            await zammad(
                http,
                p.zammad(m3, state="closed", article_sender=None, at="2026-11-23T09:10:00.000Z"),
            )
            body = p.dumps(p.chatwoot_csat(m3, 4))
            headers = p.chatwoot_headers(body, timestamp=int(T0.timestamp()))
            answer = await http.post("/v1/helpdesks/chatwoot/events", content=body, headers=headers)
            assert answer.status_code == 202, answer.text

            async def rated() -> bool:
                async with runtime.dispatcher._sessions() as s:
                    row = (
                        await s.execute(select(RoutedItem).where(RoutedItem.event_id == m3))
                    ).scalar_one()
                    notes = (await s.execute(select(ConversationNote))).scalars().all()
                    return (
                        row.satisfaction == 4.0 and row.resolved_at is not None and len(notes) == 1
                    )

            await until(rated)
            # the customer writes again, calmer; and a message from a backlog eleven days old
            later = [
                message(4, "conv-now", 0, "Danke, ist angekommen!", ("sentiment:positive",)),
                message(5, "conv-back", 11 * 24 * 60, "Hallo?", author="u-9"),
            ]
            await produce(kafka_bootstrap, topics.qualified(topics.CLASSIFIED, ns), later)
            routed = await routed_events(kafka_bootstrap, routed_topic, 4)

            context = routed["m-4"].data.context
            assert [(m.direction, m.author) for m in context.conversation] == [
                ("inbound", "u-381"),
                ("inbound", "u-381"),
                ("outbound", "admin"),
            ]
            noise, complaint, reply = context.conversation
            assert noise.text == "Ruft mich an: +49*********89 oder j***@e***.com"
            assert noise.sentiment == "negative"
            assert len(complaint.text) == CONTEXT_TEXT_CHARS + 1 and complaint.text.endswith("…")
            assert reply.text == "Hallo Jana, schreib uns an h***@n***.example"
            [noted] = context.notes
            assert (noted.text, noted.author) == (
                "Kunde hat angerufen, Rückruf unter +49*********89",
                "anna",
            )
            contacts = context.earlier_contacts
            assert (contacts.count, contacts.last_reason, contacts.last_outcome) == (
                2,
                "order",
                "resolved",
            )
            assert contacts.last_satisfaction == 4.0
            assert context.truncated is True and context.customer == "facebook:u-381"
            assert routed["m-4"].data.suggested_templates == ("de-allgemein",)

            backlog = routed["m-5"].data.routing
            assert backlog.sla_deadline < backlog.routed_at  # routed already breached: due now
            assert backlog.ingestion_delay_seconds == timedelta(days=11).total_seconds()
            assert backlog.priority > routed["m-4"].data.routing.priority
            assert routed["m-5"].data.context.earlier_contacts.count == 0

            await check_templates_api(http)
            kpis = (await http.get("/v1/kpis", headers=ADMIN)).json()
            assert kpis["csat"]["by_team"] == {"care-de": {"mean": 4.0, "count": 1}}
            assert kpis["sentiment_change"]["improved"] == 1
            assert kpis["ingestion_delay"]["max_s"] == timedelta(days=11).total_seconds()
            frt = kpis["first_response_time"]
            assert (frt["count"], frt["median_calendar_s"]) == (1, 35 * 60.0)  # posted 09:30
            assert kpis["sla_attainment"]["answered"] == 1
    finally:
        runtime.stop()
        await asyncio.wait_for(task, timeout=30)


async def check_templates_api(http) -> None:
    assert (await http.get("/v1/templates")).status_code == 401
    listed = await http.get(
        "/v1/templates?language=de&reason=order&channel=public_comment", headers=ADMIN
    )
    assert listed.status_code == 200
    body = listed.json()
    assert body["suggested"] == ["de-bestellung", "de-allgemein"]
    assert {t["id"] for t in body["templates"]} >= {"de-bestellung", "de-allgemein"}
    assert all(t["language"] == "de" for t in body["templates"])
    assert "customer_name" in body["placeholders"]
    every = (await http.get("/v1/templates?versions=all", headers=ADMIN)).json()["templates"]
    assert [t["version"] for t in every if t["id"] == "de-rechnung"] == [1, 2]
    bad_channel = await http.get("/v1/templates?channel=fax", headers=ADMIN)
    assert bad_channel.status_code == 422
    values = {"customer_name": "Jana", "agent_name": "Anna", "reference": "R-7"}
    answer = await http.post(
        "/v1/templates/de-rechnung/render", json={"values": values}, headers=ADMIN
    )
    assert answer.status_code == 200 and answer.json()["version"] == 2
    assert "Jana" in answer.json()["text"] and "R-7" in answer.json()["text"]
    first = await http.post(
        "/v1/templates/de-rechnung/render", json={"values": values, "version": 1}, headers=ADMIN
    )
    assert first.status_code == 200 and "R-7" not in first.json()["text"]
    for template, body, status, says in (
        ("de-rechnung", {"values": {"customer_name": "Jana"}}, 422, "needs value(s) for"),
        ("de-rechnung", {"values": {**values, "kunde": "x"}}, 422, "unknown value(s) kunde"),
        (
            "de-rechnung",
            {"values": values, "version": 9},
            404,
            "no template 'de-rechnung' version 9",
        ),
        ("nope", {"values": values}, 404, "no template 'nope'"),
        ("de-rechnung", {"values": {"customer_name": "x" * 2000}}, 422, "at most 1024"),
        ("de-rechnung", {"valeurs": {}}, 422, "Extra inputs"),
    ):
        answer = await http.post(f"/v1/templates/{template}/render", json=body, headers=ADMIN)
        assert answer.status_code == status and says in str(answer.json()["detail"]), answer.text
