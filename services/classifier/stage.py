"""The classifier's pure core: ``classify_batch(messages, models) -> list[Verdict]``.

A batch is classified together: languages in one batched lingua call, the spam model once over all
texts (one sparse matrix), then per message the rules, PII, author lists and the decision.
Decision, in order of precedence:

1. the author is on the block list, or a ``drop`` rule fired → DROP;
2. the spam model scored ≥ threshold → DROP, *unless* an ``urgent`` rule fired or the author
   is a VIP: the model is trained on YouTube comments and SMS, not customer service, and a
   legal threat or a cancellation must never vanish into the spam folder on its word alone
   (PII does not override it: SMS spam is full of phone numbers);
3. an urgency signal — an ``urgent`` rule, a VIP, an account with at least
   ``large_account_followers`` followers, or PII exposed in a public channel → REPLY, high;
4. a ``review`` or ``reply`` rule fired, or the message is a direct message → REPLY, normal;
5. otherwise → TAG (noise, for reports only).

**Task models**, when served (``Models.tasks``; none by default), act after that, each scored once
per batch: a ``reply_needed`` model (else a ``relevance`` model) turns TAG into REPLY, or a
direct message's plain REPLY into TAG, when its label's probability reaches its threshold and
nothing above forced the decision (no drop, spam, urgent, review or reply rule, no urgency
signal, no offensive tone); a ``contact_reason`` model adds ``contact_reason:<label>`` unless a
rule already set a contact reason (rules win); a ``sentiment`` model adds ``sentiment:<label>``
unless a rule already set one. Dropped messages get neither tag. Each model's name, version,
label, score and threshold go into ``explanation.evidence`` (``model.<task>: …``) and, when it
acted, ``model.<task>`` into ``rule_ids``.

``review_required`` is set on replies when a ``review`` rule fired (four-eyes). Non-rule
signals appear in ``explanation.rule_ids`` under fixed ids (``authors.blocked``,
``authors.vip``, ``account.large``, ``pii.<kind>``) so every decision names what caused it.
When shadow rules are loaded, each verdict also carries what they would have decided.
No I/O, no clock, no randomness: the same messages and models give the same results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from services.classifier.bundle import Models, ServedTask
from services.classifier.language import languages_of
from services.classifier.model import SpamScore, normalise
from services.classifier.pii import REGIONS, PiiFinding, find_pii
from services.classifier.rules import Action, Hit
from services.classifier.tasks import Explanation as TaskScore
from services.classifier.taxonomy import MODEL_REASON
from shared.events import (
    REASON_TAG,
    CanonicalMessage,
    ChannelKind,
    Classification,
    Decision,
    Explanation,
    Urgency,
    tagged,
)

SPAM_MODEL = "spam"
PUBLIC = frozenset({ChannelKind.PUBLIC_COMMENT, ChannelKind.REVIEW, ChannelKind.MENTION})
REPLY_TASKS = ("reply_needed", "relevance")  # the first one served decides


@dataclass(frozen=True)
class Facts:
    """Everything known about one message before deciding."""

    hits: tuple[Hit, ...]
    spam: SpamScore
    pii: tuple[PiiFinding, ...] = ()
    blocked: bool = False
    vip: bool = False
    followers: int | None = None  # set only when at or above the large-account threshold
    offense: float | None = None  # offensive-tone probability, where a tone model serves the language
    tasks: tuple[tuple[str, TaskScore], ...] = ()  # (task, its model's answer) per served task model


@dataclass(frozen=True)
class Verdict:
    classification: Classification
    shadow: Classification | None = None  # what the shadow rule set would have decided


def classify(message: CanonicalMessage, models: Models) -> Classification:
    """Classify one message. Never raises on any valid ``CanonicalMessage``."""
    return classify_batch([message], models)[0].classification


def classify_batch(messages: Sequence[CanonicalMessage], models: Models) -> list[Verdict]:
    """One verdict per message, in order. CPU-bound (blocks); call it off the event loop."""
    languages = languages_of([m.text for m in messages], [m.language_hint for m in messages], models.detector)
    normalised = [normalise(m.text) for m in messages]  # what every model reads, once per batch
    spams = models.spam.score_normalised(normalised)
    tones = tone_scores(normalised, languages, models)
    answers = task_scores(normalised, models)
    # each step over the whole batch before the next (rules, then PII, then the decisions): one
    # step's code and data stay in the CPU caches instead of being evicted message by message
    hits = [_hits(m, language, models, shadow=False) for m, language in zip(messages, languages, strict=True)]
    pii = [find_pii(m.text, REGIONS.get(language)) for m, language in zip(messages, languages, strict=True)]
    shadow_hits = ([_hits(m, language, models, shadow=True) for m, language in zip(messages, languages, strict=True)]
                   if models.shadow_rules else [None] * len(messages))
    verdicts = []
    for i, message in enumerate(messages):
        facts = _facts(message, hits[i], spams[i], pii[i], tones[i], answers[i], models)
        live = build(message, languages[i], facts, models)
        shadow = (build(message, languages[i], replace(facts, hits=shadow_hits[i]), models)
                  if shadow_hits[i] is not None else None)
        verdicts.append(Verdict(live, shadow))
    return verdicts


def tone_scores(normalised: Sequence[str], languages: Sequence[str], models: Models) -> list[float | None]:
    """Offensive-tone probability per (``normalise``-d) text (one batch call), ``None`` where no
    tone model serves the message's language."""
    scores: list[float | None] = [None] * len(normalised)
    if models.tone is None:
        return scores
    picked = [i for i, lang in enumerate(languages) if lang in models.tone_languages]
    if picked:
        column = models.tone.classes.index("OFFENSE")
        probabilities = models.tone.predict_proba_normalised([normalised[i] for i in picked])[:, column]
        for i, p in zip(picked, probabilities, strict=True):
            scores[i] = float(p)
    return scores


