"""Personal data in a message: e-mail addresses, phone numbers, IBANs, card numbers.

``find_pii(text, region)`` returns one ``PiiFinding`` per distinct item with a *masked* form
only: the full value never leaves this module (not in tags, evidence, logs or reasons).
``mask_text(text, region)`` is the text with every such item replaced by that masked form (what
the router shows of earlier messages and notes). Validation keeps false alarms down: IBANs must
pass ``schwifty`` (country format and check digits), card numbers the Luhn check, phone numbers
``phonenumbers``' validity rules. Texts with no ``@`` and fewer than seven digits are skipped at
once (most traffic). Shared by the classifier (tags, evidence) and the router (customer context),
so both mask alike. Pure; never raises on any string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

MAX_CHARS = 5_000
_EMAIL = re.compile(r"\b[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63})*\.[a-z]{2,24}\b", re.IGNORECASE)
_IBAN = re.compile(
    r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?\b", re.IGNORECASE
)
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_DIGIT = re.compile(r"\d")
REGIONS = {
    "de": "DE",
    "en": "US",
    "fr": "FR",
    "es": "ES",
    "it": "IT",
    "nl": "NL",
    "pt": "PT",
    "tr": "TR",
}


@dataclass(frozen=True)
class PiiFinding:
    kind: str  # email, phone, iban, card
    masked: str


def find_pii(text: str, region: str | None = None) -> tuple[PiiFinding, ...]:
    """Distinct PII items in ``text`` (first ``MAX_CHARS``), masked; ``region`` (ISO 3166
    alpha-2) lets national phone numbers without ``+`` be recognised."""
    return tuple(dict.fromkeys(finding for _, _, finding in _spans(text[:MAX_CHARS], region)))


def mask_text(text: str, region: str | None = None) -> str:
    """``text`` (first ``MAX_CHARS``) with every PII item replaced by its masked form, e.g.
    ``write me at j***@e***.com``."""
    text = text[:MAX_CHARS]
    for start, end, finding in sorted(_spans(text, region), key=lambda s: s[0], reverse=True):
        text = text[:start] + finding.masked + text[end:]
    return text


def region_of(language: str | None) -> str | None:
    """The phone-number region of a language (``de`` → ``DE``; a locale ``de-AT`` → ``AT``)."""
    if not language:
        return None
    base, _, country = language.partition("-")
    return country.upper() if len(country) == 2 else REGIONS.get(base.lower())


def _spans(text: str, region: str | None) -> list[tuple[int, int, PiiFinding]]:
    """(start, end, finding) of each PII item; an IBAN or card is not also read as a phone."""
    if "@" not in text and len(_DIGIT.findall(text)) < 7:
        return []
    found = [
        (m.start(), m.end(), PiiFinding("email", mask_email(m.group(0))))
        for m in _EMAIL.finditer(text)
    ]
    for match in _IBAN.finditer(text):
        iban = match.group(0).upper()
        if _valid_iban(iban):
            found.append(
                (
                    match.start(),
                    match.end(),
                    PiiFinding("iban", mask_tail(iban.replace(" ", ""), keep_head=2)),
                )
            )
            text = _blank(text, match.start(), match.end())
    for match in _CARD.finditer(text):
        digits = re.sub(r"\D", "", match.group(0))
        if luhn_ok(digits):
            found.append(
                (match.start(), match.end(), PiiFinding("card", mask_tail(digits, keep_tail=4)))
            )
            text = _blank(text, match.start(), match.end())
    found.extend(
        (start, end, PiiFinding("phone", mask_tail(number, keep_head=3)))
        for start, end, number in _phones(text, region)
    )
    return found


def _blank(text: str, start: int, end: int) -> str:
    return text[:start] + " " * (end - start) + text[end:]


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum of a 13–19 digit card number (excluding all-same-digit runs)."""
    if not 13 <= len(digits) <= 19 or len(set(digits)) == 1:
        return False
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = int(char) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def mask_email(address: str) -> str:
    """``jane.doe@example.com`` → ``j***@e***.com``."""
    local, _, domain = address.partition("@")
    host, _, tld = domain.rpartition(".")
    return f"{local[:1]}***@{host[:1]}***.{tld}"


def mask_tail(value: str, keep_head: int = 0, keep_tail: int = 2) -> str:
    """All but ``keep_head`` leading and ``keep_tail`` trailing characters replaced by ``*``."""
    hidden = max(len(value) - keep_head - keep_tail, 0)
    return value[:keep_head] + "*" * hidden + value[len(value) - keep_tail :]


def _valid_iban(candidate: str) -> bool:
    try:
        IBAN(candidate.replace(" ", ""))
    except (SchwiftyException, ValueError):
        return False
    return True


def _phones(text: str, region: str | None) -> list[tuple[int, int, str]]:
    """(start, end, E.164 form) of the valid phone numbers in ``text``."""
    try:
        matches = phonenumbers.PhoneNumberMatcher(
            text, region or "ZZ", leniency=phonenumbers.Leniency.VALID
        )
        return [
            (
                m.start,
                m.end,
                phonenumbers.format_number(m.number, phonenumbers.PhoneNumberFormat.E164),
            )
            for m in matches
        ]
    except Exception:  # noqa: BLE001 - a parser bug must not stop classification
        return []
