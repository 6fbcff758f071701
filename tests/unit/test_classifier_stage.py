"""classify() with plain values, over the shipped models and rules."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime

import pytest

from services.classifier.app import build
from services.classifier.settings import ClassifierSettings
from services.classifier.stage import classify
from shared.events import Author, CanonicalMessage, ChannelKind, Decision, Urgency


@pytest.fixture(scope="module")
def built():
    return build(ClassifierSettings())


@pytest.fixture(scope="module")
def models(built):
    return built[0].state.models


def message(
    text: str, kind: ChannelKind = ChannelKind.PUBLIC_COMMENT, hint: str | None = None
) -> CanonicalMessage:
    return CanonicalMessage(
        platform="youtube",
        channel_kind=kind,
        source="test",
        account_id="acme",
        conversation_id="c1",
        platform_message_id="m1",
        author=Author(id="u1"),
        text=text,
        language_hint=hint,
        created_at=datetime(2025, 1, 6, 10, 0, tzinfo=UTC),
    )


def test_channel_promotion_is_dropped_by_rule_with_model_evidence(models):
    result = classify(
        message("Check out my channel and please subscribe!!! http://bit.ly/x1"), models
    )
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
    text = (
        "WINNER!! As a valued network customer you have been selected to receive a £900 prize reward! "
        "To claim call 09061701461. Claim code KL341. Valid 12 hours only."
    )
    result = classify(message(text), models)
    assert not [r for r in result.explanation.rule_ids if ".drop." in r]
    assert result.decision == Decision.DROP
    assert result.explanation.score >= 0.5
    assert "spam model scored" in result.reason


def test_question_to_the_company_needs_a_reply(models):
    result = classify(message("Hi, do you ship to Austria?"), models)
    assert (result.decision, result.language, result.urgency) == (
        Decision.REPLY,
        "en",
        Urgency.NORMAL,
    )
    assert "en.reply.question" in result.explanation.rule_ids and "question" in result.tags


def test_german_cancellation_with_lawyer_is_urgent(models):
    text = "Ich will meine Kündigung, mein Anwalt meldet sich bei Ihnen."
    result = classify(message(text), models)
    assert (result.decision, result.urgency, result.language) == (
        Decision.REPLY,
        Urgency.HIGH,
        "de",
    )
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
    assert (result.language, result.tags) == (
        "de",
        ("noise", "praise", "sentiment:positive", "reason:praise"),
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mein Internet funktioniert seit gestern nicht mehr richtig", "de"),
        ("My internet has been down since yesterday evening", "en"),
        ("Merci beaucoup pour votre aide rapide", "fr"),
    ],
)
def test_language_is_detected_without_a_hint(models, text, expected):
    assert classify(message(text), models).language == expected


def test_language_hint_wins_and_is_normalised(models):
    assert classify(message("ok", hint="de-AT"), models).language == "de"


def test_praise_is_tagged_not_answered(models):
    result = classify(message("I love this product, great job!"), models)
    assert (result.decision, result.urgency) == (Decision.TAG, Urgency.LOW)
    assert result.tags == ("noise", "praise", "sentiment:positive", "reason:praise")
    assert "en.tag.praise" in result.explanation.rule_ids


def test_a_message_to_the_brand_that_nothing_calls_noise_reaches_an_agent_at_low_priority(models):
    for kind in (ChannelKind.DIRECT_MESSAGE, ChannelKind.MENTION, ChannelKind.REVIEW):
        result = classify(message("saw the new ad on tv yesterday", kind=kind), models)
        assert (result.decision, result.urgency) == (Decision.REPLY, Urgency.LOW), kind
        assert "addressed to the brand" in result.reason
    # the same words as a public comment under a post are not addressed to anyone in particular
    assert classify(message("saw the new ad on tv yesterday"), models).decision == Decision.TAG


def test_plain_thanks_to_the_brand_is_noise_but_a_question_or_a_complaint_is_not(models):
    thanks = classify(
        message("thank you so much, great job everyone!", kind=ChannelKind.MENTION), models
    )
    assert thanks.decision == Decision.TAG and "reply_needed" in thanks.reason
    asks = classify(
        message("thank you so much, great job! when does the sale end?", kind=ChannelKind.MENTION),
        models,
    )
    assert asks.decision == Decision.REPLY
    sour = classify(
        message("thanks for nothing, three hours on hold again", kind=ChannelKind.MENTION), models
    )
    assert sour.decision == Decision.REPLY and "sentiment:negative" in sour.tags


def test_only_links_and_handles_to_the_brand_reach_an_agent(models):
    result = classify(
        message("@brand @brand https://t.co/AbC123xyz", kind=ChannelKind.MENTION), models
    )
    assert (result.decision, result.urgency) == (Decision.REPLY, Urgency.LOW)
    assert result.explanation.score == 0.0 and "links or @handles" in result.reason


def test_urgent_rule_overrides_a_model_only_spam_verdict(models):
    everything_is_spam = dataclasses.replace(models, spam_threshold=0.0)
    urgent = classify(message("I will sue you and call my lawyer"), everything_is_spam)
    assert (urgent.decision, urgent.urgency) == (Decision.REPLY, Urgency.HIGH)
    assert "overridden" in urgent.reason
    # a reply rule is never overridden by a spam score alone either (the score is named in the reason)
    refund = classify(message("Where is my refund?"), everything_is_spam)
    assert refund.decision == Decision.REPLY and "overridden by en.reply.refund" in refund.reason
    assert classify(message("nice weather today"), everything_is_spam).decision == Decision.DROP


def test_classify_is_deterministic_and_bounded_on_huge_texts(models):
    text = "Where is my refund? " + "you blah " * 11_000
    started = time.perf_counter()
    first = classify(message(text), models)
    assert time.perf_counter() - started < 2.0
    assert first == classify(message(text), models)


def authored(
    text: str, kind: ChannelKind = ChannelKind.PUBLIC_COMMENT, **author
) -> CanonicalMessage:
    return message(text, kind).model_copy(update={"author": Author(**{"id": "u1", **author})})


def lists(blocked: frozenset = frozenset(), vip: frozenset = frozenset()):
    from services.classifier.signals.authors import AuthorList, AuthorLists

    return AuthorLists(AuthorList(blocked), AuthorList(vip))


def test_batch_equals_one_by_one_and_keeps_order(models):
    from services.classifier.stage import classify_batch

    texts = [
        "Check out my channel!!!",
        "Wo bleibt meine Erstattung?",
        "danke!",
        "I will sue you",
        "nice",
    ]
    batch = [v.classification for v in classify_batch([message(t) for t in texts], models)]
    assert batch == [classify(message(t), models) for t in texts]


def test_iban_in_a_public_comment_is_urgent_and_masked(models):
    text = "Bitte erstatten Sie auf DE89 3704 0044 0532 0130 00, danke"
    result = classify(message(text), models)
    assert (result.decision, result.urgency) == (Decision.REPLY, Urgency.HIGH)
    assert "pii:iban" in result.tags and "pii.iban" in result.explanation.rule_ids
    assert "pii.iban: DE******************00 in a public_comment" in result.explanation.evidence
    assert "3704" not in repr(result)  # the full IBAN appears nowhere in the classification
    in_private = classify(message(text, ChannelKind.DIRECT_MESSAGE), models)
    assert (
        in_private.decision == Decision.REPLY and in_private.urgency != Urgency.HIGH
    )  # private: not exposed
    assert "pii:iban" in in_private.tags


def test_phone_numbers_do_not_rescue_sms_spam(models):
    text = "WINNER!! You have won a £900 prize. To claim call 09061701461 now. Claim code KL341."
    assert classify(message(text), models).decision == Decision.DROP


def test_blocked_authors_are_dropped_and_vips_always_answered_urgently(models):
    configured = dataclasses.replace(
        models, authors=lists(blocked=frozenset({"youtube:@troll"}), vip=frozenset({"youtube:u1"}))
    )
    blocked = classify(authored("Where is my refund?", id="u9", handle="@Troll"), configured)
    assert (blocked.decision, blocked.explanation.rule_ids[-1]) == (
        Decision.DROP,
        "authors.blocked",
    )
    assert "block list" in blocked.reason
    vip = classify(authored("nice video"), dataclasses.replace(configured, spam_threshold=0.0))
    assert (vip.decision, vip.urgency) == (Decision.REPLY, Urgency.HIGH) and "vip" in vip.tags
    assert "VIP author" in vip.reason and "overridden" in vip.reason


def test_large_accounts_get_urgent_replies_with_the_figure_as_evidence(models):
    result = classify(authored("hmm, interesting move", follower_count=250_000), models)
    assert (result.decision, result.urgency) == (Decision.REPLY, Urgency.HIGH)
    assert "account.large: 250000 followers ≥ 100000" in result.explanation.evidence
    assert (
        classify(authored("hmm, interesting move", follower_count=99), models).decision
        == Decision.TAG
    )


@pytest.mark.parametrize(
    ("text", "rule_id"),
    [
        ("I am a journalist at the Daily Post, can we talk?", "en.urgent.press"),
        ("Worst customer service ever, absolutely disgusting", "en.urgent.outrage"),
        ("Hiermit spreche ich die Kündigung aus", "de.urgent.cancellation"),
    ],
)
def test_press_tone_and_cancellation_are_urgent(models, text, rule_id):
    result = classify(message(text), models)
    assert (result.decision, result.urgency) == (Decision.REPLY, Urgency.HIGH)
    assert rule_id in result.explanation.rule_ids


def test_review_rules_ask_for_four_eyes(models):
    result = classify(
        message("Ist das überhaupt DSGVO-konform? Ich habe Fragen zum Datenschutz."), models
    )
    assert result.decision == Decision.REPLY and result.review_required
    assert "de.review.sensitive" in result.explanation.rule_ids and "four-eyes" in result.reason
    assert not classify(message("Wo ist meine Bestellung?"), models).review_required


def test_shadow_rules_are_reported_beside_and_never_applied(models, tmp_path):
    from services.classifier.rules import load_dir
    from services.classifier.stage import classify_batch, shadow_changes

    (tmp_path / "en.yaml").write_text(
        'version: "en-shadow"\nlanguage: en\nrules:\n  - id: en.drop.ship\n    action: drop\n'
        "    pattern: '\\bship\\b'\n",
        "utf-8",
    )
    shadowed = dataclasses.replace(models, shadow_rules=load_dir(tmp_path))
    [verdict] = classify_batch([message("Hi, do you ship to Austria?")], shadowed)
    assert verdict.classification == classify(message("Hi, do you ship to Austria?"), models)
    assert verdict.shadow.decision == Decision.DROP
    assert shadow_changes(verdict)["decision"] == (Decision.REPLY, Decision.DROP)


def test_a_message_whose_text_could_not_be_fetched_goes_to_an_agent_and_forms_no_campaign(models):
    from services.classifier.runtime import ClassifierRuntime
    from shared.events import TEXT_UNAVAILABLE

    text = f"{TEXT_UNAVAILABLE} instagram mention (no access token configured for this account)]"
    result = classify(message(text, kind=ChannelKind.MENTION), models)
    assert (result.decision, result.urgency) == (
        Decision.REPLY,
        Urgency.NORMAL,
    )  # whatever the spam model says
    assert (
        "text-unavailable" in result.tags
        and "ingest.text-unavailable" in result.explanation.rule_ids
    )
    assert "could not fetch" in result.reason
    many = [
        message(text, kind=ChannelKind.MENTION).model_copy(
            update={"author": Author(id=f"u{i}"), "platform_message_id": f"m{i}"}
        )
        for i in range(8)
    ]
    outcomes = ClassifierRuntime(models).process(
        many
    )  # eight authors, one placeholder: not a campaign
    assert all(o.classification.decision == Decision.REPLY for o in outcomes)
    assert not any(t.startswith("campaign:") for o in outcomes for t in o.classification.tags)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            "My lawyer will sue you over this refund",
            "legal",
        ),  # two reasons: taxonomy.yaml's order decides
        (
            "Worst service ever, I want my money back, you scammers!",
            "refund",
        ),  # not the tone (very-negative)
        ("Ich möchte mein Geld zurück, bitte erstatten Sie den Betrag", "refund"),
        ("Where is my order? Still no tracking number", "order"),
        ("ok cool, first time here", None),  # no contact reason: no reason tag
    ],
)
def test_the_contact_reason_is_one_reason_tag_for_the_router(models, text, reason):
    tags = classify(message(text), models).tags
    assert [t for t in tags if t.startswith("reason:")] == ([f"reason:{reason}"] if reason else [])
    if reason:
        assert reason in tags  # the rule's own tag stays
