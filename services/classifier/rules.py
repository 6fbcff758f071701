"""Versioned, per-language rules, loaded from ``rules/<language>.yaml``.

A rule file has ``version``, ``language`` (equal to the file's stem) and a list of ``rules``;
each rule has a unique ``id``, an ``action`` (``drop``, ``reply``, ``urgent``, ``review``,
``tag``), and either a case-insensitive regular expression ``pattern`` or a list of
``phrases`` matched token by token, case-insensitively, by a spaCy ``PhraseMatcher`` over a
blank pipeline of the rule set's language (so "Kündigung" matches the token, not a part of
"Kündigungsfrist"); optional ``tags`` (required for ``tag`` rules) and ``description``.
Loading validates everything up front and raises ``RuleFileError`` naming the file, the line
and the rule; matching is pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import spacy
import yaml
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc

_ID = re.compile(r"^[a-z]{2,3}\.[a-z]+\.[a-z0-9-]+$")
_RULE_KEYS = {"id", "action", "pattern", "phrases", "tags", "description"}
_FILE_KEYS = {"version", "language", "rules"}
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

    def match(self, text: str) -> tuple[Hit, ...]:
        """Every rule whose pattern or phrase occurs in ``text``, in file order."""
        phrased = self._phrase_hits(text) if self.phrase_matcher is not None else {}
        hits = []
        for rule in self.rules:
            if rule.pattern is None:
                if rule.id in phrased:
                    hits.append(Hit(rule, phrased[rule.id][:MAX_EVIDENCE]))
                continue
            found = rule.pattern.search(text)
            if found:
                hits.append(Hit(rule, found.group(0).strip()[:MAX_EVIDENCE]))
        return tuple(hits)

    def _phrase_hits(self, text: str) -> dict[str, str]:
        """First matched phrase (as written in the text) per phrase rule id."""
        assert self.phrase_matcher is not None
        doc: Doc = _tokenizer(self.language)(text[:MAX_CHARS])
        found: dict[str, str] = {}
        for match_id, start, end in self.phrase_matcher(doc):
            found.setdefault(self.phrase_matcher.vocab.strings[match_id], doc[start:end].text)
        return found


_TOKENIZERS: dict[str, Any] = {}


def _tokenizer(language: str) -> Any:
    """The blank spaCy pipeline's tokenizer for ``language`` (``xx`` if spaCy has none)."""
    if language not in _TOKENIZERS:
        try:
            nlp = spacy.blank(language)
        except (ImportError, OSError, KeyError, ValueError):
            nlp = spacy.blank("xx")
        _TOKENIZERS[language] = nlp.tokenizer
    return _TOKENIZERS[language]


def _phrase_matcher(language: str, rules: tuple[Rule, ...]) -> PhraseMatcher | None:
    phrased = [rule for rule in rules if rule.phrases]
    if not phrased:
        return None
    tokenizer = _tokenizer(language)
    matcher = PhraseMatcher(tokenizer.vocab, attr="LOWER")
    for rule in phrased:
        matcher.add(rule.id, [tokenizer(phrase) for phrase in rule.phrases])
    return matcher


def load_dir(rules_dir: Path) -> dict[str, RuleSet]:
    """All ``*.yaml`` rule files of ``rules_dir`` keyed by language. Raises ``RuleFileError``."""
    files = sorted(rules_dir.glob("*.yaml"))
    if not files:
        raise RuleFileError(f"{rules_dir}: no rule files (*.yaml)")
    return {rule_set.language: rule_set for rule_set in map(load_file, files)}


def load_file(path: Path) -> RuleSet:
    """Parse and validate one rule file. Raises ``RuleFileError`` naming file and line."""
    try:
        source = path.read_text(encoding="utf-8")
        doc = yaml.safe_load(source)
        lines = _rule_lines(yaml.compose(source))
    except (OSError, yaml.YAMLError) as exc:
        raise RuleFileError(f"{path.name}: cannot read: {exc}") from exc
    if not isinstance(doc, dict) or set(doc) != _FILE_KEYS:
        raise RuleFileError(f"{path.name}: needs exactly the keys {sorted(_FILE_KEYS)}")
    if doc["language"] != path.stem:
        raise RuleFileError(f"{path.name}: language {doc['language']!r} does not match the file name")
    if not isinstance(doc["version"], (str, int)) or not str(doc["version"]).strip():
        raise RuleFileError(f"{path.name}: version must be a non-empty string or number")
    if not isinstance(doc["rules"], list) or not doc["rules"]:
        raise RuleFileError(f"{path.name}: rules must be a non-empty list")
    rules = tuple(_rule(path.name, i, entry, lines.get(i, 0)) for i, entry in enumerate(doc["rules"]))
    seen: set[str] = set()
    for rule in rules:
        if rule.id in seen:
            raise RuleFileError(f"{path.name}:{rule.line}: rule {rule.id}: duplicate id")
        seen.add(rule.id)
    return RuleSet(language=doc["language"], version=str(doc["version"]), rules=rules,
                   phrase_matcher=_phrase_matcher(doc["language"], rules))


def _rule_lines(root: yaml.Node | None) -> dict[int, int]:
    """1-based line of each entry of the top-level ``rules`` list, by index."""
    if not isinstance(root, yaml.MappingNode):
        return {}
    for key, value in root.value:
        if key.value == "rules" and isinstance(value, yaml.SequenceNode):
            return {i: item.start_mark.line + 1 for i, item in enumerate(value.value)}
    return {}


def _rule(file: str, index: int, entry: Any, line: int) -> Rule:
    name = entry.get("id") if isinstance(entry, dict) else None
    where = f"{file}:{line}: rule {name or f'#{index + 1}'}"
    if not isinstance(entry, dict):
        raise RuleFileError(f"{where}: must be a mapping")
    if unknown := set(entry) - _RULE_KEYS:
        raise RuleFileError(f"{where}: unknown keys {sorted(unknown)}")
    if not isinstance(name, str) or not _ID.match(name):
        raise RuleFileError(f"{where}: id must look like 'en.reply.refund'")
    if entry.get("action") not in set(Action):
        raise RuleFileError(f"{where}: action must be one of {[a.value for a in Action]}")
    tags = entry.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags):
        raise RuleFileError(f"{where}: tags must be a list of strings")
    if entry["action"] == Action.TAG and not tags:
        raise RuleFileError(f"{where}: a tag rule needs tags")
    if ("pattern" in entry) == ("phrases" in entry):
        raise RuleFileError(f"{where}: needs exactly one of pattern or phrases")
    phrases = entry.get("phrases", [])
    if not isinstance(phrases, list) or not all(isinstance(p, str) and p.strip() for p in phrases):
        raise RuleFileError(f"{where}: phrases must be a non-empty list of strings")
    if "phrases" in entry and not phrases:
        raise RuleFileError(f"{where}: phrases must be a non-empty list of strings")
    pattern = None
    if "pattern" in entry:
        try:
            pattern = re.compile(str(entry["pattern"]), re.IGNORECASE)
        except re.error as exc:
            raise RuleFileError(f"{where}: pattern does not compile: {exc}") from exc
    return Rule(name, Action(entry["action"]), pattern, tuple(tags), str(entry.get("description", "")),
                tuple(phrases), line)
