"""``switchboard run`` as a supervisor, through real processes: a service killed with -9 is
restarted with back-off and the stack is healthy again; a stopped stack leaves no child
process and no port behind; ``DATABASE_URL`` on PostgreSQL gives every service its own
schema and history; Ctrl-C stops everything within seconds; the embedded broker's death is
recovered (a new broker, the topics, the services restarted) and the run goes on, or, past its
recoveries, stops the stack with a message that the broker's memory is gone."""

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import psutil
import pytest

from shared.settings import ROOT
from tests.conftest import PG_URL, _pg_reachable
from tools.stack import SERVICES, STORED, LocalStack, StackConfig

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]
QUIET = {"LOG_LEVEL": "WARNING", "NOTIFIER_OFFICE_HOURS": "{}"}


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _listening(port: int) -> bool:
    return any(
        c.laddr and c.laddr.port == port and c.status == psutil.CONN_LISTEN
        for c in psutil.net_connections("tcp")
    )


async def _until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout}s: {what}"
        await asyncio.sleep(0.2)


async def test_killed_service_is_restarted_with_backoff_and_stop_leaves_nothing(
    kafka_bootstrap, tmp_path
):
    config = StackConfig(
        var_dir=tmp_path,
        bootstrap=kafka_bootstrap,
        namespace=f"s{uuid.uuid4().hex[:8]}.",
        preferred_ports=False,
        extra_env=QUIET,
        supervise=True,
    )
    stack = LocalStack(config)
    pids: set[int] = set()
    try:
        await stack.start()
        pids |= {p.pid for p in stack.procs.values()}
        for attempt, delay in ((1, "1s"), (2, "2s")):  # 1 s, then doubled
            old = stack.procs["classifier"]
            os.kill(old.pid, signal.SIGKILL)
            await _until(
                lambda: stack.procs["classifier"] is not old, 60, "the classifier restarted"
            )
            pids.add(stack.procs["classifier"].pid)
            await stack.wait_ready(90, services=("classifier",))
            assert stack.restarts["classifier"] == attempt
            exits = [e for e in stack.events if e.startswith("classifier exited")]
            assert f"with signal {signal.SIGKILL}" in exits[-1]
            assert f"restarting in {delay} (restart {attempt};" in exits[-1]
        assert stack.restarts == {
            "ingestor": 0,
            "classifier": 2,
            "router": 0,
            "notifier": 0,
            "console": 0,
        }
        await stack.wait_ready(30)  # the whole stack is healthy again
    finally:
        codes = await stack.stop()
    assert codes == {"console": 0, "notifier": 0, "router": 0, "classifier": 0, "ingestor": 0}
    assert all(_gone(pid) for pid in pids)
    assert not any(_listening(port) for port in stack.ports.values())


async def test_postgres_database_url_gives_each_service_its_own_schema(kafka_bootstrap, tmp_path):
    if not _pg_reachable():
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL must be reachable at 127.0.0.1:5432 on CI")
        pytest.skip("PostgreSQL not reachable at 127.0.0.1:5432")
    import psycopg

    prefix = f"s{uuid.uuid4().hex[:8]}_"
    config = StackConfig(
        var_dir=tmp_path,
        bootstrap=kafka_bootstrap,
        namespace=f"s{uuid.uuid4().hex[:8]}.",
        database_url=PG_URL,
        schema_prefix=prefix,
        preferred_ports=False,
        extra_env=QUIET,
    )
    try:
        async with LocalStack(config) as stack:
            for name in STORED:
                assert stack.env(name)["DATABASE_URL"].endswith(
                    f"options=-csearch_path%3D{prefix}{name}"
                )
            with psycopg.connect(PG_URL) as conn:
                rows = conn.execute(
                    "SELECT table_schema, table_name FROM information_schema.tables "
                    "WHERE table_schema LIKE %s",
                    (f"{prefix}%",),
                ).fetchall()
        tables: dict[str, set[str]] = {}
        for schema, table in rows:
            tables.setdefault(schema.removeprefix(prefix), set()).add(table)
        assert set(tables) == set(STORED)
        for name in STORED:  # its own history only, beside its own tables
            versions = {t for t in tables[name] if t.startswith("alembic_version")}
            assert versions == {f"alembic_version_{name}"}
            assert len(tables[name]) > 1
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            for name in STORED:
                conn.execute(f'DROP SCHEMA IF EXISTS "{prefix}{name}" CASCADE')


