"""Spike detection: a contact reason above its usual rate is reported once per window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.classifier.signals.spike import SpikeDetector

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
W = timedelta(minutes=5)


def feed(detector, per_window: list[int], key="tag:outage", account="acme"):
    """Messages evenly spread over consecutive windows; the spikes raised, per window."""
    raised = []
    for w, count in enumerate(per_window):
        spikes = []
        for i in range(count):
            at = T0 + w * W + i * (W / max(count, 1))
            spikes += detector.observe(account, (key,), at, f"m{w}-{i}")
        raised.append(spikes)
    return raised


def test_a_steady_rate_never_spikes_and_a_burst_does_once():
    detector = SpikeDetector(window=W, alpha=0.3, factor=4.0, min_count=5)
    raised = feed(detector, [4] * 10 + [40])
    assert all(not spikes for spikes in raised[:10])
    [spike] = raised[10]
    assert (spike.key, spike.account_id, spike.window_seconds) == ("tag:outage", "acme", 300)
    assert spike.count == 16 and 15 < spike.threshold <= 16 and 3.5 < spike.expected <= 4
    assert spike.window_start == T0 + 10 * W and len(spike.sample_message_keys) == 5


def test_min_count_guards_quiet_keys_and_keys_are_per_account():
    detector = SpikeDetector(window=W, factor=4.0, min_count=10, warmup_windows=0)
    assert feed(detector, [0, 0, 9])[2] == []
    assert len(feed(detector, [12], account="other")[0]) == 1


def test_empty_windows_decay_the_usual_rate():
    """20 per window is usual; after six silent windows, 20 again is a spike (threshold ~1)."""
    busy, steady = (
        SpikeDetector(window=W, alpha=0.5, factor=2.0, min_count=1, warmup_windows=0),
        SpikeDetector(window=W, alpha=0.5, factor=2.0, min_count=1, warmup_windows=0),
    )
    assert feed(busy, [20, 20, 20, 0, 0, 0, 0, 0, 0, 20])[-1]
    assert not feed(steady, [20, 20, 20, 20])[-1]


def test_late_messages_for_a_closed_window_change_nothing():
    detector = SpikeDetector(window=W, min_count=1)
    detector.observe("acme", ("tag:x",), T0 + 2 * W, "m1")
    assert detector.observe("acme", ("tag:x",), T0, "late") == []


def test_memory_is_bounded():
    detector = SpikeDetector(window=W, max_keys=3)
    for i in range(10):
        detector.observe("acme", (f"tag:k{i}",), T0, "m")
    assert len(detector) == 3


def test_nothing_is_reported_while_warming_up_after_a_start():
    detector = SpikeDetector(window=W, factor=4.0, min_count=5, warmup_windows=3)
    raised = feed(detector, [50, 50, 50, 50, 400])
    assert raised[:4] == [[], [], [], []]  # busy from the start: not a spike, just unknown
    assert not raised[3] and len(raised[4]) == 1
