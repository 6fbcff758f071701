"""The notifier against the real database (SQLite and PostgreSQL) and real local receivers
(signed webhook, PagerDuty Events v2, a Mattermost/Slack-shaped hook through apprise, an SMTP
server through apprise), with an injected clock driving the durable timers."""

from __future__ import annotations

import asyncio
import email
import email.policy
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
import yaml
from aiosmtpd.controller import Controller

from services.notifier import links
from services.notifier.app import build
from services.notifier.settings import (
    DEV_NOTIFIER_ADMIN_TOKEN,
    DEV_SIGNING_KEY,
    NotifierSettings,
)
from shared import schemagen
from shared.events import Urgency
from shared.service import QuietServer
from tools.devbroker import free_port
from tools.pager_sink import PagerSink

SUNDAY_NIGHT = datetime(2026, 11, 22, 22, 30, tzinfo=UTC)  # Berlin 23:30, closed
START = "2026-01-05T09:00:00+01:00"
ADMIN = {"Authorization": f"Bearer {DEV_NOTIFIER_ADMIN_TOKEN}"}


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw) -> datetime:
        self.now += timedelta(**kw)
        return self.now


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[str] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append(envelope.content.decode("utf-8", errors="replace"))
        return "250 OK"


@pytest.fixture
async def sink():
    sink, port = PagerSink(DEV_SIGNING_KEY), free_port()
    server = QuietServer(
        uvicorn.Config(sink.app(), host="127.0.0.1", port=port, log_config=None, lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    sink.url = f"http://127.0.0.1:{port}"
    yield sink
    server.should_exit = True
    await task


def oncall_file(
    tmp_path: Path, sink_url: str, primary_contacts=("hook",), smtp_port: int | None = None
) -> Path:
    targets = {
        "hook": {"kind": "webhook"},
        "pd": {"kind": "pagerduty", "url": f"{sink_url}/v2/enqueue"},
        "chat": {"kind": "apprise"},
        "broken": {"kind": "webhook", "url": "http://127.0.0.1:9/none"},
    }
    if smtp_port:
        targets["mail"] = {"kind": "apprise"}
    spec = {
        "default_team": "support",
        "targets": targets,
        "people": {
            "alice": {"contacts": list(primary_contacts), "max_pages_per_hour": 5},
            "carol": {"contacts": ["hook", "pd"]},
        },
        "teams": {
            "support": {
                "digest_contacts": ["chat"],
                "rotations": {
                    "primary": {"layers": [{"people": ["alice"], "start": START}]},
                    "secondary": {"layers": [{"people": ["carol"], "start": START}]},
                },
                "escalation": {
                    "steps": [
                        {"notify": ["rotation:primary"], "wait_minutes": 15},
                        {"notify": ["rotation:secondary"], "wait_minutes": 15},
                    ],
                    "repeat": 0,
                    "ack_timeout_minutes": 60,
                },
            }
        },
    }
    path = tmp_path / "oncall.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def notifier(
    url: str, path: Path, sink_url: str, clock: Clock, smtp_port: int | None = None, **extra
):
    secrets = {
        "pd": "R0UTINGKEY",
        "chat": f"mmost://127.0.0.1:{sink_url.rsplit(':', 1)[1]}/hooktoken",
    }
    if smtp_port:
        secrets["mail"] = (
            f"mailto://127.0.0.1:{smtp_port}?smtp=127.0.0.1&from=notifier@example.com"
            "&to=alice@example.com"
        )
    settings = NotifierSettings(
        database_url=url,
        oncall_file=path,
        page_url=f"{sink_url}/pages",
        target_secrets=secrets,
        delivery_attempts=2,
        delivery_backoff_s=0.01,
        **extra,
    )
    app, service = build(settings, clock=clock)
    return app, service.paging


def routed(
    i: int = 0,
    urgency: Urgency = Urgency.HIGH,
    conversation: str = "conv-1",
    deadline_min: int = 60,
    now: datetime = SUNDAY_NIGHT,
):
    event = schemagen.example_events()[2]
    data = event.data
    message = data.message.model_copy(
        update={"conversation_id": conversation, "platform_message_id": f"m-{i}"}
    )
    routing = data.routing.model_copy(
        update={"sla_deadline": now + timedelta(minutes=deadline_min), "routed_at": now}
    )
    cls = data.classification.model_copy(update={"urgency": urgency})
    return event.model_copy(
        update={
            "id": f"item-{conversation}-{i}",
            "data": data.model_copy(
                update={"message": message, "routing": routing, "classification": cls}
            ),
        }
    )


async def test_urgent_item_pages_then_escalates_to_the_second_step_when_nobody_acks(
    database_url, tmp_path, sink
):
    clock = Clock(SUNDAY_NIGHT)
    _, paging = notifier(database_url, oncall_file(tmp_path, sink.url), sink.url, clock)
    await paging.on_routed(routed(), clock())
    await paging.tick(clock())
    [page] = sink.pages.values()
    assert page["person"] == "alice" and page["data"]["item_event_id"] == "item-conv-1-0"
    assert set(page["links"]) == {"ack", "resolve"}
    clock.advance(minutes=14)
    await paging.tick(clock())
    assert len(sink.pages) == 1 and not sink.pagerduty
    clock.advance(minutes=1)
    await paging.tick(clock())
    assert [p["person"] for p in sink.pages.values()] == ["alice", "carol"]
    [(dedup_key, [event])] = sink.pagerduty.items()
    assert dedup_key == page["incident_id"] and event["event_action"] == "trigger"
    assert event["routing_key"] == "R0UTINGKEY" and event["links"][0]["href"].startswith("http")


async def test_signed_link_ack_stops_escalation_until_the_ack_times_out(
    database_url, tmp_path, sink
):
    clock = Clock(SUNDAY_NIGHT)
    app, paging = notifier(database_url, oncall_file(tmp_path, sink.url), sink.url, clock)
    await paging.on_routed(routed(), clock())
    await paging.tick(clock())
    [page] = sink.pages.values()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://n"
    ) as client:
        ack = page["links"]["ack"].split("http://127.0.0.1:8004", 1)[1]
        forged = await client.get(ack.replace("by=alice", "by=mallory"))
        assert forged.status_code == 403 and forged.json()["detail"] == "bad signature"
        ok = await client.get(ack)
        assert (
            ok.status_code == 200
            and ok.json()["status"] == "acknowledged"
            and ok.json()["acked_by"] == "alice"
        )
        clock.advance(minutes=59)
        await paging.tick(clock())
        assert len(sink.pages) == 1, "an ack stops the escalation"
        clock.advance(minutes=1)
        await paging.tick(clock())
        assert len(sink.pages) == 2, "an ack that timed out re-triggers"
        resolved = await client.post(
            f"/v1/incidents/{page['incident_id']}/resolve", json={"by": "alice"}, headers=ADMIN
        )
        assert resolved.json()["status"] == "resolved"
        clock.advance(hours=13)
        expired = await client.get(ack)
        assert expired.status_code == 403 and expired.json()["detail"] == "link expired"


