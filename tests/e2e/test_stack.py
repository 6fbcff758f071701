"""End to end through the four services as real processes on the real broker: a consumer
killed mid-stream (SIGKILL, no chance to commit) and restarted loses nothing, and SIGTERM
stops every service cleanly."""

import asyncio
import signal
import uuid
from datetime import UTC, datetime

import httpx
import pytest

from shared import topics
from tests.kafkautil import collect, decoded
from tools import replay
from tools.stack import LocalStack, StackConfig

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]
FAST_GROUPS = {
    f"{s}_{k}": v
    for s in ("CLASSIFIER", "ROUTER", "NOTIFIER")
    for k, v in (("SESSION_TIMEOUT_MS", "6000"), ("HEARTBEAT_INTERVAL_MS", "1000"))
}


def reply_needed(n: int) -> list[dict]:
    run = uuid.uuid4().hex[:6]
    now = datetime.now(UTC).isoformat()
    return [
        {
            "platform": "generic",
            "channel_kind": "direct_message",
            "account_id": "acme",
            "conversation_id": f"c-{run}-{i % 7}",
            "message_id": f"m-{run}-{i}",
            "author": {"id": f"u{i}"},
            "text": f"Hello, my order {i} never arrived. Can you help me?",
            # posted just now: the SLA clock starts at the post time, and an old post would be
            # breached on arrival (SLA pages on top of the ones this test counts)
            "created_at": now,
        }
        for i in range(n)
    ]


@pytest.fixture
async def stack(kafka_bootstrap, tmp_path):
    config = StackConfig(
        var_dir=tmp_path,
        bootstrap=kafka_bootstrap,
        namespace=f"s{uuid.uuid4().hex[:8]}.",
        preferred_ports=False,
        extra_env={
            **FAST_GROUPS,
            "NOTIFIER_OFFICE_HOURS": "{}",
            "LOG_LEVEL": "WARNING",
            # these DMs are of normal urgency: page them too (default: urgent only)
            "NOTIFIER_PAGE_MIN_URGENCY": "normal",
            "NOTIFIER_SCHEDULER_INTERVAL_S": "0.2",
        },
    )
    async with LocalStack(config) as running:
        yield running


async def notifier_counts(stack, until_items: int, timeout: float = 60.0) -> dict:
    """The notifier's counters once it has taken in ``until_items`` items (or at the timeout):
    the routed topic being complete does not mean the notifier has consumed all of it yet."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with httpx.AsyncClient() as client:
        while True:
            counts = (await client.get(stack.url("notifier", "/v1/pages/count"))).json()
            if counts.get("items", 0) >= until_items or loop.time() > deadline:
                return counts
            await asyncio.sleep(0.25)


async def test_killed_consumers_lose_nothing_and_services_stop_cleanly(stack):
    messages = reply_needed(300)
    sending = asyncio.create_task(
        replay.replay(
            stack.webhook_url, stack.config.webhook_secret, messages, concurrency=4, rate_per_s=60
        )
    )
    await asyncio.sleep(1.5)
    assert await stack.stop_service("classifier", signal.SIGKILL) == -signal.SIGKILL
    await stack.start_service("classifier")
    await asyncio.sleep(1.5)
    assert await stack.stop_service("router", signal.SIGKILL) == -signal.SIGKILL
    await stack.start_service("router")
    outcomes = await sending
    assert outcomes == {"accepted": len(messages)}

    ns = stack.config.namespace
    routed = decoded(
        await collect(
            stack.bootstrap, topics.qualified(topics.ROUTED, ns), len(messages), timeout=120
        )
    )
    assert {e.data.message.platform_message_id for e in routed} == {
        m["message_id"] for m in messages
    }
    # one incident (one page) per conversation; every item reached the notifier exactly once
    conversations = {f"generic:acme:{m['conversation_id']}" for m in messages}
    pages = decoded(
        await collect(
            stack.bootstrap,
            topics.qualified(topics.PAGES, ns),
            len(conversations),
            timeout=60,
            settle=1.0,
        )
    )
    assert sorted(p.data.incident_key for p in pages) == sorted(conversations)
    assert len(stack.sink.pages) == len(conversations)
    assert stack.sink.deliveries == len(conversations), (
        "a redelivered routed event never pages twice"
    )
    counts = await notifier_counts(stack, until_items=len(messages))
    assert counts == {"sent": len(conversations), "items": len(messages)}

    codes = await stack.stop()
    assert codes == {"console": 0, "notifier": 0, "router": 0, "classifier": 0, "ingestor": 0}
