"""The classifier's pure stage: ``classify_batch(messages, models) -> list[Verdict]``.

A batch is classified together: languages in one batched lingua call, the spam, tone and task
models once over all texts (one sparse matrix each), then per message the rules, PII and author
lists; the ``Facts`` so gathered (with the campaign each message belongs to, when the runtime's
flood detector found one) go to ``decision.build``, which holds the whole triage policy.
When shadow rules are loaded, each verdict also carries what they would have decided.
No I/O, no clock, no randomness: the same messages and models give the same results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from services.classifier.decision import ADDRESSED, REPLY_TASKS, Campaign, Facts, build
from services.classifier.rules import Hit
from services.classifier.serving.bundle import Models, ServedTask
from services.classifier.serving.model import SpamScore, content, normalise
from services.classifier.serving.tasks import Explanation as TaskScore
from services.classifier.signals import sentiment as sentiment_
from services.classifier.signals.language import languages_of
from shared.events import CanonicalMessage, Classification
from shared.pii import REGIONS, PiiFinding, find_pii

_NOT_SCORED = SpamScore(0.0, ())


@dataclass(frozen=True)
class Verdict:
    classification: Classification
    shadow: Classification | None = None  # what the shadow rule set would have decided


def classify(message: CanonicalMessage, models: Models) -> Classification:
    """Classify one message. Never raises on any valid ``CanonicalMessage``."""
    return classify_batch([message], models)[0].classification


def classify_batch(
    messages: Sequence[CanonicalMessage],
    models: Models,
    *,
    campaigns: Sequence[Campaign | None] | None = None,
) -> list[Verdict]:
    """One verdict per message, in order; ``campaigns`` (one per message, from the runtime's
    flood detector) are facts of the decision like any other. CPU-bound (blocks); call it off
    the event loop."""
    normalised = [normalise(m.text) for m in messages]  # what every model reads, once per batch
    contents = [content(n) for n in normalised]  # without links and @handles
    # the language of the words, not of links and handles ("http://www.heftig.co" reads as anything)
    languages = languages_of(contents, [m.language_hint for m in messages], models.detector)
    spams = spam_scores(messages, normalised, contents, models)
    tones = tone_scores(normalised, languages, models)
    answers = task_scores(contents, models)
    polarity = sentiment_.scores(normalised, languages)
    # each step over the whole batch before the next (rules, then PII, then the decisions): one
    # step's code and data stay in the CPU caches instead of being evicted message by message
    hits = [
        _hits(m, language, models, shadow=False)
        for m, language in zip(messages, languages, strict=True)
    ]
    pii = [
        find_pii(m.text, REGIONS.get(language))
        for m, language in zip(messages, languages, strict=True)
    ]
    shadow_hits = (
        [
            _hits(m, language, models, shadow=True)
            for m, language in zip(messages, languages, strict=True)
        ]
        if models.shadow_rules
        else [None] * len(messages)
    )
    campaigns = campaigns if campaigns is not None else [None] * len(messages)
    verdicts = []
    for i, message in enumerate(messages):
        facts = _facts(message, hits[i], spams[i], pii[i], tones[i], answers[i], models)
        facts = replace(
            facts, tone=polarity[i], scored=spams[i] is not _NOT_SCORED, campaign=campaigns[i]
        )
        live = build(message, languages[i], facts, models)
        extra = shadow_hits[i]
        shadow = (
            build(message, languages[i], replace(facts, hits=extra), models)
            if extra is not None
            else None
        )
        verdicts.append(Verdict(live, shadow))
    return verdicts


def spam_scores(
    messages: Sequence[CanonicalMessage],
    normalised: Sequence[str],
    contents: Sequence[str],
    models: Models,
) -> list[SpamScore]:
    """The spam model's score per message, in one batch call: a public comment as written (links are
    comment spam's strongest evidence), a message addressed to the brand without links and @handles
    (``model.content``); one with nothing else left is not scored (``_NOT_SCORED``)."""
    inputs = [
        c if m.channel_kind in ADDRESSED else n
        for m, n, c in zip(messages, normalised, contents, strict=True)
    ]
    picked = [i for i, text in enumerate(inputs) if text]
    scores = [_NOT_SCORED] * len(inputs)
    for i, score in zip(
        picked, models.spam.score_normalised([inputs[i] for i in picked]), strict=True
    ):
        scores[i] = score
    return scores


def tone_scores(
    normalised: Sequence[str], languages: Sequence[str], models: Models
) -> list[float | None]:
    """Offensive-tone probability per (``normalise``-d) text (one batch call), ``None`` where no
    tone model serves the message's language."""
    scores: list[float | None] = [None] * len(normalised)
    if models.tone is None:
        return scores
    picked = [i for i, lang in enumerate(languages) if lang in models.tone_languages]
    if picked:
        column = models.tone.classes.index("OFFENSE")
        probabilities = models.tone.predict_proba_normalised([normalised[i] for i in picked])[
            :, column
        ]
        for i, p in zip(picked, probabilities, strict=True):
            scores[i] = float(p)
    return scores


def served_tasks(models: Models) -> tuple[ServedTask, ...]:
    """The task models the stage consults: contact reason, sentiment, and one reply model
    (``reply_needed`` if served, else ``relevance``)."""
    reply = next((t for name in REPLY_TASKS if (t := models.task(name)) is not None), None)
    return tuple(t for t in models.tasks if t.task not in REPLY_TASKS or t is reply)


def task_scores(
    normalised: Sequence[str], models: Models
) -> list[tuple[tuple[str, TaskScore], ...]]:
    """Per (``normalise``-d) text, each consulted task model's label, probability and strongest
    n-grams: one vectorise and one predict per model over the batch. Empty tuples when none is served."""
    served = served_tasks(models)
    if not served or not normalised:
        return [()] * len(normalised)
    columns = [(t.task, t.model.score_normalised(normalised)) for t in served]
    return [tuple((task, scores[i]) for task, scores in columns) for i in range(len(normalised))]


def _hits(
    message: CanonicalMessage, language: str, models: Models, shadow: bool
) -> tuple[Hit, ...]:
    """The live (or shadow) rules that fire on the message, for its language."""
    return tuple(
        hit
        for rule_set in models.rules_for(language, shadow)
        for hit in rule_set.match(message.text)
    )


def _facts(
    message: CanonicalMessage,
    hits: tuple[Hit, ...],
    spam: SpamScore,
    pii: tuple[PiiFinding, ...],
    tone: float | None,
    tasks: tuple[tuple[str, TaskScore], ...],
    models: Models,
) -> Facts:
    followers = message.author.follower_count
    return Facts(
        hits=hits,
        spam=spam,
        pii=pii,
        blocked=message in models.authors.blocked,
        vip=message in models.authors.vip,
        followers=followers
        if followers is not None and followers >= models.large_account_followers
        else None,
        offense=tone,
        tasks=tasks,
    )


def shadow_changes(verdict: Verdict) -> dict[str, tuple] | None:
    """What the shadow rules would change (decision, urgency, tags, review), or ``None``."""
    live, shadow = verdict.classification, verdict.shadow
    if shadow is None:
        return None
    fields = ("decision", "urgency", "tags", "review_required")
    changed = {
        f: (getattr(live, f), getattr(shadow, f))
        for f in fields
        if getattr(live, f) != getattr(shadow, f)
    }
    return changed or None
