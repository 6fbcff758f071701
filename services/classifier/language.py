"""Language of a message: the platform's hint when it gave one, else lingua's guess.

The detector is restricted to the languages the product serves (fewer models: less memory,
fewer confusions on short texts) and built once with its models preloaded, so the first
message does not pay the loading cost. High-accuracy mode is kept on purpose: low-accuracy
mode (about 30 MB instead of about 220 MB resident) calls "danke!" Dutch. Detection never
raises: an empty, undecidable or failing input yields ``UNDETERMINED``.
"""

from __future__ import annotations

import re

from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "pt", "tr")
UNDETERMINED = "und"  # ISO 639-2 "undetermined"
MAX_CHARS = 1_000  # the beginning of a text says its language; bounds CPU per message
_HINT = re.compile(r"^([a-zA-Z]{2,3})(?:[-_][a-zA-Z0-9]{1,8})*$")
_LETTER = re.compile(r"[^\W\d_]")


class LanguageDetector:
    """A lingua detector over ``languages`` (ISO 639-1 codes). Build once; thread-safe."""

    def __init__(self, languages: tuple[str, ...] = LANGUAGES) -> None:
        self.languages = languages
        chosen = [Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())) for code in languages]
        self._detector = LanguageDetectorBuilder.from_languages(*chosen).with_preloaded_language_models().build()

    def detect(self, text: str) -> str:
        """ISO 639-1 code of the likeliest language of ``text``, or ``UNDETERMINED``."""
        sample = text[:MAX_CHARS]
        if not _LETTER.search(sample):
            return UNDETERMINED
        try:
            found = self._detector.detect_language_of(sample)
        except Exception:  # noqa: BLE001 - a detector bug must not stop classification
            return UNDETERMINED
        return found.iso_code_639_1.name.lower() if found is not None else UNDETERMINED


def normalise_hint(hint: str | None) -> str | None:
    """The primary subtag of a BCP 47-ish hint (``"de-DE"`` → ``"de"``), or ``None``."""
    if not hint:
        return None
    found = _HINT.match(hint.strip())
    return found.group(1).lower() if found else None


def language_of(text: str, hint: str | None, detector: LanguageDetector) -> str:
    """The hint when usable, else the detector's answer."""
    return normalise_hint(hint) or detector.detect(text)
