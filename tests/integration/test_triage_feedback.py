"""Nothing silently lost, end to end on the real broker and both databases: a message the classifier
dropped as spam reaches the running router on the classified topic, is listed by ``GET /v1/triage``
with its reason and evidence, a lead's correction "needed a reply" goes through the router's outbox
to the corrections topic, the classifier's corrections consumer stores it, and what ``retrain``
reads from the store is a reply_needed "reply" and spam "0" training label for that text."""

from __future__ import annotations

import asyncio
import time
import uuid
from urllib.parse import quote

import httpx
import pytest

from services.classifier.app import ClassifierService
from services.classifier.feedback import labels_of, read_corrections
from services.classifier.serving.model import normalise
from services.classifier.settings import ClassifierSettings
from services.classifier.training import retrain
from services.router.app import build
from services.router.settings import DEV_ROUTER_ADMIN_TOKEN, RouterSettings
from shared import topics
from tests.integration.test_router_dispatch import Clock
from tests.integration.test_router_triage import message
from tests.kafkautil import collect, decoded, produce

pytestmark = [pytest.mark.kafka]
ADMIN = {"Authorization": f"Bearer {DEV_ROUTER_ADMIN_TOKEN}"}
TEXT = "Seit heute früh kein Internet mehr, Störung? Bitte ruft mich an: 0171 2345678"


class NeverCalled:
    async def __call__(self, event, meta):
        raise AssertionError("no raw messages in this test")


async def until(check, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := await check():
            return found
        await asyncio.sleep(0.1)
    raise AssertionError("timed out")


async def test_a_dropped_message_corrected_in_the_router_is_learnt_by_the_classifier(
    kafka_bootstrap, topics_ready, database_url
):
    ns = topics_ready
    common = dict(
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_topic_namespace=ns,
        database_url=database_url,
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
        poll_timeout_ms=100,
    )
    app, router = build(
        RouterSettings(**common, consumer_group=f"r-{uuid.uuid4().hex[:6]}", sweep_interval_s=3600),
        clock=Clock(),
    )
    dropped = message(1, "drop", text=TEXT)
    key = dropped.data.message.message_key
    router_task = asyncio.create_task(router.run())
    try:
        await produce(kafka_bootstrap, topics.qualified(topics.CLASSIFIED, ns), [dropped, dropped])
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://router"
        ) as http:

            async def listed():
                answer = await http.get("/v1/triage?decision=drop", headers=ADMIN)
                assert answer.status_code == 200, answer.text
                return answer.json()["items"]

            [row] = await until(listed)
            assert (row["message_key"], row["text"], row["decision"]) == (key, TEXT, "drop")
            assert row["reason"] == dropped.data.classification.reason and row["evidence"] == [
                "call now",
                "free",
            ]
            made = await http.post(
                "/v1/admin/tokens",
                json={"subject": "erika", "role": "lead", "team": "care-de"},
                headers=ADMIN,
            )
            lead = {"Authorization": f"Bearer {made.json()['token']}"}
            answer = await http.post(
                f"/v1/triage/{quote(key)}/correction",
                json={"decision": "reply", "note": "an outage report, not spam"},
                headers=lead,
            )
            assert answer.status_code == 200, answer.text
            event_id = answer.json()["event_id"]
            again = await http.post(
                f"/v1/triage/{quote(key)}/correction", json={"decision": "reply"}, headers=lead
            )
            assert (
                again.status_code == 200 and again.json()["event_id"] == event_id
            )  # idempotent re-post
            assert [
                i["message_key"]
                for i in (await http.get("/v1/triage?corrected=true", headers=lead)).json()["items"]
            ] == [key]
        [record] = await collect(
            kafka_bootstrap, topics.qualified(topics.CORRECTIONS, ns), 1, settle=1.0
        )
    finally:
        router.stop()
        await asyncio.wait_for(router_task, timeout=30)
    assert record.key == key.encode()
    [corrected] = decoded([record])
    assert corrected.id == event_id
    assert (
        corrected.data.decision.value,
        corrected.data.previous_decision.value,
        corrected.data.origin,
        corrected.data.corrected_by,
        corrected.data.text,
    ) == ("reply", "drop", "router-triage", "erika", TEXT)

    classifier = ClassifierService(
        ClassifierSettings(**common, consumer_group=f"{ns}classifier"), NeverCalled()
    )
    classifier_task = asyncio.create_task(classifier.run())
    try:

        async def stored():
            assert not classifier_task.done(), classifier_task.exception()
            return classifier.corrections.state.processed >= 1

        await until(stored)
    finally:
        classifier.stop()
        await asyncio.wait_for(classifier_task, timeout=30)
    examples = read_corrections(database_url)
    [example] = [e for e in examples if e.message_key == key]
    assert (example.text, example.language, example.decision) == (TEXT, "de", "reply")
    assert labels_of(example) == {"spam": "0", "reply_needed": "reply"}
    # what retrain trains on (no hold-out here): the text, labelled "needed a reply" and "not spam"
    for family, label in (("reply_needed", "reply"), ("spam", "0")):
        train, held = retrain.labelled(examples, family, holdout=0.0)
        assert (train, held) == ([(normalise(TEXT), label)], []), family
