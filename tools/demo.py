"""``make run``: the pipeline on embedded defaults, demo traffic through the signed webhook,
a live summary, then the services keep running until Ctrl-C stops everything cleanly.

The stack supervises its services (an exited one is restarted with back-off, said on the
output), honours ``DATABASE_URL`` (PostgreSQL: one schema per service) and recovers from the
embedded broker's death (``tools.stack``) or, when it cannot, stops, exiting 3. ``SWITCHBOARD_VAR_DIR`` moves the logs and SQLite files
(default ``var/``)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path

from tools import replay as replay_mod
from tools.stack import STORED, LocalStack, StackConfig
from tools.summary import SummaryWatcher


def _say(text: str = "") -> None:
    print(text, flush=True)


BROKER_LOST = 3  # exit status when the embedded broker died and could not be recovered


async def run_demo(replay: bool = True, exit_after_replay: bool = False) -> int:
    config = StackConfig(
        var_dir=Path(os.environ.get("SWITCHBOARD_VAR_DIR") or StackConfig.var_dir),
        bootstrap=os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or None,
        database_url=os.environ.get("DATABASE_URL") or None,
        supervise=True,
    )
    stack = LocalStack(config, report=lambda text: _say(f"[stack] {text}"))
    # Ctrl-C / SIGTERM only set ``stop`` from here on, whatever is running: no traceback, and
    # the stack is always stopped (services SIGTERM, SIGKILL after stop_timeout_s).
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    _say(
        "Starting Switchboard: broker, topics, migrations, ingestor, classifier, router, notifier, console …"
    )
    started = time.perf_counter()
    starting = asyncio.create_task(stack.start())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if not starting.done() or starting.exception() is not None:
        starting.cancel()
        with suppress(BaseException):
            await starting
        reason = "interrupted" if stop.is_set() else starting.exception()
        await stack.stop()
        stopping.cancel()
        _say(f"could not start the stack: {reason}")
        return 1
    _say(
        f"ready in {time.perf_counter() - started:.1f}s — broker {stack.bootstrap}, database {stack.database_url}"
    )
    # the broker's death stops the run as Ctrl-C does
    failed = asyncio.create_task(stack.failed.wait())
    failed.add_done_callback(lambda _: stop.set())
    watcher = SummaryWatcher(stack.bootstrap, config.namespace)
    code = 0
    try:
        await asyncio.wait_for(watcher.start(), 30)
        if replay:
            code = await _replay(stack, watcher, stop)
        _print_urls(stack)
        if not exit_after_replay and not stop.is_set():
            _say("Services keep running. Press Ctrl-C to stop everything.")
            await _watch(watcher, stop)
    except Exception as exc:  # the broker went away under the watcher, say: stop cleanly
        if stack.failure is None:
            _say(f"stopping after an error: {exc!r}")
            code = 1
    finally:
        _say("Stopping …")
        failed.cancel()
        stopping.cancel()
        with suppress(BaseException):
            await asyncio.wait_for(watcher.stop(), 5)
        codes = await stack.stop()
        _say("stopped: " + ", ".join(f"{name} exit {code_}" for name, code_ in codes.items()))
    if stack.failure is not None:
        _say(f"switchboard run stopped: {stack.failure}")
        return BROKER_LOST
    return code


async def _replay(stack: LocalStack, watcher: SummaryWatcher, stop: asyncio.Event) -> int:
    # posted over the last five minutes: SLA clocks start at the post time
    messages = replay_mod.as_live(replay_mod.load(replay_mod.DEMO_FILE), datetime.now(UTC))
    _say(
        f"Replaying {len(messages)} customer-service messages written by the team (data/replay/README.md) "
        f"through {stack.webhook_url}, as if posted in the last five minutes"
    )
    task = asyncio.create_task(
        replay_mod.replay(stack.webhook_url, stack.config.webhook_secret, messages)
    )
    while not task.done() and not stop.is_set():
        _show(watcher, live=True)
        await asyncio.sleep(1)
    if not task.done():  # Ctrl-C or the broker died: do not wait for the rest of the replay
        task.cancel()
        with suppress(BaseException):
            await task
        _say()
        return 1
    outcomes = await task
    expected = outcomes.get("accepted", 0)
    deadline = time.monotonic() + 60
    while watcher.summary.received < expected or _in_flight(watcher):
        if time.monotonic() > deadline or stop.is_set():
            break
        _show(watcher, live=True)
        await asyncio.sleep(1)
    _say()
    _say("webhook answers: " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
    _show(watcher, live=False)
    return 0 if set(outcomes) <= {"accepted", "duplicate"} else 1


def _in_flight(watcher: SummaryWatcher) -> bool:
    s = watcher.summary
    return sum(s.decisions.values()) < s.received or sum(s.queues.values()) < s.decisions["reply"]


def _show(watcher: SummaryWatcher, live: bool) -> None:
    lines = watcher.summary.lines()
    if live and sys.stdout.isatty():
        sys.stdout.write("\r\033[K" + lines[0] + "\n\033[K" + lines[1] + "\033[1A")
        sys.stdout.flush()
    elif not live:
        for line in lines:
            _say(line)


def _print_urls(stack: LocalStack) -> None:
    _say()
    _say(f"  console    {stack.url('console', '/flow')}")
    _say(f"             sign in once as the development user: {stack.signin_url}")
    for name in STORED:
        _say(f"  {name:<10} {stack.url(name, '/docs'):<36} metrics {stack.url(name, '/metrics')}")
    _say(f"  logs       {stack.config.var_dir / 'logs'}")


async def _watch(watcher: SummaryWatcher, stop: asyncio.Event) -> None:
    last: list[str] = []
    while not stop.is_set():
        lines = watcher.summary.lines()
        if lines != last:
            for line in lines:
                _say(line)
            last = lines
        try:
            await asyncio.wait_for(stop.wait(), 5)
        except TimeoutError:
            pass
