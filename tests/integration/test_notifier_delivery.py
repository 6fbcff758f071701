"""Delivery through apprise to real local receivers speaking each target's documented format:

* Microsoft Teams through a Power Automate **Workflows** webhook (``workflows://``; the route
  Microsoft replaced Office 365 connectors with): HTTPS with a self-signed certificate, an
  Adaptive Card in a ``message`` envelope, ``sig``/``api-version`` in the query;
* an SMS gateway, **SMSEagle**'s JSON-RPC API (``smseagle://``; ``POST /jsonrpc/sms``,
  ``sms.send_sms``, ``{"result": {"status": "ok"}}``);
* Mattermost's Slack-compatible incoming webhook (``mmost://``, in ``tools/pager_sink.py``);
* apprise's generic ``json://`` (for receivers apprise has no plugin for).

apprise's ``slack://`` always posts to ``https://hooks.slack.com`` and cannot be pointed at a
local server; the Slack incoming-webhook shape is the one Mattermost accepts above.

A target that fails (error answer, 5xx) falls through to the next escalation step at once and is
recorded with its error; the per-person rate limit sends a busy person's page to the next step.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import pytest
import uvicorn
import yaml
from fastapi import FastAPI, Request, Response
from structlog.testing import capture_logs

from shared.service import QuietServer
from tests.integration.test_notifier_paging import (
    SUNDAY_NIGHT,
    Clock,
    notifier,
    oncall_file,
    routed,
    sink,  # noqa: F401 - the sink fixture
)
from tools.devbroker import free_port

pytestmark = pytest.mark.filterwarnings("ignore:Unverified HTTPS request")
SMS_TOKEN = "smseagle-api-token"


class Receivers:
    """SMSEagle JSON-RPC, Teams Workflows and a generic JSON endpoint, keeping what they accepted."""

    def __init__(self) -> None:
        self.sms: list[dict] = []
        self.teams: list[dict] = []
        self.json: list[dict] = []
        self.sms_refuse = False
        self.teams_fail = False

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/jsonrpc/sms")
        async def smseagle(request: Request) -> Response:
            call = await request.json()
            params = call.get("params", {})
            if (
                call.get("method") != "sms.send_sms"
                or not params.get("to")
                or not params.get("message")
            ):
                return Response(status_code=400)
            if self.sms_refuse or params.get("access_token") != SMS_TOKEN:
                answer = {"result": {"error_text": "Invalid login or password", "status": "error"}}
            else:
                self.sms.append(params)
                answer = {"result": {"message_id": len(self.sms), "status": "ok"}}
            return Response(json.dumps(answer), media_type="application/json")

        @app.post("/workflows/{workflow}/triggers/manual/paths/invoke")
        async def teams(workflow: str, request: Request) -> Response:
            message = await request.json()
            query = request.query_params
            if self.teams_fail:
                return Response(status_code=500)
            [card] = message["attachments"]
            if (
                message.get("type") != "message"
                or card["contentType"] != "application/vnd.microsoft.card.adaptive"
                or card["content"]["type"] != "AdaptiveCard"
                or not query.get("sig")
                or not query.get("api-version")
            ):
                return Response(status_code=400)
            self.teams.append({"workflow": workflow, "sig": query["sig"], **card["content"]})
            return Response(status_code=202)

        @app.post("/notify")
        async def generic(request: Request) -> Response:
            self.json.append(await request.json())
            return Response(status_code=200)

        return app


async def serve(app: FastAPI, **ssl) -> tuple[QuietServer, asyncio.Task, int]:
    port = free_port()
    server = QuietServer(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off", **ssl)
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    return server, task, port


@pytest.fixture
async def receivers(tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    found = Receivers()
    plain = await serve(found.app())
    tls = await serve(found.app(), ssl_keyfile=str(key), ssl_certfile=str(cert))
    found.urls = {
        "sms": f"smseagle://{SMS_TOKEN}@127.0.0.1:{plain[2]}/+4915112345678",
        "teams": f"workflows://127.0.0.1:{tls[2]}/wf-oncall/s1gnature?verify=no",
        "json": f"json://127.0.0.1:{plain[2]}/notify",
    }
    yield found
    for server, task, _ in (plain, tls):
        server.should_exit = True
        await task


def setup(
    tmp_path: Path,
    sink_url: str,
    receivers: Receivers,
    clock: Clock,
    alice=("sms", "teams", "chat", "json"),
    max_pages: int = 5,
):
    path = oncall_file(tmp_path, sink_url)
    spec = yaml.safe_load(path.read_text())
    spec["targets"].update(
        {"sms": {"kind": "apprise"}, "teams": {"kind": "apprise"}, "json": {"kind": "apprise"}}
    )
    spec["people"]["alice"] = {"contacts": list(alice), "max_pages_per_hour": max_pages}
    path.write_text(yaml.safe_dump(spec))
    app, paging = notifier(f"sqlite:///{tmp_path / 'n.db'}", path, sink_url, clock)
    paging.deliverer.secrets.update(receivers.urls)
    return app, paging


@pytest.fixture
def db(tmp_path):
    from tools import migrate

    migrate.upgrade(f"sqlite:///{tmp_path / 'n.db'}")


async def test_one_page_reaches_teams_sms_mattermost_and_a_json_hook(tmp_path, sink, receivers, db):
    clock = Clock(SUNDAY_NIGHT)
    _, paging = setup(tmp_path, sink.url, receivers, clock)
    await paging.on_routed(routed(), clock())
    await paging.tick(clock())
    [incident] = await paging.incidents.listing()
    assert {d.target: d.status for d in await paging.incidents.deliveries(incident.id)} == {
        "sms": "sent",
        "teams": "sent",
        "chat": "sent",
        "json": "sent",
    }
    [sms], [card], [chat], [generic] = receivers.sms, receivers.teams, sink.chat, receivers.json
    assert sms["to"] == "+4915112345678" and sms["message"].startswith("[support] [high]")
    assert "/v1/incidents/" in sms["message"] and "ack: http" in sms["message"]
    texts = [block.get("text", "") for block in card["body"]]
    assert card["workflow"] == "wf-oncall" and card["sig"] == "s1gnature"
    assert any(t.startswith("[support] [high]") for t in texts) and any(
        "resolve: http" in t for t in texts
    )
    assert chat["token"] == "hooktoken" and "ack: http" in chat["text"]
    assert generic["title"].startswith("[support] [high]") and "ack: http" in generic["message"]


async def test_failing_sms_and_teams_fall_through_to_the_next_step_at_once(
    tmp_path, sink, receivers, db
):
    clock = Clock(SUNDAY_NIGHT)
    _, paging = setup(tmp_path, sink.url, receivers, clock, alice=("sms", "teams"))
    receivers.sms_refuse, receivers.teams_fail = True, True
    await paging.on_routed(routed(), clock())
    with capture_logs() as logs:
        await paging.tick(clock())
        await paging.tick(clock())  # same instant: no wait after an unreached step
    [incident] = await paging.incidents.listing()
    deliveries = {d.target: d for d in await paging.incidents.deliveries(incident.id)}
    assert deliveries["sms"].status == "failed" and deliveries["teams"].status == "failed"
    assert deliveries["sms"].attempts == 2 and "could not deliver" in deliveries["sms"].error
    assert [p["person"] for p in sink.pages.values()] == ["carol"], "step 2 paged at once"
    assert any(
        e["event"] == "escalation.step_unreached" and e["log_level"] == "error" for e in logs
    )
    assert not receivers.sms and not receivers.teams


async def test_rate_limit_per_person_sends_the_extra_page_to_the_next_step(
    tmp_path, sink, receivers, db
):
    clock = Clock(SUNDAY_NIGHT)
    _, paging = setup(tmp_path, sink.url, receivers, clock, alice=("json",), max_pages=3)
    for i in range(4):  # four conversations: four incidents within the hour
        await paging.on_routed(routed(i, conversation=f"conv-{i}"), clock())
        await paging.tick(clock())
        await paging.tick(clock())
    assert len(receivers.json) == 3, "alice gets at most 3 pages an hour"
    assert [p["person"] for p in sink.pages.values()] == ["carol"], (
        "the fourth went to step 2 at once"
    )
    statuses = [
        d.status
        for r in await paging.incidents.listing()
        for d in await paging.incidents.deliveries(r.id)
        if d.person == "alice"
    ]
    assert sorted(statuses) == ["rate_limited", "sent", "sent", "sent"]
    clock.advance(hours=1, minutes=1)
    await paging.on_routed(routed(9, conversation="conv-later"), clock())
    await paging.tick(clock())
    assert len(receivers.json) == 4, "an hour later alice is paged again"
