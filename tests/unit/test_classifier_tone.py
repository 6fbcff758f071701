"""The shipped German offensive-tone model (offense-de-v1, GermEval 2018) in the stage: tags
hostile messages, makes an owed reply urgent, says why, and stays out of other languages."""

from datetime import UTC, datetime

import pytest

from services.classifier.serving.bundle import load_models
from services.classifier.settings import ClassifierSettings
from services.classifier.stage import classify
from shared.events import Author, CanonicalMessage, Decision, Urgency


@pytest.fixture(scope="module")
def models():
    return load_models(ClassifierSettings())


def message(
    text: str, kind: str = "public_comment", language: str | None = None
) -> CanonicalMessage:
    return CanonicalMessage(
        platform="x",
        channel_kind=kind,
        source="t",
        account_id="brand",
        conversation_id="c",
        platform_message_id="m",
        author=Author(id="u"),
        text=text,
        language_hint=language,
        created_at=datetime(2026, 11, 22, 21, 0, tzinfo=UTC),
    )


def test_offensive_german_comment_is_tagged_with_the_model_as_evidence(models):
    result = classify(message("Ihr seid so eine verlogene Drecksbande, ihr Idioten!"), models)
    assert "tone:offensive" in result.tags
    assert any(e.startswith("tone model offense-de-v1") for e in result.explanation.evidence)


def test_offensive_direct_message_owed_a_reply_becomes_urgent(models):
    result = classify(message("Ihr Vollidioten, ihr Drecksbande!", "direct_message"), models)
    assert result.decision == Decision.REPLY and result.urgency == Urgency.HIGH
    assert "offensive tone" in result.reason


def test_friendly_german_message_is_not_tagged(models):
    result = classify(message("Danke für die schnelle Hilfe, alles funktioniert wieder!"), models)
    assert "tone:offensive" not in result.tags


def test_tone_model_is_not_applied_to_other_languages(models):
    result = classify(message("You are all lying idiots and crooks!", language="en"), models)
    assert not any(e.startswith("tone model") for e in result.explanation.evidence)


def test_tone_can_be_disabled():
    models = load_models(ClassifierSettings(tone_model=None))
    assert models.tone is None and models.describe()["tone"] is None
    assert (
        "tone:offensive"
        not in classify(
            message("Ihr seid so eine verlogene Drecksbande, ihr Idioten!"), models
        ).tags
    )
