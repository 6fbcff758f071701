"""``make run``: the pipeline on embedded defaults, demo traffic through the signed webhook,
a live summary, then the services keep running until Ctrl-C stops everything cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time

from tools import replay as replay_mod
from tools.stack import SERVICES, LocalStack, StackConfig
from tools.summary import SummaryWatcher


def _say(text: str = "") -> None:
    print(text, flush=True)


async def run_demo(replay: bool = True, exit_after_replay: bool = False) -> int:
    config = StackConfig(bootstrap=os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or None)
    stack = LocalStack(config)
    _say(
        "Starting Switchboard: broker, topics, migrations, ingestor, classifier, router, notifier …"
    )
    started = time.perf_counter()
    try:
        await stack.start()
    except BaseException as exc:
        await stack.stop()
        _say(f"could not start the stack: {exc}")
        return 1
    _say(
        f"ready in {time.perf_counter() - started:.1f}s — broker {stack.bootstrap}, database {stack.database_url}"
    )
    watcher = SummaryWatcher(stack.bootstrap, config.namespace)
    await watcher.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    code = 0
    try:
        if replay:
            code = await _replay(stack, watcher, stop)
        _print_urls(stack)
        if not exit_after_replay:
            _say("Services keep running. Press Ctrl-C to stop everything.")
            await _watch(watcher, stop)
    finally:
        _say("Stopping …")
        await watcher.stop()
        codes = await stack.stop()
        _say("stopped: " + ", ".join(f"{name} exit {code_}" for name, code_ in codes.items()))
    return code


async def _replay(stack: LocalStack, watcher: SummaryWatcher, stop: asyncio.Event) -> int:
    messages = replay_mod.load(replay_mod.DEMO_FILE)
    _say(
        f"Replaying {len(messages)} customer-service messages written by the team (data/replay/README.md) "
        f"through {stack.webhook_url}"
    )
    task = asyncio.create_task(
        replay_mod.replay(stack.webhook_url, stack.config.webhook_secret, messages)
    )
    while not task.done() and not stop.is_set():
        _show(watcher, live=True)
        await asyncio.sleep(1)
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
    for name in SERVICES:
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
