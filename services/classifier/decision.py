"""The whole triage decision, pure: ``build(message, language, facts, models) -> Classification``.

``Facts`` is everything known about one message (``stage`` gathers them for a batch: rule hits,
spam and task-model scores, tone, PII, author lists, and the campaign the flood detector put it
in); ``Models`` carries the thresholds. Cost-aware: a genuine customer dropped or buried as
noise is a lost customer, an agent glancing at noise costs seconds. In order of precedence:

1. the author is on the block list → DROP; the text could not be fetched → REPLY;
2. a ``drop`` rule fired and no ``urgent``/``review``/``reply`` rule did → DROP (the rule is the evidence);
3. the spam model scored ≥ the channel's threshold → DROP, *unless* something says the message needs
   a person: an ``urgent``/``review``/``reply`` rule, a VIP, the reply-needed model (confident), or —
   on a message addressed to the brand — a negative tone. A spam score alone never overrides them.
   The threshold is per channel kind: ``spam_threshold`` (0.5) for public comments, where comment spam
   lives; ``spam_threshold_addressed`` (0.9) for mentions, direct messages and reviews, which are
   written *to* the brand. On those the model reads ``model.content`` (no links, no @handles: X wraps
   every link and picture in t.co, so a link is no evidence), and a message with nothing else left
   (a picture, a forwarded post) is not scored at all;
4. an urgency signal — an ``urgent`` rule, a VIP, an account with at least
   ``large_account_followers`` followers, or PII exposed in a public channel → REPLY, high;
5. a ``review`` or ``reply`` rule fired → REPLY, normal;
6. a message addressed to the brand (mention, direct message, review) → REPLY, *unless* the
   reply-needed model is confident it needs no answer (praise, thanks, chatter) and its tone is not
   negative and it asks nothing ("?") → TAG. A reply nothing specific asked for is LOW urgency:
   when in doubt it reaches an agent, at the back of the queue;
7. a public comment → TAG (noise), unless the reply-needed model is confident it needs an answer,
   or its tone is clearly negative (≤ ``NEGATIVE_REPLY``) and it is addressed in the second person
   or asks something → REPLY, low;
8. a near-duplicate of messages from other authors (``Facts.campaign``, ``signals.flood``) is
   tagged ``campaign:<id>``, and one that would be noise (TAG) is dropped once the campaign has
   more than ``Campaign.drop_authors`` distinct authors: a message that asks for a reply is never
   dropped for being similar to others (many customers writing "my order never arrived" at once is
   a widespread issue, the spike detector's business, not spam).

**Task models**: the ``reply_needed`` model (``reply-needed-v1`` ships by default; a ``relevance``
model serves when no reply model is) acts in 3, 6 and 7 as described, each decision naming its
label, probability and threshold in ``explanation.evidence``; a ``contact_reason`` model adds
``contact_reason:<label>`` unless a rule already set a contact reason (rules win); a ``sentiment``
model adds ``sentiment:<label>`` unless a rule already set one. **Sentiment** (``signals.sentiment``:
VADER for English, the team's lexicon for German) gives every kept message in those languages a
``sentiment:<label>`` tag unless a rule or model set one. Dropped messages get none of these tags.

``review_required`` is set on replies when a ``review`` rule fired (four-eyes). Non-rule
signals appear in ``explanation.rule_ids`` under fixed ids (``authors.blocked``,
``authors.vip``, ``account.large``, ``pii.<kind>``, ``flood.campaign``) so every decision names
what caused it.
No I/O, no clock, no randomness: the same facts and models give the same classification.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.classifier.rules import Action, Hit
from services.classifier.rules.taxonomy import MODEL_REASON
from services.classifier.serving.bundle import Models, ServedTask
from services.classifier.serving.model import SpamScore, content, normalise
from services.classifier.serving.tasks import Explanation as TaskScore
from services.classifier.signals import sentiment as sentiment_
from services.classifier.signals.flood import CampaignMatch
from services.classifier.signals.language import UNDETERMINED
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
from shared.pii import PiiFinding

SPAM_MODEL = "spam"
PUBLIC = frozenset({ChannelKind.PUBLIC_COMMENT, ChannelKind.REVIEW, ChannelKind.MENTION})
# written to the brand: a person at the brand is who the customer expects to answer
ADDRESSED = frozenset({ChannelKind.MENTION, ChannelKind.DIRECT_MESSAGE, ChannelKind.REVIEW})
REPLY_TASKS = ("reply_needed", "relevance")  # the first one served decides
NEGATIVE_VETO = (
    -0.3
)  # an addressed message at least this negative is a complaint, never spam on a score alone
NEGATIVE_REPLY = (
    -0.5
)  # a public comment this negative that addresses the brand or asks something gets a reply
# Generic reply patterns (a question, "help"): comment spam asks viewers for help and subscriptions,
# so on a public comment these do not outweigh a spam score of ``STRONG_SPAM`` or more. Every other
# reply, review and urgent rule does, everywhere, and on messages addressed to the brand these too.
WEAK_REPLY_TAGS = frozenset({"question", "help"})
STRONG_SPAM = 0.9
SENTIMENT_NAME = "vader-en+team-lexicon-de"
_SECOND_PERSON = frozenset(
    {
        "you",
        "your",
        "yours",
        "u",
        "ur",
        "du",
        "dich",
        "dir",
        "dein",
        "deine",
        "ihr",
        "euch",
        "euer",
        "eure",
        "sie",
        "ihnen",
        "ihre",
        "vous",
        "votre",
        "usted",
        "ustedes",
    }
)


@dataclass(frozen=True)
class Campaign:
    """The flood detector's finding for a message, and the policy's limit for it."""

    match: CampaignMatch
    drop_authors: int  # noise in a campaign with more distinct authors than this is dropped


@dataclass(frozen=True)
class Facts:
    """Everything known about one message before deciding."""

    hits: tuple[Hit, ...]
    spam: SpamScore
    pii: tuple[PiiFinding, ...] = ()
    blocked: bool = False
    vip: bool = False
    followers: int | None = None  # set only when at or above the large-account threshold
    offense: float | None = (
        None  # offensive-tone probability, where a tone model serves the language
    )
    tasks: tuple[
        tuple[str, TaskScore], ...
    ] = ()  # (task, its model's answer) per served task model
    tone: float | None = (
        None  # sentiment compound in [-1, 1] (``sentiment.scores``), where the language has one
    )
    scored: bool = True  # False: nothing but links and @handles was left to score for spam
    campaign: Campaign | None = (
        None  # a near-duplicate campaign from other authors (``signals.flood``)
    )


def build(message: CanonicalMessage, language: str, facts: Facts, models: Models) -> Classification:
    """The ``Classification`` for ``facts``: decision, tags, urgency and full explanation."""
    offensive = facts.offense is not None and facts.offense >= models.tone_threshold
    model_ids: list[str] = []
    model_evidence: list[str] = []
    decision, urgency, reason = decide(message, facts, models, model_ids, model_evidence, language)
    if offensive and decision == Decision.REPLY and urgency != Urgency.HIGH:
        # a reply is owed anyway and the tone is hostile: answer it first, before it escalates
        urgency, reason = (
            Urgency.HIGH,
            f"{reason.rstrip('.')}; offensive tone ({facts.offense:.2f}) makes it urgent.",
        )
    review = decision == Decision.REPLY and any(h.rule.action == Action.REVIEW for h in facts.hits)
    tags = _tags(decision, message, facts) + (("tone:offensive",) if offensive else ())
    if facts.tasks:
        tags = _task_tags(decision, tags, facts, models, model_ids, model_evidence)
    if (
        decision != Decision.DROP
        and facts.tone is not None
        and not any(t.startswith("sentiment:") for t in tags)
    ):
        tags = (*tags, f"sentiment:{sentiment_.label(facts.tone)}")
        model_evidence.append(f"sentiment: {SENTIMENT_NAME}: compound {facts.tone:+.2f}")
    tags = _with_reason(tags, models)
    result = Classification(
        decision=decision,
        language=language,
        urgency=urgency,
        tags=tags,
        reason=reason[:512],
        review_required=review,
        explanation=Explanation(
            rule_ids=(
                *(hit.rule.id for hit in facts.hits),
                *_signal_ids(message, facts),
                *model_ids,
            ),
            model=SPAM_MODEL,
            model_version=models.spam.card.version,
            score=round(facts.spam.probability, 4),
            threshold=spam_threshold(message, models, language),
            evidence=(
                _evidence(message, facts, models.large_account_followers)
                + _tone_evidence(facts, models)
                + tuple(model_evidence)
            ),
        ),
    )
    return result if facts.campaign is None else _with_campaign(result, facts.campaign)


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
    return (
        f"model.{served.task}: {card.name} {card.version}: {score.label} {score.probability:.2f} "
        f"(threshold {served.threshold:.2f})"
    )


def _grams(score: TaskScore) -> str:
    return (
        "; n-grams " + ", ".join(f"{name!r} +{weight:.2f}" for name, weight in score.features)
        if score.features
        else ""
    )


def _task_tags(
    decision: Decision,
    tags: tuple[str, ...],
    facts: Facts,
    models: Models,
    ids: list[str],
    evidence: list[str],
) -> tuple[str, ...]:
    """``contact_reason:<label>`` and ``sentiment:<label>`` from their models, rules first."""
    if decision == Decision.DROP:
        return tags
    answers = dict(facts.tasks)
    added: list[str] = []
    rule_tags = [tag for hit in facts.hits for tag in hit.rule.tags]
    for task, taken in (
        ("contact_reason", [t for t in rule_tags if models.taxonomy.is_reason(t)]),
        ("sentiment", [t for t in tags if t.startswith("sentiment:")]),
    ):
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


def spam_threshold(message: CanonicalMessage, models: Models, language: str) -> float:
    """The spam probability that drops a message of this channel kind in this language (see the
    module docstring)."""
    threshold = (
        models.spam_threshold_addressed
        if message.channel_kind in ADDRESSED
        else models.spam_threshold
    )
    if language in models.spam_languages or language == UNDETERMINED:  # no words to say otherwise
        return threshold
    return max(threshold, models.spam_threshold_foreign)


@dataclass(frozen=True)
class _ReplyView:
    """The reply-needed (or relevance) model's answer, as the decision reads it."""

    said: str  # the evidence prefix
    reply: float  # probability that a reply is needed
    threshold: float
    task: str

    @property
    def wants_reply(self) -> bool:
        return self.reply >= self.threshold

    @property
    def no_reply(self) -> bool:
        return 1.0 - self.reply >= self.threshold


