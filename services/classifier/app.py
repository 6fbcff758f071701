"""Composition root of the classifier: models, the consumer stage, and the HTTP app.

``build(settings)`` loads models and rules once (raising if anything is missing or invalid)
and returns the FastAPI app and the ``ConsumerRunner`` over the raw topic; nothing runs
until ``shared.service.serve`` starts them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request

from services.classifier.bundle import Models, load_models
from services.classifier.stage import classify
from shared import topics
from shared.codec import PoisonMessage
from shared.events import (
    CanonicalMessage,
    Classification,
    Classified,
    Envelope,
    MessageClassified,
    MessageReceived,
    derived_id,
    utcnow,
)
from shared.logging import get_logger
from shared.runner import ConsumerRunner, Output, RecordMeta, Stage
from shared.service import ops_router
from shared.settings import ClassifierSettings

SERVICE = "classifier"
SOURCE = "switchboard/classifier"
log = get_logger(__name__)


def make_stage(models: Models) -> Stage:
    """The runner stage: ``MessageReceived`` → one ``MessageClassified`` on CLASSIFIED.

    Any other event type raises ``PoisonMessage`` (dead-lettered by the runner). The output
    id is derived from the input id, so a replay produces the same event id downstream.
    Classification takes a few milliseconds of CPU and runs inline on the loop."""

    async def stage(event: Envelope, meta: RecordMeta) -> Sequence[Output]:
        if not isinstance(event, MessageReceived):
            raise PoisonMessage(f"{SERVICE} accepts {MessageReceived.TYPE} only, got {event.event_type}")
        classified = MessageClassified(
            id=derived_id(event.id, SERVICE), source=SOURCE, time=utcnow(),
            correlation_id=event.correlation_id, subject=event.subject,
            data=Classified(message=event.data, classification=classify(event.data, models)),
        )
        return [Output(topics.CLASSIFIED, classified)]

    return stage


def _models(request: Request) -> Models:
    return request.app.state.models


ModelsDep = Annotated[Models, Depends(_models)]
api = APIRouter(prefix="/v1", tags=["classifier"])


@api.post("/classify", summary="Classify one canonical message (no Kafka involved)")
async def classify_one(message: CanonicalMessage, models: ModelsDep) -> Classification:
    return classify(message, models)


@api.get("/models", summary="Versions of the loaded spam model, rule sets and detector")
async def describe_models(models: ModelsDep) -> dict:
    return models.describe()


def build(settings: ClassifierSettings) -> tuple[FastAPI, ConsumerRunner]:
    """Load models once and wire the app and runner. Raises if models or rules are invalid."""
    models = load_models(settings)
    log.info("classifier.models_loaded", **models.describe())
    runner = ConsumerRunner(settings, SERVICE, topics.RAW, make_stage(models))
    app = FastAPI(title="Switchboard classifier", version="1")
    app.state.models = models
    app.include_router(ops_router(lambda: runner.live, lambda: runner.ready))
    app.include_router(api)
    return app, runner