def served_tasks(models: Models) -> tuple[ServedTask, ...]:
    """The task models the stage consults: contact reason, sentiment, and one reply model
    (``reply_needed`` if served, else ``relevance``)."""
    reply = next((t for name in REPLY_TASKS if (t := models.task(name)) is not None), None)
    return tuple(t for t in models.tasks if t.task not in REPLY_TASKS or t is reply)


def task_scores(normalised: Sequence[str], models: Models) -> list[tuple[tuple[str, TaskScore], ...]]:
    """Per (``normalise``-d) text, each consulted task model's label, probability and strongest
    n-grams: one vectorise and one predict per model over the batch. Empty tuples when none is served."""
    served = served_tasks(models)
    if not served or not normalised:
        return [()] * len(normalised)
    columns = [(t.task, t.model.score_normalised(normalised)) for t in served]
    return [tuple((task, scores[i]) for task, scores in columns) for i in range(len(normalised))]


def _hits(message: CanonicalMessage, language: str, models: Models, shadow: bool) -> tuple[Hit, ...]:
    """The live (or shadow) rules that fire on the message, for its language."""
    return tuple(hit for rule_set in models.rules_for(language, shadow) for hit in rule_set.match(message.text))


def _facts(message: CanonicalMessage, hits: tuple[Hit, ...], spam: SpamScore, pii: tuple[PiiFinding, ...],
           tone: float | None, tasks: tuple[tuple[str, TaskScore], ...], models: Models) -> Facts:
    followers = message.author.follower_count
    return Facts(
        hits=hits, spam=spam, pii=pii,
        blocked=message in models.authors.blocked,
        vip=message in models.authors.vip,
        followers=followers if followers is not None and followers >= models.large_account_followers else None,
        offense=tone,
        tasks=tasks,
    )