async def test_a_restart_mid_escalation_continues_it(database_url, tmp_path, sink):
    clock, path = Clock(SUNDAY_NIGHT), oncall_file(tmp_path, sink.url)
    _, first = notifier(database_url, path, sink.url, clock)
    await first.on_routed(routed(), clock())
    await first.tick(clock())
    await first.incidents._sessions.kw["bind"].dispose()
    clock.advance(minutes=20)
    _, second = notifier(
        database_url, path, sink.url, clock
    )  # a new process: only the database remains
    await second.tick(clock())
    await second.tick(clock())
    assert [p["person"] for p in sink.pages.values()] == ["alice", "carol"]


async def test_burst_is_one_page_redelivery_never_pages_twice_inside_hours_nothing(
    database_url, tmp_path, sink
):
    clock = Clock(SUNDAY_NIGHT)
    app, paging = notifier(database_url, oncall_file(tmp_path, sink.url), sink.url, clock)
    burst = [routed(i) for i in range(20)]
    for event in burst + burst[:5]:
        await paging.on_routed(event, clock())
    await paging.tick(clock())
    await paging.tick(clock())
    [page] = sink.pages.values()
    [incident] = await paging.incidents.listing()
    assert incident.item_count == 20 and sink.deliveries == 1
    await paging.on_routed(
        routed(0, conversation="daytime"), datetime(2026, 11, 23, 10, tzinfo=UTC)
    )
    assert len(await paging.incidents.listing()) == 1


