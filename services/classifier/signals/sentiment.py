"""Sentiment of every message, German and English, shipped by default (no model file, no training data).

``scores(texts, languages)`` gives one compound polarity in [-1, 1] per text, or ``None`` for a language without
a lexicon; ``label(compound)`` turns it into ``negative`` / ``neutral`` / ``positive`` with VADER's conventional
cut-offs.

* **English** is scored by vaderSentiment's own ``SentimentIntensityAnalyzer`` (MIT, lexicon inside the package),
  with a small supplement the team wrote (``sentiment_en.tsv``): customer-service words VADER lacks ("outage",
  "crashing") and a few phrases ("not working", "no internet", "can't log in") joined into one token before
  VADER reads the text, so the English twin of a German outage report keeps its tone.
* **German** is scored by the rules below over the team's own lexicon (``sentiment_de.tsv``), written by hand on
  VADER's -4..+4 scale: the same idea as VADER (sum of word valences, boosted, negated, weighted around a
  contrast word, emphasised by ``!`` and CAPS, normalised by ``x / sqrt(x² + 15)``), with what German needs:
  a negator may follow the word it negates ("funktioniert nicht", "gefällt mir nicht"), separable verbs
  ("stürzt ständig ab"), negated service nouns ("kein Internet"), compounds ("Internetstörung") and emoji
  (VADER's emoji lexicon, read once).

Pure and deterministic: the lexicons are read once on first use; nothing is read, written or fetched per call.
"""

from __future__ import annotations

import math
import re
import threading
import unicodedata
from pathlib import Path
from typing import Sequence

NEGATIVE_AT_MOST = -0.05  # compound <= this → "negative" (VADER's convention)
POSITIVE_AT_LEAST = 0.05  # compound >= this → "positive"

LEXICON_DE = Path(__file__).with_name("sentiment_de.tsv")
SUPPLEMENT_EN = Path(__file__).with_name("sentiment_en.tsv")
MAX_CHARS = (
    2_000  # a message's tone is in its beginning; bounds CPU per message (a tweet is at most 280)
)

_LANGUAGE = {"en": "en", "eng": "en", "de": "de", "deu": "de", "ger": "de", "gsw": "de"}

# --- German rules (values on VADER's scale; VADER's own constants are the reference) -----------------------
NEGATION_SCALAR = -0.74  # a negated word keeps 74 % of its strength, with the opposite sign
BOOST = 0.293  # added to a word's |valence| per booster before it
SMALL_BOOST = 0.15
DAMPEN = -0.293
CAPS_BOOST = 0.733  # an ALL-CAPS sentiment word in a text that is not all caps
EXCLAMATION = 0.292  # per "!" (at most 4)
QUESTION = 0.18  # per "?" when there are 2 or 3; 0.96 for more
ALPHA = 15.0  # normaliser: x / sqrt(x² + ALPHA)
SCOPE = 3  # a negator or booster reaches this many words
SEPARABLE_REACH = (
    8  # a separable verb's particle is looked for this many words on, in the same clause
)
BEFORE_CONTRAST, AFTER_CONTRAST = 0.5, 1.5  # "aber": the clause after it counts more

