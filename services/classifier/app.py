"""Composition root of the classifier: models, the consumer stage, and the HTTP app.

``build(settings)`` loads models and rules once (raising if anything is missing or invalid)
and returns the FastAPI app and the ``ClassifierService`` (runners over the raw and the
corrections topics); nothing runs
until ``shared.service.serve`` starts them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from prometheus_client import Counter

from services.classifier.feedback import CorrectionStage, CorrectionStore
from services.classifier.runtime import ClassifierRuntime, Outcome
from services.classifier.serving.bundle import Models, load_models
from services.classifier.serving.reload import Reloader, fingerprint
from services.classifier.settings import ClassifierSettings
from services.classifier.stage import classify
from shared import db, topics
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
from shared.runner import BatchResult, ConsumerRunner, Output, RecordMeta, RunnerFailed
from shared.service import ops_router

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

    def close(self) -> None:
        """Release the runtime's database connections (shared detectors)."""
        self.runtime.close()

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


@api.get("/models", summary="Versions of the loaded spam model, task models, rule sets and detector")
async def describe_models(request: Request, models: ModelsDep) -> dict:
    """What serves now; ``reload``: when it was loaded and the last reload error (see reload.py)."""
    status = getattr(request.app.state, "reload", None)
    return models.describe() | ({"reload": status.describe()} if status is not None else {})


@api.get("/taxonomy", summary="The contact reasons and labels classifications use (rules/taxonomy.yaml)")
async def describe_taxonomy(models: ModelsDep) -> dict:
    """For helpdesks and reports: every contact reason with its description, the other labels
    rules may set, and the stage's built-in labels. ``declared: false``: no taxonomy file (open)."""
    return models.taxonomy.describe()


CORRECTIONS_GROUP_SUFFIX = "-corrections"  # tools/deploy_gen.GROUP_SUFFIX


CORRECTIONS_FAILED = Counter("switchboard_classifier_corrections_runner_failures_total",
                             "Times the corrections consumer gave up (database or broker) and was restarted")


class ClassifierService:
    """The classifier's two consumers: raw messages → classified (the settings' consumer group),
    and corrections → stored labelled examples (its own group, ``<group>-corrections``).

    The corrections runner never holds up classification: when it gives up (its retries
    exhausted, e.g. the database is down) it is logged, counted and started again after a
    backoff, uncommitted corrections are re-read then; only the classifying runner's failure
    ends ``run`` with ``RunnerFailed`` (with ``signals_store="database"``, the default,
    classifying needs the database too: campaign and spike state live there). ``state``,
    ``live`` and ``ready`` are the classifying runner's; ``corrections`` is the current
    corrections runner."""

    RESTART_BACKOFF_S = (1.0, 60.0)

    def __init__(self, settings: ClassifierSettings, stage: ClassifierStage, engine=None,
                 reloader: Reloader | None = None) -> None:
        self.engine = engine if engine is not None else db.engine(settings.database_url)
        self.stage = stage
        self.reloader = reloader
        self.classify = ConsumerRunner(settings, SERVICE, topics.RAW, stage)
        self._corrections_settings = settings.model_copy(
            update={"consumer_group": settings.consumer_group + CORRECTIONS_GROUP_SUFFIX})
        self.corrections = self._corrections_runner()
        self._stopping = asyncio.Event()

    def _corrections_runner(self) -> ConsumerRunner:
        return ConsumerRunner(self._corrections_settings, SERVICE, topics.CORRECTIONS,
                              CorrectionStage(CorrectionStore(db.sessions(self.engine))))

    @property
    def runners(self) -> list[ConsumerRunner]:
        return [self.classify, self.corrections]

    @property
    def state(self):
        return self.classify.state

    @property
    def live(self) -> bool:
        return self.classify.live

    @property
    def ready(self) -> bool:
        return self.classify.ready

    def stop(self) -> None:
        self._stopping.set()
        for runner in self.runners:
            runner.stop()

    async def run(self) -> None:
        corrections = asyncio.create_task(self._run_corrections(), name=f"{SERVICE}:corrections")
        reloading = asyncio.create_task(self.reloader.run(self._stopping), name=f"{SERVICE}:reload") \
            if self.reloader is not None else None
        try:
            await self.classify.run()
        finally:
            self.stop()
            await asyncio.gather(corrections, *([reloading] if reloading else []), return_exceptions=True)
            await self.engine.dispose()
            if isinstance(self.stage, ClassifierStage):
                self.stage.close()

    async def _run_corrections(self) -> None:
        delay, most = self.RESTART_BACKOFF_S
        while not self._stopping.is_set():
            try:
                await self.corrections.run()
                return
            except RunnerFailed as exc:
                CORRECTIONS_FAILED.inc()
                log.error("classifier.corrections_failed", error=str(exc), restart_in_s=delay)
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=delay)
                return
            except TimeoutError:
                delay = min(delay * 2, most)
                self.corrections = self._corrections_runner()


def build(settings: ClassifierSettings) -> tuple[FastAPI, ClassifierService]:
    """Load models once and wire the app and runners. Raises if models or rules are invalid."""
    loaded = fingerprint(settings)  # before loading: a change made meanwhile is picked up by the first look
    models = load_models(settings)
    log.info("classifier.models_loaded", **models.describe())
    runtime = ClassifierRuntime.from_settings(models, settings)
    app = FastAPI(title="Switchboard classifier", version="1")
    app.state.models = models

    def swap(new: Models) -> None:
        """Between two batches: the runtime reads ``models`` once per batch; the API per request."""
        runtime.models = new
        app.state.models = new

    reloader = Reloader(settings, models, swap, loaded_fingerprint=loaded)
    app.state.reload = reloader.status
    runner = ClassifierService(settings, make_stage(models, runtime), reloader=reloader)
    app.include_router(ops_router(lambda: runner.live, lambda: runner.ready))
    app.include_router(api)
    return app, runner
