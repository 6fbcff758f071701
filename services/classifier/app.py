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
from services.classifier.stage import classify, classify_batch, shadow_changes
from shared import db, topics
from shared.events import (
    CanonicalMessage,
    Classification,
    Classified,
    IssueSpike,
    MessageClassified,
    MessageReceived,
    WidespreadIssueDetected,
    derived_id,
    utcnow,
)
from shared.logging import get_logger
from shared.probes import Probes
from shared.runner import (
    ConsumerRunner,
    Item,
    MessageFn,
    Output,
    Result,
    Stage,
    refuse_foreign,
)
from shared.service import answer_outages, guard, ops_router
from shared.supervisor import Restart, RunnerSlot, Supervisor, Task

SERVICE = "classifier"
SOURCE = "switchboard/classifier"
log = get_logger(__name__)


SHADOW_CHANGES = Counter(
    "switchboard_classifier_shadow_changes_total",
    "Messages on which the shadow rule set would decide differently",
    ["field"],
)
SPIKES = Counter("switchboard_classifier_spikes_total", "Widespread-issue events raised", ["key"])


class ClassifierStage(Stage):
    """The runner stage: ``MessageReceived`` → one ``MessageClassified`` on CLASSIFIED, plus a
    ``WidespreadIssueDetected`` on SPIKED when a message completes a volume spike.

    ``process_batch`` classifies all events of a poll together in a worker thread
    (``asyncio.to_thread``), so polling, heartbeats and acks keep running meanwhile. The runner
    refuses events the raw topic does not carry; called on its own (the API's and the tests'
    callers), the stage refuses them too, with the runner's check, before they reach the
    worker. Output ids are derived from the input (and spike) identity, so a replay yields the
    same ids."""

    def __init__(self, runtime: ClassifierRuntime) -> None:
        self.runtime = runtime

    def close(self) -> None:
        """Release the runtime's database connections (shared detectors)."""
        self.runtime.close()

    async def process_batch(self, items: Sequence[Item]) -> list[Result]:
        events = [event for event, _ in items]
        refused = [refuse_foreign(event, topics.RAW, SERVICE) for event in events]
        accepted = [event.data for event, poison in zip(events, refused, strict=True) if not poison]
        outcomes = iter(await asyncio.to_thread(self.runtime.process, accepted) if accepted else ())
        return [
            poison or _outputs(event, next(outcomes))
            for event, poison in zip(events, refused, strict=True)
        ]


def make_stage(models: Models, runtime: ClassifierRuntime | None = None) -> ClassifierStage:
    """A stage over ``models`` (with default detectors unless ``runtime`` is given)."""
    return ClassifierStage(runtime or ClassifierRuntime(models))


def _outputs(event: MessageReceived, outcome: Outcome) -> list[Output]:
    classified = MessageClassified(
        id=derived_id(event.id, SERVICE),
        source=SOURCE,
        time=utcnow(),
        correlation_id=event.correlation_id,
        subject=event.subject,
        data=Classified(message=event.data, classification=outcome.classification),
    )
    if outcome.shadow_changes:
        _log_shadow(event, outcome)
    return [
        Output(topics.CLASSIFIED, classified),
        *(_spike_output(event, spike) for spike in outcome.spikes),
    ]


def _spike_output(event: MessageReceived, spike: IssueSpike) -> Output:
    SPIKES.labels(spike.key).inc()
    log.warning(
        "classifier.spike",
        account_id=spike.account_id,
        key=spike.key,
        count=spike.count,
        expected=spike.expected,
        threshold=spike.threshold,
    )
    identity = f"{spike.account_id}:{spike.key}:{spike.window_start.isoformat()}"
    return Output(
        topics.SPIKED,
        WidespreadIssueDetected(
            id=derived_id(identity, "classifier:spike"),
            source=SOURCE,
            time=utcnow(),
            correlation_id=event.correlation_id,
            subject=f"{spike.account_id}:{spike.key}",
            data=spike,
        ),
    )


def _log_shadow(event: MessageReceived, outcome: Outcome) -> None:
    """Log what the shadow rules would change (ids and decisions only, never the text)."""
    changes = outcome.shadow_changes or {}
    for name in changes:
        SHADOW_CHANGES.labels(name).inc()
    log.info(
        "classifier.shadow_diff",
        event_id=event.id,
        message_key=event.data.message_key,
        changes={k: [str(v) for v in pair] for k, pair in changes.items()},
        shadow_rule_ids=list(outcome.shadow.explanation.rule_ids) if outcome.shadow else [],
    )


def _models(request: Request) -> Models:
    return request.app.state.models


ModelsDep = Annotated[Models, Depends(_models)]
api = APIRouter(prefix="/v1", tags=["classifier"])


@api.post("/classify", summary="Classify one canonical message (no Kafka involved)")
async def classify_one(message: CanonicalMessage, models: ModelsDep) -> Classification:
    """Stateless: no campaign or spike detection (those need the stream). Runs in a thread."""
    return await asyncio.to_thread(classify, message, models)


@api.post(
    "/classify/shadow",
    summary="Classify one message with the live rules and with the shadow rule set, and the changes",
)
async def classify_with_shadow(message: CanonicalMessage, models: ModelsDep) -> dict:
    """What the shadow rule set (rules in shadow mode) would decide beside what decides now:
    ``shadow`` is ``null`` when no shadow rules are loaded; ``changes`` lists the fields that
    differ (decision, urgency, tags, review), each as ``[live, shadow]``."""
    verdict = (await asyncio.to_thread(classify_batch, [message], models))[0]
    changes = shadow_changes(verdict) or {}
    return {
        "classification": verdict.classification.model_dump(mode="json"),
        "shadow": verdict.shadow.model_dump(mode="json") if verdict.shadow else None,
        "shadow_rules": bool(models.shadow_rules),
        "changes": {
            name: [_plain(live), _plain(shadow)] for name, (live, shadow) in changes.items()
        },
    }