NEGATORS = frozenset(
    {
        "nicht",
        "nich",
        "net",
        "kein",
        "keine",
        "keinen",
        "keinem",
        "keiner",
        "keines",
        "nie",
        "niemals",
        "nimmer",
        "nichts",
        "ohne",
        "weder",
        "garnicht",
        "niemand",
        "niemanden",
        "niemandem",
        "keinerlei",
        "nirgends",
    }
)
# "nie wieder", "nicht mehr": these words after a negator are no negated form of their own
_NOT_NEGATABLE = frozenset(
    {"mehr", "wieder", "nur", "mal", "einmal", "so", "ganz", "zu", "sehr", "wirklich"}
)
BOOSTERS = {
    "sehr": BOOST,
    "total": BOOST,
    "extrem": BOOST,
    "echt": BOOST,
    "mega": BOOST,
    "voll": BOOST,
    "absolut": BOOST,
    "so": BOOST,
    "richtig": BOOST,
    "super": BOOST,
    "völlig": BOOST,
    "komplett": BOOST,
    "wirklich": BOOST,
    "unglaublich": BOOST,
    "äußerst": BOOST,
    "ausgesprochen": BOOST,
    "besonders": BOOST,
    "höchst": BOOST,
    "zutiefst": BOOST,
    "ultra": BOOST,
    "sowas": BOOST,
    "dermaßen": BOOST,
    "derart": BOOST,
    "enorm": BOOST,
    "furchtbar": BOOST,
    "schrecklich": BOOST,
    "verdammt": BOOST,
    "sau": BOOST,
    "tierisch": BOOST,
    "ständig": SMALL_BOOST,
    "immer": SMALL_BOOST,
    "ziemlich": SMALL_BOOST,
    "recht": SMALL_BOOST,
    "ganz": SMALL_BOOST,
    "zu": SMALL_BOOST,
    "einfach": SMALL_BOOST,
    "wieder": SMALL_BOOST,
    "etwas": DAMPEN,
    "bisschen": DAMPEN,
    "bissl": DAMPEN,
    "leicht": DAMPEN,
    "eher": DAMPEN,
    "relativ": DAMPEN,
    "kaum": DAMPEN,
    "wenig": DAMPEN,
    "halbwegs": DAMPEN,
    "einigermaßen": DAMPEN,
}
CONTRAST = frozenset({"aber", "jedoch", "allerdings", "trotzdem", "dennoch", "sondern"})
_DAMPING = (1.0, 0.95, 0.9)  # a booster one, two, three words before

# a token: a link or @mention (skipped), an emoticon, a word (letters, inner - ' ’), a number, a clause break,
# "!" / "?", or one emoji
_TOKEN = re.compile(
    r"(?P<skip>https?://\S+|www\.\S+|@\w+)"
    r"|(?P<emo>(?<!\w)(?:[:;=8][-o*']?[)\](\[dDpP/\\|@3*]+|x[dD]|<3)(?![\w)(]))"
    r"|(?P<word>[^\W\d_](?:[\w'’-]*\w)?)"
    r"|(?P<num>\d+(?:[.,]\d+)*)"
    r"|(?P<excl>!)|(?P<quest>\?)"
    r"|(?P<brk>[.,;:…()\"“”„]|\s[-–—]\s)"
    r"|(?P<sym>[^\s\w])"
)


