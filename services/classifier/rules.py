"""Versioned, per-language rules, loaded from ``rules/<language>.yaml``.

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

Case-insensitive regular expressions cost about twice as much to scan as case-sensitive ones
(each character is case-mapped at each step), and most messages match no rule. So a pattern
whose literal characters are all lower case is also compiled *without* ``IGNORECASE`` and
first run over the message case-folded once (``fold``: lower case, plus the few characters
Python's ``re`` treats as equal to another under ``IGNORECASE``, such as ``ſ`` for ``s`` and
``ı`` for ``i``): a message passes that pre-filter whenever the rule's own pattern can match
it, and only then is the rule's case-insensitive pattern run on the original text (which also
gives the evidence as written). Before either regex runs, the pre-filter's ``literals`` are
looked up: strings of which every match contains one (``lawyer``, ``attorney``, … for
``\\b(lawyers?|attorneys?|…)\\b``, read off the parsed pattern), found in the folded text
by one pass of an Aho-Corasick automaton over all rules' literals (``pyahocorasick``): most
messages contain none of a rule's words, so most rules need no regex scan at all, and no rule
an ``in`` test per literal. The answers are the rule's own
(tests/unit/test_classifier_features.py compares every rule on the replay texts and on
adversarial spellings).
"""

from __future__ import annotations

import gzip
import json
import re
import re._casefix as _casefix  # the extra case-insensitive equivalences re itself uses
import re._constants as _sre
import re._parser as _sre_parse
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

import ahocorasick
import spacy
import yaml
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc

from services.classifier.configfile import read_versioned
from services.classifier.taxonomy import FILE as TAXONOMY_FILE
from services.classifier.taxonomy import Taxonomy
from services.classifier.taxonomy import load as load_taxonomy

_ID = re.compile(r"^[a-z]{2,3}\.[a-z]+\.[a-z0-9-]+$")
_RULE_KEYS = {"id", "action", "pattern", "phrases", "lemmas", "tags", "description"}
_MATCHERS = ("pattern", "phrases", "lemmas")
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
    lemmas: tuple[str, ...] = ()
    # per lemma entry, per token: the lower-cased word forms that match it (filled on load)
    lemma_forms: tuple[tuple[frozenset[str], ...], ...] = field(default=(), compare=False, repr=False)
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
        doc: Doc = _tokenizer(self.language)(text[:MAX_CHARS])
        found: dict[str, str] = {}
        for matcher in (self.phrase_matcher, self.lemma_matcher):
            if matcher is not None:
                for match_id, start, end in matcher(doc):
                    found.setdefault(matcher.vocab.strings[match_id], doc[start:end].text)
        return found


# every character re matches case-insensitively with another, mapped to the lowest of its class
_FOLD = {code: min(code, *others) for code, others in _casefix._EXTRA_CASES.items() if min(code, *others) != code}
_DOTTED_I = "\u0130"  # "İ": the one character whose str.lower() is two characters long


def fold(text: str) -> str:
    """``text`` case-folded the way ``re.IGNORECASE`` compares characters, same length."""
    if text.isascii():  # none of the special cases: plain lower case
        return text.lower()
    return (text.replace(_DOTTED_I, "i") if _DOTTED_I in text else text).lower().translate(_FOLD)


def _folds_to_itself(code: int) -> bool:
    return fold(chr(code)) == chr(code)


def _set_member_foldable(op: Any, av: Any) -> bool:
    """One member of a character set: a literal or a (short) range of characters that are their
    own ``fold``, a negation, or a category (``\\w``, ``\\d``, ``\\s``: case plays no part)."""
    if op == _sre.LITERAL:
        return _folds_to_itself(av)
    if op == _sre.RANGE:
        low, high = av
        return high - low < 512 and all(map(_folds_to_itself, range(low, high + 1)))
    return op in (_sre.NEGATE, _sre.CATEGORY)


def _foldable(parsed: Any) -> bool:
    """Whether every literal character of a parsed pattern is its own ``fold``, and nothing in
    it compares case-insensitively in another way (back-references, scoped flags)."""
    for op, av in parsed:
        if op in (_sre.LITERAL, _sre.NOT_LITERAL):
            ok = _folds_to_itself(av)
        elif op == _sre.IN:
            ok = all(_set_member_foldable(o, a) for o, a in av)
        elif op == _sre.SUBPATTERN:
            ok = not av[1] and not av[2] and _foldable(av[3])
        elif op == _sre.BRANCH:
            ok = all(map(_foldable, av[1]))
        elif op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT, _sre.POSSESSIVE_REPEAT):
            ok = _foldable(av[2])
        elif op in (_sre.ASSERT, _sre.ASSERT_NOT):
            ok = _foldable(av[1])
        elif op == _sre.ATOMIC_GROUP:
            ok = _foldable(av)
        else:
            ok = op in (_sre.AT, _sre.ANY, _sre.CATEGORY)
        if not ok:
            return False
    return True