def _plain(value):
    if isinstance(value, tuple):
        return list(value)
    return getattr(value, "value", value)


@api.get(
    "/models", summary="Versions of the loaded spam model, task models, rule sets and detector"
)
async def describe_models(request: Request, models: ModelsDep) -> dict:
    """What serves now; ``reload``: when it was loaded and the last reload error (see reload.py)."""
    status = getattr(request.app.state, "reload", None)
    return models.describe() | ({"reload": status.describe()} if status is not None else {})


@api.get(
    "/taxonomy", summary="The contact reasons and labels classifications use (rules/taxonomy.yaml)"
)
async def describe_taxonomy(models: ModelsDep) -> dict:
    """For helpdesks and reports: every contact reason with its description, the other labels
    rules may set, and the stage's built-in labels. ``declared: false``: no taxonomy file (open)."""
    return models.taxonomy.describe()


CORRECTIONS_GROUP_SUFFIX = "-corrections"  # tools/deploy_gen.GROUP_SUFFIX


CORRECTIONS_FAILED = Counter(
    "switchboard_classifier_corrections_runner_failures_total",
    "Times the corrections consumer gave up (database or broker) and was restarted",
)


class ClassifierService(Supervisor):
    """The classifier's two consumers: raw messages → classified (the settings' consumer group),
    and corrections → stored labelled examples (its own group, ``<group>-corrections``), plus
    the model reloader; a ``Supervisor`` configured so.

    The corrections runner never holds up classification: when it gives up (its retries
    exhausted, e.g. the database is down) it is logged, counted and started again after a
    backoff (``RESTART_BACKOFF_S``), uncommitted corrections are re-read then; only the
    classifying runner's failure ends ``run`` with ``RunnerFailed`` (with
    ``signals_store="database"``, the default, classifying needs the database too: campaign and
    spike state live there). ``state``, ``live`` and ``ready`` are the classifying runner's;
    ``corrections`` is the current corrections runner."""

    RESTART_BACKOFF_S = (1.0, 60.0)

    def __init__(
        self,
        settings: ClassifierSettings,
        stage: Stage | MessageFn,
        engine=None,
        reloader: Reloader | None = None,
    ) -> None:
        self.engine = engine if engine is not None else db.engine(settings.database_url)
        self.stage = stage
        self.reloader = reloader
        corrections = settings.model_copy(
            update={"consumer_group": settings.consumer_group + CORRECTIONS_GROUP_SUFFIX}
        )

        def corrections_runner() -> ConsumerRunner:  # a fresh one per restart
            storing = CorrectionStage(CorrectionStore(db.sessions(self.engine)))
            return ConsumerRunner(corrections, SERVICE, topics.CORRECTIONS, storing)

        classify = RunnerSlot(
            "classify", lambda: ConsumerRunner(settings, SERVICE, topics.RAW, stage)
        )
        self._corrections = RunnerSlot(
            "corrections",
            corrections_runner,
            restart=Restart(*self.RESTART_BACKOFF_S),
            on_failure=lambda _: CORRECTIONS_FAILED.inc(),
        )
        super().__init__(
            SERVICE,
            runners=[classify, self._corrections],
            on_stop=self._close,
            tasks=[Task("reload", reloader.run)] if reloader is not None else [],
            probes=Probes(settings.kafka_bootstrap_servers, self.engine),
        )

    @property
    def classify(self) -> ConsumerRunner:
        return self.runner("classify")

    @property
    def corrections(self) -> ConsumerRunner:
        return self.runner("corrections")

    @property
    def state(self):
        return self.classify.state

    async def run(self) -> None:
        """Until ``stop()``; raises ``RunnerFailed`` when the classifying runner gave up."""
        self._corrections.restart = Restart(
            *self.RESTART_BACKOFF_S
        )  # as set now (tests shorten it)
        await super().run()

    async def _close(self) -> None:
        await self.engine.dispose()
        if isinstance(self.stage, ClassifierStage):
            self.stage.close()


def build(settings: ClassifierSettings) -> tuple[FastAPI, ClassifierService]:
    """Load models once and wire the app and runners. Raises if models or rules are invalid."""
    loaded = fingerprint(
        settings
    )  # before loading: a change made meanwhile is picked up by the first look
    models = load_models(settings)
    log.info("classifier.models_loaded", **models.describe())
    runtime = ClassifierRuntime.from_settings(models, settings)
    app = FastAPI(title="Switchboard classifier", version="1")
    answer_outages(app)
    app.state.models = models

    def swap(new: Models) -> None:
        """Between two batches: the runtime reads ``models`` once per batch; the API per request."""
        runtime.models = new
        app.state.models = new

    reloader = Reloader(settings, models, swap, loaded_fingerprint=loaded)
    app.state.reload = reloader.status
    runner = ClassifierService(settings, make_stage(models, runtime), reloader=reloader)
    app.include_router(ops_router(lambda: runner.live, lambda: runner.ready, runner.probes.report))
    tokens = settings.api_guard_tokens()
    app.include_router(api, dependencies=[Depends(guard(tokens, "agent"))])
    return app, runner
