"""spaCy tokens and lemmas as model features: ``LemmaTokenizer(language)``.

A callable for ``TfidfVectorizer(tokenizer=…)``: the text is split by spaCy's rule-based
tokenizer for ``language`` (the blank pipeline the rule files use: punctuation, clitics,
emoji, URLs as spaCy splits them) and each lower-cased token is replaced by its lemma from
spaCy's lookup table for the language (``spacy-lookups-data``: "gekündigt", "kündige" →
"kündigen"; "refunds" → "refund"). No statistical pipeline runs and nothing is downloaded;
tokens the table does not know stay as written (lower-cased), whitespace tokens are dropped.

The recipe (``recipes.fit_ours``) offers word 1–2-grams over these lemmas, beside the char
n-grams, as one of the feature sets its inner CV chooses from, for training data whose language
it is told. The full German table has about 355,000 forms; ``prune`` keeps only the forms whose
lemma (or the form itself) is in a fitted vocabulary (the rest can never produce a known
feature), so a saved model carries a few thousand entries and loads without spaCy's table.
Saved with skops as a plain object (``language``, ``table``): allow-listed by its type name.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from services.classifier.rules.tokens import (
    blank_tokenizer,
    lemma_table_file,
    read_lemma_table,
)

TYPE_NAME = "services.classifier.lemmas.LemmaTokenizer"


def has_table(language: str) -> bool:
    """Whether spaCy has a lemma lookup table for ``language``."""
    try:
        return lemma_table_file(language).is_file()
    except (ModuleNotFoundError, OSError):
        return False


def lookup_table(language: str) -> dict[str, str]:
    """spaCy's lemma lookup table for ``language``, lower-cased (form → lemma; a form listed
    with several cases keeps the first lemma in file order); {} when there is none."""
    table: dict[str, str] = {}
    try:
        read_lemma_table(
            language, lambda form, lemma: table.setdefault(form.lower(), lemma.lower())
        )
    except LookupError:
        return {}
    return table


class LemmaTokenizer:
    """``text → [lemma, …]``; see the module docstring. ``table=None`` loads spaCy's table on
    first use (training); a fitted, pruned tokenizer carries its own."""

    def __init__(self, language: str, table: dict[str, str] | None = None) -> None:
        self.language = language
        self.table = table

    def __call__(self, text: str) -> list[str]:
        if self.table is None:
            self.table = lookup_table(self.language)
        get = self.table.get
        return [
            get(token, token)
            for token in (t.lower_ for t in blank_tokenizer(self.language)(text))
            if not token.isspace()
        ]

    def prune(self, vocabulary: Iterable[str]) -> None:
        """Keep only the entries a vectoriser fitted on this tokenizer's output (``vocabulary``)
        can need: a form whose lemma is a known unigram, or that is a known unigram itself (it must still
        turn into its unknown lemma). Every other form maps to an unknown lemma and stays an
        unknown token without its entry, so transforms are unchanged (word bigrams are made of
        emitted unigrams, all of which are in the vocabulary); identity entries are implied."""
        known = {gram for gram in vocabulary if " " not in gram}
        table = self.table if self.table is not None else lookup_table(self.language)
        self.table = {
            form: lemma
            for form, lemma in table.items()
            if form != lemma and (lemma in known or form in known)
        }

    def __repr__(self) -> str:
        return f"LemmaTokenizer({self.language!r}, {len(self.table) if self.table is not None else 'lazy'} forms)"

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, LemmaTokenizer) and (other.language, other.table) == (
            self.language,
            self.table,
        )

    __hash__ = None  # type: ignore[assignment]
