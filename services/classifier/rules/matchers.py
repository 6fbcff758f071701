"""spaCy matchers of a rule set: phrases matched token by token, lemma entries expanded to their
word forms (on load) and matched on lower-cased tokens, and the head words that let most texts
skip tokenisation."""

from __future__ import annotations

from dataclasses import replace

from spacy.matcher import Matcher, PhraseMatcher

from services.classifier.rules.model import Rule, RuleFileError
from services.classifier.rules.tokens import blank_tokenizer, lemma_table_forms


def phrase_matcher(language: str, rules: tuple[Rule, ...]) -> PhraseMatcher | None:
    phrased = [rule for rule in rules if rule.phrases]
    if not phrased:
        return None
    tokenizer = blank_tokenizer(language)
    matcher = PhraseMatcher(tokenizer.vocab, attr="LOWER")
    for rule in phrased:
        matcher.add(rule.id, [tokenizer(phrase) for phrase in rule.phrases])
    return matcher


def phrase_heads(language: str, rules: tuple[Rule, ...]) -> tuple[str, ...]:
    tokenizer = blank_tokenizer(language)
    # any token of a phrase must occur; the longest is the most selective
    heads = {
        max((t.lower_ for t in doc), key=len)
        for rule in rules
        for phrase in rule.phrases
        if len(doc := tokenizer(phrase))
    }
    # a lemma sequence needs one of the forms of its first lemma
    heads |= {form for rule in rules for entry in rule.lemma_forms for form in entry[0]}
    return tuple(sorted(heads))


def lemma_matcher(language: str, rules: tuple[Rule, ...]) -> Matcher | None:
    lemmatised = [rule for rule in rules if rule.lemma_forms]
    if not lemmatised:
        return None
    matcher = Matcher(blank_tokenizer(language).vocab)
    for rule in lemmatised:
        matcher.add(
            rule.id,
            [[{"LOWER": {"IN": sorted(forms)}} for forms in entry] for entry in rule.lemma_forms],
        )
    return matcher


def expand_lemmas(file: str, language: str, rules: tuple[Rule, ...]) -> tuple[Rule, ...]:
    """Rules with their lemma entries expanded to word forms. Raises ``RuleFileError``."""
    if not any(rule.lemmas for rule in rules):
        return rules
    tokenizer = blank_tokenizer(language)
    entries = {
        rule.id: [[t.text for t in tokenizer(entry)] for entry in rule.lemmas]
        for rule in rules
        if rule.lemmas
    }
    try:
        table = lemma_table_forms(
            language, {token for es in entries.values() for e in es for token in e}
        )
    except LookupError as exc:
        first = next(rule for rule in rules if rule.lemmas)
        raise RuleFileError(
            f"{file}:{first.line}: rule {first.id}: lemmas need a lemma table: {exc}"
        ) from exc
    expanded = []
    for rule in rules:
        if rule.lemmas:
            for entry in entries[rule.id]:
                if unknown := [token for token in entry if token.lower() not in table]:
                    raise RuleFileError(
                        f"{file}:{rule.line}: rule {rule.id}: unknown lemma {unknown[0]!r} in {' '.join(entry)!r} "
                        f"(not in spaCy's {language} lemma table: a typo, or a word without inflections: use phrases)"
                    )
            forms = tuple(
                tuple(frozenset(table[token.lower()]) for token in entry)
                for entry in entries[rule.id]
            )
            rule = replace(rule, lemma_forms=forms)
        expanded.append(rule)
    return tuple(expanded)
