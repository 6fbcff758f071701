"""The rule model and its matching: ``RuleSet.match(text) -> tuple[Hit, ...]``, pure.

A ``RuleSet`` is one language's rules, as ``loading.load_file`` builds them: each ``Rule``
has an ``Action`` and one matcher (a case-insensitive ``pattern``, ``phrases``, or ``lemmas``
expanded to word forms). Matching runs the pre-filters (``prefilter``) before any regex, and
tokenises (``tokens``) only texts that contain a phrase's or lemma's head word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc

from services.classifier.rules.prefilter import fold, literal_finder
from services.classifier.rules.tokens import blank_tokenizer

MAX_EVIDENCE = 80
MAX_CHARS = 5_000  # phrase matching tokenises; bound the CPU per message


class RuleFileError(ValueError):
    """A rule file is unreadable or invalid; the message names the file and the rule."""


class Action(StrEnum):
    DROP = "drop"
    REPLY = "reply"
    URGENT = "urgent"
    REVIEW = "review"  # reply, and a second person checks the answer before it is posted
    TAG = "tag"


@dataclass(frozen=True)
class Rule:
    id: str
    action: Action
    pattern: re.Pattern[str] | None
    tags: tuple[str, ...] = ()
    description: str = ""
    phrases: tuple[str, ...] = ()
    line: int = 0
    lemmas: tuple[str, ...] = ()
    # per lemma entry, per token: the lower-cased word forms that match it (filled on load)
    lemma_forms: tuple[tuple[frozenset[str], ...], ...] = field(
        default=(), compare=False, repr=False
    )
    # ``pattern`` without IGNORECASE, for ``fold``-ed text; None when the pattern does not qualify
    prefilter: re.Pattern[str] | None = field(default=None, compare=False, repr=False)
    # every match of ``prefilter`` contains one of these (``required_literals``); None: no such set
    literals: tuple[str, ...] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Hit:
    """A rule that fired, with the text it matched."""

    rule: Rule
    matched: str


@dataclass(frozen=True)
class RuleSet:
    language: str
    version: str
    rules: tuple[Rule, ...]
    phrase_matcher: PhraseMatcher | None = field(default=None, compare=False, repr=False)
    # the longest lower-cased token of every phrase: a text containing none of them as a substring
    # cannot match a phrase, and skips tokenisation (most messages)
    phrase_heads: tuple[str, ...] = field(default=(), compare=False, repr=False)
    lemma_matcher: Matcher | None = field(default=None, compare=False, repr=False)
    # an Aho-Corasick automaton of every rule's ``literals`` (``literal_finder``), derived from the
    # rules: one pass over the folded text finds all that occur, instead of an ``in`` test per
    # literal and rule
    literal_finder: Any = field(init=False, default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "literal_finder", literal_finder(self.rules))

    def match(self, text: str) -> tuple[Hit, ...]:
        """Every rule whose pattern or phrase occurs in ``text``, in file order."""
        tokenised = self.phrase_matcher is not None or self.lemma_matcher is not None
        phrased = self._phrase_hits(text) if tokenised and self._may_phrase(text) else {}
        hits = []
        folded = None
        present: set[str] = set()
        for rule in self.rules:
            if rule.pattern is None:
                if rule.id in phrased:
                    hits.append(Hit(rule, phrased[rule.id][:MAX_EVIDENCE]))
                continue
            if rule.prefilter is not None:
                if folded is None:
                    folded = fold(text)
                    if self.literal_finder is not None:  # None: no rule has literals
                        present = {literal for _, literal in self.literal_finder.iter(folded)}
                if rule.literals is not None and present.isdisjoint(rule.literals):
                    continue
                if rule.prefilter.search(folded) is None:
                    continue
            found = rule.pattern.search(text)
            if found:
                hits.append(Hit(rule, found.group(0).strip()[:MAX_EVIDENCE]))
        return tuple(hits)

    def _may_phrase(self, text: str) -> bool:
        lowered = text[:MAX_CHARS].lower()
        return any(map(lowered.__contains__, self.phrase_heads))

    def _phrase_hits(self, text: str) -> dict[str, str]:
        """First matched phrase or lemma sequence (as written in the text) per rule id."""
        doc: Doc = blank_tokenizer(self.language)(text[:MAX_CHARS])
        found: dict[str, str] = {}
        for matcher in (self.phrase_matcher, self.lemma_matcher):
            if matcher is not None:
                for match_id, start, end in matcher(doc):
                    found.setdefault(matcher.vocab.strings[match_id], doc[start:end].text)  # type: ignore[union-attr]
        return found
