"""The console's sessions, CSRF and headers: pure logic, and the app in process (no backend is
reached: every refusal happens before a service is called)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from services.console import security
from services.console.app import create_app
from services.console.sessions import OneTimeCode, SessionStore, User, csrf_ok
from services.console.settings import ConsoleSettings

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
LEAD = User("lena", "lead", "escalations")


def test_session_lives_until_its_absolute_expiry_even_when_used():
    store = SessionStore(ttl_s=3600, idle_s=1800)
    s = store.create("tok", LEAD, T0)
    for minutes in (20, 40, 59):
        assert store.get(s.id, T0 + timedelta(minutes=minutes)) is not None
    assert store.get(s.id, T0 + timedelta(minutes=60)) is None
    assert len(store) == 0


def test_idle_session_ends_and_activity_keeps_it():
    store = SessionStore(ttl_s=8 * 3600, idle_s=600)
    s = store.create("tok", LEAD, T0)
    assert store.get(s.id, T0 + timedelta(seconds=599)) is not None
    assert store.get(s.id, T0 + timedelta(seconds=1198)) is not None  # seen at 599
    assert store.get(s.id, T0 + timedelta(seconds=1800)) is None


def test_sessions_are_distinct_random_and_end_at_signout():
    store = SessionStore(ttl_s=3600, idle_s=600)
    a, b = store.create("tok", LEAD, T0), store.create("tok", LEAD, T0)
    assert a.id != b.id and a.csrf != b.csrf and len(a.id) >= 40
    store.end(a.id)
    assert store.get(a.id, T0) is None and store.get(b.id, T0) is not None
    assert store.get(None, T0) is None and store.get("", T0) is None
    assert "tok" not in repr(a)  # the token never shows in logs of the session


def test_csrf_token_must_match_exactly():
    s = SessionStore(3600, 600).create("tok", LEAD, T0)
    assert csrf_ok(s, s.csrf)
    for wrong in (None, "", s.csrf[:-1], s.csrf + "x", "forged" + s.csrf):
        assert not csrf_ok(s, wrong)


def test_one_time_code_works_once():
    code = OneTimeCode("abc123")
    assert not code.redeem("abc124")
    assert code.redeem("abc123")
    assert not code.redeem("abc123")
    assert not OneTimeCode(None).redeem("anything")


@pytest.mark.parametrize(
    ("host", "origin", "referer", "ok"),
    [
        ("127.0.0.1:8005", "http://127.0.0.1:8005", None, True),
        ("127.0.0.1:8005", None, "http://127.0.0.1:8005/triage?x=1", True),
        ("console.example", "https://evil.example", None, False),
        ("console.example", None, "https://evil.example/console.example", False),
        ("console.example", "null", None, False),
        ("console.example", None, None, True),  # no header: the CSRF token decides
    ],
)
def test_same_origin(host, origin, referer, ok):
    assert security.same_origin(host, origin, referer) is ok


def test_csp_forbids_inline_script_and_framing():
    csp = dict(part.split(" ", 1) for part in security.CSP.split("; "))
    assert csp["script-src"] == "'self'" and "unsafe" not in security.CSP
    assert csp["frame-ancestors"] == "'none'" and csp["default-src"] == "'none'"
    assert security.headers_for("/flow")["Cache-Control"] == "no-store"
    assert "max-age" in security.headers_for("/static/console.css")["Cache-Control"]


def test_one_time_link_settings_are_refused_outside_development():
    with pytest.raises(ValueError, match="development only"):
        ConsoleSettings(environment="production", signin_code="x", signin_token="y")


@pytest.fixture
async def app_client():
    settings = ConsoleSettings(router_url="http://127.0.0.1:9", cookie_secure=False)
    app = create_app(settings)
    console = app.state.console
    session = console.sessions.create("tok", User("emma", "agent", "care-en"), console.clock())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://console.test") as client:
        client.cookies.set(security.COOKIE, session.id)
        yield client, session


async def test_changes_without_the_csrf_token_or_from_elsewhere_are_refused(app_client):
    client, session = app_client
    form = {"csrf": "forged", "text": "hi", "platform": "x", "channel": "mention"}
    refused = await client.post("/tester", data=form)
    assert refused.status_code == 403 and "CSRF" in refused.text
    foreign = await client.post(
        "/signout", data={"csrf": session.csrf}, headers={"Origin": "https://evil.example"}
    )
    assert foreign.status_code == 403
    out = await client.post(
        "/signout", data={"csrf": session.csrf}, headers={"Origin": "http://console.test"}
    )
    assert out.status_code == 303 and out.headers["location"] == "/signin"
    assert (await client.get("/flow")).status_code == 303  # signed out: back to the form


async def test_agent_gets_403_on_admin_pages_before_any_service_is_asked(app_client):
    client, _ = app_client
    for path in ("/admin", "/kpis", "/planning"):
        answer = await client.get(path)
        assert answer.status_code == 403, path
        assert "needs the" in answer.text
        assert answer.headers["content-security-policy"] == security.CSP
        assert answer.headers["x-frame-options"] == "DENY"


async def test_pages_need_a_session_and_signin_sets_a_strict_httponly_cookie(app_client):
    client, _ = app_client
    client.cookies.clear()
    answer = await client.get("/queues/support-en")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/signin?next=/queues/support-en"
    form = await client.get("/signin")
    assert "sb_console_signin" in form.headers["set-cookie"]
    assert "httponly" in form.headers["set-cookie"].lower()
    # a sign-in post without the form's own value is refused (login CSRF)
    client.cookies.clear()
    assert (await client.post("/signin", data={"token": "x", "pre": "y"})).status_code == 403


async def test_a_form_of_another_type_or_too_large_is_refused(app_client):
    client, session = app_client
    as_json = await client.post("/tester", json={"csrf": session.csrf})
    assert as_json.status_code == 415
    big = await client.post("/tester", data={"csrf": session.csrf, "text": "x" * 300_000})
    assert big.status_code == 413
