"""The service supervisor with stand-in runners: restart policy, fatal failures, periodic jobs,
tasks, health and the start/stop hooks; and the stage adapters of ``shared.runner``."""

import asyncio

import pytest

from shared import topics
from shared.codec import PoisonMessage
from shared.events import MessageClassified
from shared.runner import (
    Output,
    PerMessage,
    RecordMeta,
    RunnerFailed,
    Stage,
    per_message,
    refuse_foreign,
)
from shared.schemagen import example_events
from shared.supervisor import Periodic, Restart, RunnerSlot, Supervisor, Task

RECEIVED, CLASSIFIED = example_events()[0], example_events()[1]
META = RecordMeta(topics.RAW, 0, 0, None)


class FakeRunner:
    """Runs until stopped, or fails after ``fail_after`` seconds."""

    def __init__(self, fail_after: float | None = None) -> None:
        self.fail_after, self.status = fail_after, "created"
        self._stopping = asyncio.Event()

    @property
    def live(self) -> bool:
        return self.status != "failed"

    @property
    def ready(self) -> bool:
        return self.status == "running"

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        self.status = "running"
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=self.fail_after)
        except TimeoutError:
            self.status = "failed"
            raise RunnerFailed("gave up") from None
        self.status = "stopped"


async def eventually(predicate, timeout: float = 5.0) -> None:
    for _ in range(int(timeout * 100)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


async def test_a_restarted_runner_keeps_the_service_up_and_a_stop_ends_it():
    built, failures = [], []

    def make():
        built.append(FakeRunner(fail_after=0.05 if len(built) < 2 else None))
        return built[-1]

    vital = FakeRunner()
    supervisor = Supervisor(
        "svc",
        runners=[
            RunnerSlot("main", lambda: vital),
            RunnerSlot("side", make, restart=Restart(0.01, 0.02), on_failure=failures.append),
        ],
    )
    assert supervisor.runner("side") is built[0] and not supervisor.ready
    run = asyncio.create_task(supervisor.run())
    await eventually(lambda: len(built) == 3 and built[2].status == "running")
    assert len(failures) == 2 and supervisor.runners == [vital, built[2]]
    assert supervisor.live and supervisor.ready and not run.done()  # restartable: never counted
    supervisor.stop()
    await asyncio.wait_for(run, 5)
    assert vital.status == built[2].status == "stopped"


async def test_a_vital_runner_failing_stops_the_others_and_the_service():
    other, stopped = FakeRunner(), []

    async def on_stop():
        stopped.append(other.status)

    supervisor = Supervisor(
        "svc",
        runners=[
            RunnerSlot("a", lambda: FakeRunner(fail_after=0.05)),
            RunnerSlot("b", lambda: other),
        ],
        on_stop=on_stop,
    )
    with pytest.raises(RunnerFailed, match="gave up"):
        await asyncio.wait_for(supervisor.run(), 5)
    assert other.status == "stopped" and stopped == ["stopped"] and not supervisor.live


async def test_a_failing_start_hook_starts_nothing():
    runner = FakeRunner()

    async def refuse():
        raise RunnerFailed("no topics")

    with pytest.raises(RunnerFailed, match="no topics"):
        await Supervisor("svc", runners=[RunnerSlot("a", lambda: runner)], on_start=refuse).run()
    assert runner.status == "created"


async def test_periodic_jobs_run_on_schedule_survive_errors_wake_and_run_once_more_on_stop():
    calls = {"first": 0, "later": 0, "woken": 0}
    wake = asyncio.Event()

    async def count(name):
        calls[name] += 1
        if name == "first" and calls[name] == 1:
            raise ConnectionError("briefly away")

    supervisor = Supervisor(
        "svc",
        jobs=[
            Periodic("first", 0.02, lambda: count("first"), at_start=True),
            Periodic("later", 60, lambda: count("later")),
            Periodic("woken", 60, lambda: count("woken"), at_start=True, final=True, wake=wake),
        ],
    )
    run = asyncio.create_task(supervisor.run())
    await eventually(lambda: calls["first"] >= 3 and calls["woken"] == 1)
    wake.set()
    await eventually(lambda: calls["woken"] == 2)
    supervisor.stop()
    await asyncio.wait_for(run, 5)
    assert calls["later"] == 0 and calls["woken"] == 3  # final: once more on stop


async def test_tasks_get_the_stop_event_or_are_cancelled():
    ended = []

    async def polite(stopping):
        await stopping.wait()
        ended.append("polite")

    async def forever(_stopping):
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            ended.append("cancelled")
            raise

    supervisor = Supervisor(
        "svc", tasks=[Task("polite", polite), Task("forever", forever, cancel=True)]
    )
    run = asyncio.create_task(supervisor.run())
    await asyncio.sleep(0.05)
    assert supervisor.live and supervisor.ready  # no runners
    supervisor.stop()
    await asyncio.wait_for(run, 5)
    assert sorted(ended) == ["cancelled", "polite"]


async def test_per_message_adapts_a_function_and_answers_poison_per_event():
    async def fn(event, meta):
        if event.id == "bad":
            raise PoisonMessage("bad one")
        return [Output(topics.CLASSIFIED, CLASSIFIED)]

    stage = per_message(fn)
    assert isinstance(stage, PerMessage)
    bad_one = RECEIVED.model_copy(update={"id": "bad"})
    good, bad = await stage.process_batch([(RECEIVED, META), (bad_one, META)])
    assert [o.event for o in good] == [CLASSIFIED] and isinstance(bad, PoisonMessage)
    assert await stage(RECEIVED, META) == [Output(topics.CLASSIFIED, CLASSIFIED)]
    with pytest.raises(PoisonMessage, match="bad one"):
        await stage(bad_one, META)


async def test_a_lone_call_hands_the_batch_hook_back_on_the_last_output():
    acked = []

    class Hooked(Stage):
        async def process_batch(self, items):
            two = [Output(topics.CLASSIFIED, CLASSIFIED), Output(topics.SPIKED, CLASSIFIED)]
            return [list(two) for _ in items]

        async def on_batch_acked(self, results):
            acked.append(len(results))

    first, last = await Hooked()(RECEIVED, META)
    assert first.on_acked is None and last.on_acked is not None
    await last.on_acked()
    assert acked == [1]


def test_the_registry_says_which_event_type_a_topic_carries():
    assert refuse_foreign(RECEIVED, topics.RAW, "svc") is None
    refused = refuse_foreign(RECEIVED, topics.CLASSIFIED, "svc")
    assert isinstance(refused, PoisonMessage)
    assert str(refused) == (
        f"svc cannot handle {RECEIVED.TYPE} on {topics.CLASSIFIED}: "
        f"it carries {MessageClassified.TYPE}"
    )
    copy = topics.per_queue(topics.ROUTED, "support-de")
    assert topics.event_type_of(copy) == topics.spec(topics.ROUTED).event_type
    assert topics.event_type_of(topics.spec(topics.RAW).dlq) is None  # a dead-letter topic: any
