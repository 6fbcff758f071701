"""What the console computes for its pages: messages per minute from sampled totals, SLA clocks
and their colour, the KPI report drawn whatever its fields, SVG charts escaped and labelled, and
the contrast of the console's CSS palette."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from services.console import charts, present
from services.console.flow import FlowSamples, flatten
from shared.settings import ROOT

T0 = datetime(2026, 12, 7, 9, 0, 30, tzinfo=UTC)


def test_per_minute_counts_growth_between_samples_in_the_later_minute():
    flow = FlowSamples(keep_minutes=60)
    flow.add(T0, {"reply": {"mention": 10}, "drop": {"public_comment": 2}})
    flow.add(T0 + timedelta(seconds=20), {"reply": {"mention": 13}, "drop": {"public_comment": 2}})
    flow.add(
        T0 + timedelta(seconds=75),
        {"reply": {"mention": 14, "review": 1}, "drop": {"public_comment": 5}},
    )
    labels, per = flow.per_minute(T0 + timedelta(seconds=80), minutes=3)
    assert labels == ["08:59", "09:00", "09:01"]
    assert per["decision:reply"] == [0, 3, 2]
    assert per["decision:drop"] == [0, 0, 3]
    assert per["channel:review"] == [0, 0, 1]
    assert flow.latest()["decision:reply"] == 15


def test_a_total_that_shrank_counts_nothing_and_old_samples_go():
    flow = FlowSamples(keep_minutes=5)
    flow.add(T0, {"reply": {"mention": 100}})
    flow.add(T0 + timedelta(seconds=10), {"reply": {"mention": 3}})  # router database reset
    _, per = flow.per_minute(T0 + timedelta(seconds=10), minutes=1)
    assert per["decision:reply"] == [0]
    flow.add(T0 + timedelta(minutes=10), {"reply": {"mention": 4}})
    assert len(flow._samples) == 1


def test_flatten_sums_per_decision_and_per_channel():
    assert flatten({"reply": {"a": 1, "b": 2}, "tag": {"a": 4}}) == {
        "decision:reply": 3,
        "channel:a": 5,
        "channel:b": 2,
        "decision:tag": 4,
    }


def test_sla_clock_and_colour():
    assert present.sla_clock(3 * 3600 + 62) == "03:01:02"
    assert present.sla_clock(90_000) == "1d 01:00:00"
    assert present.sla_clock(-250) == "−00:04:10"
    assert present.sla_state(-1, 3600) == "breached"
    assert present.sla_state(200, 36000) == "critical"  # under 5 minutes
    assert present.sla_state(600, 3600) == "critical"  # under a fifth
    assert present.sla_state(1500, 3600) == "warning"  # under half
    assert present.sla_state(3000, 3600) == "ok"


def test_kpi_report_is_drawn_whatever_fields_it_carries():
    report = {
        "messages": 402,
        "share_needing_reply": {
            "overall": 0.69,
            "per_channel": {"dm": 0.9, "mention": 0.5, "review": 0.4},
        },
        "first_response_time": {"calendar_s": 3725.0, "median_s": 600.0, "p90_s": 7200.0},
        "csat": {"mean": 4.2, "responses": 12},
        "contact_reasons": {"billing": 30, "delivery": 20, "outage": 5},
        "window": {"since": None},
    }
    sections = present.kpi_sections(report)
    figures = dict(sections[0]["figures"])
    assert figures["Messages"] == "402"
    assert figures["Share needing reply · Overall"] == "69.0 %"
    assert figures["First response time · Median"] == "10m 00s"
    assert figures["First response time · P90"] == "2h 00m"
    assert figures["Csat · Mean"] == "4.2"
    charted = {s["title"]: s["series"] for s in sections[1:]}
    assert charted["Contact reasons"] == [("billing", 30.0), ("delivery", 20.0), ("outage", 5.0)]
    assert "Share needing reply · Per channel" in charted


def test_charts_are_labelled_svg_with_escaped_text():
    svg = str(charts.columns("Per <minute>", ["09:00", "09:01"], {"reply": [1, 3], "drop": [0, 2]}))
    assert svg.startswith('<svg class="chart"') and 'role="img"' in svg
    assert "<title>Per &lt;minute&gt;</title>" in svg and "<desc>" in svg
    assert svg.count("<rect") == 3  # zero values draw nothing
    bars = str(charts.bars("Reasons", [("<b>x</b>", 2.0), ("neg", -1.0)]))
    assert "&lt;b&gt;x&lt;/b&gt;" in bars and 'width="-' not in bars
    line = str(charts.lines("Band", ["a", "b", "c"], {"mean": [1.0, None, 2.0]}))
    assert line.count("<polyline") == 1


def _luminance(hex_colour: str) -> float:
    rgb = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_palette_contrast_meets_wcag_aa():
    css = (ROOT / "services/console/static/console.css").read_text()
    palette = dict(re.findall(r"--([a-z0-9]+):\s*(#[0-9a-fA-F]{6})", css))
    white = "#ffffff"
    for text in ("fg", "muted", "link", "failing", "ok", "warning"):  # text on page and panel
        for ground in ("bg", "panel"):
            assert contrast(palette[text], palette[ground]) >= 4.5, (text, ground)
    for badge in ("ok", "failing", "warning", "idle", "link"):  # white text on badges, buttons
        assert contrast(white, palette[badge]) >= 4.5, badge
    for series in ("s0", "s1", "s2", "s3", "s4", "s5"):  # chart marks against the page
        assert contrast(palette[series], palette["bg"]) >= 3.0, series
    assert contrast(palette["fg"], palette["mark"]) >= 4.5
    assert contrast(palette["focus"], palette["bg"]) >= 3.0  # the focus ring
