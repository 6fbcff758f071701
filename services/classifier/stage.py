"""The classifier's pure core: ``classify(message, models) -> Classification``.

Decision, in order of precedence:

1. a ``drop`` rule fired → DROP (spam);
2. the spam model scored ≥ threshold → DROP, *unless* an ``urgent`` rule fired: the model is
   trained on YouTube comments and SMS, not customer service, and a legal threat or a
   cancellation must never vanish into the spam folder on its word alone;
3. an ``urgent`` or ``reply`` rule fired, or the message is a direct message → REPLY
   (urgency high when an urgent rule fired);
4. otherwise → TAG (noise, for reports only).

No I/O, no clock, no randomness: the same message and models give the same result.
"""

from __future__ import annotations

from services.classifier.bundle import Models
from services.classifier.language import language_of
from services.classifier.model import SpamScore
from services.classifier.rules import Action, Hit
from shared.events import CanonicalMessage, ChannelKind, Classification, Decision, Explanation, Urgency

SPAM_MODEL = "spam"


def classify(message: CanonicalMessage, models: Models) -> Classification:
    """Classify one message. Never raises on any valid ``CanonicalMessage``."""
    language = language_of(message.text, message.language_hint, models.detector)
    hits = tuple(hit for rule_set in models.rules_for(language) for hit in rule_set.match(message.text))
    spam = models.spam.score(message.text)
    decision, urgency, reason = decide(message, hits, spam, models.spam_threshold)
    return Classification(
        decision=decision,
        language=language,
        tags=_tags(decision, hits),
        urgency=urgency,
        reason=reason[:512],
        explanation=Explanation(
            rule_ids=tuple(hit.rule.id for hit in hits),
            model=SPAM_MODEL,
            model_version=models.spam.card.version,
            score=round(spam.probability, 4),
            threshold=models.spam_threshold,
            evidence=_evidence(hits, spam),
        ),
    )


def decide(message: CanonicalMessage, hits: tuple[Hit, ...], spam: SpamScore,
           threshold: float) -> tuple[Decision, Urgency, str]:
    """The decision, its urgency and a one-sentence reason (see the module docstring)."""
    fired = {action: [h for h in hits if h.rule.action == action] for action in Action}
    is_spam = spam.probability >= threshold
    if fired[Action.DROP]:
        first = fired[Action.DROP][0]
        return Decision.DROP, Urgency.LOW, f"Dropped as spam: rule {first.rule.id} matched “{first.matched}”."
    if is_spam and not fired[Action.URGENT]:
        return Decision.DROP, Urgency.LOW, (
            f"Dropped as spam: spam model scored {spam.probability:.2f} (threshold {threshold:.2f}).")
    if fired[Action.URGENT]:
        ids = ", ".join(h.rule.id for h in fired[Action.URGENT])
        override = f"; spam score {spam.probability:.2f} overridden" if is_spam else ""
        return Decision.REPLY, Urgency.HIGH, f"Urgent reply needed: {ids} fired{override}."
    if fired[Action.REPLY]:
        ids = ", ".join(h.rule.id for h in fired[Action.REPLY])
        return Decision.REPLY, Urgency.NORMAL, f"Reply needed: {ids} fired."
    if message.channel_kind == ChannelKind.DIRECT_MESSAGE:
        return Decision.REPLY, Urgency.NORMAL, "Reply needed: a direct message is always answered."
    return Decision.TAG, Urgency.LOW, (
        f"Tagged as noise: no reply rule fired and spam score {spam.probability:.2f} is below {threshold:.2f}.")


def _tags(decision: Decision, hits: tuple[Hit, ...]) -> tuple[str, ...]:
    """Decision tag first (``spam``/``noise``), then the fired rules' tags, without repeats."""
    lead = {Decision.DROP: ("spam",), Decision.TAG: ("noise",), Decision.REPLY: ()}[decision]
    return tuple(dict.fromkeys((*lead, *(tag for hit in hits for tag in hit.rule.tags))))


def _evidence(hits: tuple[Hit, ...], spam: SpamScore) -> tuple[str, ...]:
    """Matched phrases per rule, then the n-grams that pushed the spam score up most."""
    phrases = tuple(f"{hit.rule.id}: “{hit.matched}”" for hit in hits)
    grams = tuple(f"spam n-gram {name!r} +{weight:.2f}" for name, weight in spam.features)
    return phrases + grams
