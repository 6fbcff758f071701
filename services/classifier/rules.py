"""Versioned, per-language regex rules, loaded from ``rules/<language>.yaml``.

A rule file has ``version``, ``language`` (equal to the file's stem) and a list of ``rules``;
each rule has a unique ``id``, an ``action`` (``drop``, ``reply``, ``urgent``, ``tag``), a
case-insensitive ``pattern`` and optional ``tags`` (required for ``tag`` rules) and
``description``. Loading validates everything up front and raises ``RuleFileError`` naming
the file and the rule; matching is pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

_ID = re.compile(r"^[a-z]{2,3}\.[a-z]+\.[a-z0-9-]+$")
_RULE_KEYS = {"id", "action", "pattern", "tags", "description"}
_FILE_KEYS = {"version", "language", "rules"}
MAX_EVIDENCE = 80


class RuleFileError(ValueError):
    """A rule file is unreadable or invalid; the message names the file and the rule."""


class Action(StrEnum):
    DROP = "drop"
    REPLY = "reply"
    URGENT = "urgent"
    TAG = "tag"


@dataclass(frozen=True)
class Rule:
    id: str
    action: Action
    pattern: re.Pattern[str]
    tags: tuple[str, ...] = ()
    description: str = ""


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

    def match(self, text: str) -> tuple[Hit, ...]:
        """Every rule whose pattern occurs in ``text``, in file order."""
        hits = []
        for rule in self.rules:
            found = rule.pattern.search(text)
            if found:
                hits.append(Hit(rule, found.group(0).strip()[:MAX_EVIDENCE]))
        return tuple(hits)


def load_dir(rules_dir: Path) -> dict[str, RuleSet]:
    """All ``*.yaml`` rule files of ``rules_dir`` keyed by language. Raises ``RuleFileError``."""
    files = sorted(rules_dir.glob("*.yaml"))
    if not files:
        raise RuleFileError(f"{rules_dir}: no rule files (*.yaml)")
    return {rule_set.language: rule_set for rule_set in map(load_file, files)}


def load_file(path: Path) -> RuleSet:
    """Parse and validate one rule file. Raises ``RuleFileError``."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
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
    rules = tuple(_rule(path.name, i, entry) for i, entry in enumerate(doc["rules"]))
    seen: set[str] = set()
    for rule in rules:
        if rule.id in seen:
            raise RuleFileError(f"{path.name}: rule {rule.id}: duplicate id")
        seen.add(rule.id)
    return RuleSet(language=doc["language"], version=str(doc["version"]), rules=rules)


def _rule(file: str, index: int, entry: Any) -> Rule:
    name = entry.get("id") if isinstance(entry, dict) else None
    where = f"{file}: rule {name or f'#{index + 1}'}"
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
    try:
        pattern = re.compile(str(entry["pattern"]), re.IGNORECASE)
    except KeyError:
        raise RuleFileError(f"{where}: pattern is missing") from None
    except re.error as exc:
        raise RuleFileError(f"{where}: pattern does not compile: {exc}") from exc
    return Rule(name, Action(entry["action"]), pattern, tuple(tags), str(entry.get("description", "")))
