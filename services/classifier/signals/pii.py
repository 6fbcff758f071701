"""Personal data exposed in a message: e-mail addresses, phone numbers, IBANs, card numbers.

``find_pii(text, region)`` returns one ``PiiFinding`` per distinct item with a *masked* form
only: the full value never leaves this module (not in tags, evidence, logs or reasons).
Validation keeps false alarms down: IBANs must pass ``schwifty`` (country format and check
digits), card numbers the Luhn check, phone numbers ``phonenumbers``' validity rules.
Texts with no ``@`` and fewer than seven digits are skipped at once (most traffic).
Pure; never raises on any string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

MAX_CHARS = 5_000
_EMAIL = re.compile(r"\b[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63})*\.[a-z]{2,24}\b", re.IGNORECASE)
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?\b")
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
    text = text[:MAX_CHARS]
    if "@" not in text and len(_DIGIT.findall(text)) < 7:
        return ()
    found: list[PiiFinding] = [
        PiiFinding("email", mask_email(m.group(0))) for m in _EMAIL.finditer(text)
    ]
    for match in _IBAN.finditer(text.upper()):
        if _valid_iban(match.group(0)):
            found.append(
                PiiFinding("iban", mask_tail(match.group(0).replace(" ", ""), keep_head=2))
            )
            text = text[: match.start()] + " " * (match.end() - match.start()) + text[match.end() :]
    for match in _CARD.finditer(text):
        digits = re.sub(r"\D", "", match.group(0))
        if luhn_ok(digits):
            found.append(PiiFinding("card", mask_tail(digits, keep_tail=4)))
            text = text[: match.start()] + " " * (match.end() - match.start()) + text[match.end() :]
    found.extend(
        PiiFinding("phone", mask_tail(number, keep_head=3)) for number in _phones(text, region)
    )
    return tuple(dict.fromkeys(found))


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


def _phones(text: str, region: str | None) -> list[str]:
    """E.164 forms of the valid phone numbers in ``text``."""
    try:
        matches = phonenumbers.PhoneNumberMatcher(
            text, region or "ZZ", leniency=phonenumbers.Leniency.VALID
        )
        return [
            phonenumbers.format_number(m.number, phonenumbers.PhoneNumberFormat.E164)
            for m in matches
        ]
    except Exception:  # noqa: BLE001 - a parser bug must not stop classification
        return []
