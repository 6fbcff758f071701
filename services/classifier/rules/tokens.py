"""spaCy's language data the rules (and ``lemmas.LemmaTokenizer``) read: blank tokenizers and the
lemma lookup tables of ``spacy-lookups-data``. Nothing is downloaded; no statistical pipeline runs.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from importlib.resources import files
from typing import Any

import spacy

_TOKENIZERS: dict[str, Any] = {}


def blank_tokenizer(language: str) -> Any:
    """The blank spaCy pipeline's tokenizer for ``language`` (``xx`` if spaCy has none)."""
    if language not in _TOKENIZERS:
        try:
            nlp = spacy.blank(language)
        except (ImportError, OSError, KeyError, ValueError):
            nlp = spacy.blank("xx")
        _TOKENIZERS[language] = nlp.tokenizer
    return _TOKENIZERS[language]


def lemma_table_file(language: str) -> Any:
    """Where spaCy's lemma lookup table for ``language`` lies (``spacy-lookups-data``)."""
    return files("spacy_lookups_data") / "data" / f"{language}_lemma_lookup.json.gz"


def read_lemma_table(language: str, keep: Callable[[str, str], None]) -> None:
    """Call ``keep(form, lemma)`` for every entry of spaCy's lemma lookup table for ``language``,
    streamed (the 355,000-entry German dict is never built). Raises ``LookupError`` when there
    is no table for ``language``."""
    try:
        raw = lemma_table_file(language).read_bytes()
    except (ImportError, ModuleNotFoundError, FileNotFoundError, OSError) as exc:
        raise LookupError(
            f"no spaCy lemma table for {language!r} (spacy-lookups-data): {exc}"
        ) from exc

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
