"""A local on-call endpoint for ``make run`` and the tests: receives the notifier's pages over
HTTP and keeps them, speaking the targets' formats:

* ``POST /pages``: generic signed webhook (Standard Webhooks signature verified, deduplicated on
  ``webhook-id`` as a real receiver would);
* ``POST /v2/enqueue``: PagerDuty Events API v2 (shape checked: trigger needs ``payload``,
  acknowledge/resolve only ``dedup_key``; 202 ``{"status":"success","dedup_key":…}`` like
  PagerDuty; alerts folded on ``dedup_key`` as PagerDuty does);
* ``POST /hooks/{token}``: Slack / Mattermost incoming-webhook shape (``text`` required).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

from fastapi import FastAPI, Request, Response
from standardwebhooks import Webhook

from services.notifier.delivery import webhook_secret

PD_ACTIONS = {"trigger", "acknowledge", "resolve"}


@dataclass
class PagerSink:
    signing_key: str
    pages: dict[str, dict] = field(default_factory=dict)
    rejected: int = 0
    deliveries: int = 0
    fail_next: int = 0  # tests: answer 503 this many times
    pagerduty: dict[str, list[dict]] = field(default_factory=dict)  # dedup_key -> events
    chat: list[dict] = field(default_factory=list)
    # tests: while set and not released, PagerDuty triggers wait (a slow provider)
    hold_triggers: asyncio.Event | None = None

    def _failing(self) -> bool:
        self.deliveries += 1
        if self.fail_next > 0:
            self.fail_next -= 1
            return True
        return False

    def app(self) -> FastAPI:
        app = FastAPI(title="pager sink")
        verifier = Webhook(webhook_secret(self.signing_key))

        @app.post("/pages")
        async def receive(request: Request) -> Response:
            body = await request.body()
            if self._failing():
                return Response(status_code=503)
            try:
                payload = verifier.verify(body, dict(request.headers))
            except Exception:  # noqa: BLE001 - any verification failure is a rejection
                self.rejected += 1
                return Response(status_code=401)
            self.pages[request.headers["webhook-id"]] = payload
            return Response(status_code=204)

        @app.post("/v2/enqueue")
        async def pagerduty(request: Request) -> Response:
            event = await request.json()
            if self._failing():
                return Response(status_code=503)
            if event.get("event_action") == "trigger" and self.hold_triggers is not None:
                await self.hold_triggers.wait()
            # Events API v2: ``payload`` (summary, source, severity) is required on trigger only;
            # acknowledge and resolve carry just the routing key and the alert's dedup_key.
            ok = (
                event.get("routing_key")
                and event.get("event_action") in PD_ACTIONS
                and event.get("dedup_key")
                and (
                    event.get("event_action") != "trigger"
                    or {"summary", "source", "severity"} <= set(event.get("payload", {}))
                )
            )
            if not ok:
                self.rejected += 1
                return Response(
                    status_code=400,
                    content=b'{"status":"invalid event","message":"Event object is invalid"}',
                    media_type="application/json",
                )
            self.pagerduty.setdefault(event["dedup_key"], []).append(event)
            answer = {
                "status": "success",
                "message": "Event processed",
                "dedup_key": event["dedup_key"],
            }
            return Response(
                status_code=202, content=json.dumps(answer).encode(), media_type="application/json"
            )

        @app.post("/hooks/{token}")
        async def chat(token: str, request: Request) -> Response:
            message = await request.json()
            if self._failing():
                return Response(status_code=503)
            if not isinstance(message.get("text"), str):
                self.rejected += 1
                return Response(status_code=400)
            self.chat.append({"token": token, **message})
            return Response(status_code=200, content=b"ok")

        return app
