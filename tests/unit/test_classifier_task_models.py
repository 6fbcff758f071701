"""Task models in service: loaded from active.json / CLASSIFIER_TASK_MODELS, used by the stage.

Small models are trained here, in a temporary directory, on synthetic rows with the same
``train`` code a user runs (``training.train_task`` and the CLI); the shipped models and rules
do the rest. Precedence (rules win, spam wins, urgency stays) is checked both end to end and
with exact scores through ``decision.build``.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import shutil
from collections import Counter
from datetime import UTC, datetime

import pytest

from services.classifier.decision import Facts, build
from services.classifier.feedback import Example, labels_of
from services.classifier.runtime import ClassifierRuntime
from services.classifier.serving import registry
from services.classifier.serving.bundle import (
    TaskModelError,
    load_models,
    load_task_models,
)
from services.classifier.serving.model import SpamScore, UntrustedArtifact
from services.classifier.serving.tasks import Explanation as TaskScore
from services.classifier.settings import ClassifierSettings
from services.classifier.signals.spike import SpikeDetector
from services.classifier.stage import classify, classify_batch
from services.classifier.training import cli
from services.classifier.training import task_models as training
from shared.events import Author, CanonicalMessage, ChannelKind, Decision, Urgency
from shared.settings import ROOT

T0 = datetime(2025, 1, 6, 10, 0, tzinfo=UTC)
THRESHOLDS = {"reply_needed": 0.6, "contact_reason": 0.5, "sentiment": 0.5}
# Synthetic vocabularies; none of these words fires a shipped English rule.
DATA = {
    "contact_reason": {
        "delivery": "parcel courier package shipment depot van",
        "billing": "invoice bill payment debit statement tariff",
    },
    "sentiment": {
        "negative": "awful slow rude disappointed annoying late",
        "positive": "lovely happy pleased nice friendly quick",
    },
    "reply_needed": {
        "reply": "parcel courier invoice payment missing status",
        "noise": "lol haha first video song dance",
    },
}


def _rows(words: str, n: int = 4) -> list[str]:
    vocab = words.split()
    return [f"{vocab[i % 6]} {vocab[(i + 1) % 6]} {vocab[(i + 3) % 6]} x{i}" for i in range(n)]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """contact_reason and sentiment through ``training.train_task``, reply_needed through the CLI."""
    out = tmp_path_factory.mktemp("task-models")
    for task in ("contact_reason", "sentiment"):
        texts, labels = zip(
            *[(t, label) for label, words in DATA[task].items() for t in _rows(words)], strict=True
        )
        training.train_task(texts, labels, task=task, name=task, out=out, progress=lambda _: None)
    source = out / "reply.csv"
    with source.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["body", "needs"])
        writer.writerows(
            [t, label] for label, words in DATA["reply_needed"].items() for t in _rows(words)
        )
    assert (
        cli.main(
            [
                "train",
                "--task",
                "reply_needed",
                "--input",
                str(source),
                "--text-column",
                "body",
                "--label-column",
                "needs",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    return out


@pytest.fixture(scope="module")
def base():
    """The shipped configuration: no task model configured."""
    return load_models(ClassifierSettings())


@pytest.fixture(scope="module")
def served(trained, base):
    """Task models given by path (CLASSIFIER_TASK_MODELS) through ``load_models``; a light detector
    (English and German, low accuracy) and no tone model keep the second load short."""
    settings = ClassifierSettings(
        task_models=tuple(
            str(trained / f"{t}.json") for t in ("contact_reason", "sentiment", "reply_needed")
        ),
        task_thresholds=THRESHOLDS,
        languages=("en", "de"),
        language_short_accuracy="low",
        tone_model=None,
    )
    return load_models(settings)


@pytest.fixture(scope="module")
def combo(base, served):
    """The shipped models (tone model included) plus the trained task models, for exact-score checks."""
    return dataclasses.replace(base, tasks=served.tasks)


def message(
    text: str, kind: ChannelKind = ChannelKind.PUBLIC_COMMENT, author: str = "u1"
) -> CanonicalMessage:
    return CanonicalMessage(
        platform="youtube",
        channel_kind=kind,
        source="test",
        account_id="acme",
        conversation_id="c1",
        platform_message_id=f"m-{abs(hash(text))}",
        author=Author(id=author),
        text=text,
        language_hint="en",
        created_at=T0,
    )


def _replay() -> list[CanonicalMessage]:
    rows = [
        json.loads(line)
        for line in (ROOT / "data" / "replay" / "messages.jsonl").open(encoding="utf-8")
    ]
    return [
        CanonicalMessage(
            platform=r["platform"],
            channel_kind=r["channel_kind"],
            source="replay",
            account_id=r["account_id"],
            conversation_id=r["conversation_id"],
            platform_message_id=r["message_id"],
            author=r["author"],
            text=r["text"],
            created_at=r["created_at"],
        )
        for r in rows
    ]


# -- shipped: the reply-needed model serves by default ----------------------------------------------
def test_the_shipped_bundle_serves_the_reply_needed_model_and_can_do_without_it(base):
    (reply,) = base.tasks
    assert (reply.task, reply.model.card.name, reply.reply_label) == (
        "reply_needed",
        "reply-needed-v1",
        "reply",
    )
    assert base.describe()["tasks"]["reply_needed"]["name"] == "reply-needed-v1"
    assert load_task_models(ClassifierSettings(shipped_task_models=False)) == ()
    results = [v.classification for v in classify_batch(_replay()[:60], base)]
    assert any(e.startswith("model.reply_needed") for r in results for e in r.explanation.evidence)


# -- loading ----------------------------------------------------------------------------------------
def test_load_models_serves_configured_task_models_with_their_thresholds(served, trained):
    assert [t.task for t in served.tasks] == ["reply_needed", "contact_reason", "sentiment"]
    reply = served.task("reply_needed")
    assert (reply.reply_label, reply.noise_label, reply.threshold) == ("reply", "noise", 0.6)
    assert reply.source == str(trained / "reply_needed.json")
    described = served.describe()["tasks"]
    assert described["contact_reason"]["labels"] == ["billing", "delivery"]
    assert described["sentiment"]["threshold"] == 0.5 and described["sentiment"][
        "version"
    ].startswith("1.0+")


def test_promoted_models_in_active_json_are_served_and_a_setting_overrides_them(trained, tmp_path):
    for name in ("contact_reason", "sentiment", "reply_needed"):
        for suffix in (".json", ".skops"):
            shutil.copy(trained / f"{name}{suffix}", tmp_path / f"{name}{suffix}")
    card = json.loads((tmp_path / "contact_reason.json").read_text("utf-8"))
    registry.promote(tmp_path, "contact_reason", "contact_reason", card["version"])
    registry.promote(tmp_path, "reply_needed", "reply_needed", "x")
    loaded = load_task_models(ClassifierSettings(models_dir=tmp_path))
    assert [(t.task, t.model.card.name, t.source, t.threshold) for t in loaded] == [
        ("reply_needed", "reply_needed", "active.json", 0.8),
        ("contact_reason", "contact_reason", "active.json", 0.5),
    ]
    overridden = load_task_models(
        ClassifierSettings(
            models_dir=tmp_path, task_models=("sentiment",), task_thresholds={"reply_needed": 0.9}
        )
    )
    assert [(t.task, t.source, t.threshold) for t in overridden] == [
        ("reply_needed", "active.json", 0.9),
        ("contact_reason", "active.json", 0.5),
        ("sentiment", "sentiment", 0.5),
    ]
    # active.json pointing a family at another task's model fails at start-up
    registry.promote(tmp_path, "sentiment", "contact_reason", card["version"])
    with pytest.raises(
        TaskModelError, match="sentiment points at contact_reason, a contact_reason model"
    ):
        load_task_models(ClassifierSettings(models_dir=tmp_path))


def test_unusable_task_model_configurations_fail_at_start_up(trained, tmp_path):
    shipped = ROOT / "services" / "classifier" / "models"
    with pytest.raises(TaskModelError, match="task 'offense' is not one the stage serves"):
        load_task_models(ClassifierSettings(task_models=(str(shipped / "offense-de-v1.json"),)))
    with pytest.raises(TaskModelError, match="a second contact_reason model"):
        load_task_models(
            ClassifierSettings(
                task_models=(
                    str(trained / "contact_reason.json"),
                    str(trained / "contact_reason.skops"),
                )
            )
        )
    with pytest.raises(TaskModelError, match="unknown task"):
        load_task_models(ClassifierSettings(task_thresholds={"spam": 0.5}))
    # a reply-needed model must answer reply vs noise: a contact-reason model trained under that task is refused
    for suffix in (".json", ".skops"):
        shutil.copy(trained / f"contact_reason{suffix}", tmp_path / f"contact_reason{suffix}")
    card = json.loads((tmp_path / "contact_reason.json").read_text("utf-8"))
    (tmp_path / "contact_reason.json").write_text(
        json.dumps(card | {"task": "reply_needed"}), "utf-8"
    )
    with pytest.raises(TaskModelError, match="needs two labels"):
        load_task_models(ClassifierSettings(task_models=(str(tmp_path / "contact_reason.json"),)))
    # a tampered artifact is refused before skops reads it
    (tmp_path / "contact_reason.skops").write_bytes(
        b"PK" + (tmp_path / "contact_reason.skops").read_bytes()[2:][::-1]
    )
    with pytest.raises(UntrustedArtifact, match="sha256 does not match"):
        load_task_models(ClassifierSettings(task_models=(str(tmp_path / "contact_reason.json"),)))


# -- the stage, end to end ------------------------------------------------------------------------
def test_task_models_promote_noise_to_reply_and_tag_reason_and_sentiment(served):
    result = classify(message("parcel courier missing again, awful and slow"), served)
    assert (result.decision, result.urgency) == (Decision.REPLY, Urgency.NORMAL)
    assert "noise" not in result.tags
    assert {"contact_reason:delivery", "sentiment:negative"} <= set(result.tags)
    assert {"model.reply_needed", "model.contact_reason", "model.sentiment"} <= set(
        result.explanation.rule_ids
    )
    evidence = {
        e.split(":", 1)[0]: e for e in result.explanation.evidence if e.startswith("model.")
    }
    version = served.task("reply_needed").model.card.version
    assert evidence["model.reply_needed"].startswith(
        f"model.reply_needed: reply_needed {version}: reply "
    )
    assert "(threshold 0.60); n-grams" in evidence["model.reply_needed"]
    assert evidence["model.reply_needed"].endswith("tag → reply")
    assert "model.contact_reason: contact_reason " in evidence["model.contact_reason"]
    assert (
        ": delivery " in evidence["model.contact_reason"]
        and "n-grams" in evidence["model.contact_reason"]
    )
    assert "reply_needed model scored 0.9" in result.reason
    assert result.explanation.model == "spam"  # the single model slot keeps the spam model


def test_noise_stays_noise_and_a_rule_reason_wins_over_the_model(served):
    noise = classify(message("lol haha first dance"), served)
    assert noise.decision == Decision.TAG and noise.tags[0] == "noise"
    assert "model.reply_needed" not in noise.explanation.rule_ids
    assert any(
        e.startswith("model.reply_needed:") and "decision kept" in e
        for e in noise.explanation.evidence
    )
    refund = classify(message("I want a refund for the parcel the courier lost"), served)
    assert refund.decision == Decision.REPLY and "refund" in refund.tags
    assert not any(t.startswith("contact_reason:") for t in refund.tags)
    assert any(
        e.startswith("model.contact_reason:") and "not tagged: rules set refund" in e
        for e in refund.explanation.evidence
    )


def test_spam_drop_rule_wins_and_dropped_messages_get_no_model_tags(served):
    result = classify(
        message("check out my channel: parcel courier invoice payment status"), served
    )
    assert result.decision == Decision.DROP and result.tags[0] == "spam"
    assert not any(t.startswith(("contact_reason:", "sentiment:")) for t in result.tags)
    assert not any(r.startswith("model.") for r in result.explanation.rule_ids)
    assert "rule en.drop" in result.reason


def test_batch_scores_each_task_model_once_and_equals_the_single_path(served):
    texts = [
        "parcel courier missing again",
        "invoice payment debit wrong, lovely team though",
        "lol haha first dance",
        "Where is my order? tracking number please",
        "nice song",
    ]
    messages = [message(t) for t in texts]
    calls: Counter = Counter()
    for served_task in served.tasks:
        model, original = served_task.model, served_task.model.score_normalised

        def counting(batch, _original=original, _task=served_task.task):
            calls[_task] += 1
            return _original(batch)

        object.__setattr__(model, "score_normalised", counting)
    try:
        batch = [v.classification for v in classify_batch(messages, served)]
    finally:
        for served_task in served.tasks:
            del served_task.model.score_normalised
    assert calls == {"reply_needed": 1, "contact_reason": 1, "sentiment": 1}
    assert batch == [classify(m, served) for m in messages]
    model = served.task("contact_reason").model
    assert model.score_batch(texts) == [model.explain(t) for t in texts]


def test_a_model_contact_reason_counts_for_spikes(served):
    runtime = ClassifierRuntime(
        served,
        spikes=SpikeDetector(min_count=5, factor=4.0, warmup_windows=0),
        campaign_drop_authors=100,
    )
    texts = [
        f"courier {w} parcel depot {i}"
        for i, w in enumerate(["van", "late", "shipment", "grey", "wet", "torn"])
    ]
    outcomes = runtime.process([message(t, author=f"a{i}") for i, t in enumerate(texts)])
    assert all("contact_reason:delivery" in o.classification.tags for o in outcomes)
    assert ("tag:delivery", 5) in [(s.key, s.count) for o in outcomes for s in o.spikes]


def test_a_relevance_model_decides_only_when_no_reply_needed_model_is_served(
    trained, combo, tmp_path
):
    shutil.copy(
        trained / "reply_needed.skops", tmp_path / "reply_needed.skops"
    )  # the card names its artifact
    card = json.loads((trained / "reply_needed.json").read_text("utf-8"))
    (tmp_path / "relevance.json").write_text(json.dumps(card | {"task": "relevance"}), "utf-8")
    (relevance,) = load_task_models(
        ClassifierSettings(
            task_models=(str(tmp_path / "relevance.json"),),
            task_thresholds={"relevance": 0.6},
            shipped_task_models=False,
        )
    )
    assert (relevance.task, relevance.reply_label, relevance.noise_label) == (
        "relevance",
        "reply",
        "noise",
    )
    text = message("parcel courier missing status")
    alone = classify(text, dataclasses.replace(combo, tasks=(relevance,)))
    assert alone.decision == Decision.REPLY and "model.relevance" in alone.explanation.rule_ids
    both = classify(text, dataclasses.replace(combo, tasks=(combo.task("reply_needed"), relevance)))
    assert "model.reply_needed" in both.explanation.rule_ids
    assert not any(e.startswith("model.relevance") for e in both.explanation.evidence)


# -- precedence with exact scores ----------------------------------------------------------------
def _facts(models, text: str, reply: tuple[str, float], spam: float = 0.01, **extra) -> Facts:
    hits = tuple(models.rules["en"].match(text))
    answers = (
        ("reply_needed", TaskScore(reply[0], reply[1], (("word:x", 0.5),))),
        ("contact_reason", TaskScore("delivery", 0.9, ())),
        ("sentiment", TaskScore("negative", 0.4, ())),
    )
    return Facts(hits=hits, spam=SpamScore(spam, ()), tasks=answers, **extra)


def test_a_confident_reply_model_is_never_overridden_by_a_spam_score_alone(combo):
    result = build(
        message("win cash"), "en", _facts(combo, "win cash", ("reply", 0.99), spam=0.97), combo
    )
    assert (
        result.decision == Decision.REPLY
        and "spam score 0.97 overridden by reply_needed model" in result.reason
    )
    unsure = build(
        message("win cash"), "en", _facts(combo, "win cash", ("reply", 0.55), spam=0.97), combo
    )
    assert unsure.decision == Decision.DROP and "spam model scored 0.97" in unsure.reason
    assert not any(t.startswith("contact_reason:") for t in unsure.tags)


def test_a_reply_rule_or_urgency_is_never_demoted_only_plain_positive_talk_to_the_brand_is(combo):
    text = "please help me with this"  # en.reply.help
    ruled = build(message(text), "en", _facts(combo, text, ("noise", 0.99)), combo)
    assert (
        ruled.decision == Decision.REPLY and "model.reply_needed" not in ruled.explanation.rule_ids
    )
    assert "contact_reason:delivery" not in ruled.tags  # the help rule set the reason
    dm = message("ok see you", ChannelKind.DIRECT_MESSAGE)
    demoted = build(dm, "en", _facts(combo, dm.text, ("noise", 0.95), tone=0.4), combo)
    assert (demoted.decision, demoted.urgency, demoted.tags[0]) == (
        Decision.TAG,
        Urgency.LOW,
        "noise",
    )
    assert (
        "model.reply_needed" in demoted.explanation.rule_ids
        and "no answer is needed" in demoted.reason
    )
    assert (
        "contact_reason:delivery" in demoted.tags and "sentiment:negative" not in demoted.tags
    )  # 0.4 < 0.5
    neutral = build(dm, "en", _facts(combo, dm.text, ("noise", 0.95), tone=0.0), combo)
    assert (neutral.decision, neutral.urgency) == (
        Decision.REPLY,
        Urgency.LOW,
    )  # in doubt: an agent looks
    asks = message("ok see you?", ChannelKind.DIRECT_MESSAGE)
    assert (
        build(asks, "en", _facts(combo, asks.text, ("noise", 0.95), tone=0.4), combo).decision
        == Decision.REPLY
    )
    unsure = build(dm, "en", _facts(combo, dm.text, ("noise", 0.55), tone=0.4), combo)
    assert unsure.decision == Decision.REPLY
    hostile = build(
        dm, "en", _facts(combo, dm.text, ("noise", 0.95), offense=0.95, tone=0.4), combo
    )
    assert (hostile.decision, hostile.urgency) == (Decision.REPLY, Urgency.HIGH)
    vip = build(dm, "en", _facts(combo, dm.text, ("noise", 0.95), vip=True, tone=0.4), combo)
    assert (vip.decision, vip.urgency) == (Decision.REPLY, Urgency.HIGH)


def test_a_corrected_model_contact_reason_is_a_training_label():
    example = Example(
        "k", "parcel late", "en", "reply", ("contact_reason:delivery", "sentiment:negative"), T0
    )
    assert labels_of(example) == {
        "spam": "0",
        "reply_needed": "reply",
        "contact_reason": "delivery",
        "sentiment": "negative",
    }
    ruled = Example("k", "refund", "en", "reply", ("refund", "contact_reason:delivery"), T0)
    assert labels_of(ruled)["contact_reason"] == "refund"
    # the shared contact-reason tag (what the classifier sets and a helpdesk re-tags) wins over both
    retagged = Example(
        "k", "refund", "en", "reply", ("refund", "contact_reason:delivery", "reason:billing"), T0
    )
    assert labels_of(retagged)["contact_reason"] == "billing"
