"""The console in a real browser: Debian's Chromium driven by Playwright (no browser download),
against the five services as real processes on the real broker (one stack for the module).

Signed in, a replayed message shows up in the flow and its routed item in its queue with a
running SLA clock; a dropped message corrected from the triage page is stored by the router;
an on-call page is acknowledged from the page; an agent gets 403 on the admin page; a forged
CSRF token is refused. Each main page passes our accessibility checks (console_a11y) and is
saved as a screenshot under var/artifacts/console/."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import uuid

import httpx
import pytest
import pytest_asyncio

from services.router.settings import DEV_ROUTER_ADMIN_TOKEN
from shared.settings import ROOT
from tests.e2e import console_a11y
from tools import replay
from tools.stack import LocalStack, StackConfig

playwright_api = pytest.importorskip("playwright.async_api")

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "var" / "artifacts" / "console"
ADMIN = DEV_ROUTER_ADMIN_TOKEN
RUN = uuid.uuid4().hex[:6]
FAST_GROUPS = {
    f"{s}_{k}": v
    for s in ("CLASSIFIER", "ROUTER", "NOTIFIER")
    for k, v in (("SESSION_TIMEOUT_MS", "6000"), ("HEARTBEAT_INTERVAL_MS", "1000"))
}


NO_SIDEWAYS_SCROLL = "() => document.scrollingElement.scrollWidth <= window.innerWidth + 1"


def _closed_now() -> str:
    """Office hours on another weekday only: the office is closed now, so urgent items page."""
    other = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).strftime("%a").lower()
    return f'{{"{other}": "09:00-17:00"}}'


def message(text: str, n: int, channel: str = "direct_message", platform: str = "generic") -> dict:
    return {
        "platform": platform,
        "channel_kind": channel,
        "account_id": "acme",
        "conversation_id": f"c-{RUN}-{n}",
        "message_id": f"m-{RUN}-{n}",
        "author": {"id": f"customer-{n}", "display_name": f"Customer {n}"},
        "text": text,
        "created_at": dt.datetime.now(dt.UTC).isoformat(),
    }


def key_of(m: dict) -> str:
    return f"{m['platform']}:{m['account_id']}:{m['message_id']}"


@pytest_asyncio.fixture(scope="module")
async def stack(kafka_bootstrap, tmp_path_factory):
    if not os.path.exists(CHROMIUM):
        pytest.skip("Chromium is not installed (make browser installs it)")
    config = StackConfig(
        var_dir=tmp_path_factory.mktemp("console-stack"),
        bootstrap=kafka_bootstrap,
        namespace=f"c{uuid.uuid4().hex[:8]}.",
        preferred_ports=False,
        extra_env={
            **FAST_GROUPS,
            "LOG_LEVEL": "WARNING",
            "NOTIFIER_OFFICE_HOURS": _closed_now(),
            "NOTIFIER_PAGE_MIN_URGENCY": "normal",
            "NOTIFIER_SCHEDULER_INTERVAL_S": "0.5",
        },
    )
    async with LocalStack(config) as running:
        yield running


@pytest_asyncio.fixture(scope="module")
async def browser(stack):
    async with playwright_api.async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        await chromium.close()


async def signed_in(browser, stack, token: str):
    """A fresh browser context (its own cookies) signed in through the form with ``token``."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    await page.goto(stack.url("console", "/signin"))
    await page.fill("#token", token)
    async with page.expect_navigation():
        await page.click("main button[type=submit]")
    return context, page


async def until(check, timeout: float, what: str):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.5)


async def api(stack, service: str, path: str, **params):
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.get(
            stack.url(service, path), params=params, headers={"Authorization": f"Bearer {ADMIN}"}
        )
        answer.raise_for_status()
        return answer.json()


async def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)


async def check_a11y(page, name: str) -> None:
    found = await console_a11y.problems(page)
    assert not [p for p in found if p.startswith("serious")], f"{name}: {found}"


async def test_replayed_message_reaches_flow_and_queue_with_running_clock(stack, browser):
    context, page = await signed_in(browser, stack, ADMIN)
    try:
        assert page.url.endswith("/flow")
        cookie = next(c for c in await context.cookies() if c["name"] == "sb_console")
        assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict"
        before = int(await page.inner_text('[data-total="reply"]'))
        m = message(f"Hello, my order {RUN} never arrived. Can you help me please?", 1)
        assert (await replay.replay(stack.webhook_url, stack.config.webhook_secret, [m])).get(
            "accepted"
        ) == 1
        # the page's own script refreshes the live region every 5 s: no reload here
        await page.wait_for_function(
            f"() => parseInt(document.querySelector('[data-total=\"reply\"]').textContent) > {before}",
            timeout=90_000,
        )
        await check_a11y(page, "flow")
        await shot(page, "flow")

        async def routed_queue():
            for queue in await api(stack, "router", "/v1/queues"):
                items = await api(stack, "router", f"/v1/queues/{queue}/items")
                if any(i["message_key"] == key_of(m) for i in items):
                    return queue
            return None

        queue = await until(routed_queue, 60, "the routed item")
        await page.goto(stack.url("console", f"/queues/{queue}"))
        item = page.locator("li.item", has_text=f"my order {RUN} never arrived")
        clock = item.locator(".sla")
        first = await clock.inner_text()
        await page.wait_for_function(
            "([el, was]) => el.textContent !== was",
            arg=[await clock.element_handle(), first],
            timeout=10_000,
        )
        assert await clock.get_attribute("class") != "sla"  # coloured by time left
        await check_a11y(page, "queue")
        await shot(page, "queue")
        order = await console_a11y.focus_order(page, stops=6)
        assert order[0]["text"] == "Skip to content"
        assert all(stop and stop["visible"] and stop["outline"] for stop in order), order
        await page.set_viewport_size({"width": 390, "height": 844})  # a phone
        for path, name in ((f"/queues/{queue}", "queue-phone"), ("/flow", "flow-phone")):
            await page.goto(stack.url("console", path))
            assert await page.evaluate(NO_SIDEWAYS_SCROLL), f"{path} scrolls sideways on a phone"
            await shot(page, name)
        await page.set_viewport_size({"width": 1280, "height": 900})
        await page.goto(stack.url("console", "/queues"))
        await check_a11y(page, "queues")
        await shot(page, "queues")
    finally:
        await context.close()


