"""The local stack: embedded broker (or KAFKA_BOOTSTRAP_SERVERS), topics from the registry,
migrated database, a local pager endpoint and the four services as real processes.

Used by ``make run``, the process-level end-to-end tests and the benchmark. Each service
logs to ``<var>/logs/<service>.log``.

With ``StackConfig.supervise`` (``switchboard run``) the stack is the services' orchestrator:
a service that exits is restarted with back-off as Kubernetes does (1 s doubling to 30 s, back
to 1 s once a run lasted 60 s), each exit and restart reported. When the embedded broker dies
(memory storage: every topic, record and consumer offset goes with it) the stack recovers or
stops, and never runs on against an empty broker: it kills the services, starts a broker on the
same port, creates the registry's topics, has the ingestor publish again every event it
accepted since this stack's first broker started (``services.ingestor.republish``; consumers
skip what they already processed) and starts the services again. If a step fails, or the broker
died ``broker_recoveries`` times within ``recovery_window_s``, it reports why and sets
``failed`` (the caller stops it). ``stop()`` always ends every child within about
``stop_timeout_s``: SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import signal
import sys
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import uvicorn

from services.ingestor.settings import DEV_WEBHOOK_SECRET
from services.notifier.settings import DEV_SIGNING_KEY
from services.router.settings import DEV_ROUTER_ADMIN_TOKEN
from shared.auth import digest
from shared.broker import BrokerError
from shared.service import QuietServer
from shared.settings import ROOT
from tools import migrate
from tools.devbroker import EmbeddedBroker, die_with_parent, ensure_topics, free_port
from tools.pager_sink import PagerSink

SERVICES = ("ingestor", "classifier", "router", "notifier", "console")
CONSUMERS = ("classifier", "router", "notifier")  # the services with consumer groups
DEFAULT_PORTS = {
    "ingestor": 8001,
    "classifier": 8002,
    "router": 8003,
    "notifier": 8004,
    "console": 8005,
}
STORED = (
    "ingestor",
    "classifier",
    "router",
    "notifier",
)  # the services with tables (the console has none)


log = logging.getLogger("switchboard.stack")


class StackError(RuntimeError):
    """The stack could not start (a service exited or never became ready)."""


@dataclass(frozen=True)
class Backoff:
    """Restart delays as Kubernetes' CrashLoopBackOff: ``initial_s`` doubling up to ``max_s``,
    back to ``initial_s`` after a run that lasted ``reset_after_s``."""

    initial_s: float = 1.0
    max_s: float = 30.0
    reset_after_s: float = 60.0

    def next(self, previous: float | None, uptime_s: float) -> float:
        if previous is None or uptime_s >= self.reset_after_s:
            return self.initial_s
        return min(previous * 2, self.max_s)


@dataclass
class StackConfig:
    var_dir: Path = ROOT / "var"
    bootstrap: str | None = None  # external broker; None starts the embedded one
    namespace: str = ""
    # None: a fresh SQLite file per service under var_dir. PostgreSQL: every service in its own
    # schema ``<schema_prefix><service>`` (created if missing). Any other URL is shared by all.
    database_url: str | None = None
    schema_prefix: str = ""
    preferred_ports: bool = True
    extra_env: dict[str, str] = field(default_factory=dict)
    webhook_secret: str = DEV_WEBHOOK_SECRET
    signing_key: str = DEV_SIGNING_KEY
    supervise: bool = False  # restart exited services (switchboard run); tests restart by hand
    backoff: Backoff = field(default_factory=Backoff)
    stop_timeout_s: float = 10.0  # SIGTERM, then SIGKILL after this long
    # supervise: an embedded broker that died is recovered this many times per window, then the
    # stack stops (0: stop at the first death)
    broker_recoveries: int = 3
    recovery_window_s: float = 600.0
    republish_timeout_s: float = 300.0


class LocalStack:
    def __init__(self, config: StackConfig, report: Callable[[str], None] | None = None) -> None:
        self.config = config
        self.report = report or log.warning
        self.broker: EmbeddedBroker | None = None
        self.bootstrap = config.bootstrap or ""
        # Embedded default: one SQLite file per service (each owns its tables), so four processes do
        # not contend for one file's write lock and page cache. PostgreSQL: one schema per service.
        self.database_urls = {
            name: service_database_url(config.database_url, name, config) for name in STORED
        }
        self.ports = {name: _port(DEFAULT_PORTS[name], config.preferred_ports) for name in SERVICES}
        self.signin_code = secrets.token_urlsafe(24)  # the console's one-time sign-in link
        self.sink = PagerSink(config.signing_key)
        self.sink_port = free_port()
        self.procs: dict[str, asyncio.subprocess.Process] = {}
        self._sink_server: uvicorn.Server | None = None
        self._sink_task: asyncio.Task | None = None
        # supervision
        self.restarts: dict[str, int] = {name: 0 for name in SERVICES}
        self.events: list[str] = []  # every exit, restart and failure reported, in order
        self.failure: str | None = None  # set when the stack cannot go on (the broker died)
        self.failed = asyncio.Event()
        self._started_at: dict[str, float] = {}
        self._delay: dict[str, float] = {}
        self._held: set[str] = set()  # stopped on purpose (stop_service): not restarted
        self._restarting: dict[str, asyncio.Task] = {}
        self._supervisor: asyncio.Task | None = None
        self._stopping = False
        # broker recovery: what the ingestor accepted since this moment may be only in the broker
        self.accepted_since: datetime | None = None
        self.recoveries: list[float] = []  # monotonic times of the broker recoveries begun
        self.republished = 0  # events the ingestor published again, over all recoveries
        self._recovery: asyncio.Task | None = None

    @property
    def database_url(self) -> str:
        """Where the data is: the shared URL, or the folder of the per-service SQLite files."""
        if self.config.database_url is None:
            return f"sqlite:///{self.config.var_dir}/<service>.db"
        if _is_postgres(self.config.database_url):
            return f"{_hide_password(self.config.database_url)} (schema {self.config.schema_prefix}<service>)"
        return _hide_password(self.config.database_url)

    # -- addresses -------------------------------------------------------------------
    def url(self, service: str, path: str = "") -> str:
        return f"http://127.0.0.1:{self.ports[service]}{path}"

    @property
    def webhook_url(self) -> str:
        return self.url("ingestor", "/v1/webhooks/standard/demo")

    # -- lifecycle -------------------------------------------------------------------
    async def start(self, ready_timeout: float = 90.0) -> "LocalStack":
        """Start everything and wait until every service is ready. Raises ``StackError``."""
        logs = self.config.var_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        if not self.bootstrap:
            # a second early: the ledger's clock and ours are the same, but not its rounding
            self.accepted_since = datetime.now(UTC) - timedelta(seconds=1)
            self.broker = EmbeddedBroker(
                log_path=logs / "broker.log", tied=self.config.supervise
            ).start()
            self.bootstrap = self.broker.bootstrap_servers
        await ensure_topics(self.bootstrap, self.config.namespace)
        if self.config.database_url and _is_postgres(self.config.database_url):
            await asyncio.to_thread(
                create_schemas,
                self.config.database_url,
                [self.config.schema_prefix + name for name in STORED],
            )
        for url in sorted(set(self.database_urls.values())):
            if self.config.database_url is None:
                _remove_sqlite(
                    Path(url.removeprefix("sqlite:///"))
                )  # the memory broker starts empty too
            owners = [
                name for name in STORED if self.database_urls[name] == url
            ]  # only their tables
            await asyncio.to_thread(migrate.upgrade, url, owners)
        await self._start_sink()
        for name in SERVICES:
            await self.start_service(name)
        await self.wait_ready(ready_timeout)
        if self.config.supervise or self.broker is not None:
            self._supervisor = asyncio.create_task(self._supervise())
        return self

    def env(self, service: str) -> dict[str, str]:
        prefix = service.upper()
        env = {
            "MALLOC_ARENA_MAX": "2",  # as the image sets it (Dockerfile): fewer glibc heaps per process
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "KAFKA_TOPIC_NAMESPACE": self.config.namespace,
            "DATABASE_URL": self.database_urls.get(service, "sqlite://"),
            "LOG_JSON": "true",
            f"{prefix}_HTTP_PORT": str(self.ports[service]),
            f"{prefix}_HTTP_HOST": "127.0.0.1",
            "INGESTOR_WEBHOOK_SECRETS": f'{{"demo": "{self.config.webhook_secret}"}}',
            "NOTIFIER_PAGE_URL": f"http://127.0.0.1:{self.sink_port}/pages",
            "NOTIFIER_SIGNING_KEY": self.config.signing_key,
            "PYTHONUNBUFFERED": "1",
            **self._console_env(),
        }
        if self.config.bootstrap is None and service in CONSUMERS:
            # one machine, one replica each: a service killed and restarted rejoins its groups
            # once the embedded broker has given up on its old membership, so shorter sessions
            # shorten the recovery (the deployed default stays 10 s)
            env.setdefault(f"{prefix}_SESSION_TIMEOUT_MS", "6000")
            env.setdefault(f"{prefix}_HEARTBEAT_INTERVAL_MS", "1000")
        env.update(self.config.extra_env)
        return env

    def _console_env(self) -> dict[str, str]:
        """The console calls the services at their ports; it signs the development user in once
        (``signin_url``) with the router's admin token, which the notifier accepts as an admin
        grant too (development: both services' own dev tokens keep working)."""
        return {
            **{f"CONSOLE_{name.upper()}_URL": self.url(name) for name in STORED},
            "CONSOLE_NOTIFIER_PUBLIC_URL": self.url("notifier"),
            "CONSOLE_SIGNIN_TOKEN": DEV_ROUTER_ADMIN_TOKEN,
            "CONSOLE_SIGNIN_CODE": self.signin_code,
            "NOTIFIER_API_TOKENS": json.dumps(
                {
                    digest(DEV_ROUTER_ADMIN_TOKEN): {
                        "subject": "admin",
                        "role": "admin",
                        "team": None,
                    }
                }
            ),
        }

    @property
    def signin_url(self) -> str:
        """The console's one-time sign-in link for the development user."""
        return self.url("console", f"/signin/once?code={self.signin_code}")

    async def start_service(self, name: str) -> None:
        """Start ``name`` (again); under supervision it is restarted from now on if it exits."""
        self._held.discard(name)
        await self._spawn(name)

    async def _spawn(self, name: str) -> None:
        out = open(self.config.var_dir / "logs" / f"{name}.log", "ab")
        try:
            self.procs[name] = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                f"services.{name}",
                env=self.env(name),
                cwd=str(ROOT),
                stdout=out,
                stderr=out,
                stdin=asyncio.subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C reaches only the orchestrator, which stops services
                preexec_fn=die_with_parent
                if self.config.supervise
                else None,  # kill -9 of us: none left
            )
        finally:
            out.close()
        self._started_at[name] = asyncio.get_running_loop().time()

    # -- supervision -----------------------------------------------------------------
    def _say(self, text: str) -> None:
        self.events.append(text)
        with suppress(Exception):
            self.report(text)

    @property
    def recovering(self) -> bool:
        """The embedded broker died and the stack is bringing it and the services back."""
        return self._recovery is not None

    async def _supervise(self) -> None:
        """Every 0.2 s: restart services that exited (with back-off), and notice a dead broker."""
        while not self._stopping:
            if self.broker is not None and self.failure is None and self._recovery is None:
                code = self.broker.exit_code()
                if code is not None:
                    self._recovery = asyncio.create_task(self._recover_broker(code))
            if self.config.supervise and self.failure is None and self._recovery is None:
                for name in SERVICES:
                    proc = self.procs.get(name)
                    if (
                        proc is None
                        or proc.returncode is None
                        or name in self._held
                        or name in self._restarting
                    ):
                        continue
                    self._restarting[name] = asyncio.create_task(
                        self._restart(name, proc, proc.returncode)
                    )
            await asyncio.sleep(0.2)

    async def _restart(self, name: str, proc: asyncio.subprocess.Process, code: int) -> None:
        try:
            uptime = asyncio.get_running_loop().time() - self._started_at.get(name, 0.0)
            delay = self.config.backoff.next(self._delay.get(name), uptime)
            self._delay[name] = delay
            self.restarts[name] += 1
            how = f"signal {-code}" if code < 0 else f"code {code}"
            self._say(
                f"{name} exited with {how} after {uptime:.1f}s; restarting in {delay:g}s "
                f"(restart {self.restarts[name]}; log {self.config.var_dir / 'logs' / f'{name}.log'})"
            )
            await asyncio.sleep(delay)
            if (
                self._stopping
                or self.failure
                or self._recovery is not None
                or name in self._held
                or self.procs[name] is not proc
            ):
                return
            await self._spawn(name)
            self._say(f"{name} restarted (pid {self.procs[name].pid})")
        finally:
            self._restarting.pop(name, None)

    # -- embedded broker recovery --------------------------------------------------------
    def _fail(self, text: str) -> None:
        self.failure = text
        self._say(text)
        self.failed.set()

    async def _recover_broker(self, code: int) -> None:
        """Recover from the embedded broker's death, or set ``failure``; never leaves the
        services running against an empty broker."""
        lost = (
            f"the embedded broker exited (status {code}): it kept everything in memory, so every "
            "topic, message and consumer offset is gone"
        )
        again = "(start `switchboard run` again to begin afresh)"
        now = time.monotonic()
        recent = [t for t in self.recoveries if now - t < self.config.recovery_window_s]
        if not self.config.supervise or len(recent) >= self.config.broker_recoveries:
            many = (
                f" after {len(recent)} recoveries within {self.config.recovery_window_s:g}s"
                if self.config.supervise and recent
                else ""
            )
            self._recovery = None
            return self._fail(f"{lost}; stopping the stack{many} {again}")
        self.recoveries.append(now)
        since = self.accepted_since or datetime.now(UTC)
        self._say(
            f"{lost}; recovering: restarting the services and the broker on {self.bootstrap}, "
            f"re-creating the topics and re-publishing what the ingestor accepted since "
            f"{since.isoformat(timespec='seconds')}"
        )
        try:
            await self._kill_services()
            await self._restart_broker()
            await ensure_topics(self.bootstrap, self.config.namespace, timeout=30)
            count = await self._republish(since)
            for name in SERVICES:
                if name not in self._held:
                    await self._spawn(name)
        except Exception as exc:  # noqa: BLE001 - any step failing ends the run, said why
            await self._kill_services()
            self._recovery = None
            return self._fail(f"{lost}; recovery failed ({exc}); stopping the stack {again}")
        self.republished += count
        self._say(
            f"broker recovered in {time.monotonic() - now:.1f}s: topics re-created, {count} "
            "accepted events re-published, services restarting"
        )
        self._recovery = None

    async def _kill_services(self) -> None:
        """SIGKILL every service (nothing they hold uncommitted survives the broker anyway)."""
        for task in list(self._restarting.values()):
            task.cancel()
        self._restarting.clear()
        for proc in self.procs.values():
            if proc.returncode is None:
                with suppress(ProcessLookupError):
                    proc.kill()
        await asyncio.gather(*(proc.wait() for proc in self.procs.values()))

    async def _restart_broker(self, bound_s: float = 15.0) -> None:
        """A new embedded broker on the dead one's port (retried while the port is held).
        Started from the event loop's thread: its parent-death signal is tied to that thread."""
        assert self.broker is not None
        old, deadline = self.broker, time.monotonic() + bound_s
        old.stop()
        while True:
            try:
                self.broker = EmbeddedBroker(
                    port=old.port, log_path=old.log_path, tied=old.tied
                ).start()
                return
            except BrokerError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)

    async def _republish(self, since: datetime) -> int:
        """``python -m services.ingestor.republish --since`` with the ingestor's settings; the
        number of events published. Raises ``StackError``."""
        log_path = self.config.var_dir / "logs" / "republish.log"
        with open(log_path, "ab") as err:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "services.ingestor.republish",
                "--since",
                since.isoformat(),
                env=self.env("ingestor"),
                cwd=str(ROOT),
                stdout=asyncio.subprocess.PIPE,
                stderr=err,
                stdin=asyncio.subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), self.config.republish_timeout_s)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise StackError(
                f"re-publishing took longer than {self.config.republish_timeout_s:g}s"
            ) from None
        if proc.returncode != 0:
            raise StackError(f"re-publishing failed (status {proc.returncode}; log {log_path})")
        words = out.decode().split()
        return int(words[1]) if len(words) > 1 and words[1].isdigit() else 0

    async def wait_ready(self, timeout: float, services: tuple[str, ...] = SERVICES) -> None:
        async with httpx.AsyncClient(timeout=2) as client:
            for name in services:
                await self._wait_one(client, name, timeout)

    async def _wait_one(self, client: httpx.AsyncClient, name: str, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            proc = self.procs[name]
            if proc.returncode is not None:
                raise StackError(
                    f"{name} exited with {proc.returncode}; see {self.config.var_dir}/logs/{name}.log"
                )
            with suppress(httpx.HTTPError):
                if (await client.get(self.url(name, "/readyz"))).status_code == 200:
                    return
            await asyncio.sleep(0.25)
        raise StackError(
            f"{name} not ready after {timeout:.0f}s; see {self.config.var_dir}/logs/{name}.log"
        )

    async def stop_service(
        self, name: str, sig: int = signal.SIGTERM, timeout: float | None = None
    ) -> int | None:
        """Send ``sig`` and wait for the exit (SIGKILL after ``timeout``, default
        ``stop_timeout_s``); returns the exit code. Not restarted until ``start_service``."""
        self._held.add(name)
        pending = self._restarting.pop(name, None)
        if pending is not None:
            pending.cancel()
        proc = self.procs.get(name)
        if proc is None or proc.returncode is not None:
            return proc.returncode if proc else None
        with suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            return await asyncio.wait_for(
                asyncio.shield(proc.wait()), timeout or self.config.stop_timeout_s
            )
        except TimeoutError:
            self._say(
                f"{name} did not stop within {timeout or self.config.stop_timeout_s:g}s: killed"
            )
            with suppress(ProcessLookupError):
                proc.kill()
            return await proc.wait()

    async def stop(self) -> dict[str, int | None]:
        """Stop supervision, the services (SIGTERM in parallel, SIGKILL after
        ``stop_timeout_s``), the pager endpoint and the broker. Never raises for a child."""
        self._stopping = True
        for task in [self._supervisor, self._recovery, *self._restarting.values()]:
            if task is not None:
                task.cancel()
                with suppress(BaseException):
                    await task
        self._restarting.clear()
        codes = await asyncio.gather(
            *(self.stop_service(name) for name in reversed(SERVICES)), return_exceptions=True
        )
        if self._sink_server is not None:
            self._sink_server.should_exit = True
            with suppress(BaseException):
                await asyncio.wait_for(self._sink_task, 5)
        if self.broker is not None:
            with suppress(Exception):
                await asyncio.to_thread(self.broker.stop)
        return {
            name: (None if isinstance(code, BaseException) else code)
            for name, code in zip(reversed(SERVICES), codes)
        }

    async def _start_sink(self) -> None:
        config = uvicorn.Config(
            self.sink.app(),
            host="127.0.0.1",
            port=self.sink_port,
            log_config=None,
            access_log=False,
            lifespan="off",
        )
        self._sink_server = QuietServer(config)
        self._sink_task = asyncio.create_task(self._sink_server.serve())
        while not self._sink_server.started:
            await asyncio.sleep(0.02)

    async def __aenter__(self) -> "LocalStack":
        try:
            return await self.start()
        except BaseException:
            await self.stop()
            raise

    async def __aexit__(self, *exc) -> None:
        await self.stop()


def _port(preferred: int, use_preferred: bool) -> int:
    import socket

    if use_preferred:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", preferred))
                return preferred
            except OSError:
                pass
    return free_port()


def _is_postgres(url: str) -> bool:
    from sqlalchemy.engine import make_url

    return make_url(url).get_backend_name() == "postgresql"


def _hide_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def service_database_url(database_url: str | None, service: str, config: StackConfig) -> str:
    """The database URL ``service`` is given: its own SQLite file under ``var_dir`` when
    ``database_url`` is None; on PostgreSQL the same database with the service's own schema
    first on the search path (``options=-csearch_path=<schema_prefix><service>``); else the
    URL as given."""
    if database_url is None:
        return f"sqlite:///{config.var_dir / f'{service}.db'}"
    if not _is_postgres(database_url):
        return database_url
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    option = f"-csearch_path={config.schema_prefix}{service}"
    existing = url.query.get("options")
    if isinstance(existing, tuple):
        existing = " ".join(existing)
    options = f"{existing} {option}" if existing else option
    return url.update_query_dict({"options": options}).render_as_string(hide_password=False)


def create_schemas(database_url: str, schemas: list[str]) -> None:
    """``CREATE SCHEMA IF NOT EXISTS`` each of ``schemas`` in the PostgreSQL ``database_url``."""
    from sqlalchemy import create_engine, pool, text

    from shared.db import sync_url

    engine = create_engine(sync_url(database_url), poolclass=pool.NullPool)
    try:
        with engine.begin() as conn:
            for schema in schemas:
                conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    finally:
        engine.dispose()


def _remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        with suppress(FileNotFoundError):
            Path(f"{path}{suffix}").unlink()
