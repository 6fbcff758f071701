"""The faults of the chaos suite, one ``Scenario`` each, in the issue's order.

A fault is an ``async (Trial) -> Window``: it acts on the running stack (a signal to a process,
the private PostgreSQL stopped and started, extra deliveries, records put straight on a topic)
and says when it began and when it was over (seconds since the trial's start). Restarting a
killed service or a killed broker is never the fault's job: ``switchboard run`` does it, and
the time it takes counts in the recovery.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiokafka import AIOKafkaProducer

from shared import topics
from tools.chaos import load
from tools.stack import SERVICES

if TYPE_CHECKING:
    from tools.chaos.trial import Trial


@dataclass(frozen=True)
class Window:
    start: float
    end: float


Fault = Callable[["Trial"], Awaitable[Window]]


@dataclass(frozen=True)
class Scenario:
    name: str
    what: str
    fault: Fault
    outage: bool = False  # the broker or the database away: every /readyz must say so
    copies: int = 1  # each delivery sent this many times (a platform re-sending)


def kill_service(name: str) -> Fault:
    async def fault(trial: Trial) -> Window:
        os.kill(trial.stack.procs[name].pid, signal.SIGKILL)
        return Window(trial.now(), trial.now())

    return fault


async def pause_broker(trial: Trial) -> Window:
    pid = trial.broker_pid()
    os.kill(pid, signal.SIGSTOP)
    start = trial.now()
    try:
        await asyncio.sleep(trial.options.pause_s)
    finally:
        os.kill(pid, signal.SIGCONT)
    return Window(start, trial.now())


async def kill_broker(trial: Trial) -> Window:
    os.kill(trial.broker_pid(), signal.SIGKILL)
    return Window(trial.now(), trial.now())


async def stop_database(trial: Trial) -> Window:
    await asyncio.to_thread(trial.pg.stop)
    start = trial.now()
    try:
        await asyncio.sleep(trial.options.outage_s)
    finally:
        await asyncio.to_thread(trial.pg.start)
    return Window(start, trial.now())


async def poison(trial: Trial) -> Window:
    """Signed deliveries that are not messages (each must get a 4xx), and records that are not
    events put straight on the raw topic (each must be dead-lettered, no consumer stuck)."""
    start = trial.now()
    bad = load.malformed(max(3, int(trial.options.rate * 2)), trial.run)
    trial.malformed += bad
    await asyncio.gather(*(trial.sender.send(delivery) for delivery in bad))
    trial.poison_records = await _poison_records(trial)
    return Window(start, trial.now())


async def _poison_records(trial: Trial) -> int:
    raw = topics.qualified(topics.RAW, trial.stack.config.namespace)
    received = b"switchboard.message.received.v1"
    records = [
        (b"\xff\x00 not an event", []),
        (b'{"id": "x"}', [("ce_type", received), ("ce_id", b"chaos-poison")]),
        (b"{}", [("ce_type", b"switchboard.item.routed.v1"), ("ce_id", b"chaos-foreign")]),
    ]
    producer = AIOKafkaProducer(bootstrap_servers=trial.stack.bootstrap, acks="all")
    await producer.start()
    try:
        for value, headers in records:
            await producer.send_and_wait(raw, value, key=b"chaos-poison", headers=headers)
    finally:
        await producer.stop()
    return len(records)


async def resend_all(trial: Trial) -> Window:
    """Nothing to do at the fault's time: every delivery is sent twice (``copies=2``)."""
    return Window(trial.now(), trial.now())


async def same_request_burst(trial: Trial) -> Window:
    """Many customers with the same request at once: five times the rate for four seconds."""
    start = trial.now()
    count = int(trial.options.rate * 4 * 5)
    text = "Your app logs me out every time I open it since this morning, please fix it!"
    burst = load.deliveries(count, trial.run, same_text=text, tag="burst-")
    trial.extra += burst
    await trial.sender.paced(burst, trial.options.rate * 5)
    return Window(start, trial.now())


SCENARIOS = [
    *(
        Scenario(
            f"kill-{name}",
            f"kill -9 of the {name}, restarted by switchboard run",
            kill_service(name),
        )
        for name in SERVICES
    ),
    Scenario(
        "broker-paused",
        "embedded broker SIGSTOP, SIGCONT after the pause",
        pause_broker,
        outage=True,
    ),
    Scenario("broker-killed", "embedded broker kill -9 (memory storage: all lost)", kill_broker),
    Scenario(
        "postgres-stopped",
        "private PostgreSQL stopped, started after the outage",
        stop_database,
        outage=True,
    ),
    Scenario("poison", "malformed signed deliveries; poison records on the raw topic", poison),
    Scenario("resend", "every delivery sent twice, as platforms re-send", resend_all, copies=2),
    Scenario(
        "same-request-burst",
        "many customers sending the same text at 5x the rate",
        same_request_burst,
    ),
]
BY_NAME = {scenario.name: scenario for scenario in SCENARIOS}


def in_turn(name: str, what: str, *faults: Fault, gap_s: float = 4.0) -> Scenario:
    """One trial with several faults, ``gap_s`` apart (the reduced form in ``make test``): the
    window runs from the first fault's start to the last one's end."""

    async def fault(trial: Trial) -> Window:
        windows = []
        for i, each in enumerate(faults):
            if i:
                await asyncio.sleep(gap_s)
            windows.append(await each(trial))
        return Window(windows[0].start, windows[-1].end)

    return Scenario(name, what, fault)
