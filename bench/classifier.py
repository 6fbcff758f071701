"""Classifier throughput per process: the full runtime (language, rules, PII, author lists,
spam model, campaigns, spikes) over batches of real replay texts, beside the raw
vectorise+predict rate of the same spam model on the same batches, in the same run.

Also: where the time goes (each component's own rate on the same texts), the service's path
with campaign and spike state in a shared database (``CLASSIFIER_SIGNALS_STORE=database``, the
default: SQLite and PostgreSQL) against the in-memory detectors, the event loop's worst stall
while batches run in a worker thread versus inline, a process pool of two workers (each loading
its own models) versus the thread, and resident memory.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta

import psutil

from bench._pg import fresh_schema
from bench.report import row
from services.classifier.runtime import ClassifierRuntime
from services.classifier.serving.bundle import load_models
from services.classifier.serving.model import normalise
from services.classifier.settings import ClassifierSettings
from services.classifier.signals.flood import signatures
from services.classifier.signals.language import languages_of
from services.classifier.signals.sentiment import scores as sentiment_scores
from shared.events import Author, CanonicalMessage
from shared.pii import find_pii
from tools import migrate, replay

BATCH = 200
COPIES = int(os.environ.get("BENCH_CLASSIFIER_COPIES", "8"))
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def messages() -> list[CanonicalMessage]:
    """The replay texts ``COPIES`` times, each copy from other authors, one second apart."""
    base = replay.load()
    return [
        CanonicalMessage(
            platform="facebook",
            channel_kind="public_comment",
            source="bench",
            account_id="acme",
            conversation_id=f"c{i % 500}",
            platform_message_id=f"m{i}",
            author=Author(id=f"a{i}"),
            text=base[i % len(base)]["text"],
            created_at=T0 + timedelta(seconds=i),
        )
        for i in range(len(base) * COPIES)
    ]


def batches(items: list) -> list[list]:
    return [items[i : i + BATCH] for i in range(0, len(items), BATCH)]


def rate(work, count: int) -> float:
    started = time.perf_counter()
    work()
    return count / (time.perf_counter() - started)


def raw_model_rate(models, msgs: list[CanonicalMessage], spam_only: bool = False) -> float:
    """scikit-learn's own transform + predict_proba of the models the runtime serves, on the texts
    it gives each (the reference): the spam model and every served task model on all texts, the
    tone model on the texts in its languages (found beforehand, not timed)."""
    chunks = batches(msgs)
    every = None  # a model that reads every text of a batch
    used = [(models.spam._features, models.spam._clf, every)]
    if not spam_only:
        used += [(t.model._features, t.model._clf, every) for t in models.tasks]
        if models.tone is not None:
            toned = [
                [
                    i
                    for i, language in enumerate(
                        languages_of(
                            [m.text for m in b], [m.language_hint for m in b], models.detector
                        )
                    )
                    if language in models.tone_languages
                ]
                for b in chunks
            ]
            used.append((models.tone._features, models.tone._clf, toned))

    def work() -> None:
        for k, b in enumerate(chunks):
            texts = [normalise(m.text) for m in b]
            for features, clf, picks in used:
                chosen = texts if picks is every else [texts[i] for i in picks[k]]
                if chosen:
                    clf.predict_proba(features.transform(chosen))

    return rate(work, len(msgs))


def component_rows(models, msgs: list[CanonicalMessage], full: float) -> list[dict]:
    texts = [m.text for m in msgs]
    parts = {
        "language detection": lambda: [
            languages_of(b, [None] * len(b), models.detector) for b in batches(texts)
        ],
        "rules (regex + spaCy phrases)": lambda: [
            models.rules_for("en")[0].match(t) for t in texts
        ],
        "PII scan": lambda: [find_pii(t, "DE") for t in texts],
        "campaign MinHash signatures": lambda: [signatures(b) for b in batches(texts)],
        "sentiment (VADER en, lexicon de; half each)": lambda: [
            sentiment_scores(b, ["en", "de"] * (len(b) // 2) + ["en"] * (len(b) % 2))
            for b in batches(texts)
        ],
    }
    return [
        row(
            f"classifier part: {name}",
            rate(work, len(texts)),
            "msg/s",
            "classifier full runtime",
            full,
        )
        for name, work in parts.items()
    ]


def shared_store_rows(models, msgs: list[CanonicalMessage], full: float) -> list[dict]:
    """The full runtime with the service's database-backed campaign and spike detectors."""
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/classifier.db"
        migrate.upgrade(url)
        rows.append(_store_row("SQLite", url, models, msgs, full))
    try:
        with fresh_schema() as url:
            rows.append(_store_row("PostgreSQL", url, models, msgs, full))
    except Exception as exc:  # noqa: BLE001 - no PostgreSQL here: say so, keep the other rows
        print(f"classifier shared store on PostgreSQL skipped: {type(exc).__name__}: {exc}")
    return rows


