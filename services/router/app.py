"""The router service: classified messages in, reply-needed items routed to agent queues."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import FastAPI

from services.router.policy import RoutingPolicy, route
from services.router.store import RoutedItems
from shared import db, topics
from shared.codec import PoisonMessage
from shared.events import Envelope, ItemRouted, MessageClassified, Routed, derived_id
from shared.runner import ConsumerRunner, Output, RecordMeta
from shared.service import ops_router
from shared.settings import RouterSettings

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class RouterStage:
    policy: RoutingPolicy
    items: RoutedItems
    clock: Clock = _utcnow

    async def __call__(self, event: Envelope, meta: RecordMeta) -> list[Output]:
        if not isinstance(event, MessageClassified):
            raise PoisonMessage(f"router expects {MessageClassified.TYPE}, got {event.event_type}")
        routing = route(event.data, self.policy, self.clock())
        if routing is None:
            return []
        routed_id = derived_id(event.id, "router")
        item = Routed(message=event.data.message, classification=event.data.classification, routing=routing)
        stored = await self.items.claim(routed_id, item)
        if stored is None:
            return []
        out = ItemRouted(
            id=routed_id, source="switchboard/router", time=self.clock(), correlation_id=event.correlation_id,
            subject=event.subject, data=item.model_copy(update={"routing": stored}),
        )
        key = item.message.message_key
        return [Output(topics.ROUTED, out, on_acked=lambda: self.items.mark_queued(key))]


def policy_from(settings: RouterSettings) -> RoutingPolicy:
    return RoutingPolicy(languages=tuple(settings.languages), sla_minutes=dict(settings.sla_minutes),
                         urgent_sla_minutes=settings.urgent_sla_minutes)


def build(settings: RouterSettings, clock: Clock = _utcnow) -> tuple[FastAPI, ConsumerRunner]:
    """The router's HTTP app and its consumer runner (not started)."""
    engine = db.engine(settings.database_url)
    items = RoutedItems(db.sessions(engine))
    runner = ConsumerRunner(settings, "router", topics.CLASSIFIED, RouterStage(policy_from(settings), items, clock))

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        await engine.dispose()

    app = FastAPI(title="Switchboard router", version="0.1.0", lifespan=lifespan)
    app.include_router(ops_router(lambda: runner.live, lambda: runner.ready))

    @app.get("/v1/queues", tags=["queues"], summary="Routed items per queue")
    async def queues() -> dict[str, int]:
        return await items.count_by_queue()

    return app, runner
