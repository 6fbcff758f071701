"""The notifier's consumers of helpdesk lifecycle and connector status, on the real broker and
both databases with the injected clock; PagerDuty Events v2 acknowledge/resolve against a real
local receiver; bearer-token auth on the state-changing API."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import yaml
from sqlalchemy import select
from structlog.testing import capture_logs

from services.notifier.app import build
from services.notifier.settings import NotifierSettings
from services.notifier.tables import SlaTimer
from shared import topics
from shared.auth import digest
from shared.events import (
    ConnectorState,
    ConnectorStatus,
    ConnectorStatusChanged,
    HelpdeskItemUpdated,
    Lifecycle,
    LifecycleAction,
)
from tests.integration.test_notifier_paging import (
    ADMIN,
    SUNDAY_NIGHT,
    Clock,
    notifier,
    oncall_file,
    routed,
    sink,  # noqa: F401 - the sink fixture
)
from tests.kafkautil import produce

MONDAY_NOON = datetime(2026, 11, 23, 11, tzinfo=UTC)  # Berlin 12:00, office open


def lifecycle(
    item_id: str, action: LifecycleAction, n: int = 0, at: datetime = SUNDAY_NIGHT
) -> HelpdeskItemUpdated:
    return HelpdeskItemUpdated(
        id=f"lc-{item_id}-{action.value}-{n}",
        source="helpdesk/test",
        time=at,
        correlation_id=item_id,
        subject=item_id,
        data=Lifecycle(item_id=item_id, action=action, at=at, agent_id="agent-7"),
    )


def connector(
    state: ConnectorState,
    event_id: str,
    source: str = "mastodon-support",
    at: datetime = MONDAY_NOON,
) -> ConnectorStatusChanged:
    return ConnectorStatusChanged(
        id=event_id,
        source="switchboard/ingestor",
        time=at,
        correlation_id=event_id,
        subject=source,
        data=ConnectorStatus(
            source=source,
            platform="mastodon",
            state=state,
            last_event_at=at - timedelta(hours=2),
            silent_seconds=7200,
            expected_interval_seconds=600,
            errors=3,
            detected_at=at,
        ),
    )


def with_ops_team(path: Path) -> Path:
    """Add an ``ops`` team (rota: dave) and send connector pages to it, as config/oncall.yaml can."""
    spec = yaml.safe_load(path.read_text())
    spec["people"]["dave"] = {"contacts": ["hook", "pd"]}
    spec["teams"]["ops"] = {
        "rotations": {
            "ops": {"layers": [{"people": ["dave"], "start": "2026-01-05T09:00:00+01:00"}]}
        },
        "escalation": {"steps": [{"notify": ["rotation:ops"], "wait_minutes": 10}], "repeat": 0},
    }
    spec["connectors"] = {"team": "ops"}
    path.write_text(yaml.safe_dump(spec))
    return path


async def eventually(check, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := await check():
            return result
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def pagerduty_actions(sink, incident_id: str, expected: list[str]) -> None:
    """Wait until the PagerDuty receiver got exactly ``expected`` event actions for the incident."""

    def actions() -> list[str]:
        return [e["event_action"] for e in sink.pagerduty.get(incident_id, [])]

    await eventually(
        lambda: _true(actions() == expected),
        timeout=10,
        what=f"PagerDuty {expected} (got {actions()})",
    )
    assert actions() == expected


def on_the_broker(database_url: str, path, sink, bootstrap: str, ns: str) -> NotifierSettings:
    """A notifier with PagerDuty routing, fast retries and polls, on the real broker."""
    return NotifierSettings(
        database_url=database_url,
        oncall_file=path,
        page_url=f"{sink.url}/pages",
        target_secrets={"pd": "R0UTINGKEY"},
        delivery_attempts=2,
        delivery_backoff_s=0.01,
        kafka_bootstrap_servers=bootstrap,
        kafka_topic_namespace=ns,
        consumer_group=f"{ns}notifier",
        scheduler_interval_s=0.05,
        poll_timeout_ms=100,
    )


async def test_reply_cancels_sla_timers_and_resolves_on_the_broker(
    database_url, tmp_path, sink, kafka_bootstrap, topics_ready
):
    ns, clock = topics_ready, Clock(SUNDAY_NIGHT)
    path = oncall_file(tmp_path, sink.url, primary_contacts=("hook", "pd"))
    settings = on_the_broker(database_url, path, sink, kafka_bootstrap, ns)
    _, service = build(settings, clock=clock)
    paging, run = service.paging, asyncio.create_task(service.run())
    lifecycle_runner = service.runners[3]
    try:
        item = routed(0, deadline_min=30)
        await produce(kafka_bootstrap, topics.qualified(topics.ROUTED, ns), [item])
        [incident] = await eventually(paging.incidents.listing, what="the routed item's incident")
        await eventually(lambda: _true(len(sink.pages) == 1), what="the page")
        assert len(await timers(paging, item.id, pending=True)) == 2

        reply = lifecycle(item.id, LifecycleAction.REPLIED)
        await produce(kafka_bootstrap, topics.qualified(topics.LIFECYCLE, ns), [reply])
        done = await eventually(
            lambda: _resolved(paging, incident.id), what="the incident resolved by the reply"
        )
        assert done.resolved_by == "helpdesk:replied"
        assert await timers(paging, item.id, pending=True) == [], "the reply cancels the SLA timers"
        await pagerduty_actions(
            sink, incident.id, ["trigger", "resolve"]
        )  # the follow-up comes after the state

        # the SLA deadline passes while the office is still closed: nothing pages, nothing escalates
        clock.advance(minutes=45)
        await asyncio.sleep(0.5)
        assert len(sink.pages) == 1 and len(await paging.incidents.listing()) == 1

        # redelivery (the same event) and a later resolve of the same item change nothing
        again = [
            reply,
            lifecycle(item.id, LifecycleAction.RESOLVED),
            lifecycle(item.id, LifecycleAction.SATISFACTION),
        ]
        await produce(kafka_bootstrap, topics.qualified(topics.LIFECYCLE, ns), again)
        await eventually(
            lambda: _true(lifecycle_runner.state.processed >= 4), what="the redelivered events"
        )
        assert [e["event_action"] for e in sink.pagerduty[incident.id]] == ["trigger", "resolve"]
        assert (
            len(await paging.incidents.listing()) == 1 and lifecycle_runner.state.dead_lettered == 0
        )

        # the helpdesk answered an item before the notifier saw it routed: no timers, no page
        early = routed(1, conversation="conv-early", deadline_min=30)
        await produce(
            kafka_bootstrap,
            topics.qualified(topics.LIFECYCLE, ns),
            [lifecycle(early.id, LifecycleAction.RESOLVED)],
        )
        await eventually(
            lambda: _true(lifecycle_runner.state.processed >= 5), what="the early lifecycle event"
        )
        await produce(kafka_bootstrap, topics.qualified(topics.ROUTED, ns), [early])
        await eventually(
            lambda: _true(service.runners[0].state.processed >= 2), what="the late routed item"
        )
        await asyncio.sleep(0.3)
        assert await timers(paging, early.id) == [] and len(await paging.incidents.listing()) == 1
    finally:
        service.stop()
        await asyncio.wait_for(run, 30)


async def test_silent_connector_pages_ops_at_any_hour_once_and_recovery_resolves(
    database_url, tmp_path, sink, kafka_bootstrap, topics_ready
):
    ns, clock = topics_ready, Clock(MONDAY_NOON)  # office hours: a dead connector pages anyway
    path = with_ops_team(oncall_file(tmp_path, sink.url))
    settings = on_the_broker(database_url, path, sink, kafka_bootstrap, ns)
    _, service = build(settings, clock=clock)
    paging, run = service.paging, asyncio.create_task(service.run())
    runner, topic = service.runners[4], topics.qualified(topics.CONNECTORS, ns)
    try:
        silent = connector(ConnectorState.SILENT, "silent-1")
        await produce(
            kafka_bootstrap, topic, [silent, silent]
        )  # two ingestor replicas, one deterministic id
        [incident] = await eventually(paging.incidents.listing, what="the connector incident")
        await eventually(
            lambda: _true(len(sink.pages) == 1 and runner.state.processed >= 2), what="the page"
        )
        [page] = sink.pages.values()
        assert (
            incident.team == "ops"
            and incident.key == "connector:mastodon-support"
            and incident.item_count == 1
        )
        assert page["person"] == "dave" and page["title"].startswith(
            "[ops] [connector] mastodon-support (mastodon)"
        )

        recovered = connector(
            ConnectorState.RECOVERED, "recovered-1", at=MONDAY_NOON + timedelta(minutes=5)
        )
        await produce(kafka_bootstrap, topic, [recovered])
        done = await eventually(
            lambda: _resolved(paging, incident.id), what="the recovery resolving it"
        )
        assert done.resolved_by == "connector-recovered"
        await pagerduty_actions(sink, incident.id, ["trigger", "resolve"])

        # silent again later (a new incident); a redelivered old recovery must not resolve it, nor the
        # redelivered old silence reopen anything
        clock.advance(hours=1)
        await produce(
            kafka_bootstrap,
            topic,
            [connector(ConnectorState.SILENT, "silent-2"), recovered, silent],
        )
        await eventually(lambda: _true(runner.state.processed >= 6), what="the later events")
        await asyncio.sleep(0.3)
        opened = [r for r in await paging.incidents.listing() if r.status != "resolved"]
        assert (
            len(opened) == 1
            and opened[0].id != incident.id
            and len(await paging.incidents.listing()) == 2
        )
        assert runner.state.dead_lettered == 0
    finally:
        service.stop()
        await asyncio.wait_for(run, 30)


async def test_pagerduty_hears_acknowledge_and_resolve_from_the_api_and_the_signed_link(
    sqlite_url, tmp_path, sink
):
    clock = Clock(SUNDAY_NIGHT)
    path = oncall_file(tmp_path, sink.url, primary_contacts=("hook", "pd"))
    app, paging = notifier(sqlite_url, path, sink.url, clock)
    await paging.on_routed(routed(), clock())
    await paging.tick(clock())
    [page] = sink.pages.values()
    incident_id = page["incident_id"]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://n"
    ) as client:
        acked = await client.post(f"/v1/incidents/{incident_id}/ack", json={}, headers=ADMIN)
        assert acked.status_code == 200 and acked.json()["acked_by"] == "admin"
        again = await client.post(
            f"/v1/incidents/{incident_id}/ack", json={"by": "alice"}, headers=ADMIN
        )
        assert again.status_code == 200  # a re-ack extends the ack; PagerDuty already knows
        resolve = page["links"]["resolve"].split("http://127.0.0.1:8004", 1)[1]
        done = await client.get(resolve)
        assert done.status_code == 200 and done.json()["status"] == "resolved"
        await client.get(resolve)  # a second click changes nothing
    events = sink.pagerduty[incident_id]
    assert [e["event_action"] for e in events] == ["trigger", "acknowledge", "resolve"]
    assert all(e["routing_key"] == "R0UTINGKEY" and e["dedup_key"] == incident_id for e in events)
    assert "payload" not in events[1] and sink.rejected == 0


async def test_an_incident_resolved_while_its_pagerduty_trigger_is_on_the_way_is_resolved_there_too(
    sqlite_url, tmp_path, sink
):
    clock = Clock(SUNDAY_NIGHT)
    path = oncall_file(tmp_path, sink.url, primary_contacts=("hook", "pd"))
    _, paging = notifier(sqlite_url, path, sink.url, clock)
    sink.hold_triggers = asyncio.Event()  # PagerDuty is slow to accept the trigger
    await paging.on_routed(routed(), clock())
    tick = asyncio.create_task(paging.tick(clock()))
    await eventually(
        lambda: _true(len(sink.pages) == 1), what="the webhook page"
    )  # the hook went first
    [page] = sink.pages.values()
    incident_id = page["incident_id"]
    await paging.resolve(
        incident_id, "alice", clock()
    )  # pd is not recorded as paged yet: no follow-up
    assert incident_id not in sink.pagerduty
    sink.hold_triggers.set()
    await asyncio.wait_for(tick, 10)
    await pagerduty_actions(
        sink, incident_id, ["trigger", "resolve"]
    )  # caught up once the trigger landed


async def test_a_pagerduty_follow_up_that_fails_is_logged_and_the_resolve_stands(
    sqlite_url, tmp_path, sink
):
    clock = Clock(SUNDAY_NIGHT)
    app, paging = notifier(
        sqlite_url, oncall_file(tmp_path, sink.url, primary_contacts=("pd",)), sink.url, clock
    )
    await paging.on_routed(routed(), clock())
    await paging.tick(clock())
    [incident_id] = sink.pagerduty
    sink.fail_next = 5  # PagerDuty answers 503 to every attempt
    with capture_logs() as logs:
        row = await paging.resolve(incident_id, "alice", clock())
    assert row.status == "resolved" and [
        e["event_action"] for e in sink.pagerduty[incident_id]
    ] == ["trigger"]
    [failed] = [e for e in logs if e["event"] == "pagerduty.follow_up_failed"]
    assert (
        failed["log_level"] == "error"
        and failed["action"] == "resolve"
        and "503" in failed["error"]
    )


async def test_ack_and_resolve_need_a_bearer_token_with_the_incident_s_team(
    sqlite_url, tmp_path, sink
):
    clock = Clock(SUNDAY_NIGHT)
    tokens = {
        digest("tok-support"): {"subject": "alice", "role": "agent", "team": "support"},
        digest("tok-billing"): {"subject": "erin", "role": "lead", "team": "billing"},
    }
    app, paging = notifier(
        sqlite_url, oncall_file(tmp_path, sink.url), sink.url, clock, api_tokens=tokens
    )
    await paging.on_routed(routed(), clock())
    [incident] = await paging.incidents.listing()
    url = f"/v1/incidents/{incident.id}"
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://n"
    ) as client:
        missing = await client.post(f"{url}/ack", json={"by": "alice"})
        assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
        assert "missing bearer token" in missing.json()["detail"]
        unknown = await client.post(f"{url}/ack", json={}, headers={"Authorization": "Bearer nope"})
        assert unknown.status_code == 401 and unknown.json()["detail"] == "unknown or revoked token"
        other_team = await client.post(
            f"{url}/resolve", json={}, headers={"Authorization": "Bearer tok-billing"}
        )
        assert (
            other_team.status_code == 403
            and "belongs to team support" in other_team.json()["detail"]
        )
        nowhere = await client.post(
            "/v1/incidents/nope/ack", json={}, headers={"Authorization": "Bearer tok-support"}
        )
        assert nowhere.status_code == 404
        bad_body = await client.post(
            f"{url}/ack", json={"by": ""}, headers={"Authorization": "Bearer tok-support"}
        )
        assert bad_body.status_code == 422
        assert (await paging.incidents.get(incident.id)).status == "triggered", (
            "nothing refused changed it"
        )
        ok = await client.post(
            f"{url}/ack", json={}, headers={"Authorization": "Bearer tok-support"}
        )
        assert (
            ok.status_code == 200
            and ok.json()["status"] == "acknowledged"
            and ok.json()["acked_by"] == "alice"
        )
        assert (await client.get("/v1/incidents")).status_code == 401, (
            "incidents quote customers: token needed"
        )
        assert (await client.get(url)).status_code == 401
        assert (await client.get("/v1/oncall/support")).status_code == 401
        mine = await client.get("/v1/incidents", headers={"Authorization": "Bearer tok-support"})
        assert mine.status_code == 200 and [i["id"] for i in mine.json()] == [incident.id]
        theirs = await client.get("/v1/incidents", headers={"Authorization": "Bearer tok-billing"})
        assert theirs.status_code == 200 and theirs.json() == [], (
            "a team-bound token sees its team's incidents only"
        )
        assert (
            await client.get(url, headers={"Authorization": "Bearer tok-billing"})
        ).status_code == 403
        assert (await client.get(url, headers={"Authorization": "Bearer tok-support"})).json()[
            "id"
        ] == incident.id
        assert (
            await client.get("/v1/oncall/support", headers={"Authorization": "Bearer tok-billing"})
        ).status_code == 403
        assert (
            await client.get("/v1/oncall/support", headers={"Authorization": "Bearer tok-support"})
        ).status_code == 200


async def test_outside_development_there_is_no_default_admin_token(sqlite_url, tmp_path, sink):
    settings = NotifierSettings(
        database_url=sqlite_url,
        oncall_file=oncall_file(tmp_path, sink.url),
        environment="production",
        signing_key="a-real-signing-key",
    )
    app, _ = build(settings, clock=Clock(SUNDAY_NIGHT))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://n"
    ) as client:
        refused = await client.post("/v1/incidents/x/ack", json={}, headers=ADMIN)
    assert refused.status_code == 401


async def timers(paging, item_id: str, pending: bool = False) -> list[SlaTimer]:
    query = select(SlaTimer).where(SlaTimer.item_event_id == item_id)
    if pending:
        query = query.where(SlaTimer.fired_at.is_(None))
    async with paging.timers._sessions() as session:
        return list((await session.execute(query)).scalars())


async def _resolved(paging, incident_id: str):
    row = await paging.incidents.get(incident_id)
    return row if row.status == "resolved" else None


async def _true(value: bool) -> bool:
    return value


def test_migration_0008_drops_the_unused_pages_table_and_downgrades(database_url):
    from sqlalchemy import create_engine, inspect

    from shared.db import sync_url
    from tools import migrate

    def names() -> set[str]:
        engine = create_engine(sync_url(database_url))
        try:
            return set(inspect(engine).get_table_names())
        finally:
            engine.dispose()

    assert "notifier_handled" in names() and "pages" not in names()
    migrate.downgrade(database_url, "0004_notifier")
    assert (
        "pages" in names() and "notifier_handled" not in names() and "notifier_incidents" in names()
    )
    migrate.upgrade(database_url)
    assert "notifier_handled" in names() and "pages" not in names()


def test_connector_team_must_exist_in_the_oncall_file(tmp_path):
    import pytest

    from services.notifier import oncall

    spec = yaml.safe_load(oncall_file(tmp_path, "http://x").read_text())
    spec["connectors"] = {"sources": {"reviews": "nobody"}}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(spec))
    with pytest.raises(oncall.OncallError, match="connectors"):
        oncall.load(tmp_path / "bad.yaml")
    assert oncall.load(oncall_file(tmp_path, "http://x")).team_for_connector("reviews") == "support"