def _store_row(name: str, url: str, models, msgs: list[CanonicalMessage], full: float) -> dict:
    runtime = ClassifierRuntime.from_settings(
        models, ClassifierSettings(database_url=url, signals_store="database")
    )
    try:
        shared = rate(lambda: [runtime.process(b) for b in batches(msgs)], len(msgs))
    finally:
        runtime.close()
    return row(
        f"classifier throughput (batch, all, signals in {name})",
        shared,
        "msg/s",
        "classifier (batch, all, signals in memory)",
        full,
    )


async def loop_stall_ms(
    runtime: ClassifierRuntime, msgs: list[CanonicalMessage], threaded: bool
) -> tuple[float, float]:
    """(worst gap between 1 ms ticks of the event loop, messages/s) while classifying ``msgs``."""
    worst = 0.0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal worst
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            worst, last = max(worst, now - last), now

    tick = asyncio.create_task(ticker())
    await asyncio.sleep(0.01)
    started = time.perf_counter()
    for batch in batches(msgs):
        if threaded:
            await asyncio.to_thread(runtime.process, batch)
        else:
            runtime.process(batch)
            await asyncio.sleep(0)
    elapsed = time.perf_counter() - started
    done.set()
    await tick
    return worst * 1000, len(msgs) / elapsed


_WORKER: ClassifierRuntime | None = None


def _init_worker() -> None:
    global _WORKER
    _WORKER = ClassifierRuntime(load_models(ClassifierSettings()))


def _work(batch: list[CanonicalMessage]) -> tuple[int, float]:
    assert _WORKER is not None
    return len(_WORKER.process(batch)), psutil.Process().memory_info().rss / 2**20


async def process_pool(msgs: list[CanonicalMessage], workers: int) -> tuple[float, float]:
    """(messages/s, summed worker RSS MB) through a pool of ``workers`` processes."""
    loop = asyncio.get_running_loop()
    # spawn, not fork: a fork after lingua's and asyncio's threads started can inherit held locks
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=spawn, initializer=_init_worker) as pool:
        await asyncio.gather(
            *(loop.run_in_executor(pool, _work, msgs[:BATCH]) for _ in range(workers))
        )  # warm
        started = time.perf_counter()
        results = await asyncio.gather(
            *(loop.run_in_executor(pool, _work, b) for b in batches(msgs))
        )
        elapsed = time.perf_counter() - started
    return len(msgs) / elapsed, max(rss for _, rss in results) * workers


async def measure(bootstrap: str) -> list[dict]:
    """Rows for ``bench/results.json`` (see the module docstring)."""
    models = load_models(ClassifierSettings())
    msgs = messages()
    raw = raw_model_rate(models, msgs)
    full = rate(lambda: [ClassifierRuntime(models).process(b) for b in batches(msgs)], len(msgs))
    rows = [
        row(
            "classifier throughput (batch, all)",
            full,
            "msg/s",
            "raw vectorise+predict, all models",
            raw,
        ),
        row(
            "raw vectorise+predict, spam model only",
            raw_model_rate(models, msgs, spam_only=True),
            "msg/s",
            "raw vectorise+predict, all models",
            raw,
        ),
    ]
    # the replay is COPIES copies of the same texts: measure the first copy again with every
    # cache emptied (word features, short-text languages) — no text seen before
    first = msgs[: len(msgs) // COPIES]
    models.clear_caches()
    cold = rate(lambda: [ClassifierRuntime(models).process(b) for b in batches(first)], len(first))
    rows.append(
        row(
            "classifier throughput (batch, all, cold caches)",
            cold,
            "msg/s",
            "classifier (batch, all)",
            full,
        )
    )
    sample = msgs[:1000]
    one_by_one = rate(lambda: [ClassifierRuntime(models).process([m]) for m in sample], len(sample))
    rows.append(
        row(
            "classifier throughput (one by one)",
            one_by_one,
            "msg/s",
            "classifier (batch, all)",
            full,
        )
    )
    rows += component_rows(models, msgs, full)
    rows += shared_store_rows(models, msgs, full)
    thread_stall, thread_rate = await loop_stall_ms(ClassifierRuntime(models), msgs, threaded=True)
    inline_stall, _ = await loop_stall_ms(ClassifierRuntime(models), msgs, threaded=False)
    rows.append(
        row(
            "event loop worst stall, to_thread",
            thread_stall,
            "ms",
            "same, inline on the loop",
            inline_stall,
        )
    )
    pool_rate, pool_rss = await process_pool(msgs, workers=2)
    rows.append(
        row(
            "classifier throughput, 2-process pool",
            pool_rate,
            "msg/s",
            "asyncio.to_thread",
            thread_rate,
        )
    )
    rss = psutil.Process().memory_info().rss / 2**20
    rows.append(row("classifier RSS after load + run", rss, "MB", "budget", 600))
    rows.append(row("2-process pool worker RSS (sum)", pool_rss, "MB", "budget", 600))
    return rows
