"""KPIs on the customer's clock, pure: durations from the post time (a replayed backlog shows
its days and its breached SLA, a post time in the future is clamped), medians and p90 beside
means, CSAT per channel / reason / team, sentiment change per customer and conversation, and
the ingestion delay."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.router import kpis
from shared.calendar_config import calendar_from

BERLIN = calendar_from(
    {
        "timezone": "Europe/Berlin",
        "weekly": {d: "09:00-17:00" for d in ("mon", "tue", "wed", "thu", "fri")},
        "holidays": {"country": "DE", "subdivision": "BE"},
    }
)
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))
SLA = 20 * 60


def times(posted, routed, answered=None, resolved=None, **extra) -> kpis.ItemTimes:
    """An item routed at ``routed`` whose SLA clock started at ``posted`` (as ``route`` does)."""
    start = min(posted, routed)
    return kpis.ItemTimes(
        received_at=start,
        routed_at=routed,
        sla_deadline=BERLIN.add(start, timedelta(seconds=SLA)),
        sla_business_s=SLA,
        first_response_at=answered,
        resolved_at=resolved,
        responses=1 if answered else 0,
        response_s_total=(answered - start).total_seconds() if answered else 0.0,
        handling_s=60.0,
        reason=extra.pop("reason", "order"),
        **extra,
    )


@pytest.mark.parametrize(
    ("values", "median", "p90"),
    [([], None, None), ([5.0], 5.0, 5.0), ([1, 2, 3, 4], 2.5, 3.7), ([10, 1, 100], 10.0, 82.0)],
)
def test_median_and_p90_interpolate_between_ranks(values, median, p90):
    assert kpis.quantile(values, 0.5) == median and kpis.quantile(values, 0.9) == p90


def test_a_replayed_backlog_shows_its_days_and_a_breached_sla():
    eleven_days_ago = MONDAY_10 - timedelta(days=11)
    backlog = times(eleven_days_ago, MONDAY_10, answered=MONDAY_10 + timedelta(minutes=5))
    fresh = times(MONDAY_10, MONDAY_10, answered=MONDAY_10 + timedelta(minutes=5))
    old, new = kpis.figures_of(backlog, BERLIN), kpis.figures_of(fresh, BERLIN)
    assert old.first_response_s == timedelta(days=11, minutes=5).total_seconds()
    assert old.sla_met_business is False and old.sla_met_calendar is False
    assert old.ingestion_delay_s == timedelta(days=11).total_seconds()
    assert (new.sla_met_business, new.sla_met_calendar, new.ingestion_delay_s) == (True, True, 0.0)
    report = kpis.summarise([old, new])
    assert report["sla_attainment"] == {"business": 0.5, "calendar": 0.5, "answered": 2}
    assert report["ingestion_delay"]["max_s"] == timedelta(days=11).total_seconds()
    # eleven calendar days hold seven working days of eight hours, plus the five minutes
    assert old.first_response_business_s == (7 * 8 * 60 + 5) * 60


def test_a_post_time_after_routing_counts_from_routing():
    skewed = times(MONDAY_10 + timedelta(minutes=3), MONDAY_10, MONDAY_10 + timedelta(minutes=4))
    f = kpis.figures_of(skewed, BERLIN)
    assert (f.first_response_s, f.ingestion_delay_s) == (240.0, 0.0)


def test_durations_report_mean_median_and_p90_in_both_bases():
    # replies 10, 20, 30 and 240 minutes after the post; the last runs past 17:00 into Tuesday
    late = MONDAY_10 + timedelta(hours=6)  # 16:00
    items = [
        times(MONDAY_10, MONDAY_10, MONDAY_10 + timedelta(minutes=m)) for m in (10, 20, 30)
    ] + [times(late, late, late + timedelta(hours=18))]  # Tuesday 10:00: 2 business hours
    frt = kpis.summarise([kpis.figures_of(i, BERLIN) for i in items])["first_response_time"]
    assert frt["count"] == 4
    assert frt["median_calendar_s"] == 25 * 60 and frt["median_business_s"] == 25 * 60
    assert frt["calendar_s"] == round((10 + 20 + 30 + 18 * 60) * 60 / 4, 3)
    assert frt["business_s"] == round((10 + 20 + 30 + 120) * 60 / 4, 3)
    assert frt["p90_calendar_s"] > frt["p90_business_s"] > frt["median_business_s"]


def test_csat_per_channel_reason_and_team():
    items = [
        kpis.figures_of(
            times(MONDAY_10, MONDAY_10, reason=r, channel=c, team=t, satisfaction=s), BERLIN
        )
        for r, c, t, s in [
            ("order", "mention", "care-de", 5.0),
            ("order", "direct_message", "care-de", 3.0),
            ("refund", "mention", "care-en", 1.0),
            ("refund", "mention", "care-en", None),  # not rated: not counted
        ]
    ]
    csat = kpis.summarise(items)["csat"]
    assert csat["overall"] == {"mean": 3.0, "count": 3}
    assert csat["by_channel"] == {
        "direct_message": {"mean": 3.0, "count": 1},
        "mention": {"mean": 3.0, "count": 2},
    }
    assert csat["by_reason"]["refund"] == {"mean": 1.0, "count": 1}
    assert csat["by_team"] == {
        "care-de": {"mean": 4.0, "count": 2},
        "care-en": {"mean": 1.0, "count": 1},
    }


def test_sentiment_change_from_a_customers_first_to_last_message_by_post_time():
    t = MONDAY_10
    said = [
        # arrives out of order: the post times decide (negative → positive: improved by 2)
        kpis.Said("c1", "ann", t + timedelta(minutes=9), "positive"),
        kpis.Said("c1", "ann", t, "negative"),
        kpis.Said("c1", "ann", t + timedelta(minutes=3), "neutral"),
        # another customer in the same public thread is their own conversation: worsened
        kpis.Said("c1", "bob", t, "neutral"),
        kpis.Said("c1", "bob", t + timedelta(minutes=1), "negative"),
        # one message is no change at all; an unknown label does not count
        kpis.Said("c2", "cem", t, "negative"),
        kpis.Said("c3", "dan", t, "positive"),
        kpis.Said("c3", "dan", t + timedelta(minutes=1), "mixed"),
    ]
    assert kpis.sentiment_change(said) == {
        "conversations": 2,
        "improved": 1,
        "worsened": 1,
        "unchanged": 0,
        "mean_delta": 0.5,
    }


def test_compute_excludes_spam_and_nothing_is_an_empty_answer():
    facts = [kpis.Fact("mention", "reply", "order"), kpis.Fact("mention", "drop", None)]
    report = kpis.compute(facts, [], [], BERLIN)
    assert report["messages"] == 1 and report["contact_reasons"] == {"order": 1}
    assert report["first_response_time"]["median_calendar_s"] is None
    assert report["csat"]["overall"] == {"mean": None, "count": 0}
    assert report["ingestion_delay"]["items"] == 0
    kpis.export(report)  # the gauges take an empty report