class _German:
    """The German lexicon, parsed once."""

    def __init__(self, path: Path, emoji: dict[str, float]) -> None:
        self.words: dict[str, float] = {}
        self.negated: dict[str, float] = {}  # valence of a word when it is negated
        self.phrases: dict[
            str, list[tuple[tuple[str, ...], float]]
        ] = {}  # first word → (words, valence)
        self.separable: dict[str, list[tuple[str, float]]] = {}  # verb → (particle, valence)
        self.emoji = emoji
        for raw in path.read_text(encoding="utf-8").splitlines():
            if not raw.strip() or raw.startswith("#"):
                continue
            term, value = raw.rsplit("\t", 1)
            valence = float(value)
            parts = term.lower().split()
            if len(parts) == 1:
                self.words.setdefault(parts[0] if not _is_emoticon(term) else term, valence)
            elif len(parts) == 3 and parts[1] == "…":
                self.separable.setdefault(parts[0], []).append((parts[2], valence))
            else:
                if len(parts) == 2 and (parts[0] in NEGATORS) != (parts[1] in NEGATORS):
                    word = parts[1] if parts[0] in NEGATORS else parts[0]
                    if word not in _NOT_NEGATABLE:
                        self.negated.setdefault(word, valence)
                self.phrases.setdefault(parts[0], []).append((tuple(parts), valence))
        for entries in self.phrases.values():
            entries.sort(key=lambda e: -len(e[0]))
        # compound heads: "Internetstörung" → "störung"; only strong words of six letters or more
        self.heads = {
            w: v for w, v in self.words.items() if len(w) >= 6 and abs(v) >= 1.0 and w.isalpha()
        }

    # ---------------------------------------------------------------------------------------------------
    def _valence(self, word: str) -> float | None:
        v = self.words.get(word)
        if v is not None:
            return v
        if "-" in word:  # "Scheiß-Service", "WLAN-Störung": the strongest part
            best = None
            for part in word.split("-"):
                pv = self.words.get(part)
                if pv is not None and (best is None or abs(pv) > abs(best)):
                    best = pv
            return best
        if len(word) >= 9:
            for i in range(3, len(word) - 5):
                v = self.heads.get(word[i:])
                if v is not None:
                    return v
        return None

    def score(self, text: str) -> float:
        # 1. tokens → items: (kind, value, caps) per word position; clause breaks as None
        kinds: list[str] = []  # "lex", "phrase", "neg", "boost", "contrast", "other", "brk"
        values: list[float] = []
        caps: list[bool] = []
        negated_values: list[float | None] = []
        exclamations = questions = 0
        upper = lower = 0
        tokens: list[tuple[str, str]] = []
        for m in _TOKEN.finditer(text):
            kind = m.lastgroup
            if kind == "skip":
                continue
            tok = m.group()
            if kind == "word":
                if tok.isupper() and len(tok) > 1:
                    upper += 1
                else:
                    lower += 1
            elif kind == "excl":
                exclamations += 1
            elif kind == "quest":
                questions += 1
            tokens.append((kind, tok))
        mixed_caps = upper > 0 and lower > 0
        n = len(tokens)
        low = [t.lower() if k == "word" else t for k, t in tokens]
        consumed = [False] * n
        i = 0
        while i < n:
            kind, tok = tokens[i]
            if consumed[i]:
                i += 1
                continue
            if kind in ("brk", "excl", "quest"):
                _append(kinds, values, caps, negated_values, "brk", 0.0, False, None, "")
                i += 1
                continue
            if kind == "emo":
                v = self.words.get(tok, self.words.get(tok.lower()))
                _append(
                    kinds,
                    values,
                    caps,
                    negated_values,
                    "lex" if v else "other",
                    v or 0.0,
                    False,
                    None,
                    tok,
                )
                i += 1
                continue
            if kind == "sym":
                v = self.words.get(tok)
                if v is None:
                    v = self.emoji.get(tok)
                if v:
                    _append(kinds, values, caps, negated_values, "lex", v, False, None, tok)
                i += 1
                continue
            if kind != "word":
                _append(kinds, values, caps, negated_values, "other", 0.0, False, None, tok)
                i += 1
                continue
            w = low[i]
            is_caps = mixed_caps and tok.isupper() and len(tok) > 1
            # a phrase of consecutive words, the longest first
            matched = False
            for phrase, v in self.phrases.get(w, ()):
                k = len(phrase)
                if i + k <= n and all(
                    tokens[i + j][0] == "word" and low[i + j] == phrase[j] for j in range(1, k)
                ):
                    _append(
                        kinds,
                        values,
                        caps,
                        negated_values,
                        "phrase" if v else "other",
                        v,
                        is_caps,
                        None,
                        w,
                    )
                    i += k
                    matched = True
                    break
            if matched:
                continue
            if w in NEGATORS:
                _append(kinds, values, caps, negated_values, "neg", 0.0, False, None, w)
                i += 1
                continue
            if w in CONTRAST:
                _append(kinds, values, caps, negated_values, "contrast", 0.0, False, None, w)
                i += 1
                continue
            # a separable verb whose particle follows in the same clause
            sep = self.separable.get(w)
            if sep:
                found = None
                for j in range(i + 1, min(n, i + 1 + SEPARABLE_REACH)):
                    if tokens[j][0] in ("brk", "excl", "quest"):
                        break
                    for particle, v in sep:
                        if low[j] == particle and not consumed[j]:
                            found = (j, v)
                            break
                    if found:
                        break
                if found:
                    consumed[found[0]] = True
                    _append(kinds, values, caps, negated_values, "lex", found[1], is_caps, None, w)
                    i += 1
                    continue
            booster = BOOSTERS.get(w)
            v = self._valence(w)
            if booster is not None and (v is None or self._next_is_lex(tokens, low, i)):
                _append(kinds, values, caps, negated_values, "boost", booster, False, None, w)
                i += 1
                continue
            neg_v = self.negated.get(w)
            if v is not None or neg_v is not None:
                _append(kinds, values, caps, negated_values, "lex", v or 0.0, is_caps, neg_v, w)
            else:
                _append(kinds, values, caps, negated_values, "other", 0.0, False, None, w)
            i += 1

        # 2. negation: forward to the next sentiment word within SCOPE in the clause, else back to the previous
        #    one (a word with a negated form of its own first: "fährt mal wieder nicht"); phrases are not negated
        m_items = len(kinds)
        negated = [False] * m_items
        for j in range(m_items):
            if kinds[j] != "neg":
                continue
            target = None
            for k in range(j + 1, min(m_items, j + 1 + SCOPE)):
                if kinds[k] == "brk":
                    break
                if kinds[k] == "lex":
                    target = k
                    break
            if target is None:
                for k in range(j - 1, max(-1, j - 1 - SCOPE), -1):
                    if kinds[k] == "brk":
                        break
                    if kinds[k] == "lex":
                        if negated_values[k] is not None:
                            target = k
                            break
                        if target is None:
                            target = k
            if target is not None:
                negated[target] = not negated[target]

        # 3. each sentiment word: boosters before it, negation, caps
        sentiments = [0.0] * m_items
        for j in range(m_items):
            if kinds[j] != "lex" and kinds[j] != "phrase":
                continue
            v = values[j]
            override = negated_values[j]
            if negated[j] and override is not None:
                v = override
            elif v == 0.0:
                continue
            for d in range(1, SCOPE + 1):
                k = j - d
                if k < 0 or kinds[k] == "brk":
                    break
                if kinds[k] == "boost":
                    b = values[k] * _DAMPING[d - 1]
                    v += b if v > 0 else -b
            if negated[j] and override is None:
                v *= NEGATION_SCALAR
            if caps[j]:
                v += CAPS_BOOST if v > 0 else -CAPS_BOOST
            sentiments[j] = v

        # 4. the first contrast word: before it counts half, after it one and a half
        for j in range(m_items):
            if kinds[j] == "contrast":
                for k in range(m_items):
                    if k < j:
                        sentiments[k] *= BEFORE_CONTRAST
                    elif k > j:
                        sentiments[k] *= AFTER_CONTRAST
                break

        total = sum(sentiments)
        if total:
            emphasis = min(exclamations, 4) * EXCLAMATION
            if questions > 1:
                emphasis += questions * QUESTION if questions <= 3 else 0.96
            total += emphasis if total > 0 else -emphasis
        return _normalise(total)

    def _next_is_lex(self, tokens: list[tuple[str, str]], low: list[str], i: int) -> bool:
        """Whether a sentiment word follows within two words (then "super" boosts it instead of counting)."""
        for j in range(i + 1, min(len(tokens), i + 3)):
            if tokens[j][0] != "word":
                return False
            w = low[j]
            if w in NEGATORS:
                return False
            if self._valence(w) is not None or w in self.phrases or w in self.separable:
                return True
        return False


