"""PII detection: valid items are found and masked; near misses are not; nothing leaks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.pii import find_pii, luhn_ok, mask_email

IBAN = "DE89 3704 0044 0532 0130 00"
CARD = "4111 1111 1111 1111"


@pytest.mark.parametrize(
    ("text", "region", "kind", "masked"),
    [
        (
            "Meine IBAN: DE89 3704 0044 0532 0130 00, bitte erstatten",
            "DE",
            "iban",
            "DE******************00",
        ),
        ("iban DE89370400440532013000 thx", None, "iban", "DE******************00"),
        ("my card 4111 1111 1111 1111 was charged twice", "US", "card", "************1111"),
        ("card 5500-0000-0000-0004 pls", None, "card", "************0004"),
        ("write me at jane.doe@example.com", None, "email", "j***@e***.com"),
        ("ruf mich an: 0151 23456789", "DE", "phone", "+49*********89"),
        ("call +44 20 7946 0958 today", None, "phone", "+44********58"),
    ],
)
def test_valid_items_are_found_and_masked(text, region, kind, masked):
    assert (kind, masked) in [(f.kind, f.masked) for f in find_pii(text, region)]


@pytest.mark.parametrize(
    "text",
    [
        "DE89 3704 0044 0532 0130 01 (wrong check digits)",
        "4111 1111 1111 1112 fails Luhn",
        "order 12345678 is late",
        "see you at 10:30 on 2025-01-06",
        "danke!",
    ],
)
def test_near_misses_are_not_pii(text):
    assert find_pii(text, "DE") == ()


def test_an_iban_or_card_is_not_also_reported_as_a_phone_number():
    kinds = [f.kind for f in find_pii(f"IBAN {IBAN} und Karte {CARD}", "DE")]
    assert sorted(kinds) == ["card", "iban"]


def test_luhn_and_email_masks():
    assert luhn_ok("79927398713") is False  # too short for a card number
    assert luhn_ok("4012888888881881") and not luhn_ok("0000000000000000")
    assert mask_email("a@b.de") == "a***@b***.de"


@given(st.text(max_size=300))
def test_never_raises_and_never_returns_the_raw_value(text):
    for finding in find_pii(text, "DE"):
        assert "*" in finding.masked
