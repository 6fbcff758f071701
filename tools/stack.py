"""The local stack: embedded broker (or KAFKA_BOOTSTRAP_SERVERS), topics from the registry,
migrated database, a local pager endpoint and the four services as real processes.

Used by ``make run``, the process-level end-to-end tests and the benchmark. Each service
logs to ``<var>/logs/<service>.log``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import uvicorn

from services.ingestor.settings import DEV_WEBHOOK_SECRET
from services.notifier.settings import DEV_SIGNING_KEY
from shared.service import QuietServer
from shared.settings import ROOT
from tools import migrate
from tools.devbroker import EmbeddedBroker, ensure_topics, free_port
from tools.pager_sink import PagerSink

SERVICES = ("ingestor", "classifier", "router", "notifier")
DEFAULT_PORTS = {"ingestor": 8001, "classifier": 8002, "router": 8003, "notifier": 8004}


class StackError(RuntimeError):
    """The stack could not start (a service exited or never became ready)."""


@dataclass
class StackConfig:
    var_dir: Path = ROOT / "var"
    bootstrap: str | None = None  # external broker; None starts the embedded one
    namespace: str = ""
    database_url: str | None = None  # None: a fresh SQLite file per service under var_dir
    preferred_ports: bool = True
    extra_env: dict[str, str] = field(default_factory=dict)
    webhook_secret: str = DEV_WEBHOOK_SECRET
    signing_key: str = DEV_SIGNING_KEY


class LocalStack:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.broker: EmbeddedBroker | None = None
        self.bootstrap = config.bootstrap or ""
        # Embedded default: one SQLite file per service (each owns its tables), so four processes do
        # not contend for one file's write lock and page cache; a given URL is shared by all.
        self.database_urls = {
            name: config.database_url or f"sqlite:///{config.var_dir / f'{name}.db'}"
            for name in SERVICES
        }
        self.ports = {name: _port(DEFAULT_PORTS[name], config.preferred_ports) for name in SERVICES}
        self.sink = PagerSink(config.signing_key)
        self.sink_port = free_port()
        self.procs: dict[str, asyncio.subprocess.Process] = {}
        self._sink_server: uvicorn.Server | None = None
        self._sink_task: asyncio.Task | None = None

    @property
    def database_url(self) -> str:
        """Where the data is: the shared URL, or the folder of the per-service SQLite files."""
        return self.config.database_url or f"sqlite:///{self.config.var_dir}/<service>.db"

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
            self.broker = EmbeddedBroker(log_path=logs / "broker.log").start()
            self.bootstrap = self.broker.bootstrap_servers
        await ensure_topics(self.bootstrap, self.config.namespace)
        for url in sorted(set(self.database_urls.values())):
            if self.config.database_url is None:
                _remove_sqlite(
                    Path(url.removeprefix("sqlite:///"))
                )  # the memory broker starts empty too
            owners = [
                name for name in SERVICES if self.database_urls[name] == url
            ]  # only their tables
            await asyncio.to_thread(migrate.upgrade, url, owners)
        await self._start_sink()
        for name in SERVICES:
            await self.start_service(name)
        await self.wait_ready(ready_timeout)
        return self

    def env(self, service: str) -> dict[str, str]:
        prefix = service.upper()
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "KAFKA_TOPIC_NAMESPACE": self.config.namespace,
            "DATABASE_URL": self.database_urls[service],
            "LOG_JSON": "true",
            f"{prefix}_HTTP_PORT": str(self.ports[service]),
            f"{prefix}_HTTP_HOST": "127.0.0.1",
            "INGESTOR_WEBHOOK_SECRETS": f'{{"demo": "{self.config.webhook_secret}"}}',
            "NOTIFIER_PAGE_URL": f"http://127.0.0.1:{self.sink_port}/pages",
            "NOTIFIER_SIGNING_KEY": self.config.signing_key,
            "PYTHONUNBUFFERED": "1",
        }
        env.update(self.config.extra_env)
        return env

    async def start_service(self, name: str) -> None:
        log = open(self.config.var_dir / "logs" / f"{name}.log", "ab")
        self.procs[name] = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            f"services.{name}",
            env=self.env(name),
            cwd=str(ROOT),
            stdout=log,
            stderr=log,
            stdin=asyncio.subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches only the orchestrator, which stops services in order
        )
        log.close()

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
        self, name: str, sig: int = signal.SIGTERM, timeout: float = 30.0
    ) -> int | None:
        """Send ``sig`` and wait for the exit; returns the exit code."""
        proc = self.procs.get(name)
        if proc is None or proc.returncode is not None:
            return proc.returncode if proc else None
        proc.send_signal(sig)
        try:
            return await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            proc.kill()
            return await proc.wait()

    async def stop(self) -> dict[str, int | None]:
        """Stop services (SIGTERM, in parallel), the pager endpoint and the broker."""
        codes = await asyncio.gather(*(self.stop_service(name) for name in reversed(SERVICES)))
        if self._sink_server is not None:
            self._sink_server.should_exit = True
            with suppress(Exception):
                await asyncio.wait_for(self._sink_task, 5)
        if self.broker is not None:
            self.broker.stop()
        return dict(zip(reversed(SERVICES), codes))

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


def _remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        with suppress(FileNotFoundError):
            Path(f"{path}{suffix}").unlink()
