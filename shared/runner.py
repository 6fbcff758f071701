"""The one consumer runner every consuming service uses, and the one stage contract it drives.

A stage is a ``Stage``: ``process_batch(items)`` takes the decoded events of one poll, in record
order, and answers per event (same order) its outputs or a ``PoisonMessage``;
``on_batch_acked(results)`` runs once the broker acknowledged every output of the batch, before
the commit. ``PerMessage`` (or ``per_message(fn)`` for a bare function) adapts a stage that
works one message at a time; a bare ``async fn(event, meta)`` given to the runner is adapted so.

Per batch: poll → decode → refuse events the topic does not carry → stage → produce outputs →
await broker acks → each output's ``on_acked`` → the stage's ``on_batch_acked`` → commit
offset + 1. Offsets are committed only after every output of the batch is acknowledged (never
auto-commit), so a crash at any point replays rather than loses. Failures have names:

* ``PoisonMessage`` (undecodable, invalid, unsupported, or an event type other than the one
  ``topics.yaml`` registers for the topic, answered before the stage sees it): dead-lettered
  with provenance headers, then committed past. Too many in a row stops the runner (a bad
  deploy must not quietly dead-letter a whole topic).
* an outage of the database or the broker (``shared.outage.unavailable``: the connection was
  lost or refused, a bounded send ran out of time) is waited out in-process: the step that met
  it (stage, produce, acknowledgement hooks, commit, poll) is tried again with a back-off capped
  at about a second, for as long as the outage lasts, without counting against the retries. The
  runner is then not ready (``state.waiting`` names the dependency) but stays live, so neither an
  orchestrator nor ``switchboard run`` restarts it, and work resumes within a second of the
  dependency answering again.
* any other exception from the stage is treated as transient: the whole batch is retried with
  exponential backoff (stages are idempotent); when retries run out the runner fails *without
  committing* and the process exits so the orchestrator restarts it and the batch is
  processed again.

Every produce is bounded: a batch's outputs must be acknowledged within twice
``KAFKA_REQUEST_TIMEOUT_MS`` (queueing, then the acknowledgements), or the send counts as a
broker outage and the outputs are sent again (same event ids; consumers deduplicate).

``stop()`` (SIGTERM) lets the in-flight batch finish, commits it and leaves the group; during an
outage it ends the wait and leaves without committing the unfinished batch.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError

from shared import kafka, metrics, topics
from shared.codec import PoisonMessage, decode, encode
from shared.events import Envelope
from shared.logging import get_logger
from shared.outage import BROKER, Waiting, bounded, unavailable
from shared.settings import ConsumerSettings

log = get_logger(__name__)


@dataclass(frozen=True)
class Output:
    """An event a stage wants published, on a registered (unqualified) topic.

    ``on_acked``, if given, runs after the broker acknowledged every output of the batch
    and before the offsets are committed (e.g. to mark a stored item as published).
    """

    topic: str
    event: Envelope
    on_acked: Callable[[], Awaitable[None]] | None = None


@dataclass(frozen=True)
class RecordMeta:
    topic: str
    partition: int
    offset: int
    key: bytes | None


Item = tuple[Envelope, RecordMeta]
Result = Sequence[Output] | PoisonMessage
MessageFn = Callable[[Envelope, RecordMeta], Awaitable[Sequence[Output]]]


class Stage:
    """The stage contract. Subclasses implement ``process_batch``; any exception it raises is
    transient and retries the whole batch. CPU-heavy stages work on the whole poll at once,
    off the event loop; database stages in one transaction."""

    async def process_batch(self, items: Sequence[Item]) -> Sequence[Result]:
        """Per event of ``items`` (in order): its outputs, or the ``PoisonMessage`` that
        dead-letters it. Only events of the topic's registered type arrive."""
        raise NotImplementedError

    async def on_batch_acked(self, results: Sequence[Result]) -> None:
        """After the broker acknowledged every output of the batch whose ``results`` these
        are, before the commit (e.g. mark stored items published). Default: nothing."""

    async def __call__(self, event: Envelope, meta: RecordMeta) -> list[Output]:
        """One event as a batch of one, for callers outside the runner (tests, tools, benches):
        its outputs, or its ``PoisonMessage`` raised. Such a caller stands in for the broker,
        so a stage's ``on_batch_acked`` is handed back as the last output's ``on_acked``."""
        [result] = await self.process_batch([(event, meta)])
        if isinstance(result, PoisonMessage):
            raise result
        outputs = list(result)
        if outputs and type(self).on_batch_acked is not Stage.on_batch_acked:
            outputs[-1] = _then(outputs[-1], lambda: self.on_batch_acked([outputs]))
        return outputs


