"""The classifier's runner stage and HTTP API, over the shipped models."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from services.classifier.app import build, make_stage
from services.classifier.settings import ClassifierSettings
from shared import topics
from shared.codec import PoisonMessage
from shared.events import (
    Author,
    CanonicalMessage,
    ChannelKind,
    Decision,
    MessageClassified,
    MessageReceived,
    Page,
    PageSent,
    derived_id,
)
from shared.runner import RecordMeta


@pytest.fixture(scope="module")
def built():
    return build(ClassifierSettings())


@pytest.fixture(scope="module")
def models(built):
    return built[0].state.models


def message(text: str) -> CanonicalMessage:
    return CanonicalMessage(
        platform="instagram",
        channel_kind=ChannelKind.PUBLIC_COMMENT,
        source="test",
        account_id="acme",
        conversation_id="c1",
        platform_message_id="m1",
        author=Author(id="u1"),
        text=text,
        created_at=datetime(2025, 1, 6, 10, 0, tzinfo=UTC),
    )


def received(text: str) -> MessageReceived:
    msg = message(text)
    return MessageReceived(
        id="evt-1",
        source="test",
        time=datetime.now(UTC),
        correlation_id="corr-1",
        subject=msg.conversation_key,
        data=msg,
    )


async def test_stage_publishes_one_classified_event_with_a_derived_id(models):
    event = received("Where is my refund?")
    [output] = await make_stage(models)(event, RecordMeta(topics.RAW, 0, 7, None))
    assert output.topic == topics.CLASSIFIED and isinstance(output.event, MessageClassified)
    assert output.event.id == derived_id("evt-1", "classifier")
    assert (output.event.correlation_id, output.event.subject) == ("corr-1", event.subject)
    assert output.event.data.message == event.data
    assert output.event.data.classification.decision == Decision.REPLY


async def test_stage_refuses_other_event_types_as_poison(models):
    page = Page(
        incident_key="k",
        item_event_id="e",
        queue="q",
        target="t",
        summary="s",
        sent_at=datetime.now(UTC),
        message_key="m",
    )
    event = PageSent(id="p1", source="test", time=datetime.now(UTC), correlation_id="c", data=page)
    with pytest.raises(PoisonMessage, match="switchboard.page.sent.v1"):
        await make_stage(models)(event, RecordMeta(topics.RAW, 0, 0, None))


async def test_http_classify_models_and_validation(built):
    transport = httpx.ASGITransport(app=built[0])
    async with httpx.AsyncClient(transport=transport, base_url="http://classifier") as client:
        body = message("Mein Paket ist kaputt, können Sie helfen?").model_dump(mode="json")
        answer = await client.post("/v1/classify", json=body)
        assert answer.status_code == 200
        assert (answer.json()["decision"], answer.json()["language"]) == ("reply", "de")
        assert (
            await client.post("/v1/classify", json={**body, "platform": "myspace"})
        ).status_code == 422
        described = (await client.get("/v1/models")).json()
        assert described["spam"]["version"] == built[0].state.models.spam.card.version
        assert (described["rules"]["de"]["version"], described["rules"]["en"]["version"]) == (
            "de-3",
            "en-3",
        )
        assert (await client.get("/readyz")).status_code == 503  # the runner is not started here
        assert described["reload"]["last_error"] is None and described["reload"]["reloads"] == 0


async def test_a_reload_swaps_the_models_of_the_stream_and_the_api(built):
    import dataclasses

    app, service = built
    before = app.state.models
    changed = dataclasses.replace(before, spam_threshold=0.97)
    service.reloader.apply(changed)
    try:
        assert service.stage.runtime.models is changed  # the next batch uses it
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://classifier") as client:
            assert (await client.get("/v1/models")).json()["spam"]["threshold"] == 0.97
    finally:
        service.reloader.apply(before)
    assert service.stage.runtime.models is before and app.state.models is before