def build(message: CanonicalMessage, language: str, facts: Facts, models: Models) -> Classification:
    """The ``Classification`` for ``facts``: decision, tags, urgency and full explanation."""
    decision, urgency, reason = decide(message, facts, models.spam_threshold)
    offensive = facts.offense is not None and facts.offense >= models.tone_threshold
    model_ids: list[str] = []
    model_evidence: list[str] = []
    if facts.tasks and not message.text_unavailable:
        decision, urgency, reason = _reply_model(decision, urgency, reason, facts, models, offensive,
                                                 model_ids, model_evidence)
    if offensive and decision == Decision.REPLY and urgency != Urgency.HIGH:
        # a reply is owed anyway and the tone is hostile: answer it first, before it escalates
        urgency, reason = Urgency.HIGH, f"{reason.rstrip('.')}; offensive tone ({facts.offense:.2f}) makes it urgent."
    review = decision == Decision.REPLY and any(h.rule.action == Action.REVIEW for h in facts.hits)
    tags = _tags(decision, message, facts) + (("tone:offensive",) if offensive else ())
    if facts.tasks:
        tags = _task_tags(decision, tags, facts, models, model_ids, model_evidence)
    tags = _with_reason(tags, models)
    return Classification(
        decision=decision, language=language, urgency=urgency,
        tags=tags,
        reason=reason[:512], review_required=review,
        explanation=Explanation(
            rule_ids=(*(hit.rule.id for hit in facts.hits), *_signal_ids(message, facts), *model_ids),
            model=SPAM_MODEL, model_version=models.spam.card.version, score=round(facts.spam.probability, 4),
            threshold=models.spam_threshold,
            evidence=(_evidence(message, facts, models.large_account_followers) + _tone_evidence(facts, models)
                      + tuple(model_evidence)),
        ),
    )


def _with_reason(tags: tuple[str, ...], models: Models) -> tuple[str, ...]:
    """``tags`` and the message's one contact reason as ``reason:<id>`` (``shared.events.REASON_TAG``,
    what the router and helpdesks read): of its rule tags the contact reason that comes first in
    ``taxonomy.yaml`` (the file's order is the precedence: legal before refund before very-negative),
    else a contact-reason model's label."""
    reason = models.taxonomy.primary(tags) or tagged(tags, MODEL_REASON)
    return (*tags, f"{REASON_TAG}{reason}") if reason else tags


def _said(served: ServedTask, score: TaskScore) -> str:
    """``model.<task>: <name> <version>: <label> 0.91 (threshold 0.80)`` — the evidence prefix."""
    card = served.model.card
    return f"model.{served.task}: {card.name} {card.version}: {score.label} {score.probability:.2f} " \
           f"(threshold {served.threshold:.2f})"


def _grams(score: TaskScore) -> str:
    return "; n-grams " + ", ".join(f"{name!r} +{weight:.2f}" for name, weight in score.features) \
        if score.features else ""


def _reply_model(decision: Decision, urgency: Urgency, reason: str, facts: Facts, models: Models, offensive: bool,
                 ids: list[str], evidence: list[str]) -> tuple[Decision, Urgency, str]:
    """Let the reply-needed (or relevance) model promote TAG → REPLY or demote a direct
    message's plain REPLY → TAG, when confident and when nothing authoritative decided."""
    answers = dict(facts.tasks)
    served = next((t for name in REPLY_TASKS if name in answers and (t := models.task(name)) is not None), None)
    if served is None:
        return decision, urgency, reason
    score = answers[served.task]
    said = _said(served, score)
    wants_reply = score.label == served.reply_label
    confident = score.probability >= served.threshold
    asked = any(h.rule.action in (Action.REVIEW, Action.REPLY) for h in facts.hits)
    if decision == Decision.DROP:
        evidence.append(f"{said}; not applied: the drop stands")
    elif decision == Decision.TAG and wants_reply and confident:
        ids.append(f"model.{served.task}")
        evidence.append(f"{said}; tag → reply{_grams(score)}")
        return Decision.REPLY, Urgency.NORMAL, (
            f"Reply needed: {served.task} model {served.model.card.name} scored {score.label} "
            f"{score.probability:.2f} (threshold {served.threshold:.2f}); no rule decided.")
    elif (decision == Decision.REPLY and urgency == Urgency.NORMAL and not asked and not offensive
          and not wants_reply and confident):
        ids.append(f"model.{served.task}")
        evidence.append(f"{said}; reply → tag{_grams(score)}")
        return Decision.TAG, Urgency.LOW, (
            f"Tagged as noise: {served.task} model {served.model.card.name} scored {score.label} "
            f"{score.probability:.2f} (threshold {served.threshold:.2f}) on a direct message no rule asked to answer.")
    elif (decision == Decision.REPLY) != wants_reply and confident:
        evidence.append(f"{said}; not applied: rules or urgency signals decided")
    else:
        evidence.append(f"{said}; decision kept" + ("" if confident else " (below threshold)"))
    return decision, urgency, reason