def _append(
    kinds: list[str],
    values: list[float],
    caps: list[bool],
    negated_values: list[float | None],
    kind: str,
    value: float,
    cap: bool,
    neg: float | None,
    word: str,
) -> None:
    """One item of a text: its kind, valence (or boost), caps, valence when negated; ``word`` only for reading."""
    kinds.append(kind)
    values.append(value)
    caps.append(cap)
    negated_values.append(neg)


def _is_emoticon(term: str) -> bool:
    return not term[0].isalpha()


def _normalise(score: float) -> float:
    if not score:
        return 0.0
    x = score / math.sqrt(score * score + ALPHA)
    return max(-1.0, min(1.0, x))


class _English:
    """vaderSentiment's analyzer with the team's supplement; phrases joined into one token first."""

    def __init__(self, path: Path) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self.analyzer = SentimentIntensityAnalyzer()
        self.phrases: dict[str, str] = {}
        patterns = []
        for raw in path.read_text(encoding="utf-8").splitlines():
            if not raw.strip() or raw.startswith("#"):
                continue
            term, value = raw.rsplit("\t", 1)
            term = term.lower()
            if " " in term:
                token = "_".join(re.sub(r"['’]", "", term).split())
                self.phrases[_phrase_key(term)] = token
                self.analyzer.lexicon[token] = float(value)
                words = [re.escape(w).replace("'", "['’]?") for w in term.split()]
                patterns.append(r"\s+".join(words))
            elif (
                term not in self.analyzer.lexicon
            ):  # a supplement: never changes VADER's own entries
                self.analyzer.lexicon[term] = float(value)
        patterns.sort(key=len, reverse=True)
        self.pattern = (
            re.compile(r"(?<![\w'’])(?:" + "|".join(patterns) + r")(?![\w'’])", re.IGNORECASE)
            if patterns
            else None
        )

    def score(self, text: str) -> float:
        if self.pattern is not None:
            text = self.pattern.sub(self._token, text)
        return float(self.analyzer.polarity_scores(text)["compound"])

    def _token(self, m: re.Match) -> str:
        return self.phrases.get(_phrase_key(m.group()), m.group())