def _reply_view(facts: Facts, models: Models) -> _ReplyView | None:
    answers = dict(facts.tasks)
    served = next(
        (t for name in REPLY_TASKS if name in answers and (t := models.task(name)) is not None),
        None,
    )
    if served is None:
        return None
    score = answers[served.task]
    reply = score.probability if score.label == served.reply_label else 1.0 - score.probability
    return _ReplyView(_said(served, score) + _grams(score), reply, served.threshold, served.task)


def _asks(text: str) -> bool:
    """A question mark, or the brand addressed in the second person."""
    if "?" in text or "？" in text:
        return True
    return not _SECOND_PERSON.isdisjoint(text.lower().replace("'", " ").split())


def decide(
    message: CanonicalMessage,
    facts: Facts,
    models: Models,
    ids: list[str] | None = None,
    evidence: list[str] | None = None,
    language: str = "en",
) -> tuple[Decision, Urgency, str]:
    """The decision, its urgency and a one-sentence reason (see the module docstring). What the
    reply-needed model contributed goes into ``ids`` and ``evidence``."""
    ids = [] if ids is None else ids
    evidence = [] if evidence is None else evidence
    fired = _fired(facts.hits)
    spam, threshold = facts.spam.probability, spam_threshold(message, models, language)
    addressed = message.channel_kind in ADDRESSED
    view = _reply_view(facts, models) if facts.tasks and not message.text_unavailable else None
    if facts.blocked:
        return Decision.DROP, Urgency.LOW, "Dropped: the author is on the block list."
    if message.text_unavailable:  # not the customer's words: no rule or model can judge it
        return (
            Decision.REPLY,
            Urgency.NORMAL,
            (
                "Reply needed: the ingestor could not fetch this message's text; "
                "open it on the platform."
            ),
        )
    asked_by_rule = fired[Action.URGENT] + fired[Action.REVIEW] + fired[Action.REPLY]
    if fired[Action.DROP] and not asked_by_rule:
        first = fired[Action.DROP][0]
        return (
            Decision.DROP,
            Urgency.LOW,
            f"Dropped as spam: rule {first.rule.id} matched “{first.matched}”.",
        )
    overrides = [h.rule.id for h in fired[Action.URGENT]] + (["VIP author"] if facts.vip else [])
    weak_ok = addressed or spam < STRONG_SPAM
    vetoes = [
        *overrides,
        *(
            h.rule.id
            for h in fired[Action.REVIEW] + fired[Action.REPLY]
            if weak_ok or not WEAK_REPLY_TAGS.issuperset(h.rule.tags)
        ),
    ]
    if view is not None and view.wants_reply:
        vetoes.append(f"{view.task} model ({view.reply:.2f})")
    if addressed and facts.tone is not None and facts.tone <= NEGATIVE_VETO:
        vetoes.append(f"negative tone ({facts.tone:+.2f})")
    if spam >= threshold and not vetoes:
        if view is not None:
            evidence.append(f"{view.said}; not applied: the spam model decided")
        return (
            Decision.DROP,
            Urgency.LOW,
            (
                f"Dropped as spam: spam model scored {spam:.2f} (threshold {threshold:.2f}"
                f" for a {message.channel_kind.value})."
            ),
        )
    override = (
        f"; spam score {spam:.2f} overridden by {', '.join(vetoes)}" if spam >= threshold else ""
    )
    if (
        spam >= threshold and not vetoes
    ):  # a weak reply rule lost against the score: it is not asked any more
        fired = {**fired, Action.REPLY: (), Action.REVIEW: fired[Action.REVIEW]}
    if urgent := _urgent_causes(message, facts, overrides):
        return Decision.REPLY, Urgency.HIGH, f"Urgent reply needed: {', '.join(urgent)}{override}."
    if asks := fired[Action.REVIEW] + fired[Action.REPLY]:
        review = " (four-eyes review)" if fired[Action.REVIEW] else ""
        return (
            Decision.REPLY,
            Urgency.NORMAL,
            f"Reply needed{review}: {', '.join(h.rule.id for h in asks)} fired{override}.",
        )
    text = content(normalise(message.text))
    tone = "" if facts.tone is None else f", tone {facts.tone:+.2f}"
    if addressed:
        if not text:
            return (
                Decision.REPLY,
                Urgency.LOW,
                (
                    "Reply needed (low priority): nothing but links or @handles, "
                    "a picture or a forwarded post; an agent should look."
                ),
            )
        positive = facts.tone is not None and sentiment_.label(facts.tone) == "positive"
        hostile = facts.offense is not None and facts.offense >= models.tone_threshold
        if view is not None and view.no_reply and positive and not hostile and "?" not in text:
            ids.append(f"model.{view.task}")
            evidence.append(f"{view.said}; no reply needed")
            return (
                Decision.TAG,
                Urgency.LOW,
                (
                    f"Tagged as noise: {view.task} model is confident no answer is needed "
                    f"({1 - view.reply:.2f}){tone}, and the message asks nothing."
                ),
            )
        if view is not None:
            evidence.append(f"{view.said}; addressed to the brand: an agent decides")
        if view is not None and view.wants_reply:
            ids.append(f"model.{view.task}")
            return (
                Decision.REPLY,
                Urgency.NORMAL,
                (
                    f"Reply needed: {view.task} model scored {view.reply:.2f} "
                    f"(threshold {view.threshold:.2f}){override}."
                ),
            )
        return (
            Decision.REPLY,
            Urgency.LOW,
            (
                f"Reply needed (low priority): a {message.channel_kind.value} addressed "
                f"to the brand that no rule or model could call noise{tone}{override}."
            ),
        )
    if view is not None and view.wants_reply:
        ids.append(f"model.{view.task}")
        evidence.append(f"{view.said}; tag → reply")
        return (
            Decision.REPLY,
            Urgency.NORMAL,
            (
                f"Reply needed: {view.task} model scored {view.reply:.2f} "
                f"(threshold {view.threshold:.2f}); no rule decided{override}."
            ),
        )
    if facts.tone is not None and facts.tone <= NEGATIVE_REPLY and _asks(text):
        return (
            Decision.REPLY,
            Urgency.LOW,
            (
                f"Reply needed (low priority): a negative comment{tone} that addresses "
                f"the brand or asks something{override}."
            ),
        )
    if view is not None:
        evidence.append(f"{view.said}; decision kept")
    return (
        Decision.TAG,
        Urgency.LOW,
        (
            f"Tagged as noise: no reply rule fired, no model asked for a reply, spam score {spam:.2f} is below "
            f"{threshold:.2f}{tone}."
        ),
    )


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
        causes.append(
            "personal data exposed in public ("
            + ", ".join(sorted({p.kind for p in facts.pii}))
            + ")"
        )
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
    signals = (
        (("blocked-author",) if facts.blocked else ())
        + (("vip",) if facts.vip else ())
        + (("large-account",) if facts.followers is not None else ())
        + (("text-unavailable",) if message.text_unavailable else ())
    )
    pii = tuple(f"pii:{p.kind}" for p in facts.pii)
    return tuple(
        dict.fromkeys(
            (*lead, *(tag for hit in facts.hits for tag in hit.rule.tags), *signals, *pii)
        )
    )


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
    return (
        f"tone model {card.name} {card.version}: offense {facts.offense:.2f} (threshold {models.tone_threshold:.2f})",
    )