async def test_low_urgency_waits_for_the_digest_when_the_office_opens(database_url, tmp_path, sink):
    clock = Clock(SUNDAY_NIGHT)
    _, paging = notifier(database_url, oncall_file(tmp_path, sink.url), sink.url, clock)
    for i in range(3):
        await paging.on_routed(
            routed(i, Urgency.NORMAL, conversation=f"c{i}", deadline_min=24 * 60), clock()
        )
    await paging.tick(clock())
    assert not sink.pages and not sink.chat
    clock.now = datetime(2026, 11, 23, 7, 59, tzinfo=UTC)  # Monday 08:59 Berlin
    await paging.tick(clock())
    assert not sink.chat
    clock.now = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # 09:00: the office opens
    await paging.tick(clock())
    await paging.tick(clock())
    [digest] = sink.chat
    assert digest["token"] == "hooktoken" and "3 items" in digest["text"] + str(digest)
    assert not sink.pages


async def test_an_office_that_never_opens_sends_the_digest_at_once_instead_of_failing(
    database_url, tmp_path, sink
):
    clock = Clock(SUNDAY_NIGHT)
    _, paging = notifier(
        database_url, oncall_file(tmp_path, sink.url), sink.url, clock, office_hours={}
    )
    await paging.on_routed(routed(0, Urgency.NORMAL, deadline_min=24 * 60), clock())
    await paging.tick(clock())
    await paging.tick(clock())
    [digest] = sink.chat  # no morning to wait for: delivered now, and the consumer did not fail
    assert "1 item" in digest["text"] + str(digest) and not sink.pages


async def test_sla_timer_pages_when_the_deadline_nears_after_closing(database_url, tmp_path, sink):
    friday = datetime(2026, 11, 27, 15, 50, tzinfo=UTC)  # 16:50 Berlin, open
    clock = Clock(friday)
    _, paging = notifier(database_url, oncall_file(tmp_path, sink.url), sink.url, clock)
    await paging.on_routed(routed(urgency=Urgency.NORMAL, deadline_min=15, now=friday), clock())
    await paging.tick(clock())
    assert not sink.pages
    clock.advance(minutes=10)  # 17:00 Berlin: closed, deadline in 5 minutes
    await paging.tick(clock())
    [page] = sink.pages.values()
    assert page["title"].startswith("[support] SLA about to pass")


async def test_alertmanager_groups_repeats_and_resolves(sqlite_url, tmp_path, sink):
    clock = Clock(datetime(2026, 11, 23, 10, tzinfo=UTC))  # office hours: ops alerts page anyway
    app, paging = notifier(sqlite_url, oncall_file(tmp_path, sink.url), sink.url, clock)
    alert = {
        "status": "firing",
        "labels": {"alertname": "KafkaLag"},
        "annotations": {},
        "startsAt": "2026-11-23T09:55:00Z",
        "fingerprint": "abc123",
    }
    hook = {
        "version": "4",
        "groupKey": '{}:{alertname="KafkaLag"}',
        "status": "firing",
        "receiver": "switchboard",
        "commonLabels": {"alertname": "KafkaLag"},
        "commonAnnotations": {"summary": "lag high"},
        "alerts": [alert],
    }
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://n"
    ) as client:
        refused = await client.post("/v1/alertmanager", json=hook)
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
        first = (await client.post("/v1/alertmanager", json=hook, headers=ADMIN)).json()
        again = (
            await client.post("/v1/alertmanager", json=hook, headers=ADMIN)
        ).json()  # repeat_interval resend
        await paging.tick(clock())
        assert first["attached"] == 1 and again["attached"] == 0 and len(sink.pages) == 1
        done = await client.post(
            "/v1/alertmanager",
            json={**hook, "status": "resolved", "alerts": [{**alert, "status": "resolved"}]},
            headers=ADMIN,
        )
        assert done.json()["status"] == "resolved"
        assert (await client.get("/v1/rotas/support.ics")).status_code == 403, (
            "the feed needs its key"
        )
        assert (await client.get("/v1/rotas/support.ics?key=guess")).json()[
            "detail"
        ] == "bad feed key"
        key = links.feed_key(DEV_SIGNING_KEY, "support")
        rota = await client.get(f"/v1/rotas/support.ics?key={key}")
        assert (
            rota.status_code == 200
            and b"BEGIN:VEVENT" in rota.content
            and b"alice on call" in rota.content
        )