class Run:
    """``switchboard run --no-replay`` as a real process with its own embedded broker."""

    def __init__(self, tmp_path) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS",)}
        env.pop("DATABASE_URL", None)
        env.update(QUIET, SWITCHBOARD_VAR_DIR=str(tmp_path), PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tools.cli", "run", "--no-replay"],
            cwd=str(ROOT),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    async def running(self) -> list[psutil.Process]:
        await _until(lambda: "Services keep running" in self.output, 120, "the stack running")
        children = psutil.Process(self.proc.pid).children()
        assert len(children) == len(SERVICES) + 1, self.output  # four services and the broker
        return children

    async def exit_code(self, timeout: float) -> int:
        await _until(lambda: self.proc.poll() is not None, timeout, "switchboard run exited")
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            for child in psutil.Process(self.proc.pid).children():
                child.kill()
            self.proc.kill()
            self.proc.wait()


async def test_ctrl_c_stops_every_child_within_seconds(tmp_path):
    run = Run(tmp_path)
    try:
        children = await run.running()
        run.proc.send_signal(signal.SIGINT)
        assert await run.exit_code(timeout=20) == 0, run.output
    finally:
        run.kill()
    assert "Traceback" not in run.output
    assert (
        "stopped: console exit 0, notifier exit 0, router exit 0, classifier exit 0, ingestor exit 0"
        in (run.output)
    )
    assert all(_gone(c.pid) for c in children)


async def test_broker_death_is_recovered_and_the_run_goes_on(tmp_path):
    run = Run(tmp_path)
    try:
        children = await run.running()
        broker = next(c for c in children if "services." not in " ".join(c.cmdline()))
        broker.kill()
        await _until(lambda: "broker recovered in" in run.output, 60, "the broker recovered")
        assert "every topic, message and consumer offset is gone; recovering" in run.output
        assert all(_gone(c.pid) for c in children)  # the old services went with the broker
        fresh = psutil.Process(run.proc.pid).children()
        assert len(fresh) == len(SERVICES) + 1 and not {c.pid for c in fresh} & {
            c.pid for c in children
        }
        assert run.proc.poll() is None  # it runs on, on the new broker
        run.proc.send_signal(signal.SIGINT)
        assert await run.exit_code(timeout=30) == 0, run.output
    finally:
        run.kill()
    assert "Traceback" not in run.output


async def test_broker_death_beyond_its_recoveries_stops_the_stack_with_a_message(tmp_path):
    config = StackConfig(
        var_dir=tmp_path,
        preferred_ports=False,
        extra_env=QUIET,
        supervise=True,
        broker_recoveries=0,
    )
    stack = LocalStack(config)
    try:
        await stack.start()
        pids = {p.pid for p in stack.procs.values()}
        os.kill(stack.broker.pid, signal.SIGKILL)
        await asyncio.wait_for(stack.failed.wait(), 30)
        assert "every topic, message and consumer offset is gone; stopping the stack" in (
            stack.failure
        )
        await asyncio.sleep(1)
        assert stack.procs.keys() == set(SERVICES) and {p.pid for p in stack.procs.values()} == pids
    finally:
        await stack.stop()
    assert all(_gone(pid) for pid in pids)


async def test_a_killed_switchboard_run_takes_its_services_and_broker_with_it(tmp_path):
    run = Run(tmp_path)
    children: list[psutil.Process] = []
    try:
        children = await run.running()
        run.proc.kill()  # SIGKILL: it gets no chance to stop anything itself
        run.proc.wait()
        await _until(lambda: all(_gone(c.pid) for c in children), 30, "every child gone")
    finally:
        for child in children:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
