"""Composition root of the classifier: models, the consumer stage, and the HTTP app.

``build(settings)`` loads models and rules once (raising if anything is missing or invalid)
and returns the FastAPI app and the ``ConsumerRunner`` over the raw topic; nothing runs
until ``shared.service.serve`` starts them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from prometheus_client import Counter

from services.classifier.bundle import Models, load_models
from services.classifier.runtime import ClassifierRuntime, Outcome
from services.classifier.stage import classify
from shared import topics
from shared.codec import PoisonMessage
from shared.events import (
    CanonicalMessage,
    Classification,
    Classified,
    Envelope,
    IssueSpike,
    MessageClassified,
    MessageReceived,
    WidespreadIssueDetected,
    derived_id,
    utcnow,
)
from shared.logging import get_logger
from shared.runner import BatchResult, ConsumerRunner, Output, RecordMeta
from shared.service import ops_router
from shared.settings import ClassifierSettings

SERVICE = "classifier"
SOURCE = "switchboard/classifier"
log = get_logger(__name__)


SHADOW_CHANGES = Counter("switchboard_classifier_shadow_changes_total",
                         "Messages on which the shadow rule set would decide differently", ["field"])
SPIKES = Counter("switchboard_classifier_spikes_total", "Widespread-issue events raised", ["key"])


class ClassifierStage:
    """The runner stage: ``MessageReceived`` → one ``MessageClassified`` on CLASSIFIED, plus a
    ``WidespreadIssueDetected`` on SPIKED when a message completes a volume spike.

    ``stage_batch`` (used by the runner) classifies all events of a poll together in a worker
    thread (``asyncio.to_thread``), so polling, heartbeats and acks keep running meanwhile;
    any other event type is answered with a ``PoisonMessage`` (dead-lettered). Output ids
    are derived from the input (and spike) identity, so a replay yields the same ids."""

    def __init__(self, runtime: ClassifierRuntime) -> None:
        self.runtime = runtime

    async def __call__(self, event: Envelope, meta: RecordMeta) -> Sequence[Output]:
        [answer] = await self.stage_batch([(event, meta)])
        if isinstance(answer, PoisonMessage):
            raise answer
        return answer

    async def stage_batch(self, items: Sequence[tuple[Envelope, RecordMeta]]) -> list[BatchResult]:
        accepted = [event for event, _ in items if isinstance(event, MessageReceived)]
        outcomes = iter(await asyncio.to_thread(self.runtime.process, [e.data for e in accepted]) if accepted else ())
        answers: list[BatchResult] = []
        for event, _ in items:
            if not isinstance(event, MessageReceived):
                answers.append(PoisonMessage(f"{SERVICE} accepts {MessageReceived.TYPE} only, got {event.event_type}"))
                continue
            answers.append(_outputs(event, next(outcomes)))
        return answers


def make_stage(models: Models, runtime: ClassifierRuntime | None = None) -> ClassifierStage:
    """A stage over ``models`` (with default detectors unless ``runtime`` is given)."""
    return ClassifierStage(runtime or ClassifierRuntime(models))


def _outputs(event: MessageReceived, outcome: Outcome) -> list[Output]:
    classified = MessageClassified(
        id=derived_id(event.id, SERVICE), source=SOURCE, time=utcnow(),
        correlation_id=event.correlation_id, subject=event.subject,
        data=Classified(message=event.data, classification=outcome.classification),
    )
    if outcome.shadow_changes:
        _log_shadow(event, outcome)
    return [Output(topics.CLASSIFIED, classified), *(_spike_output(event, spike) for spike in outcome.spikes)]


def _spike_output(event: MessageReceived, spike: IssueSpike) -> Output:
    SPIKES.labels(spike.key).inc()
    log.warning("classifier.spike", account_id=spike.account_id, key=spike.key, count=spike.count,
                expected=spike.expected, threshold=spike.threshold)
    identity = f"{spike.account_id}:{spike.key}:{spike.window_start.isoformat()}"
    return Output(topics.SPIKED, WidespreadIssueDetected(
        id=derived_id(identity, "classifier:spike"), source=SOURCE, time=utcnow(),
        correlation_id=event.correlation_id, subject=f"{spike.account_id}:{spike.key}", data=spike))


def _log_shadow(event: MessageReceived, outcome: Outcome) -> None:
    """Log what the shadow rules would change (ids and decisions only, never the text)."""
    changes = outcome.shadow_changes or {}
    for name in changes:
        SHADOW_CHANGES.labels(name).inc()
    log.info("classifier.shadow_diff", event_id=event.id, message_key=event.data.message_key,
             changes={k: [str(v) for v in pair] for k, pair in changes.items()},
             shadow_rule_ids=list(outcome.shadow.explanation.rule_ids) if outcome.shadow else [])


def _models(request: Request) -> Models:
    return request.app.state.models


ModelsDep = Annotated[Models, Depends(_models)]
api = APIRouter(prefix="/v1", tags=["classifier"])


@api.post("/classify", summary="Classify one canonical message (no Kafka involved)")
async def classify_one(message: CanonicalMessage, models: ModelsDep) -> Classification:
    """Stateless: no campaign or spike detection (those need the stream). Runs in a thread."""
    return await asyncio.to_thread(classify, message, models)


@api.get("/models", summary="Versions of the loaded spam model, rule sets and detector")
async def describe_models(models: ModelsDep) -> dict:
    return models.describe()


def build(settings: ClassifierSettings) -> tuple[FastAPI, ConsumerRunner]:
    """Load models once and wire the app and runner. Raises if models or rules are invalid."""
    models = load_models(settings)
    log.info("classifier.models_loaded", **models.describe())
    runner = ConsumerRunner(settings, SERVICE, topics.RAW,
                            make_stage(models, ClassifierRuntime.from_settings(models, settings)))
    app = FastAPI(title="Switchboard classifier", version="1")
    app.state.models = models
    app.include_router(ops_router(lambda: runner.live, lambda: runner.ready))
    app.include_router(api)
    return app, runner
