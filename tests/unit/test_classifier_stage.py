"""classify() with plain values, over the shipped models and rules."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime

import pytest

from services.classifier.app import build
from services.classifier.stage import classify
from shared.events import Author, CanonicalMessage, ChannelKind, Decision, Urgency
from shared.settings import ClassifierSettings


@pytest.fixture(scope="module")
def built():
    return build(ClassifierSettings())


@pytest.fixture(scope="module")
def models(built):
    return built[0].state.models


def message(text: str, kind: ChannelKind = ChannelKind.PUBLIC_COMMENT, hint: str | None = None) -> CanonicalMessage:
    return CanonicalMessage(
        platform="youtube", channel_kind=kind, source="test", account_id="acme", conversation_id="c1",
        platform_message_id="m1", author=Author(id="u1"), text=text, language_hint=hint,
        created_at=datetime(2025, 1, 6, 10, 0, tzinfo=UTC),
    )


def test_channel_promotion_is_dropped_by_rule_with_model_evidence(models):
    result = classify(message("Check out my channel and please subscribe!!! http://bit.ly/x1"), models)
    assert result.decision == Decision.DROP
    assert result.tags[0] == "spam" and "self-promotion" in result.tags
    assert "en.drop.self-promotion" in result.explanation.rule_ids
    assert "en.drop.self-promotion: “Check out my channel”" in result.explanation.evidence
    assert any(e.startswith("spam n-gram") for e in result.explanation.evidence)
    assert result.explanation.model == "spam"
    assert result.explanation.model_version == models.spam.card.version
    assert result.explanation.score > 0.9 and result.explanation.threshold == 0.5
    assert "en.drop.self-promotion" in result.reason


def test_sms_spam_without_a_drop_rule_is_dropped_by_the_model(models):
    text = "WINNER!! As a valued network customer you have been selected to receive a £900 prize reward! " \
           "To claim call 09061701461. Claim code KL341. Valid 12 hours only."
    result = classify(message(text), models)
    assert not [r for r in result.explanation.rule_ids if ".drop." in r]
    assert result.decision == Decision.DROP
    assert result.explanation.score >= 0.5
    assert "spam model scored" in result.reason


def test_question_to_the_company_needs_a_reply(models):
    result = classify(message("Hi, do you ship to Austria?"), models)
    assert (result.decision, result.language, result.urgency) == (Decision.REPLY, "en", Urgency.NORMAL)
    assert "en.reply.question" in result.explanation.rule_ids and "question" in result.tags


def test_german_cancellation_with_lawyer_is_urgent(models):
    text = "Ich will meine Kündigung, mein Anwalt meldet sich bei Ihnen."
    result = classify(message(text), models)
    assert (result.decision, result.urgency, result.language) == (Decision.REPLY, Urgency.HIGH, "de")
    assert {"de.urgent.legal", "de.urgent.cancellation"} <= set(result.explanation.rule_ids)
    assert {"legal", "cancellation"} <= set(result.tags)
    assert "de.urgent.cancellation: “Kündigung”" in result.explanation.evidence


@pytest.mark.parametrize("text", ["danke!", "", "   ", "!!!", "😀😀", "12345"])
def test_short_or_empty_texts_do_not_break(models, text):
    result = classify(message(text), models)
    assert result.decision == Decision.TAG and "noise" in result.tags
    assert result.language in {"de", "und"}


def test_danke_is_german_praise(models):
    result = classify(message("danke!"), models)
    assert (result.language, result.tags) == ("de", ("noise", "praise"))


@pytest.mark.parametrize(("text", "expected"), [
    ("Mein Internet funktioniert seit gestern nicht mehr richtig", "de"),
    ("My internet has been down since yesterday evening", "en"),
    ("Merci beaucoup pour votre aide rapide", "fr"),
])
def test_language_is_detected_without_a_hint(models, text, expected):
    assert classify(message(text), models).language == expected


def test_language_hint_wins_and_is_normalised(models):
    assert classify(message("ok", hint="de-AT"), models).language == "de"


def test_praise_is_tagged_not_answered(models):
    result = classify(message("I love this product, great job!"), models)
    assert (result.decision, result.urgency) == (Decision.TAG, Urgency.LOW)
    assert result.tags == ("noise", "praise") and "en.tag.praise" in result.explanation.rule_ids


def test_direct_message_without_rules_still_needs_a_reply(models):
    result = classify(message("ok cool", kind=ChannelKind.DIRECT_MESSAGE), models)
    assert result.decision == Decision.REPLY and "direct message" in result.reason


def test_urgent_rule_overrides_a_model_only_spam_verdict(models):
    everything_is_spam = dataclasses.replace(models, spam_threshold=0.0)
    urgent = classify(message("I will sue you and call my lawyer"), everything_is_spam)
    assert (urgent.decision, urgent.urgency) == (Decision.REPLY, Urgency.HIGH)
    assert "overridden" in urgent.reason
    assert classify(message("Where is my refund?"), everything_is_spam).decision == Decision.DROP


def test_classify_is_deterministic_and_bounded_on_huge_texts(models):
    text = "Where is my refund? " + "you blah " * 11_000
    started = time.perf_counter()
    first = classify(message(text), models)
    assert time.perf_counter() - started < 2.0
    assert first == classify(message(text), models)