def _task_tags(decision: Decision, tags: tuple[str, ...], facts: Facts, models: Models, ids: list[str],
               evidence: list[str]) -> tuple[str, ...]:
    """``contact_reason:<label>`` and ``sentiment:<label>`` from their models, rules first."""
    if decision == Decision.DROP:
        return tags
    answers = dict(facts.tasks)
    added: list[str] = []
    rule_tags = [tag for hit in facts.hits for tag in hit.rule.tags]
    for task, taken in (("contact_reason", [t for t in rule_tags if models.taxonomy.is_reason(t)]),
                        ("sentiment", [t for t in tags if t.startswith("sentiment:")])):
        served, score = models.task(task), answers.get(task)
        if served is None or score is None:
            continue
        said = _said(served, score)
        if taken:
            evidence.append(f"{said}; not tagged: rules set {', '.join(dict.fromkeys(taken))}")
        elif score.probability >= served.threshold:
            added.append(f"{task}:{score.label}")
            ids.append(f"model.{task}")
            evidence.append(f"{said}{_grams(score)}")
        else:
            evidence.append(f"{said}; not tagged (below threshold)")
    return tuple(dict.fromkeys((*tags, *added)))


def decide(message: CanonicalMessage, facts: Facts, threshold: float) -> tuple[Decision, Urgency, str]:
    """The decision, its urgency and a one-sentence reason (see the module docstring)."""
    fired = _fired(facts.hits)
    spam = facts.spam.probability
    if facts.blocked:
        return Decision.DROP, Urgency.LOW, "Dropped: the author is on the block list."
    if message.text_unavailable:  # not the customer's words: no rule or model can judge it
        return Decision.REPLY, Urgency.NORMAL, ("Reply needed: the ingestor could not fetch this message's text; "
                                                "open it on the platform.")
    if fired[Action.DROP]:
        first = fired[Action.DROP][0]
        return Decision.DROP, Urgency.LOW, f"Dropped as spam: rule {first.rule.id} matched “{first.matched}”."
    overrides = [h.rule.id for h in fired[Action.URGENT]] + (["VIP author"] if facts.vip else [])
    if spam >= threshold and not overrides:
        return Decision.DROP, Urgency.LOW, f"Dropped as spam: spam model scored {spam:.2f} (threshold {threshold:.2f})."
    if urgent := _urgent_causes(message, facts, overrides):
        override = f"; spam score {spam:.2f} overridden" if spam >= threshold else ""
        return Decision.REPLY, Urgency.HIGH, f"Urgent reply needed: {', '.join(urgent)}{override}."
    if asks := fired[Action.REVIEW] + fired[Action.REPLY]:
        review = " (four-eyes review)" if fired[Action.REVIEW] else ""
        return Decision.REPLY, Urgency.NORMAL, f"Reply needed{review}: {', '.join(h.rule.id for h in asks)} fired."
    if message.channel_kind == ChannelKind.DIRECT_MESSAGE:
        return Decision.REPLY, Urgency.NORMAL, "Reply needed: a direct message is always answered."
    return Decision.TAG, Urgency.LOW, (
        f"Tagged as noise: no reply rule fired and spam score {spam:.2f} is below {threshold:.2f}.")


