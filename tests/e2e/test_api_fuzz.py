"""No server error from user input, on any HTTP API: schemathesis generates requests from each
running service's own OpenAPI document (valid, boundary and invalid values; with the development
admin tokens where the API wants one, so the requests get past authentication) and every answer
must be something other than a 5xx (the health probes, which take no input and answer 503 by design
while a service is not ready, are left out). It found the router's 500 for a webhook delivery id
beyond the database's integers (now a 422); fuzzing finds such things by chance, so the
deterministic check of that one lives in test_router_service. The four services run as real processes on the real broker
(``tools.stack.LocalStack``); the seed is fixed, so a failure replays the same requests."""

from __future__ import annotations

import asyncio
import sys
import uuid

import pytest

from services.notifier.settings import DEV_NOTIFIER_ADMIN_TOKEN
from services.router.settings import DEV_ROUTER_ADMIN_TOKEN
from tools.stack import LocalStack, StackConfig

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]
SEED = "20261204"
TOKENS = {"router": DEV_ROUTER_ADMIN_TOKEN, "notifier": DEV_NOTIFIER_ADMIN_TOKEN}


async def fuzz(url: str, token: str | None, workdir) -> tuple[int, str]:
    """Run schemathesis's CLI against ``url`` (in ``workdir``: it keeps a cache there); its exit
    status and output."""
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        url,
        "--checks",
        "not_a_server_error",
        "--max-examples",
        "40",
        "--seed",
        SEED,
        "--workers",
        "1",
        "--no-color",
        # health probes take no input and answer 503 by design while a service is not ready
        "--exclude-path-regex",
        "^/(healthz|readyz)$",
    ]
    if token is not None:
        command += ["--header", f"Authorization: Bearer {token}"]
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=workdir
    )
    output, _ = await process.communicate()
    return process.returncode, output.decode(errors="replace")


async def test_no_api_answers_generated_requests_with_a_server_error(kafka_bootstrap, tmp_path):
    config = StackConfig(
        var_dir=tmp_path,
        bootstrap=kafka_bootstrap,
        namespace=f"f{uuid.uuid4().hex[:8]}.",
        preferred_ports=False,
        extra_env={"LOG_LEVEL": "WARNING"},
    )
    async with LocalStack(config) as stack:
        for service in ("ingestor", "classifier", "router", "notifier"):
            status, output = await fuzz(
                stack.url(service, "/openapi.json"), TOKENS.get(service), tmp_path
            )
            assert status == 0 and "passed" in output, f"{service}:\n{output[-4000:]}"