def _then(output: Output, after: Callable[[], Awaitable[None]]) -> Output:
    """``output`` whose ``on_acked`` also runs ``after`` (after its own)."""
    own = output.on_acked

    async def both() -> None:
        if own is not None:
            await own()
        await after()

    return replace(output, on_acked=both)


class PerMessage(Stage):
    """Adapter for a stage that works one message at a time: implement ``process``. A
    ``PoisonMessage`` it raises answers that event only; anything else retries the batch."""

    async def process(self, event: Envelope, meta: RecordMeta) -> Sequence[Output]:
        raise NotImplementedError

    async def process_batch(self, items: Sequence[Item]) -> list[Result]:
        results: list[Result] = []
        for event, meta in items:
            try:
                results.append(list(await self.process(event, meta)))
            except PoisonMessage as exc:
                results.append(exc)
        return results


class _Function(PerMessage):
    def __init__(self, fn: MessageFn) -> None:
        self.fn = fn

    async def process(self, event: Envelope, meta: RecordMeta) -> Sequence[Output]:
        return await self.fn(event, meta)


def per_message(fn: MessageFn) -> Stage:
    """A stage over ``async fn(event, meta) -> outputs`` (``PoisonMessage`` refuses one)."""
    return _Function(fn)


def as_stage(stage: Stage | MessageFn) -> Stage:
    """``stage`` itself, or a per-message function (or callable object) adapted."""
    return stage if isinstance(stage, Stage) else per_message(stage)


def refuse_foreign(event: Envelope, topic: str, service: str) -> PoisonMessage | None:
    """The ``PoisonMessage`` for ``event`` when registered ``topic`` does not carry its type
    (``topics.yaml``), else ``None``."""
    expected = topics.event_type_of(topic)
    if expected is None or event.event_type == expected:
        return None
    return PoisonMessage(
        f"{service} cannot handle {event.event_type} on {topic}: it carries {expected}"
    )


class RunnerFailed(RuntimeError):
    """The runner gave up (retries exhausted, too many poison messages, broker gone)."""


class _Interrupted(Exception):
    """``stop()`` came while the runner waited out an outage: leave without committing."""


@dataclass
class RunnerState:
    status: str = "created"  # created, starting, running, stopping, stopped, failed
    last_poll: float = 0.0
    processed: int = 0
    dead_lettered: int = 0
    error: str | None = None
    assignment: list[str] = field(default_factory=list)
    waiting: str | None = None  # the dependency whose outage the runner is waiting out


