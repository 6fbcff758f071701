"""A private PostgreSQL cluster on a free loopback port, for tests and the chaos suite that must
stop and start *the database itself* (never the machine's shared server at 5432).

``initdb`` refuses to run as root, so as root the cluster belongs to the ``postgres`` user and
every server command runs through ``runuser``. Storage is a throw-away directory with
``fsync=off``: it survives a stop and start of the server (that is the point), not the machine.

    with PrivatePostgres() as pg:
        url = pg.url           # postgresql://postgres@127.0.0.1:<port>/test
        pg.stop()              # fast shutdown: clients see their connections dropped
        pg.start()

``python -m tools.pgcluster`` starts one in the foreground and prints its URL (Ctrl-C stops it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from tools.devbroker import free_port


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server binaries (initdb, pg_ctl) are not on this machine."""


def _bindir() -> Path:
    """Where initdb and pg_ctl live: PATH first, then Debian's versioned directories."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    for base in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (base / "initdb").exists() and (base / "pg_ctl").exists():
            return base
    raise PostgresUnavailable(
        "initdb/pg_ctl not found: install the PostgreSQL server (Debian: postgresql) to run "
        "the database fault tests"
    )


def available() -> bool:
    try:
        _bindir()
    except PostgresUnavailable:
        return False
    return True


class PrivatePostgres:
    """One server of our own: ``start``/``stop``/``kill`` it as often as a fault needs."""

    def __init__(self, port: int | None = None, database: str = "test") -> None:
        self.bindir = _bindir()
        self.port = port or free_port()
        self.database = database
        self.root = Path(tempfile.mkdtemp(prefix="switchboard-pg-"))
        self.datadir = self.root / "data"
        self.logfile = self.root / "server.log"
        self._as_root = os.geteuid() == 0
        self._initialised = False

    # -- process plumbing --------------------------------------------------------------
    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = list(args)
        if self._as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=120)

    def _init(self) -> None:
        if self._as_root:
            shutil.chown(self.root, user="postgres", group="postgres")
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.datadir),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        self._initialised = True

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.database}"

    def start(self, timeout: float = 30.0) -> None:
        """Start the server and wait until it accepts connections; the first start also makes
        the cluster and the database."""
        first = not self._initialised
        if first:
            self._init()
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.datadir),
            "-l",
            str(self.logfile),
            "-o",
            options,
            "-w",
            "-t",
            str(int(timeout)),
            "start",
        )
        if first:
            self._wait_ready(timeout)
            self._run(
                str(self.bindir / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                self.database,
            )

    def _wait_ready(self, timeout: float) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(
                    f"postgresql://postgres@127.0.0.1:{self.port}/postgres", connect_timeout=2
                ):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: ``fast`` (clients disconnected, clean shutdown) or ``immediate``
        (as a crash: recovery on the next start)."""
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.datadir),
            "-m",
            mode,
            "-w",
            "stop",
            check=False,
        )

    def running(self) -> bool:
        return (
            self._initialised
            and self._run(
                str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "status", check=False
            ).returncode
            == 0
        )

    def close(self) -> None:
        if self._initialised:
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PrivatePostgres:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def main() -> None:
    with PrivatePostgres() as pg:
        print(pg.url, flush=True)  # noqa: T201 - the command's output
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