_ACTIONS = tuple(Action)
_NOTHING_FIRED: dict[Action, tuple[Hit, ...]] = {action: () for action in _ACTIONS}  # read only


def _fired(hits: tuple[Hit, ...]) -> dict[Action, tuple[Hit, ...]]:
    """The hits by action, in order (most messages fire no rule: one shared empty answer)."""
    if not hits:
        return _NOTHING_FIRED
    fired: dict[Action, list[Hit]] = {action: [] for action in _ACTIONS}
    for hit in hits:
        fired[hit.rule.action].append(hit)
    return {action: tuple(found) for action, found in fired.items()}


def _urgent_causes(message: CanonicalMessage, facts: Facts, overrides: list[str]) -> list[str]:
    causes = list(overrides)
    if facts.followers is not None:
        causes.append(f"large account ({facts.followers} followers)")
    if facts.pii and message.channel_kind in PUBLIC:
        causes.append("personal data exposed in public (" + ", ".join(sorted({p.kind for p in facts.pii})) + ")")
    return causes


def _signal_ids(message: CanonicalMessage, facts: Facts) -> tuple[str, ...]:
    ids = ["ingest.text-unavailable"] if message.text_unavailable else []
    ids += ["authors.blocked"] if facts.blocked else []
    ids += ["authors.vip"] if facts.vip else []
    ids += ["account.large"] if facts.followers is not None else []
    ids += [f"pii.{kind}" for kind in dict.fromkeys(p.kind for p in facts.pii)]
    return tuple(ids)


def _tags(decision: Decision, message: CanonicalMessage, facts: Facts) -> tuple[str, ...]:
    """Decision tag first (``spam``/``noise``), then rule tags, signals and ``pii:<kind>``."""
    lead = {Decision.DROP: ("spam",), Decision.TAG: ("noise",), Decision.REPLY: ()}[decision]
    signals = (("blocked-author",) if facts.blocked else ()) + (("vip",) if facts.vip else ()) + (
        ("large-account",) if facts.followers is not None else ()) + (
        ("text-unavailable",) if message.text_unavailable else ())
    pii = tuple(f"pii:{p.kind}" for p in facts.pii)
    return tuple(dict.fromkeys((*lead, *(tag for hit in facts.hits for tag in hit.rule.tags), *signals, *pii)))


def _evidence(message: CanonicalMessage, facts: Facts, large: int) -> tuple[str, ...]:
    """Matched phrases per rule, signals (PII masked), then the strongest spam n-grams."""
    phrases = [f"{hit.rule.id}: “{hit.matched}”" for hit in facts.hits]
    if facts.followers is not None:
        phrases.append(f"account.large: {facts.followers} followers ≥ {large}")
    phrases += [f"pii.{p.kind}: {p.masked} in a {message.channel_kind.value}" for p in facts.pii]
    grams = [f"spam n-gram {name!r} +{weight:.2f}" for name, weight in facts.spam.features]
    return tuple(phrases + grams)


def _tone_evidence(facts: Facts, models: Models) -> tuple[str, ...]:
    if facts.offense is None or models.tone is None:
        return ()
    card = models.tone.card
    return (f"tone model {card.name} {card.version}: offense {facts.offense:.2f} (threshold {models.tone_threshold:.2f})",)


def shadow_changes(verdict: Verdict) -> dict[str, tuple] | None:
    """What the shadow rules would change (decision, urgency, tags, review), or ``None``."""
    live, shadow = verdict.classification, verdict.shadow
    if shadow is None:
        return None
    fields = ("decision", "urgency", "tags", "review_required")
    changed = {f: (getattr(live, f), getattr(shadow, f)) for f in fields if getattr(live, f) != getattr(shadow, f)}
    return changed or None