MIN_LITERAL = 3  # shorter runs ("a", "my") would let most texts through


def required_literals(parsed: Any) -> frozenset[str] | None:
    """Strings of which every match of a parsed pattern contains at least one, or ``None``.

    A sequence needs what any one of its mandatory parts needs (a run of at least
    ``MIN_LITERAL`` consecutive literal characters, a group, a repeat of at least one); an
    alternation needs one of what each branch needs (``None`` if some branch needs nothing
    known). Of a sequence's candidates the most selective is kept (longest shortest string,
    then fewest strings)."""
    candidates: list[frozenset[str]] = []
    run: list[str] = []

    def close_run() -> None:
        if len(run) >= MIN_LITERAL:
            candidates.append(frozenset({"".join(run)}))
        run.clear()

    for op, av in parsed:
        if op == _sre.LITERAL:
            run.append(chr(av))
            continue
        close_run()
        needed: frozenset[str] | None = None
        if op == _sre.SUBPATTERN:
            needed = required_literals(av[3])
        elif op == _sre.BRANCH:
            branches = [required_literals(branch) for branch in av[1]]
            needed = None if any(b is None for b in branches) else frozenset().union(*branches)
        elif op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT, _sre.POSSESSIVE_REPEAT) and av[0] >= 1:
            needed = required_literals(av[2])
        if needed:
            candidates.append(needed)
    close_run()
    return max(candidates, key=lambda c: (min(map(len, c)), -len(c))) if candidates else None


def prefilter_for(source: str) -> re.Pattern[str] | None:
    """``source`` compiled case-sensitively for ``fold``-ed text, when that finds every match
    the case-insensitive pattern finds (see the module docstring); else ``None``."""
    try:
        parsed = _sre_parse.parse(source, re.IGNORECASE)
        flags = parsed.state.flags & ~(re.IGNORECASE | _sre.SRE_FLAG_UNICODE)
        return re.compile(source, flags) if _foldable(parsed) else None
    except (re.error, RecursionError, TypeError, IndexError):
        return None


def literal_finder(rules: tuple[Rule, ...]) -> Any:
    """An Aho-Corasick automaton (``pyahocorasick``) whose ``iter(text)`` yields every
    occurrence of every rule's ``literals`` in ``text`` (overlapping ones too), or ``None``
    when no rule has literals."""
    literals = sorted({literal for rule in rules for literal in rule.literals or ()})
    if not literals:
        return None
    automaton = ahocorasick.Automaton()
    for literal in literals:
        automaton.add_word(literal, literal)
    automaton.make_automaton()
    return automaton


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


def _phrase_heads(language: str, rules: tuple[Rule, ...]) -> tuple[str, ...]:
    tokenizer = _tokenizer(language)
    # any token of a phrase must occur; the longest is the most selective
    heads = {max((t.lower_ for t in doc), key=len) for rule in rules for phrase in rule.phrases
             if len(doc := tokenizer(phrase))}
    # a lemma sequence needs one of the forms of its first lemma
    heads |= {form for rule in rules for entry in rule.lemma_forms for form in entry[0]}
    return tuple(sorted(heads))


def _lemma_matcher(language: str, rules: tuple[Rule, ...]) -> Matcher | None:
    lemmatised = [rule for rule in rules if rule.lemma_forms]
    if not lemmatised:
        return None
    matcher = Matcher(_tokenizer(language).vocab)
    for rule in lemmatised:
        matcher.add(rule.id, [[{"LOWER": {"IN": sorted(forms)}} for forms in entry] for entry in rule.lemma_forms])
    return matcher


def lemma_table_file(language: str) -> Any:
    """Where spaCy's lemma lookup table for ``language`` lies (``spacy-lookups-data``)."""
    from importlib.resources import files

    return files("spacy_lookups_data") / "data" / f"{language}_lemma_lookup.json.gz"


def read_lemma_table(language: str, keep: Callable[[str, str], None]) -> None:
    """Call ``keep(form, lemma)`` for every entry of spaCy's lemma lookup table for ``language``,
    streamed (the 355,000-entry German dict is never built). Raises ``LookupError`` when there
    is no table for ``language``."""
    try:
        raw = lemma_table_file(language).read_bytes()
    except (ImportError, ModuleNotFoundError, FileNotFoundError, OSError) as exc:
        raise LookupError(f"no spaCy lemma table for {language!r} (spacy-lookups-data): {exc}") from exc

    def pairs(items: list) -> None:
        for form, lemma in items:
            if isinstance(lemma, str):
                keep(form, lemma)

    json.loads(gzip.decompress(raw), object_pairs_hook=pairs)


