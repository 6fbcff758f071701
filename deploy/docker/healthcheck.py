"""Docker HEALTHCHECK of the Switchboard image: GET /healthz of the service in this container.

One image runs every service, so the port is found, not configured: HEALTHCHECK_PORT if set,
else the port the service's own settings give (the container runs ``python -m
services.<name>``, whose ``<Name>Settings().http_port`` honours ``<NAME>_HTTP_PORT``).
A container running a one-shot job (``migrate``, ``topics``) serves no HTTP and counts as
healthy. Exit status 0 healthy, 1 unhealthy (Docker's convention). Python only: no curl.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

TIMEOUT_S = 3.0


def service_of(argv: list[str]) -> str | None:
    """``ingestor`` for ``python -m services.ingestor``; None for anything else."""
    for flag, module in zip(argv, argv[1:], strict=False):
        if flag == "-m" and module.startswith("services.") and module.count(".") == 1:
            return module.split(".", 1)[1]
    return None


def main_process_argv() -> list[str]:
    with open("/proc/1/cmdline", "rb") as f:
        return [arg.decode() for arg in f.read().split(b"\0") if arg]


def port() -> int | None:
    if os.environ.get("HEALTHCHECK_PORT"):
        return int(os.environ["HEALTHCHECK_PORT"])
    name = service_of(main_process_argv())
    if name is None:
        return None
    import importlib

    settings = importlib.import_module(f"services.{name}.settings")  # the service's own settings
    return getattr(settings, f"{name.capitalize()}Settings")().http_port


def main() -> int:
    try:
        target = port()
    except Exception as exc:  # noqa: BLE001 - any failure to find the port is unhealthy
        print(f"healthcheck: cannot determine the port: {exc}", file=sys.stderr)
        return 1
    if target is None:
        return 0
    try:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{target}/healthz", timeout=TIMEOUT_S
        ) as resp:
            return 0 if resp.status == 200 else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"healthcheck: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