class ConsumerRunner:
    """Runs ``stage`` over one registered topic. Not thread-safe; one per process and topic."""

    def __init__(
        self, settings: ConsumerSettings, service: str, topic: str, stage: Stage | MessageFn
    ) -> None:
        self.settings = settings
        self.service = service
        self.registered = topic
        self.topic = topics.qualified(topic, settings.kafka_topic_namespace)
        self.dlq = topics.dlq_for(topic, settings.kafka_topic_namespace)
        self.stage = as_stage(stage)
        self.state = RunnerState()
        self._stopping = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._consecutive_poison = 0
        self._waiting = Waiting(f"{service}:{topic}")

    # -- lifecycle -----------------------------------------------------------------
    def stop(self) -> None:
        """Ask the runner to finish its batch, commit and leave. Returns at once."""
        self._stopping.set()

    @property
    def live(self) -> bool:
        if self.state.status == "failed":
            return False
        if self.state.status == "running":
            return time.monotonic() - self.state.last_poll < max(
                60.0, self.settings.session_timeout_ms / 1000 * 3
            )
        return True

    @property
    def ready(self) -> bool:
        return self.state.status == "running" and self.state.waiting is None

    async def run(self) -> None:
        """Consume until ``stop()``. Raises ``RunnerFailed`` when it had to give up."""
        self.state.status = "starting"
        try:
            await self._start()
            self.state.status = "running"
            self.state.last_poll = (
                time.monotonic()
            )  # live from the start, not only after the first poll
            while not self._stopping.is_set():
                await self._one_batch()
            self.state.status = "stopping"
        except _Interrupted:
            self.state.status = "stopping"
            log.info("runner.stopped_waiting", service=self.service, topic=self.topic)
        except RunnerFailed as exc:
            self._fail(str(exc))
            raise
        except Exception as exc:  # noqa: BLE001 - anything else is fatal too, loudly
            self._fail(f"{type(exc).__name__}: {exc}")
            raise RunnerFailed(str(exc)) from exc
        finally:
            await self._close()
        self.state.status = "stopped"

    def _fail(self, error: str) -> None:
        self.state.status, self.state.error = "failed", error
        metrics.ERRORS.labels(self.service, "fatal").inc()
        log.error("runner.failed", service=self.service, topic=self.topic, error=error)

    async def _start(self) -> None:
        """Start both clients, waiting (in-process, capped back-off) while the broker is away."""
        self._producer = kafka.producer(self.settings, f"{self.service}-producer")
        self._consumer = kafka.consumer(self.settings, self.topic)
        for client in (self._producer, self._consumer):
            await self._until_done(client.start)
        log.info(
            "runner.started",
            service=self.service,
            topic=self.topic,
            group=self.settings.consumer_group,
        )

    async def _close(self) -> None:
        for client in (self._consumer, self._producer):
            if client is not None:
                try:
                    await asyncio.wait_for(client.stop(), timeout=self.settings.shutdown_deadline_s)
                except Exception as exc:  # noqa: BLE001 - closing is best effort
                    log.warning("runner.close_failed", error=str(exc))

    # -- the loop ----------------------------------------------------------------------
    async def _one_batch(self) -> None:
        assert self._consumer is not None
        consumer = self._consumer
        batch = await self._until_done(
            lambda: consumer.getmany(
                timeout_ms=self.settings.poll_timeout_ms, max_records=self.settings.max_batch
            )
        )
        self.state.last_poll = time.monotonic()
        self.state.assignment = sorted(
            f"{tp.topic}:{tp.partition}" for tp in self._consumer.assignment()
        )
        if not batch:
            return
        for tp, records in batch.items():
            metrics.MESSAGES_IN.labels(self.service, tp.topic).inc(len(records))
        records = [r for records in batch.values() for r in records]
        results = await self._process(records)
        outputs = [o for r in results if not isinstance(r, PoisonMessage) for o in r]
        where = f"at {records[0].topic}:{records[0].partition}@{records[0].offset}"
        await self._with_retries(lambda: self._publish(outputs), "produce", where)
        await self._with_retries(lambda: self._acknowledged(outputs, results), "ack hook", where)
        await self._commit({tp: records[-1].offset + 1 for tp, records in batch.items()})
        self._record_lag(batch)

    async def _acknowledged(self, outputs: Sequence[Output], results: Sequence[Result]) -> None:
        """Each output's ``on_acked``, then the stage's ``on_batch_acked`` (both idempotent: a
        retry runs them all again)."""
        for output in outputs:
            if output.on_acked is not None:
                await output.on_acked()
        await self.stage.on_batch_acked(results)

    async def _until_done(self, call: Callable[[], Awaitable]):
        """Await ``call()``, waiting out outages until it succeeds; other errors propagate.
        Raises ``_Interrupted`` on stop during an outage."""
        while True:
            try:
                result = await call()
            except Exception as exc:  # noqa: BLE001 - only outages are waited out
                gone = unavailable(exc)
                if gone is None:
                    raise
                await self._wait_out(gone, exc)
                continue
            self._recovered()
            return result

    async def _wait_out(self, dependency: str, exc: BaseException) -> None:
        """One back-off step of an outage: not ready meanwhile, but live (the wait is progress).
        Raises ``_Interrupted`` when ``stop()`` comes."""
        self.state.waiting = dependency
        delay = self._waiting.saw(dependency, exc, service=self.service, topic=self.topic)
        metrics.ERRORS.labels(self.service, "outage").inc()
        self.state.last_poll = time.monotonic()
        if self._stopping.is_set():
            raise _Interrupted()
        try:
            await asyncio.wait_for(self._stopping.wait(), delay)
        except TimeoutError:
            return
        raise _Interrupted()

    def _recovered(self) -> None:
        if self.state.waiting is not None:
            self.state.waiting = None
            self._waiting.over()

    async def _process(self, records: list[ConsumerRecord]) -> list[Result]:
        """Per record, in order: the stage's outputs, or the ``PoisonMessage`` it was
        dead-lettered with (undecodable or foreign ones never reach the stage)."""
        results: list[Result] = []
        accepted: list[tuple[int, Item]] = []
        for record in records:
            try:
                event = decode(record.headers, record.value)
            except PoisonMessage as exc:
                results.append(exc)
                continue
            refused = refuse_foreign(event, self.registered, self.service)
            results.append(refused or ())
            if refused is None:
                meta = RecordMeta(record.topic, record.partition, record.offset, record.key)
                accepted.append((len(results) - 1, (event, meta)))
        if accepted:
            answers = await self._run_stage([item for _, item in accepted])
            for (i, _), answer in zip(accepted, answers, strict=True):
                results[i] = answer
        for record, result in zip(records, results, strict=True):
            if isinstance(result, PoisonMessage):
                await self._dead_letter(record, result)
            else:
                self._consecutive_poison = 0
                self.state.processed += 1
        return results

    async def _run_stage(self, items: list[Item]) -> Sequence[Result]:
        """``process_batch`` over ``items``, retried as a whole on a transient error."""
        first = items[0][1]
        answers = await self._with_retries(
            lambda: self.stage.process_batch(items),
            "stage",
            f"at {first.topic}:{first.partition}@{first.offset}",
        )
        if len(answers) != len(items):
            raise RunnerFailed(f"stage returned {len(answers)} results for {len(items)} events")
        self._observe_ages([event for event, _ in items])
        return answers

    async def _with_retries(self, call, what: str, where: str):
        """Await ``call()``; a ``PoisonMessage`` passes through, an outage is waited out (not
        counted), anything else is transient and retried with exponential backoff. Raises
        ``RunnerFailed`` when the attempts run out, ``_Interrupted`` on stop during an outage."""
        delay = self.settings.retry_initial_backoff_s
        attempt = 0
        while attempt < self.settings.retry_max_attempts:
            started = time.perf_counter()
            try:
                result = await call()
            except PoisonMessage:
                raise
            except Exception as exc:  # noqa: BLE001 - transient until proven otherwise
                gone = unavailable(exc)
                if gone is not None:
                    await self._wait_out(gone, exc)
                    continue
                attempt += 1
                metrics.ERRORS.labels(self.service, "transient").inc()
                if attempt == self.settings.retry_max_attempts:
                    raise RunnerFailed(
                        f"{what} failed {attempt} times {where}: {type(exc).__name__}: {exc}"
                    ) from exc
                metrics.RETRIES.labels(self.service).inc()
                log.warning(
                    "runner.retry",
                    attempt=attempt,
                    delay=delay,
                    error=f"{type(exc).__name__}: {exc}",
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.retry_max_backoff_s)
                continue
            self._recovered()
            if what == "stage":
                metrics.STAGE_LATENCY.labels(self.service).observe(time.perf_counter() - started)
            return result
        raise AssertionError("unreachable")

    def _observe_ages(self, events: Sequence[Envelope]) -> None:
        now = datetime.now(UTC)
        for event in events:
            metrics.END_TO_END_LATENCY.labels(self.service).observe(
                max((now - event.time).total_seconds(), 0.0)
            )

    @property
    def _send_timeout_s(self) -> float:
        """How long one batch's sends may take before the broker counts as unreachable: the
        request timeout for the metadata and queueing, and again for the acknowledgements."""
        return 2 * self.settings.kafka_request_timeout_ms / 1000

    async def _publish(self, outputs: Sequence[Output]) -> None:
        """Send every output and await all acknowledgements, within ``_send_timeout_s``."""
        if outputs:
            await bounded(self._send_all(outputs), self._send_timeout_s, BROKER, "produce")

    async def _send_all(self, outputs: Sequence[Output]) -> None:
        acks = [await self._send(out) for out in outputs]
        await asyncio.gather(*acks)

    async def _send(self, output: Output) -> asyncio.Future:
        assert self._producer is not None
        topic = topics.qualified(output.topic, self.settings.kafka_topic_namespace)
        future = await kafka.send(self._producer, topic, encode(output.event))

        def count(f: asyncio.Future, t: str = topic) -> None:
            if not f.cancelled() and not f.exception():
                metrics.MESSAGES_OUT.labels(self.service, t).inc()

        future.add_done_callback(count)
        return future

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        assert self._consumer is not None
        consumer = self._consumer
        try:
            await self._until_done(
                lambda: bounded(
                    consumer.commit(offsets), self._send_timeout_s, BROKER, "offset commit"
                )
            )
            metrics.COMMITS.labels(self.service).inc()
        except CommitFailedError as exc:
            # A rebalance took the partitions away; the new owner re-processes (idempotently).
            metrics.ERRORS.labels(self.service, "commit").inc()
            log.warning("runner.commit_failed", error=str(exc))

    def _record_lag(self, batch: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        assert self._consumer is not None
        for tp, records in batch.items():
            high = self._consumer.highwater(tp)
            if high is not None:
                lag = max(high - (records[-1].offset + 1), 0)
                metrics.CONSUMER_LAG.labels(self.service, tp.topic, str(tp.partition)).set(lag)

    async def _dead_letter(self, record: ConsumerRecord, exc: PoisonMessage) -> None:
        assert self._producer is not None
        self._consecutive_poison += 1
        if self._consecutive_poison > self.settings.dlq_max_consecutive:
            raise RunnerFailed(f"{self._consecutive_poison} poison messages in a row; stopping")
        headers = list(record.headers or ()) + dead_letter_headers(
            record, self.settings.consumer_group, self.service, exc
        )
        producer = self._producer

        async def send() -> None:
            future = await producer.send(
                self.dlq, value=record.value, key=record.key, headers=headers
            )
            await future

        try:
            await self._until_done(
                lambda: bounded(send(), self._send_timeout_s, BROKER, "dead-letter produce")
            )
        except KafkaError as err:
            raise RunnerFailed(f"dead-letter produce failed: {err}") from err
        self.state.dead_lettered += 1
        metrics.DEAD_LETTERED.labels(self.service, record.topic, type(exc).__name__).inc()
        log.warning(
            "runner.dead_lettered",
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            error=str(exc)[:500],
        )


def dead_letter_headers(
    record: ConsumerRecord, group: str, service: str, exc: Exception
) -> list[tuple[str, bytes]]:
    """Provenance headers that say where a dead-lettered message came from and why."""
    return [
        ("dlq.source.topic", record.topic.encode()),
        ("dlq.source.partition", str(record.partition).encode()),
        ("dlq.source.offset", str(record.offset).encode()),
        ("dlq.consumer.group", group.encode()),
        ("dlq.service", service.encode()),
        ("dlq.error.type", type(exc).__name__.encode()),
        ("dlq.error", str(exc)[:2000].encode("utf-8", errors="replace")),
        ("dlq.failed.at", datetime.now(UTC).isoformat().encode()),
    ]