def lemma_table_forms(language: str, lemmas: set[str]) -> dict[str, set[str]]:
    """Lower-cased lemma → its lower-cased word forms (itself included) from spaCy's lookup
    table, for the lemmas asked for only; lemmas the table does not know are left out.
    Raises ``LookupError`` when there is no table for ``language``."""
    wanted = {lemma.lower() for lemma in lemmas}
    found: dict[str, set[str]] = {}

    def keep(form: str, lemma: str) -> None:
        if (key := lemma.lower()) in wanted:
            found.setdefault(key, {key}).add(form.lower())

    read_lemma_table(language, keep)
    return found


def _expand_lemmas(file: str, language: str, rules: tuple[Rule, ...]) -> tuple[Rule, ...]:
    """Rules with their lemma entries expanded to word forms. Raises ``RuleFileError``."""
    if not any(rule.lemmas for rule in rules):
        return rules
    tokenizer = _tokenizer(language)
    entries = {rule.id: [[t.text for t in tokenizer(entry)] for entry in rule.lemmas] for rule in rules if rule.lemmas}
    try:
        table = lemma_table_forms(language, {token for es in entries.values() for e in es for token in e})
    except LookupError as exc:
        first = next(rule for rule in rules if rule.lemmas)
        raise RuleFileError(f"{file}:{first.line}: rule {first.id}: lemmas need a lemma table: {exc}") from exc
    expanded = []
    for rule in rules:
        if rule.lemmas:
            for entry in entries[rule.id]:
                if unknown := [token for token in entry if token.lower() not in table]:
                    raise RuleFileError(
                        f"{file}:{rule.line}: rule {rule.id}: unknown lemma {unknown[0]!r} in {' '.join(entry)!r} "
                        f"(not in spaCy's {language} lemma table: a typo, or a word without inflections: use phrases)")
            forms = tuple(tuple(frozenset(table[token.lower()]) for token in entry) for entry in entries[rule.id])
            rule = replace(rule, lemma_forms=forms)
        expanded.append(rule)
    return tuple(expanded)


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
                    f"labels: {', '.join(taxonomy.labels)})")
    return rule_sets


def load_file(path: Path) -> RuleSet:
    """Parse and validate one rule file. Raises ``RuleFileError`` naming file and line."""
    doc, root = read_versioned(path, _FILE_KEYS, RuleFileError)
    lines = _rule_lines(root)
    if doc["language"] != path.stem:
        raise RuleFileError(f"{path.name}: language {doc['language']!r} does not match the file name")
    if not isinstance(doc["rules"], list) or not doc["rules"]:
        raise RuleFileError(f"{path.name}: rules must be a non-empty list")
    rules = tuple(_rule(path.name, i, entry, lines.get(i, 0)) for i, entry in enumerate(doc["rules"]))
    seen: set[str] = set()
    for rule in rules:
        if rule.id in seen:
            raise RuleFileError(f"{path.name}:{rule.line}: rule {rule.id}: duplicate id")
        seen.add(rule.id)
    rules = _expand_lemmas(path.name, doc["language"], rules)
    return RuleSet(language=doc["language"], version=str(doc["version"]), rules=rules,
                   phrase_matcher=_phrase_matcher(doc["language"], rules),
                   phrase_heads=_phrase_heads(doc["language"], rules),
                   lemma_matcher=_lemma_matcher(doc["language"], rules))


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
    if not isinstance(lemmas, list) or not all(isinstance(x, str) and x.strip() for x in lemmas) or (
            "lemmas" in entry and not lemmas):
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
    return Rule(name, Action(entry["action"]), pattern, tuple(tags), str(entry.get("description", "")),
                tuple(phrases), line, tuple(x.strip() for x in lemmas),
                **(_prefilters(str(entry["pattern"])) if pattern is not None else {}))


def _prefilters(source: str) -> dict[str, Any]:
    """``prefilter`` and ``literals`` of a rule's pattern (see the module docstring)."""
    prefilter = prefilter_for(source)
    if prefilter is None:
        return {}
    literals = required_literals(_sre_parse.parse(prefilter.pattern, prefilter.flags))
    return {"prefilter": prefilter, "literals": tuple(sorted(literals)) if literals else None}
