from datetime import UTC, datetime, timedelta

from services.notifier.planner import plan_page
from services.router.policy import RoutingPolicy, route
from shared import schemagen
from shared.calendar import OfficeHours
from shared.events import ChannelKind, Decision, Urgency

NOW = datetime(2026, 11, 23, 22, 0, tzinfo=UTC)
POLICY = RoutingPolicy(languages=("en", "de"), sla_minutes={"direct_message": 15, "public_comment": 60})


def classified(**changes):
    item = schemagen.example_events()[1].data
    message = item.message.model_copy(update=changes.pop("message", {}))
    return item.model_copy(update={"message": message,
                                   "classification": item.classification.model_copy(update=changes)})


def test_reply_item_goes_to_its_language_queue_with_channel_sla():
    routing = route(classified(), POLICY, NOW)
    assert routing.queue == "support-de"
    assert routing.sla_deadline == NOW + timedelta(minutes=60)
    assert routing.priority == 50


def test_unsupported_language_goes_to_default_queue():
    assert route(classified(language="tr"), POLICY, NOW).queue == "support-default"


def test_urgent_direct_message_is_due_fast_and_high_priority():
    routing = route(classified(urgency=Urgency.HIGH, message={"channel_kind": ChannelKind.DIRECT_MESSAGE}), POLICY, NOW)
    assert routing.sla_deadline == NOW + timedelta(minutes=15)
    assert routing.priority == 100


def test_spam_and_noise_are_not_routed():
    assert route(classified(decision=Decision.DROP), POLICY, NOW) is None
    assert route(classified(decision=Decision.TAG), POLICY, NOW) is None


HOURS = OfficeHours.parse("Europe/Berlin", {d: "09:00-17:00" for d in ("mon", "tue", "wed", "thu", "fri")})
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
