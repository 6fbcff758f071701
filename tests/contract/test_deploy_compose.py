"""docker-compose.yml beyond parsing: Docker's own `docker-compose config` accepts it (Debian's
package runs `config` without an engine), and the stack's topics job creates exactly the
registry's topics when run, as compose runs it, against the real broker."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import uuid

import pytest
import yaml
from aiokafka.admin import AIOKafkaAdminClient

from tests.contract.test_deploy import APP_SERVICES, COMPOSE, ROOT, registry_from_file


def docker_compose_config(env: dict[str, str] | None = None) -> dict:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip(
            "docker-compose is not installed (Debian: apt-get install docker-compose); "
            "the compose-spec parser test still checks the file"
        )
    proc = subprocess.run(
        [binary, "-f", str(COMPOSE), "config"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": os.environ.get("PATH", ""), **(env or {})},
    )
    assert proc.returncode == 0, proc.stderr
    return yaml.safe_load(proc.stdout)


def test_docker_compose_config_accepts_the_file() -> None:
    config = docker_compose_config()
    assert set(config["services"]) == {"kafka", "postgres", "prometheus", *APP_SERVICES}
    for name in APP_SERVICES:
        assert config["services"][name]["environment"]["SWITCHBOARD_ENV"] == "development"


def test_docker_compose_config_passes_shell_values_through() -> None:
    config = docker_compose_config(
        {
            "SWITCHBOARD_ENV": "production",
            "ROUTER_ADMIN_TOKEN": "admin-from-the-shell",
            "NOTIFIER_SIGNING_KEY": "from-the-shell",
        }
    )
    services = config["services"]
    assert {services[n]["environment"]["SWITCHBOARD_ENV"] for n in APP_SERVICES} == {"production"}
    assert services["router"]["environment"]["ROUTER_ADMIN_TOKEN"] == "admin-from-the-shell"
    assert services["notifier"]["environment"]["NOTIFIER_SIGNING_KEY"] == "from-the-shell"


async def _topic_names(bootstrap: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


@pytest.mark.kafka
async def test_compose_topics_job_creates_exactly_the_registry(kafka_bootstrap: str) -> None:
    job = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]["topics"]
    namespace = f"compose-{uuid.uuid4().hex[:8]}."
    env = {k: str(v) for k, v in job["environment"].items() if v is not None and "${" not in str(v)}
    env |= {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "KAFKA_TOPIC_NAMESPACE": namespace,
        "PATH": os.environ.get("PATH", ""),
    }
    command = [
        sys.executable if job["command"][0] == "python" else job["command"][0],
        *job["command"][1:],
    ]
    proc = await asyncio.to_thread(
        subprocess.run, command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    created = {
        t.removeprefix(namespace)
        for t in await _topic_names(kafka_bootstrap)
        if t.startswith(namespace)
    }
    assert created == set(registry_from_file())
