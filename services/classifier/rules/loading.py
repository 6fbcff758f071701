"""Loading rule files: ``load_dir(rules_dir)`` → one ``RuleSet`` per language.

A rule file has ``version``, ``language`` (equal to the file's stem) and a list of ``rules``;
each rule has a unique ``id``, an ``action`` (``drop``, ``reply``, ``urgent``, ``review``,
``tag``), and either a case-insensitive regular expression ``pattern`` or a list of
``phrases`` matched token by token, case-insensitively, by a spaCy ``PhraseMatcher`` over a
blank pipeline of the rule set's language (so "Kündigung" matches the token, not a part of
"Kündigungsfrist"), or a list of ``lemmas``: dictionary forms whose inflections match too
(``lemma: kündigen`` → "kündige", "gekündigt", "kündigte"; "meinen Vertrag kündigen" is a
sequence of lemmas). Lemma entries are expanded once, on load, to their word forms from
spaCy's lookup table for the language (``spacy-lookups-data``, read and released: nothing of
it stays in memory) and matched by a spaCy ``Matcher`` on lower-cased tokens; an unknown
lemma (a typo, or a word without inflections: use ``phrases``) or a language without a table is
a load error. Optional ``tags`` (required for ``tag`` rules) and ``description``.
Loading validates everything up front and raises ``RuleFileError`` naming the file, the line
and the rule; matching is pure.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from services.classifier.rules.configfile import read_versioned
from services.classifier.rules.matchers import (
    expand_lemmas,
    lemma_matcher,
    phrase_heads,
    phrase_matcher,
)
from services.classifier.rules.model import Action, Rule, RuleFileError, RuleSet
from services.classifier.rules.prefilter import rule_prefilters
from services.classifier.rules.taxonomy import FILE as TAXONOMY_FILE
from services.classifier.rules.taxonomy import Taxonomy
from services.classifier.rules.taxonomy import load as load_taxonomy

_ID = re.compile(r"^[a-z]{2,3}\.[a-z]+\.[a-z0-9-]+$")
_RULE_KEYS = {"id", "action", "pattern", "phrases", "lemmas", "tags", "description"}
_MATCHERS = ("pattern", "phrases", "lemmas")
_FILE_KEYS = {"version", "language", "rules"}


def load_dir(rules_dir: Path, taxonomy: Taxonomy | None = None) -> dict[str, RuleSet]:
    """All ``*.yaml`` rule files of ``rules_dir`` (but ``taxonomy.yaml``) keyed by language, each
    rule's tags checked against ``taxonomy`` (default: the directory's own, ``taxonomy.load``).
    Raises ``RuleFileError`` or ``taxonomy.TaxonomyError``."""
    files = sorted(p for p in rules_dir.glob("*.yaml") if p.name != TAXONOMY_FILE)
    if not files:
        raise RuleFileError(f"{rules_dir}: no rule files (*.yaml)")
    taxonomy = taxonomy if taxonomy is not None else load_taxonomy(rules_dir)
    rule_sets = {rule_set.language: rule_set for rule_set in map(load_file, files)}
    for rule_set in rule_sets.values():
        for rule in rule_set.rules:
            if unknown := [tag for tag in rule.tags if not taxonomy.knows(tag)]:
                raise RuleFileError(
                    f"{rule_set.language}.yaml:{rule.line}: rule {rule.id}: tag {unknown[0]!r} is not in "
                    f"{TAXONOMY_FILE} (contact reasons: {', '.join(taxonomy.contact_reasons)}; "
                    f"labels: {', '.join(taxonomy.labels)})"
                )
    return rule_sets


def load_file(path: Path) -> RuleSet:
    """Parse and validate one rule file. Raises ``RuleFileError`` naming file and line."""
    doc, root = read_versioned(path, _FILE_KEYS, RuleFileError)
    lines = _rule_lines(root)
    if doc["language"] != path.stem:
        raise RuleFileError(
            f"{path.name}: language {doc['language']!r} does not match the file name"
        )
    if not isinstance(doc["rules"], list) or not doc["rules"]:
        raise RuleFileError(f"{path.name}: rules must be a non-empty list")
    rules = tuple(
        _rule(path.name, i, entry, lines.get(i, 0)) for i, entry in enumerate(doc["rules"])
    )
    seen: set[str] = set()
    for rule in rules:
        if rule.id in seen:
            raise RuleFileError(f"{path.name}:{rule.line}: rule {rule.id}: duplicate id")
        seen.add(rule.id)
    rules = expand_lemmas(path.name, doc["language"], rules)
    return RuleSet(
        language=doc["language"],
        version=str(doc["version"]),
        rules=rules,
        phrase_matcher=phrase_matcher(doc["language"], rules),
        phrase_heads=phrase_heads(doc["language"], rules),
        lemma_matcher=lemma_matcher(doc["language"], rules),
    )


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
    if sum(key in entry for key in _MATCHERS) != 1:
        raise RuleFileError(f"{where}: needs exactly one of pattern or phrases or lemmas")
    lemmas = entry.get("lemmas", [])
    if (
        not isinstance(lemmas, list)
        or not all(isinstance(x, str) and x.strip() for x in lemmas)
        or ("lemmas" in entry and not lemmas)
    ):
        raise RuleFileError(f"{where}: lemmas must be a non-empty list of strings")
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
    return Rule(
        name,
        Action(entry["action"]),
        pattern,
        tuple(tags),
        str(entry.get("description", "")),
        tuple(phrases),
        line,
        tuple(x.strip() for x in lemmas),
        **(rule_prefilters(str(entry["pattern"])) if pattern is not None else {}),
    )