async def test_dropped_message_is_corrected_from_the_triage_page(stack, browser):
    spam = message(
        "WIN A FREE iPhone!!! Click http://free-prizes.example/win now, limited offer, "
        "subscribe to my channel for free gift cards http://bit.ly/xyz",
        2,
        channel="public_comment",
        platform="youtube",
    )
    await replay.replay(stack.webhook_url, stack.config.webhook_secret, [spam])

    async def triaged():
        rows = (await api(stack, "router", "/v1/triage", limit=200))["items"]
        return next((r for r in rows if r["message_key"] == key_of(spam)), None)

    row = await until(triaged, 60, "the spam message in triage")
    context, page = await signed_in(browser, stack, ADMIN)
    try:
        await page.goto(stack.url("console", f"/triage?decision={row['decision']}"))
        entry = page.locator(f'li[data-key="{key_of(spam)}"]')
        await entry.get_by_text(row["reason"][:40]).first.wait_for()
        await check_a11y(page, "triage")
        await shot(page, "triage")
        async with page.expect_navigation():
            await entry.get_by_role("button", name="Needed a reply").click()
        assert "Correction stored: reply" in await page.inner_text(".flash")
        stored = await triaged()
        assert stored["correction"]["decision"] == "reply"
        assert stored["correction"]["by"] == "admin"
    finally:
        await context.close()


async def test_page_is_acknowledged_from_the_oncall_page(stack, browser):
    urgent = message(
        f"URGENT: your outage {RUN} has cut off our whole office since this morning, "
        "nothing works, we are losing money every hour!",
        3,
    )
    await replay.replay(stack.webhook_url, stack.config.webhook_secret, [urgent])

    async def triggered():
        rows = await api(stack, "notifier", "/v1/incidents")
        return next((i for i in rows if i["status"] == "triggered"), None)

    incident = await until(triggered, 90, "a page")
    context, page = await signed_in(browser, stack, ADMIN)
    try:
        await page.goto(stack.url("console", "/oncall"))
        await check_a11y(page, "oncall")
        await shot(page, "oncall")
        entry = page.locator(f'li[data-incident="{incident["id"]}"]')
        async with page.expect_navigation():
            await entry.get_by_role("button", name="Acknowledge").click()
        assert f"Acknowledged: {incident['id']}" in await page.inner_text(".flash")
        after = await api(stack, "notifier", f"/v1/incidents/{incident['id']}")
        assert after["status"] == "acknowledged" and after["acked_by"] == "admin"
        for path, name in (("/kpis", "kpis"), ("/tester", "tester"), ("/admin", "admin")):
            await page.goto(stack.url("console", path))
            await check_a11y(page, name)
            await shot(page, name)
    finally:
        await context.close()


async def test_agent_gets_403_on_admin_and_forged_csrf_is_refused(stack, browser):
    async with httpx.AsyncClient(timeout=10) as client:
        issued = await client.post(
            stack.url("router", "/v1/admin/tokens"),
            json={"subject": "emma", "role": "agent", "team": "care-en"},
            headers={"Authorization": f"Bearer {ADMIN}"},
        )
    context, page = await signed_in(browser, stack, issued.json()["token"])
    try:
        assert "emma · agent · care-en" in await page.inner_text("header")
        assert "Admin" not in await page.inner_text("nav")
        answer = await page.goto(stack.url("console", "/admin"))
        assert answer.status == 403
        assert "needs the admin role" in await page.inner_text("main")
        await page.goto(stack.url("console", "/tester"))
        await page.fill("#t-text", "Where is my parcel? It is a week late.")
        await page.eval_on_selector(
            "main input[name=csrf]", "el => { el.value = 'forged' + el.value; }"
        )
        async with page.expect_navigation() as refused:
            await page.click("main form button[type=submit]")
        assert (await refused.value).status == 403
        assert "CSRF" in await page.inner_text("main")
        # the genuine token works: the classifier answers
        await page.goto(stack.url("console", "/tester"))
        await page.fill("#t-text", "Where is my parcel? It is a week late.")
        async with page.expect_navigation():
            await page.click("main form button[type=submit]")
        assert "Decision:" in await page.inner_text("#result")
        # beside it, what the shadow rule set would change (none loaded in this stack)
        assert "No shadow rules are loaded" in await page.inner_text("#shadow")
    finally:
        await context.close()