def _with_campaign(result: Classification, campaign: Campaign) -> Classification:
    """``result`` tagged ``campaign:<id>`` with its evidence; dropped when the campaign has
    more than ``drop_authors`` distinct authors *and* the message would otherwise be noise.

    A message that asks for a reply (a reply/urgent/review rule, a direct message, a VIP, …)
    is never dropped for being similar to others: many customers writing "my order never
    arrived" at once is a widespread issue (the spike detector's job), not spam."""
    match, drop_authors = campaign.match, campaign.drop_authors
    evidence = (
        f"flood.campaign: near-duplicate (similarity {match.similarity:.2f}) in campaign {match.campaign_id}: "
        f"{match.messages} messages from {match.authors} authors; dropped above {drop_authors}"
    )
    update: dict = {
        "tags": tuple(dict.fromkeys((*result.tags, f"campaign:{match.campaign_id}"))),
        "explanation": result.explanation.model_copy(
            update={
                "rule_ids": (*result.explanation.rule_ids, "flood.campaign"),
                "evidence": (*result.explanation.evidence, evidence),
            }
        ),
    }
    if match.authors > drop_authors and result.decision == Decision.TAG:
        update |= {
            "decision": Decision.DROP,
            "urgency": Urgency.LOW,
            "review_required": False,
            "tags": ("spam", *(t for t in update["tags"] if t != "noise")),
            "reason": f"Dropped as a campaign: near-duplicates from {match.authors} authors "
            f"(more than {drop_authors}) within the window."[:512],
        }
    return result.model_copy(update=update)
