"""Campaign and spike state shared by classifier replicas through the database (SQLite and
PostgreSQL): two runtimes on one database see one campaign and one spike, a spike is raised
exactly once even when replicas race, expired rows are pruned, a restarted replica is warm
from the stored history, and one replica decides exactly as the in-memory detectors do."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from services.classifier.runtime import ClassifierRuntime
from services.classifier.serving.bundle import load_models
from services.classifier.settings import ClassifierSettings
from services.classifier.signals.flood import CampaignDetector
from services.classifier.signals.spike import Observation, SpikeDetector
from services.classifier.stores import sql as signals
from services.classifier.stores.campaigns import SharedCampaignDetector
from services.classifier.stores.spikes import SharedSpikeDetector
from services.classifier.tables import (
    ClassifierCampaign,
    ClassifierCampaignAuthor,
    ClassifierCampaignBand,
    ClassifierCampaignEntry,
    ClassifierSpikeCount,
    ClassifierSpikeReport,
)
from shared.events import Author, CanonicalMessage, Decision

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
W = timedelta(minutes=5)
COPYPASTA = (
    "Bring back the old design, the new one looks terrible and nobody asked for it {u} #bringitback"
)
SCAM = "Congratulations! You have been selected for our exclusive giveaway, claim your prize at {u} now"
OTHERS = [
    "My order {u} has not arrived after two weeks, where is it? Please check the courier.",
    "The app crashes every time I open the settings page on Android, version {u}.",
    "I was charged twice for my subscription this month, invoice {u}, please refund one.",
]


@pytest.fixture(scope="module")
def models():
    return load_models(ClassifierSettings())


@pytest.fixture
def engines(database_url):
    """Two engines on one database: two replicas."""
    made = [signals.engine(database_url), signals.engine(database_url)]
    yield made
    for engine in made:
        engine.dispose()


def message(
    i: int, text: str, author: str | None = None, at: datetime | None = None, account: str = "acme"
) -> CanonicalMessage:
    return CanonicalMessage(
        platform="facebook",
        channel_kind="public_comment",
        source="t",
        account_id=account,
        conversation_id=f"post-{i}",
        platform_message_id=f"m{i}",
        author=Author(id=author or f"u{i}"),
        text=text,
        created_at=at or T0 + timedelta(seconds=i),
    )


def rows(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar()


def test_a_campaign_split_over_two_replicas_is_one_campaign_dropped_above_the_author_limit(
    models, database_url
):
    settings = ClassifierSettings(database_url=database_url, campaign_drop_authors=3)
    replicas = [ClassifierRuntime.from_settings(models, settings) for _ in range(2)]
    try:
        assert all(isinstance(r.campaigns, SharedCampaignDetector) for r in replicas)
        outcomes = [
            replicas[i % 2].process([message(i, COPYPASTA.format(u=f"@friend{i}"))])[0]
            for i in range(6)
        ]
    finally:
        for replica in replicas:
            replica.close()
    tags = [[t for t in o.classification.tags if t.startswith("campaign:")] for o in outcomes]
    assert (
        tags[0] == [] and len({tag for found in tags[1:] for tag in found}) == 1 and all(tags[1:])
    )
    decisions = [o.classification.decision for o in outcomes]
    assert (
        Decision.DROP not in decisions[:3] and decisions[3:] == [Decision.DROP] * 3
    )  # 4th author, either replica
    assert "6 messages from 6 authors" in outcomes[5].classification.explanation.evidence[-1]


def test_a_spike_counted_by_two_replicas_is_raised_once(engines):
    a, b = (
        SharedSpikeDetector(engine, window=W, min_count=10, warmup_windows=0) for engine in engines
    )
    raised = [
        (a if i % 2 else b).observe("acme", ("tag:outage",), T0 + timedelta(seconds=i), f"m{i}")
        for i in range(16)
    ]
    spikes = [s for found in raised for s in found]
    assert [(s.count, s.key) for s in spikes] == [(10, "tag:outage")]  # each replica alone saw 8
    assert raised[9] == spikes and len(spikes[0].sample_message_keys) == 5


def test_replicas_racing_on_one_window_count_every_message_and_report_once(engines):
    detectors = [
        SharedSpikeDetector(engine, window=W, min_count=50, warmup_windows=0) for engine in engines
    ]
    raised: list = []

    def replica(n: int) -> None:
        for batch in range(20):
            observations = [
                Observation(
                    "acme", ("tag:outage",), T0 + timedelta(seconds=batch), f"r{n}-{batch}-{i}"
                )
                for i in range(5)
            ]
            raised.extend(s for found in detectors[n].observe_batch(observations) for s in found)

    threads = [threading.Thread(target=replica, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(raised) == 1 and raised[0].count >= 50
    with engines[0].connect() as conn:
        assert conn.execute(select(ClassifierSpikeCount.count)).scalar() == 200
    assert rows(engines[0], ClassifierSpikeReport.__table__) == 1


def test_a_restarted_replica_is_warm_from_the_stored_history(engines):
    first = SharedSpikeDetector(engines[0], window=W, min_count=5, warmup_windows=3)
    for w in range(4):
        assert (
            first.observe_batch(
                [
                    Observation(
                        "acme", ("tag:outage",), T0 + w * W + timedelta(seconds=i), f"a{w}{i}"
                    )
                    for i in range(3)
                ]
            )
            == [[]] * 3
        )
    restarted = SharedSpikeDetector(engines[1], window=W, min_count=5, warmup_windows=3)
    burst = restarted.observe_batch(
        [
            Observation("acme", ("tag:outage",), T0 + 4 * W + timedelta(seconds=i), f"b{i}")
            for i in range(20)
        ]
    )
    [spike] = [s for found in burst for s in found]
    assert (spike.count, spike.expected) == (8, 1.771)  # 8 ≥ 4 × the EWMA of four windows of 3
    cold = SpikeDetector(window=W, min_count=5, warmup_windows=3)
    assert not any(cold.observe("acme", ("tag:outage",), T0 + 4 * W, f"b{i}") for i in range(20))


def test_rows_older_than_the_window_are_pruned(engines):
    engine = engines[0]
    campaigns = SharedCampaignDetector(engine, window=timedelta(minutes=10), prune_every_s=0)
    spikes = SharedSpikeDetector(
        engine, window=W, min_count=1, warmup_windows=0, history_windows=2, prune_every_s=0
    )
    campaigns.observe([message(i, SCAM.format(u=f"x{i}")) for i in range(3)])
    spikes.observe("acme", ("tag:outage",), T0, "m0")
    tables = [
        t.__table__
        for t in (
            ClassifierCampaignEntry,
            ClassifierCampaignBand,
            ClassifierCampaign,
            ClassifierCampaignAuthor,
            ClassifierSpikeCount,
            ClassifierSpikeReport,
        )
    ]
    assert all(rows(engine, table) for table in tables)
    later = T0 + timedelta(minutes=16)  # beyond the campaign window, and three spike windows on
    campaigns.observe([message(9, OTHERS[0].format(u=9), at=later)])
    spikes.observe("acme", ("tag:other",), later, "m9")
    assert [rows(engine, table) for table in tables] == [
        1,
        16,
        0,
        0,
        1,
        1,
    ]  # only the new message's rows


def mixed_messages() -> list[CanonicalMessage]:
    """Campaigns, unrelated texts, one author repeating, short texts; over 30 minutes, so
    entries expire between the campaign waves."""
    out = []
    for i in range(90):
        at = T0 + timedelta(seconds=20 * i)
        kind = i % 6
        if kind in (0, 1):
            out.append(
                message(i, (SCAM if i < 45 else COPYPASTA).format(u=f"http://x.co/{i}"), at=at)
            )
        elif kind == 2:
            out.append(
                message(i, OTHERS[i % 3].format(u=i), at=at, account="acme" if i % 4 else "globex")
            )
        elif kind == 3:
            out.append(
                message(
                    i,
                    "I keep asking the same thing: where is my refund for order 5567?",
                    author="same",
                    at=at,
                )
            )
        elif kind == 4:
            out.append(message(i, "danke!", at=at))
        else:
            out.append(message(i, OTHERS[0].format(u=i % 2), at=at))
    return out


def test_one_replica_finds_the_same_campaigns_as_the_in_memory_detector(engines):
    msgs = mixed_messages()
    shared, memory = SharedCampaignDetector(engines[0], prune_every_s=0), CampaignDetector()
    batches = [msgs[k : k + 7] for k in range(0, len(msgs), 7)]
    found, expected = (
        [m for b in batches for m in shared.observe(b)],
        [m for b in batches for m in memory.observe(b)],
    )
    assert found == expected
    assert (
        len({m.campaign_id for m in expected if m}) >= 3
        and max(m.authors for m in expected if m) >= 10
    )


def test_one_replica_raises_the_same_spikes_as_the_in_memory_detector(engines):
    counts = {
        ("acme", "tag:outage"): [4] * 6 + [30, 2, 0, 0, 0, 0, 25],
        ("acme", "tag:refund"): [0, 12, 3, 3, 14],
        ("globex", "tag:outage"): [1, 1, 1, 9, 1],
    }
    observations = sorted(
        (
            Observation(
                account, (key, "tag:any"), T0 + w * W + i * W / n, f"{account}-{key}-{w}-{i}"
            )
            for (account, key), per_window in counts.items()
            for w, n in enumerate(per_window)
            for i in range(n)
        ),
        key=lambda o: o.at,
    )
    batches = [observations[k : k + 13] for k in range(0, len(observations), 13)]
    options = dict(window=W, factor=3.0, min_count=4, warmup_windows=2)
    shared, memory = (
        SharedSpikeDetector(engines[0], prune_every_s=0, **options),
        SpikeDetector(**options),
    )
    found = [s for b in batches for s in shared.observe_batch(b)]
    assert found == [s for b in batches for s in memory.observe_batch(b)]
    assert sum(map(len, found)) >= 3


def test_one_replica_classifies_exactly_as_the_in_memory_runtime(models, database_url):
    msgs = mixed_messages()[:60]
    options = dict(
        database_url=database_url,
        campaign_drop_authors=3,
        spike_min_count=3,
        spike_warmup_windows=0,
    )
    shared = ClassifierRuntime.from_settings(models, ClassifierSettings(**options))
    memory = ClassifierRuntime.from_settings(
        models, ClassifierSettings(**options, signals_store="memory")
    )
    try:
        assert isinstance(memory.spikes, SpikeDetector) and memory.engine is None
        got = [o for k in range(0, len(msgs), 20) for o in shared.process(msgs[k : k + 20])]
        want = [o for k in range(0, len(msgs), 20) for o in memory.process(msgs[k : k + 20])]
    finally:
        shared.close()
    assert [(o.classification, o.spikes) for o in got] == [
        (o.classification, o.spikes) for o in want
    ]
    assert any(o.spikes for o in want) and any(
        o.classification.decision == Decision.DROP for o in want
    )