def _phrase_key(s: str) -> str:
    return " ".join(re.sub(r"['’]", "", s.lower()).split())


def _emoji_valences(analyzer) -> dict[str, float]:
    """Each emoji of VADER's emoji lexicon scored by VADER's word lexicon over its description."""
    out: dict[str, float] = {}
    lexicon = analyzer.lexicon
    for ch, description in analyzer.emojis.items():
        v = sum(lexicon.get(w, 0.0) for w in description.lower().split())
        if v:
            out[ch] = max(-3.5, min(3.5, v))
    return out


_lock = threading.Lock()
_scorers: dict[str, object] = {}


def _scorer(language: str):
    s = _scorers.get(language)
    if s is None:
        with _lock:
            if not _scorers:
                english = _English(SUPPLEMENT_EN)
                german = _German(LEXICON_DE, _emoji_valences(english.analyzer))
                _scorers.update(en=english, de=german)
            s = _scorers[language]
    return s


def language_key(language: str | None) -> str | None:
    """``en`` / ``de`` for a language tag we have a lexicon for ("de", "de-AT", "deu", "EN_us"), else None."""
    if not language:
        return None
    base = language.strip().lower().replace("_", "-").split("-", 1)[0]
    return _LANGUAGE.get(base)


def scores(texts: Sequence[str], languages: Sequence[str | None]) -> list[float | None]:
    """Compound polarity in [-1, 1] per text; None where the language has no lexicon (neither English nor German)."""
    if len(texts) != len(languages):
        raise ValueError(f"{len(texts)} texts but {len(languages)} languages")
    out: list[float | None] = []
    for text, language in zip(texts, languages):
        key = language_key(language)
        if key is None:
            out.append(None)
            continue
        text = unicodedata.normalize("NFC", (text or "")[:MAX_CHARS])
        out.append(round(_scorer(key).score(text), 4) if text.strip() else 0.0)
    return out


def label(compound: float) -> str:
    """``negative`` (≤ -0.05), ``positive`` (≥ 0.05), else ``neutral``."""
    if compound <= NEGATIVE_AT_MOST:
        return "negative"
    if compound >= POSITIVE_AT_LEAST:
        return "positive"
    return "neutral"
