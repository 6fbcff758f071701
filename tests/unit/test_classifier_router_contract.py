"""The classifier's real output, routed by the router with the shipped routing configuration: the
tags the one writes are the tags the other reads (contact reason → queue and four-eyes, sentiment,
VIP). Each side's own tests use hand-written tags; this one joins them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.classifier.serving.bundle import load_models
from services.classifier.settings import ClassifierSettings
from services.classifier.stage import classify
from services.router.policy import Signals, route
from services.router.rules import load_routing
from shared.calendar_config import calendar_from
from shared.events import Author, CanonicalMessage, ChannelKind, Classified, Decision
from shared.settings import ROOT

CONFIG = load_routing((ROOT / "config" / "routing.yaml").read_text())
CALENDAR = calendar_from({"timezone": "Europe/Berlin", "weekly": {"mon": "09:00-17:00"}})
MONDAY = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def models():
    return load_models(ClassifierSettings())


def classified(models, text: str, kind: ChannelKind = ChannelKind.PUBLIC_COMMENT) -> Classified:
    message = CanonicalMessage(
        platform="facebook",
        channel_kind=kind,
        source="test",
        account_id="acme",
        conversation_id="c1",
        platform_message_id="m1",
        author=Author(id="u1"),
        text=text,
        created_at=MONDAY,
    )
    return Classified(message=message, classification=classify(message, models))


@pytest.mark.parametrize(
    ("text", "queue", "rule", "four_eyes"),
    [
        (
            "I have forwarded this to my lawyer, expect a lawsuit",
            "escalations",
            "press-or-legal",
            True,
        ),
        (
            "I'm a journalist at the Guardian writing a story about your outage, can you comment?",
            "escalations",
            "press-or-legal",
            True,
        ),
        (
            "Ich möchte mein Geld zurück, bitte erstatten Sie den Betrag",
            "billing-de",
            "billing-de",
            False,
        ),
        ("Where is my order? Still no tracking number", "support-en", "english", False),
    ],
)
def test_classified_messages_reach_the_queue_their_contact_reason_asks_for(
    models, text, queue, rule, four_eyes
):
    item = classified(models, text)
    assert item.classification.decision == Decision.REPLY
    placement = route(item, CONFIG, CALENDAR, MONDAY)
    assert (placement.routing.queue, placement.rule, placement.routing.four_eyes) == (
        queue,
        rule,
        four_eyes,
    )
    assert Signals.of(item.classification.tags).reason is not None


@pytest.mark.parametrize(
    "text",
    [
        "Your agent was racist to me, this is discrimination",
        "Meine Mutter ist verstorben, bitte kündigen Sie ihr Konto",
    ],
)
def test_a_classifier_review_rule_makes_the_routed_reply_four_eyes(models, text):
    item = classified(models, text)
    assert item.classification.review_required and item.classification.decision == Decision.REPLY
    assert route(item, CONFIG, CALENDAR, MONDAY).routing.four_eyes


def test_noise_and_spam_from_the_classifier_are_not_routed(models):
    assert (
        route(classified(models, "Great video, thanks for sharing"), CONFIG, CALENDAR, MONDAY)
        is None
    )
    spam = classified(
        models, "Check out my channel!!! Subscribe to me and win free iPhone http://bit.ly/xyz"
    )
    assert (
        spam.classification.decision == Decision.DROP
        and route(spam, CONFIG, CALENDAR, MONDAY) is None
    )
