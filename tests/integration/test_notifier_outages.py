"""The notifier's page records go through its outbox (issue 20) and are never dropped: written in
the transaction that marks the delivery sent, so a database that goes away between the page and
its record leaves the delivery to be made and recorded again (one record, same id), and a broker
that is away leaves the record in the outbox until it answers. Real parts: a private PostgreSQL
server stopped from inside the page receiver, the embedded broker, a closed broker port."""

from __future__ import annotations

import asyncio

import pytest
import uvicorn
from fastapi import FastAPI, Request

from services.notifier.app import build, relay_of
from services.notifier.settings import NotifierSettings
from shared import topics
from shared.service import QuietServer
from tests.integration.test_notifier_paging import SUNDAY_NIGHT, Clock, oncall_file, routed
from tests.integration.test_router_outages import private_pg  # noqa: F401 - a fixture
from tests.kafkautil import collect, decoded
from tools.devbroker import free_port

pytestmark = [pytest.mark.kafka]


class Receiver:
    """A page endpoint that keeps each delivery's ``webhook-id`` and runs ``on_page`` (once)
    before it answers 200."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.on_page = None
        self.url = ""

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/pages")
        async def page(request: Request) -> dict:
            self.ids.append(request.headers["webhook-id"])
            if self.on_page is not None:
                hook, self.on_page = self.on_page, None
                await hook()
            return {"ok": True}

        return app


@pytest.fixture
async def receiver():
    made, port = Receiver(), free_port()
    server = QuietServer(
        uvicorn.Config(made.app(), host="127.0.0.1", port=port, log_config=None, lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    made.url = f"http://127.0.0.1:{port}"
    yield made
    server.should_exit = True
    await task


def settings(url, tmp_path, receiver, bootstrap, ns) -> NotifierSettings:
    return NotifierSettings(
        database_url=url,
        oncall_file=oncall_file(tmp_path, receiver.url),
        page_url=f"{receiver.url}/pages",
        delivery_attempts=1,
        kafka_bootstrap_servers=bootstrap,
        kafka_topic_namespace=ns,
        kafka_request_timeout_ms=2000,
    )


async def test_a_database_outage_between_page_and_record_loses_no_record(
    kafka_bootstrap, topics_ready, private_pg, tmp_path, receiver
):
    pg, ns, clock = private_pg, topics_ready, Clock(SUNDAY_NIGHT)
    _, service = build(settings(pg.url, tmp_path, receiver, kafka_bootstrap, ns), clock=clock)
    paging = service.paging
    await paging.on_routed(routed(), clock())

    async def database_goes_away() -> None:
        await asyncio.to_thread(pg.stop)

    receiver.on_page = database_goes_away  # the page is out; its record cannot be written
    with pytest.raises(Exception):  # noqa: B017 - the driver's error: nothing was swallowed
        await paging.tick(clock())
    assert len(receiver.ids) == 1

    await asyncio.to_thread(pg.start)
    await paging.tick(clock())  # the delivery still reads 'sending': made and recorded again
    assert receiver.ids == [receiver.ids[0]] * 2  # same idempotency key both times
    await paging.tick(clock())
    assert len(receiver.ids) == 2  # recorded sent now: never paged a third time
    try:
        assert await service.relay.drain() == 1
    finally:
        await service.relay.close()
    [record] = decoded(
        await collect(kafka_bootstrap, topics.qualified(topics.PAGES, ns), 1, settle=1.0)
    )
    assert record.id == receiver.ids[0] and record.data.item_event_id == "item-conv-1-0"


async def test_page_records_wait_in_the_outbox_while_the_broker_is_away(
    kafka_bootstrap, topics_ready, sqlite_url, tmp_path, receiver
):
    ns, clock = topics_ready, Clock(SUNDAY_NIGHT)
    away = settings(sqlite_url, tmp_path, receiver, f"127.0.0.1:{free_port()}", ns)
    _, service = build(away, clock=clock)
    await service.paging.on_routed(routed(), clock())
    await service.paging.tick(clock())
    assert len(receiver.ids) == 1  # paged although the broker is away
    try:
        assert await asyncio.wait_for(service.relay.drain(), 60) == 0  # bounded, quiet
        assert await service.relay.pending() == 1  # the record waits, not dropped
    finally:
        await service.relay.close()

    back = away.model_copy(update={"kafka_bootstrap_servers": kafka_bootstrap})
    relay = relay_of(back, service.relay._sessions, clock)  # noqa: SLF001 - same database
    try:
        assert await relay.drain() == 1 and await relay.pending() == 0
    finally:
        await relay.close()
    [record] = decoded(
        await collect(kafka_bootstrap, topics.qualified(topics.PAGES, ns), 1, settle=1.0)
    )
    assert record.id == receiver.ids[0]
