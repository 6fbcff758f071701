"""The notifier service: routed items in, pages out when the office is closed."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import FastAPI

from services.notifier.delivery import HttpPager
from services.notifier.planner import page_of, plan_page
from services.notifier.store import PageLedger
from shared import db, topics
from shared.calendar import OfficeHours
from shared.codec import PoisonMessage
from shared.events import Envelope, ItemRouted, PageSent, derived_id
from shared.runner import ConsumerRunner, Output, RecordMeta
from shared.service import ops_router
from shared.settings import NotifierSettings

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class NotifierStage:
    hours: OfficeHours
    target: str
    pager: HttpPager
    ledger: PageLedger
    clock: Clock = _utcnow

    async def __call__(self, event: Envelope, meta: RecordMeta) -> list[Output]:
        if not isinstance(event, ItemRouted):
            raise PoisonMessage(f"notifier expects {ItemRouted.TYPE}, got {event.event_type}")
        plan = plan_page(event, self.hours, self.clock(), self.target)
        if plan is None or not await self.ledger.claim(event.id, plan.target, plan.incident_key):
            return []
        page_id = derived_id(event.id, f"notifier:{plan.target}")
        page = page_of(plan, event, self.clock())
        await self.pager.deliver(page, page_id)
        await self.ledger.mark_sent(event.id, plan.target, page.sent_at)
        sent = PageSent(id=page_id, source="switchboard/notifier", time=page.sent_at,
                        correlation_id=event.correlation_id, subject=plan.incident_key, data=page)
        return [Output(topics.PAGES, sent)]


def build(settings: NotifierSettings, clock: Clock = _utcnow) -> tuple[FastAPI, ConsumerRunner]:
    """The notifier's HTTP app and its consumer runner (not started)."""
    engine = db.engine(settings.database_url)
    ledger = PageLedger(db.sessions(engine))
    hours = OfficeHours.parse(settings.timezone, settings.office_hours)
    pager = HttpPager(settings.page_url, settings.signing_key.get_secret_value(), settings.page_timeout_s)
    stage = NotifierStage(hours, settings.page_target, pager, ledger, clock)
    runner = ConsumerRunner(settings, "notifier", topics.ROUTED, stage)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        await pager.close()
        await engine.dispose()

    app = FastAPI(title="Switchboard notifier", version="0.1.0", lifespan=lifespan)
    app.include_router(ops_router(lambda: runner.live, lambda: runner.ready))

    @app.get("/v1/office-hours", tags=["calendar"], summary="Is the office open now?")
    async def office() -> dict:
        now = clock()
        return {"timezone": hours.timezone, "now": now.isoformat(), "open": hours.is_open(now)}

    @app.get("/v1/pages/count", tags=["pages"], summary="Pages delivered so far")
    async def pages_count() -> dict[str, int]:
        return {"sent": await ledger.count_sent()}

    return app, runner
