"""The notifier's core: turns triggers (routed items, SLA timers, unstaffed queues, alerts) into
incidents, escalates due incidents through their team's policy, acks and resolves them, and
delivers the digest when the office opens. I/O goes through the stores and the deliverer it is
given; the time is always passed in (the injected clock)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from services.notifier import escalation as esc
from services.notifier import links, oncall, planner
from services.notifier.delivery import Deliverer, Notification
from services.notifier.oncall import Oncall
from services.notifier.routed import RoutedStore, Seen, Writes
from services.notifier.store import RATE_LIMITED, SENT, Attach, IncidentStore, state_of
from services.notifier.tables import DigestItem, Incident, SlaTimer
from services.notifier.timers import TimerStore
from shared.calendar import BusinessCalendar, CalendarError
from shared.events import (
    ConnectorState,
    ConnectorStatusChanged,
    HelpdeskItemUpdated,
    ItemRouted,
    LifecycleAction,
    Page,
    PageSent,
    QueueUnstaffed,
    Urgency,
    WidespreadIssueDetected,
    derived_id,
)
from shared.logging import get_logger

log = get_logger(__name__)
# incidents an item belongs to through its own page or SLA timers (not queue-level unstaffed pages)
ITEM_KINDS = ("item", "sla-warning", "sla-breach")
CLOSING_ACTIONS = (LifecycleAction.REPLIED, LifecycleAction.RESOLVED)
Recorded = Callable[[], None]


class NotFound(LookupError):
    """No such incident."""


@dataclass(frozen=True)
class PagingConfig:
    page_min_urgency: Urgency
    sla_min_urgency: Urgency
    sla_warn_before: timedelta
    public_url: str
    signing_key: str
    link_ttl: timedelta


@dataclass
class Paging:
    oncall: Oncall
    calendar: BusinessCalendar
    incidents: IncidentStore
    timers: TimerStore
    deliverer: Deliverer
    config: PagingConfig
    routed: RoutedStore
    recorded: Recorded | None = None  # page records were committed to the outbox: wake the relay

    # -- triggers ----------------------------------------------------------------------
    async def open(self, item: Attach, now: datetime) -> tuple[str, bool] | None:
        """Group ``item`` into its open incident (or open one, due at once); ``None`` if seen before."""
        policy = self.oncall.teams[item.team].escalation
        return await self.incidents.attach(item, now, esc.opened(policy, now))

    async def on_routed(self, event: ItemRouted, now: datetime) -> None:
        """Page, digest or nothing for a routed item; arm its SLA timers. Idempotent on the event id."""
        await self.on_routed_many([event], now)

    async def on_routed_many(self, events: Sequence[ItemRouted], now: datetime) -> None:
        """``on_routed`` for a poll of items in one transaction, as if one after the other in this
        order. Raises what the database raised, with nothing stored."""
        await self.routed.record(events, lambda seen: self.plan_routed(events, seen, now))

    def _digest_due(self, now: datetime) -> datetime:
        """When a digest of items that can wait goes out: the office's next opening; at once
        when the calendar never opens (no office hours: nothing may wait for a morning that
        never comes). UTC: SQLite compares stored times as text."""
        try:
            return self.calendar.next_open(now).astimezone(UTC)
        except CalendarError:
            log.warning("digest.calendar_never_opens", hint="digest items are delivered at once")
            return now.astimezone(UTC)

    def plan_routed(self, events: Sequence[ItemRouted], seen: Seen, now: datetime) -> Writes:
        """The rows ``events`` call for, given what the database already holds."""
        writes = Writes.after(seen)
        for event in events:
            if event.id in seen.closed:
                log.info(
                    "item.already_handled", item=event.id
                )  # the helpdesk answered before we saw it
                continue
            item = event.data
            team = self.oncall.team_for(item.routing.queue)
            writes.timers.extend(self._sla_rows(event, team))
            decided = planner.triage(event, self.calendar, now, self.config.page_min_urgency)
            if decided is None:
                continue
            if decided.action == planner.DIGEST:
                due = self._digest_due(now)
                writes.digests.append(
                    dict(
                        item_event_id=event.id,
                        team=team,
                        summary=decided.summary,
                        due_at=due,
                        delivered_at=None,
                    )
                )
                continue
            writes.attach(
                Attach(
                    event.id,
                    decided.incident_key,
                    team,
                    "item",
                    decided.reason,
                    decided.summary,
                    event.id,
                    item.routing.queue,
                    item.message.message_key,
                ),
                now,
                esc.opened(self.oncall.teams[team].escalation, now),
            )
        return writes

    def _sla_rows(self, event: ItemRouted, team: str) -> list[dict]:
        item = event.data
        planned = planner.sla_timers(
            event, self.config.sla_warn_before, self.config.sla_min_urgency
        )
        return [
            dict(
                item_event_id=event.id,
                kind=kind,
                incident_key=item.message.conversation_key,
                team=team,
                queue=item.routing.queue,
                message_key=item.message.message_key,
                summary=planner.summary_of(event),
                due_at=due.astimezone(UTC),
                fired_at=None,
            )
            for kind, due in planned
        ]

    async def on_unstaffed(self, event: QueueUnstaffed, now: datetime) -> None:
        decided = planner.unstaffed_page(event, self.calendar, now)
        if decided is not None:
            team = self.oncall.team_for(event.data.queue)
            await self.open(
                Attach(
                    event.id,
                    decided.incident_key,
                    team,
                    "unstaffed",
                    decided.reason,
                    decided.summary,
                    event.data.item_id,
                    event.data.queue,
                    event.data.message_key,
                ),
                now,
            )

    async def on_spike(self, event: WidespreadIssueDetected, now: datetime) -> None:
        decided = planner.spike_page(event)
        first = event.data.sample_message_keys[0] if event.data.sample_message_keys else None
        await self.open(
            Attach(
                event.id,
                decided.incident_key,
                self.oncall.default_team,
                "spike",
                decided.reason,
                decided.summary,
                None,
                None,
                first,
            ),
            now,
        )

    async def on_lifecycle(self, event: HelpdeskItemUpdated, now: datetime) -> None:
        """The helpdesk replied to or resolved an item: its pending SLA timers are cancelled and the
        incidents it is part of are resolved (escalation stops). Other actions change nothing.
        Idempotent: cancelling and resolving twice is a no-op, and the ledger row is written last,
        so a crash in between redoes the work on redelivery."""
        data = event.data
        if data.action not in CLOSING_ACTIONS or await self.incidents.was_handled(event.id):
            return
        await self.timers.cancel_item(data.item_id, now)
        for row in await self.incidents.open_for_item(data.item_id, ITEM_KINDS):
            await self.resolve(row.id, f"helpdesk:{data.action.value}"[:128], now)
        await self.incidents.mark_handled(event.id, data.action.value, data.item_id, now)

    async def on_connector(self, event: ConnectorStatusChanged, now: datetime) -> None:
        """``silent`` pages the connector team at any hour (grouped per source, idempotent on the event
        id: replicas emit the same id); ``recovered`` resolves the source's open incident, once."""
        data = event.data
        if data.state == ConnectorState.SILENT:
            decided = planner.connector_page(event)
            await self.open(
                Attach(
                    f"connector:{event.id}"[:256],
                    decided.incident_key,
                    self.oncall.team_for_connector(data.source),
                    "connector",
                    decided.reason,
                    decided.summary,
                    None,
                    None,
                    f"connector:{data.source}",
                ),
                now,
            )
            return
        if await self.incidents.was_handled(event.id):
            return
        current = await self.incidents.open_for(planner.connector_key(data.source))
        if current is not None:
            await self.resolve(current.id, "connector-recovered", now)
        await self.incidents.mark_handled(event.id, "connector-recovered", data.source, now)

    async def fire_sla(self, timer: SlaTimer, now: datetime) -> None:
        """An SLA timer is due: page outside office hours unless its incident is already acknowledged."""
        text = planner.sla_page(timer.kind, self.calendar, now, timer.summary)
        current = await self.incidents.open_for(timer.incident_key)
        if text is not None and await self.incidents.subject_handled(timer.item_event_id):
            text = None  # the helpdesk answered meanwhile (a tick that read the timer before the cancel)
        if text is not None and (current is None or current.status == esc.TRIGGERED):
            await self.open(
                Attach(
                    f"{timer.kind}:{timer.item_event_id}",
                    timer.incident_key,
                    timer.team,
                    timer.kind,
                    text.split(":")[0],
                    text,
                    timer.item_event_id,
                    timer.queue,
                    timer.message_key,
                ),
                now,
            )
        await self.timers.fired(timer.id, now)

    # -- ack and resolve ---------------------------------------------------------------
    async def acknowledge(self, incident_id: str, by: str, now: datetime) -> Incident:
        for _ in range(5):  # a concurrent scheduler tick may have moved the incident: read again
            row = await self._get(incident_id)
            if row.status not in (esc.TRIGGERED, esc.ACKNOWLEDGED):
                break
            policy = self.oncall.teams[row.team].escalation
            if await self.incidents.save(
                row, esc.acknowledged(policy, state_of(row), now), acked_at=now, acked_by=by
            ):
                log.info("incident.acknowledged", incident=incident_id, by=by)
                if row.status == esc.TRIGGERED:
                    await self._follow_up(row, "acknowledge", now)
                break
        return await self._get(incident_id)

    async def resolve(self, incident_id: str, by: str, now: datetime) -> Incident:
        for _ in range(5):
            row = await self._get(incident_id)
            if row.status == esc.RESOLVED:
                break
            if await self.incidents.save(
                row, esc.resolved(state_of(row)), resolved_at=now, resolved_by=by
            ):
                log.info("incident.resolved", incident=incident_id, by=by)
                await self._follow_up(row, "resolve", now)
                break
        return await self._get(incident_id)

    async def _follow_up(self, row: Incident, action: str, now: datetime) -> None:
        """Tell every PagerDuty target that was paged for ``row`` (same ``dedup_key``). A failure is
        logged as an error (the incident's state in Switchboard stands)."""
        for target in await self.incidents.sent_targets(row.id):
            if self.deliverer.kind_of(target) == "pagerduty":
                await self._tell(row, target, action, now)

    async def _catch_up(self, incident_id: str, target: str, now: datetime) -> None:
        """After a PagerDuty trigger was accepted: if the incident was acknowledged or resolved
        while the trigger was on its way, ``_follow_up`` did not know this target yet (it tells
        the targets recorded as paged), so tell it now — or PagerDuty would keep paging for an
        incident closed here. Both sides record first and read second, so at least one of them
        gets to it; the follow-up claim lets only the first send it."""
        current = await self.incidents.get(incident_id)
        action = (
            {esc.ACKNOWLEDGED: "acknowledge", esc.RESOLVED: "resolve"}.get(current.status)
            if current
            else None
        )
        if action is not None:
            await self._tell(current, target, action, now)

    async def _tell(self, row: Incident, target: str, action: str, now: datetime) -> None:
        if not await self.incidents.claim_follow_up(row, target, action, now):
            return  # the closing path or a catch-up already sent it
        incident_id = row.id
        outcome = await self.deliverer.follow_up(target, incident_id, action)
        if outcome.ok:
            log.info("pagerduty.followed_up", incident=incident_id, target=target, action=action)
        else:
            log.error(
                "pagerduty.follow_up_failed",
                incident=incident_id,
                target=target,
                action=action,
                error=outcome.error,
            )

    async def _get(self, incident_id: str) -> Incident:
        row = await self.incidents.get(incident_id)
        if row is None:
            raise NotFound(incident_id)
        return row

    # -- the scheduler's work ------------------------------------------------------------
    async def tick(self, now: datetime) -> None:
        """Fire due SLA timers, escalate due incidents, deliver due digests. Safe to repeat."""
        for timer in await self.timers.due_timers(now):
            await self.fire_sla(timer, now)
        for row in await self.incidents.due(now):
            await self.escalate(row, now)
        for team, items in (await self.timers.due_digests(now)).items():
            await self.deliver_digest(team, items, now)

    async def escalate(self, row: Incident, now: datetime) -> None:
        """Notify the due step of ``row`` (re-triggering a timed-out ack first), then move on."""
        policy = self.oncall.teams[row.team].escalation
        state = state_of(row)
        if state.status == esc.ACKNOWLEDGED:
            state = esc.retriggered(policy, state, now)
            log.warning("incident.ack_timed_out", incident=row.id)
            if not await self.incidents.save(row, state):
                return
            row = await self._get(row.id)
        reached = await self._notify_step(row, now)
        if not reached:
            log.error("escalation.step_unreached", incident=row.id, round=row.round, step=row.step)
        nxt = esc.after_step(policy, state, now, reached)
        if nxt.next_at is None:
            log.error("escalation.exhausted", incident=row.id, team=row.team)
        await self.incidents.save(row, nxt)

    def people(self, team_name: str, step: oncall.Step, now: datetime) -> list[str]:
        team, found = self.oncall.teams[team_name], []
        for ref in step.notify:
            kind, _, name = ref.partition(":")
            person = (
                oncall.on_call(team.rotations[name], now, team.timezone)
                if kind == "rotation"
                else name
            )
            if person and person not in found:
                found.append(person)
        return found

    async def _notify_step(self, row: Incident, now: datetime) -> bool:
        step = self.oncall.teams[row.team].escalation.steps[row.step]
        reached = False
        for person in self.people(row.team, step, now):
            limited = (
                await self.incidents.pages_last_hour(person, now)
                >= self.oncall.people[person].max_pages_per_hour
            )
            for target in self.oncall.people[person].contacts:
                reached |= await self._deliver(row, person, target, now, limited)
        return reached

    async def _deliver(
        self, row: Incident, person: str, target: str, now: datetime, limited: bool
    ) -> bool:
        done = await self.incidents.claim_delivery(row, person, target, now)
        if done is not None:
            return done == SENT
        if limited:
            log.warning("delivery.rate_limited", incident=row.id, person=person)
            await self.incidents.finish_delivery(
                row, person, target, RATE_LIMITED, 0, "rate limited", now
            )
            return False
        note, page = await self._notification(row, person, target, now)
        outcome = await self.deliverer.send(target, note)
        status = SENT if outcome.ok else "failed"
        record = (
            PageSent(
                id=note.delivery_id,  # derived: a page delivered again yields the same record id
                source="switchboard/notifier",
                time=now,
                correlation_id=row.id,
                subject=row.key,
                data=page,
            )
            if outcome.ok
            else None
        )
        # the page record joins the outbox in the transaction that marks the delivery sent: a
        # database outage here raises (the delivery stays 'sending' and the next tick delivers
        # and records it again), it never drops the record
        await self.incidents.finish_delivery(
            row, person, target, status, outcome.attempts, outcome.error, now, record
        )
        if record is not None and self.recorded is not None:
            self.recorded()
        if outcome.ok and self.deliverer.kind_of(target) == "pagerduty":
            await self._catch_up(row.id, target, now)
        return outcome.ok

    async def _notification(self, row: Incident, person: str, target: str, now: datetime):
        first = await self.incidents.first_item(row.id)
        delivery_id = derived_id(f"{row.id}:{row.round}:{row.step}:{person}:{target}", "notifier")
        page = Page(
            incident_key=row.key[:512],
            item_event_id=(first.item_event_id or first.source_id) if first else row.id,
            queue=(first.queue if first and first.queue else row.team),
            target=target,
            summary=row.summary,
            sent_at=now,
            message_key=(first.message_key if first and first.message_key else row.key),
        )
        urls = {
            action: links.link(
                self.config.public_url,
                self.config.signing_key,
                action,
                row.id,
                person,
                now,
                self.config.link_ttl,
            )
            for action in links.ACTIONS
        }
        details = {
            "incident_id": row.id,
            "team": row.team,
            "reason": row.reason,
            "items": row.item_count,
            "round": row.round,
            "step": row.step,
        }
        note = Notification(
            delivery_id,
            "page.triggered",
            f"[{row.team}] {row.summary[:200]}",
            row.summary,
            row.id,
            person,
            page,
            urls,
            details,
        )
        return note, page

    async def deliver_digest(self, team_name: str, items: list[DigestItem], now: datetime) -> None:
        """One digest per team with every low-urgency item waiting since the office closed."""
        contacts = self.oncall.teams[team_name].digest_contacts
        body = "\n".join(f"- {i.summary}" for i in items)
        note = Notification(
            derived_id(":".join(i.item_event_id for i in items), "notifier:digest"),
            "digest",
            f"[{team_name}] {len(items)} items waited while the office was closed",
            body,
            details={"team": team_name, "items": [i.item_event_id for i in items]},
        )
        outcomes = [await self.deliverer.send(target, note) for target in contacts]
        if not contacts:
            log.warning("digest.no_contacts", team=team_name, items=len(items))
        if not contacts or any(o.ok for o in outcomes):
            await self.timers.digest_delivered([i.item_event_id for i in items], now)
        else:
            log.error("digest.undelivered", team=team_name, errors=[o.error for o in outcomes])