async def test_alertmanager_from_older_releases_without_fingerprint_or_alert_status(
    sqlite_url, tmp_path, sink
):
    clock = Clock(datetime(2026, 11, 23, 10, tzinfo=UTC))
    app, paging = notifier(sqlite_url, oncall_file(tmp_path, sink.url), sink.url, clock)
    alert = {
        "labels": {"alertname": "DiskFull", "instance": "db-1"},
        "annotations": {"summary": "secret-ish text"},
        "startsAt": "2026-11-23T09:55:00Z",
    }
    hook = {
        "version": "4",
        "groupKey": '{}:{alertname="DiskFull"}',
        "status": "firing",
        "receiver": "switchboard",
        "commonLabels": {"alertname": "DiskFull"},
        "alerts": [alert],
    }
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://n"
    ) as client:
        first = await client.post("/v1/alertmanager", json=hook, headers=ADMIN)
        again = await client.post("/v1/alertmanager", json=hook, headers=ADMIN)
        assert first.status_code == 200 and first.json()["attached"] == 1, (
            "the alert takes its group's status"
        )
        assert again.json()["attached"] == 0, (
            "the label-derived fingerprint makes the re-send the same alert"
        )
        await paging.tick(clock())
        assert len(sink.pages) == 1
        other = {**alert, "labels": {"alertname": "DiskFull", "instance": "db-2"}}
        assert (
            await client.post(
                "/v1/alertmanager", json={**hook, "alerts": [alert, other]}, headers=ADMIN
            )
        ).json()["attached"] == 1, "other labels, other alert"
        broken = await client.post(
            "/v1/alertmanager",
            json={**hook, "alerts": [{**alert, "startsAt": "soon"}]},
            headers=ADMIN,
        )
        assert broken.status_code == 422
        [error] = broken.json()["detail"]
        assert error["loc"] == ["alerts", 0, "startsAt"] and "input" not in error
        assert "secret-ish" not in broken.text, "the alert is not echoed back"


async def test_failed_delivery_falls_through_and_email_goes_out_by_smtp(sqlite_url, tmp_path, sink):
    mailbox, port = Mailbox(), free_port()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        clock = Clock(SUNDAY_NIGHT)
        path = oncall_file(tmp_path, sink.url, primary_contacts=("broken", "mail"), smtp_port=port)
        _, paging = notifier(sqlite_url, path, sink.url, clock, smtp_port=port)
        sink.fail_next = 0
        await paging.on_routed(routed(), clock())
        await paging.tick(clock())
        [mail] = [
            email.message_from_string(m, policy=email.policy.default) for m in mailbox.messages
        ]
        assert mail["subject"].startswith("[support] [high]") and mail["to"] == "alice@example.com"
        [incident] = await paging.incidents.listing()
        statuses = {d.target: d.status for d in await paging.incidents.deliveries(incident.id)}
        assert statuses == {"broken": "failed", "mail": "sent"}
        # now every target of step 1 fails: step 2 is notified at once, not after the wait
        await paging.resolve(incident.id, "test", clock())
        smtp.stop()
        await paging.on_routed(routed(1, conversation="conv-2"), clock())
        await paging.tick(clock())
        await paging.tick(clock())
        assert [p["person"] for p in sink.pages.values()] == ["carol"]
    finally:
        if smtp.loop.is_running():
            smtp.stop()


async def test_a_spike_pages_once_per_issue_at_any_hour(sqlite_url, tmp_path, sink):
    from shared.events import IssueSpike, WidespreadIssueDetected

    clock = Clock(datetime(2026, 11, 23, 10, tzinfo=UTC))  # office hours
    _, paging = notifier(sqlite_url, oncall_file(tmp_path, sink.url), sink.url, clock)
    spikes = [
        WidespreadIssueDetected(
            id=f"spike-{i}",
            source="switchboard/classifier",
            time=clock(),
            correlation_id="c",
            data=IssueSpike(
                key="tag:outage",
                account_id="acme",
                window_start=clock(),
                window_seconds=300,
                count=40 + i,
                expected=3.0,
                threshold=12.0,
            ),
        )
        for i in range(3)
    ]
    for event in spikes + spikes[:1]:
        await paging.on_spike(event, clock())
    await paging.tick(clock())
    [page] = sink.pages.values()
    assert page["title"].startswith("[support] [spike] tag:outage on acme")
    [incident] = await paging.incidents.listing()
    assert incident.item_count == 3
