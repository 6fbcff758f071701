"""Notifier paging decisions (the router's policy is tested in test_router_policy.py)."""

from datetime import UTC, datetime

from services.notifier.planner import plan_page
from shared import schemagen
from shared.calendar import OfficeHours

HOURS = OfficeHours.parse(
    "Europe/Berlin", {d: "09:00-17:00" for d in ("mon", "tue", "wed", "thu", "fri")}
)
ROUTED = schemagen.example_events()[2]


def test_page_outside_office_hours_grouped_by_conversation():
    plan = plan_page(ROUTED, HOURS, datetime(2026, 11, 23, 21, 0, tzinfo=UTC), "oncall")
    assert plan is not None and plan.target == "oncall"
    assert plan.incident_key == ROUTED.data.message.conversation_key
    assert "support-de" in plan.summary


def test_no_page_inside_office_hours():
    assert plan_page(ROUTED, HOURS, datetime(2026, 11, 23, 10, 0, tzinfo=UTC), "oncall") is None


def test_weekend_daytime_is_outside_office_hours():
    assert plan_page(ROUTED, HOURS, datetime(2026, 11, 22, 11, 0, tzinfo=UTC), "oncall") is not None
