"""One trial: ``switchboard run``'s stack (``supervise=True``, embedded broker, the private
PostgreSQL) under steady webhook load, one fault ``fault_at`` seconds in, then the count."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaConsumer

from shared import topics
from shared.kafka import topic_partitions
from tools.chaos import load
from tools.chaos.faults import Scenario, Window
from tools.chaos.tally import EndWatcher, Readiness
from tools.pgcluster import PrivatePostgres
from tools.stack import SERVICES, LocalStack, StackConfig

QUIET = {"LOG_LEVEL": "WARNING"}
READY_GRACE_S = 5.0  # the probes run every second and a service says "not ready" within 5 s


@dataclass(frozen=True)
class Options:
    rate: float = 30.0  # deliveries per second
    seconds: float = 60.0  # of steady load
    fault_at: float = 20.0
    outage_s: float = 20.0  # PostgreSQL stopped this long
    pause_s: float = 30.0  # the broker paused this long
    quiet_s: float = 30.0  # stop waiting for the end when nothing new arrived for this long
    drain_s: float = 300.0  # at most this long after the load (a restart under way counts)


QUICK = Options(rate=10, seconds=14, fault_at=4, outage_s=4, pause_s=4, quiet_s=20)


@dataclass
class Trial:
    """What a fault can act on, and what it adds to the count."""

    stack: LocalStack
    pg: PrivatePostgres
    sender: load.Sender
    options: Options
    run: str
    started: float
    extra: list[load.Delivery] = field(default_factory=list)  # more deliveries (a burst)
    malformed: list[load.Delivery] = field(default_factory=list)  # must be refused 4xx
    poison_records: int = 0

    def now(self) -> float:
        return time.monotonic() - self.started

    def broker_pid(self) -> int:
        assert self.stack.broker is not None and self.stack.broker.pid is not None
        return self.stack.broker.pid


async def run(
    scenario: Scenario,
    options: Options,
    pg: PrivatePostgres,
    var_dir: Path,
    say: Callable[[str], None] = lambda _: None,
) -> dict:
    """Run ``scenario`` once on a fresh stack (its own schemas in ``pg``); the row of figures."""
    run_id = uuid.uuid4().hex[:6]
    config = StackConfig(
        var_dir=var_dir,
        database_url=pg.url,
        schema_prefix=f"c{run_id}_",
        preferred_ports=False,
        supervise=True,
        extra_env=QUIET,
    )
    stack = LocalStack(config, report=lambda text: say(f"    [stack] {text}"))
    async with stack:
        started = time.monotonic()
        trial = Trial(
            stack=stack,
            pg=pg,
            sender=load.Sender(stack.webhook_url, config.webhook_secret, started),
            options=options,
            run=run_id,
            started=started,
        )
        end = EndWatcher(stack.database_urls["router"], run_id, started)
        ready = Readiness({name: stack.url(name, "/readyz") for name in SERVICES}, started)
        end.start()
        ready.start()
        try:
            row = await _drive(trial, scenario, end, ready, say)
        finally:
            await end.stop()
            await ready.stop()
        row["stack_events"] = list(stack.events)
        row["stack_failed"] = stack.failure
        row["restarts"] = dict(stack.restarts)
        row["republished"] = stack.republished
    return row


async def _drive(trial: Trial, scenario: Scenario, end: EndWatcher, ready: Readiness, say) -> dict:
    options = trial.options
    batch = load.deliveries(int(options.rate * options.seconds), trial.run)
    sending = asyncio.create_task(trial.sender.paced(batch, options.rate, scenario.copies))
    await asyncio.sleep(options.fault_at)
    say(f"    fault at {trial.now():.1f}s: {scenario.what}")
    window = await scenario.fault(trial)
    say(f"    fault over at {window.end:.1f}s; sending on")
    await sending
    await trial.sender.finish()
    deliveries = batch + trial.extra
    accepted = {d.message_id for d in deliveries if d.accepted}
    say(f"    load done at {trial.now():.1f}s: {len(accepted)} of {len(deliveries)} answered 2xx")
    await end.wait_for(accepted, options.quiet_s, options.drain_s, ready.all_ready)
    row = _count(scenario, deliveries, accepted, end.seen, await end.doubled(), window)
    if scenario.outage:
        lies = ready.ready_during(window.start + READY_GRACE_S, window.end)
        row["ready_during_outage"] = dict(lies)
    if trial.malformed:
        row["malformed_sent"] = len(trial.malformed)
        row["malformed_4xx"] = sum(
            1 for d in trial.malformed if d.statuses and 400 <= d.statuses[0] < 500
        )
    if trial.poison_records:
        row["poison_records"] = trial.poison_records
        row["dead_lettered"] = await _dead_lettered(trial)
    return row


def _count(
    scenario: Scenario,
    deliveries: list[load.Delivery],
    accepted: set[str],
    seen: dict[str, float],
    doubled: set[str],
    window: Window,
) -> dict:
    sent_at = {d.message_id: d.sent_at or 0.0 for d in deliveries}
    after = [seen[i] for i in seen if i in sent_at and sent_at[i] >= window.end]
    backlog = [i for i in accepted if sent_at[i] < window.end]
    caught_up = (
        max([seen[i] for i in backlog] + [window.end]) - window.end
        if all(i in seen for i in backlog)
        else None
    )
    return {
        "scenario": scenario.name,
        "fault": scenario.what,
        "sent": len(deliveries),
        "copies": scenario.copies,
        "answered_2xx": len(accepted),
        "routed": len(accepted & seen.keys()),
        "lost": len(accepted - seen.keys()),
        "doubled": len(doubled),
        "first_new_s": round(min(after) - window.end, 1) if after else None,
        "caught_up_s": round(caught_up, 1) if caught_up is not None else None,
        "fault_window_s": [round(window.start, 1), round(window.end, 1)],
        "lost_ids": sorted(accepted - seen.keys())[:20],
    }


async def _dead_lettered(trial: Trial) -> int:
    """Records on the raw topic's dead-letter topic (the poison put there by the fault)."""
    dlq = topics.dlq_for(topics.RAW, trial.stack.config.namespace)
    consumer = AIOKafkaConsumer(bootstrap_servers=trial.stack.bootstrap, group_id=None)
    await consumer.start()
    count = 0
    try:
        parts = await topic_partitions(consumer, dlq)
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        while batch := await consumer.getmany(timeout_ms=2000):
            count += sum(len(records) for records in batch.values())
        return count
    finally:
        await consumer.stop()
