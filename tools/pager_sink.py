"""A local on-call endpoint for ``make run`` and the end-to-end tests: receives the
notifier's pages over HTTP, verifies their signature and keeps them (deduplicated on
``webhook-id``, as a real receiver would)."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import FastAPI, Request, Response
from standardwebhooks import Webhook

from services.notifier.delivery import webhook_secret


@dataclass
class PagerSink:
    signing_key: str
    pages: dict[str, dict] = field(default_factory=dict)
    rejected: int = 0
    deliveries: int = 0
    fail_next: int = 0  # tests: answer 503 this many times

    def app(self) -> FastAPI:
        app = FastAPI(title="pager sink")
        verifier = Webhook(webhook_secret(self.signing_key))

        @app.post("/pages")
        async def receive(request: Request) -> Response:
            body = await request.body()
            self.deliveries += 1
            if self.fail_next > 0:
                self.fail_next -= 1
                return Response(status_code=503)
            try:
                payload = verifier.verify(body, dict(request.headers))
            except Exception:  # noqa: BLE001 - any verification failure is a rejection
                self.rejected += 1
                return Response(status_code=401)
            self.pages[request.headers["webhook-id"]] = payload
            return Response(status_code=204)

        return app
