"""Pre-filters that spare most messages most regex scans (``RuleSet.match`` uses them).

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

import re
import re._casefix as _casefix  # the extra case-insensitive equivalences re itself uses
import re._constants as _sre
import re._parser as _sre_parse
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import ahocorasick

if TYPE_CHECKING:
    from services.classifier.rules.model import Rule

# every character re matches case-insensitively with another, mapped to the lowest of its class
_FOLD = {
    code: min(code, *others)
    for code, others in _casefix._EXTRA_CASES.items()
    if min(code, *others) != code
}
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
            needed = (
                None
                if any(b is None for b in branches)
                else frozenset[str]().union(*[b for b in branches if b is not None])
            )
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


def literal_finder(rules: Iterable[Rule]) -> Any:
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


def rule_prefilters(source: str) -> dict[str, Any]:
    """``prefilter`` and ``literals`` of a rule's pattern, as ``Rule`` fields (see the module
    docstring); {} when the pattern does not qualify."""
    prefilter = prefilter_for(source)
    if prefilter is None:
        return {}
    literals = required_literals(_sre_parse.parse(prefilter.pattern, prefilter.flags))
    return {"prefilter": prefilter, "literals": tuple(sorted(literals)) if literals else None}
