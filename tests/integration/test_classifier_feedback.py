"""Corrections on the real broker into both databases: the classifier's corrections runner
(its own consumer group) stores each as a labelled example, idempotent on the event id, a
later correction of the same message supersedes, an older one arriving late does not, and a
correction without a label is dead-lettered, not dropped."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from services.classifier.app import CORRECTIONS_GROUP_SUFFIX, ClassifierService
from services.classifier.feedback import CorrectionStore, labels_of, read_corrections
from services.classifier.settings import ClassifierSettings
from shared import db, schemagen, topics
from shared.events import ClassificationCorrected, Correction
from tests.kafkautil import collect, committed_total, produce

pytestmark = pytest.mark.kafka
T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def corrected(event_id: str, key: str, minutes: int, **data) -> ClassificationCorrected:
    return ClassificationCorrected(
        id=event_id,
        source="helpdesk/test",
        time=T0,
        correlation_id=event_id,
        subject=key,
        data=Correction(
            message_key=key,
            text=data.pop("text", "Wo bleibt meine Erstattung?"),
            at=T0 + timedelta(minutes=minutes),
            **data,
        ),
    )


class NeverCalled:
    async def __call__(self, event, meta):
        raise AssertionError("no raw messages in this test")


async def test_corrections_are_stored_once_superseded_by_later_ones_and_poison_is_dead_lettered(
    kafka_bootstrap, topics_ready, database_url
):
    ns = topics_ready
    source = topics.qualified(topics.CORRECTIONS, ns)
    settings = ClassifierSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_topic_namespace=ns,
        database_url=database_url,
        consumer_group=f"{ns}classifier",
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
        poll_timeout_ms=100,
    )
    not_spam = corrected(
        "e1", "fb:acme:k1", 0, decision="reply", previous_decision="drop", origin="helpdesk"
    )
    retagged = corrected(
        "e2",
        "fb:acme:k1",
        5,
        decision="reply",
        tags=("refund", "sentiment:negative"),
        previous_tags=("order",),
        origin="router-retag",
        corrected_by="agent-7",
    )
    late_old = corrected("e3", "fb:acme:k1", 1, decision="drop")
    noise = corrected("e4", "fb:acme:k2", 2, text="Schönes Video!", decision="tag")
    no_label = corrected("e5", "fb:acme:k3", 3)
    events = [
        not_spam,
        not_spam,
        retagged,
        late_old,
        noise,
        no_label,
        schemagen.example_events()[3],
    ]
    await produce(kafka_bootstrap, source, events)
    service = ClassifierService(settings, NeverCalled())
    task = asyncio.create_task(service.run())
    try:
        deadline = time.monotonic() + 60
        runner = service.corrections
        while (
            runner.state.processed + runner.state.dead_lettered < len(events)
            and time.monotonic() < deadline
        ):
            assert not task.done(), task.exception()
            await asyncio.sleep(0.1)
        dead = await collect(kafka_bootstrap, topics.dlq_for(topics.CORRECTIONS, ns), 2, settle=0.5)
    finally:
        service.stop()
        await asyncio.wait_for(task, timeout=30)
    assert (runner.state.processed, runner.state.dead_lettered) == (5, 2)
    assert len(dead) == 2
    assert {dict(r.headers)["dlq.consumer.group"].decode() for r in dead} == {
        f"{ns}classifier{CORRECTIONS_GROUP_SUFFIX}"
    }
    assert any(b"carries no label" in dict(r.headers)["dlq.error"] for r in dead)

    stored = {e.message_key: e for e in read_corrections(database_url)}
    assert set(stored) == {"fb:acme:k1", "fb:acme:k2"}
    k1 = stored["fb:acme:k1"]
    assert (k1.decision, k1.tags, k1.corrected_at) == (
        "reply",
        ("refund", "sentiment:negative"),
        T0 + timedelta(minutes=5),
    )
    assert labels_of(k1) == {
        "spam": "0",
        "reply_needed": "reply",
        "contact_reason": "refund",
        "sentiment": "negative",
    }
    assert labels_of(stored["fb:acme:k2"]) == {"spam": "0", "reply_needed": "noise"}
    # offsets are committed past everything in the corrections runner's own group
    assert await committed_total(
        kafka_bootstrap, f"{ns}classifier{CORRECTIONS_GROUP_SUFFIX}", source
    ) == len(events)
    assert await committed_total(kafka_bootstrap, f"{ns}classifier", source) == 0

    # a redelivery of an already stored event (a replay after a crash) changes nothing
    engine = db.engine(database_url)
    try:
        store = CorrectionStore(db.sessions(engine))
        assert await store.store(retagged) == "duplicate"
        assert await store.store(late_old) == "stale"
        newest = corrected("e6", "fb:acme:k1", 9, decision="drop")
        assert await store.store(newest) == "superseded"
    finally:
        await engine.dispose()
    after = {e.message_key: e for e in read_corrections(database_url)}
    assert after["fb:acme:k1"].decision == "drop" and labels_of(after["fb:acme:k1"]) == {
        "spam": "1"
    }
    assert len(after) == 2


async def test_a_failing_corrections_store_never_stops_classification(
    kafka_bootstrap, topics_ready, tmp_path
):
    """The database is unusable (never migrated): the corrections runner gives up, is counted and
    restarted, uncommitted; the classifying runner keeps running and stays ready."""
    from services.classifier.app import CORRECTIONS_FAILED

    ns = topics_ready
    settings = ClassifierSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_topic_namespace=ns,
        database_url=f"sqlite:///{tmp_path / 'unmigrated.db'}",
        consumer_group=f"{ns}classifier",
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
        poll_timeout_ms=100,
        retry_max_attempts=1,
    )
    await produce(
        kafka_bootstrap,
        topics.qualified(topics.CORRECTIONS, ns),
        [corrected("e1", "fb:acme:k1", 0, decision="reply")],
    )
    service = ClassifierService(settings, NeverCalled())
    service.RESTART_BACKOFF_S = (0.05, 0.1)
    failures, first = CORRECTIONS_FAILED._value.get(), service.corrections
    task = asyncio.create_task(service.run())
    try:
        deadline = time.monotonic() + 60
        while service.corrections is first and time.monotonic() < deadline:
            assert not task.done(), task.exception()
            await asyncio.sleep(0.05)
        assert CORRECTIONS_FAILED._value.get() >= failures + 1 and first.state.status == "failed"
        assert service.corrections is not first  # restarted
        while not service.ready and time.monotonic() < deadline:  # the readiness probes' round
            await asyncio.sleep(0.05)
        assert service.ready and service.live and not task.done()
    finally:
        service.stop()
        await asyncio.wait_for(task, timeout=30)
    group = f"{ns}classifier{CORRECTIONS_GROUP_SUFFIX}"
    assert (
        await committed_total(kafka_bootstrap, group, topics.qualified(topics.CORRECTIONS, ns)) == 0
    )
