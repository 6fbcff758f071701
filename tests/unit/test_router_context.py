"""A routed item's customer context, pure: the conversation so far (only what was posted before
the message, this one excluded, the latest few), earlier contacts within 90 days with the last
one's reason, outcome and CSAT, notes; bounded in size; PII masked as the classifier masks it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.router.context import (
    CONTACTS_COUNTED,
    Contact,
    Note,
    Said,
    build,
    cut,
    earlier_contacts,
)
from shared.events import CONTEXT_MESSAGES, CONTEXT_NOTES, CONTEXT_TEXT_CHARS, CustomerContext
from shared.pii import find_pii, mask_text, region_of

T = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def said(n: int, minutes: float, text: str = "hallo", direction="inbound") -> Said:
    return Said(f"m-{n}", T + timedelta(minutes=minutes), direction, "u-1", text, "neutral")


def context(said_=(), contacts=(), notes=(), key="m-0", at=T) -> CustomerContext:
    return build(
        customer="x:u-1", message_key=key, posted_at=at, said=said_, contacts=contacts, notes=notes
    )


def test_the_conversation_so_far_is_what_was_posted_before_in_order():
    history = [
        said(2, -1, "zweitens"),
        said(1, -5, "erstens"),
        said(0, 0, "this one"),
        said(3, 4, "later"),
    ]
    history.append(Said(None, T - timedelta(minutes=3), "outbound", "anna", "Wir schauen nach."))
    c = context(history)
    assert [(m.direction, m.text) for m in c.conversation] == [
        ("inbound", "erstens"),
        ("outbound", "Wir schauen nach."),
        ("inbound", "zweitens"),
    ]
    assert c.truncated is False and c.customer == "x:u-1"


def test_the_context_is_bounded_to_the_latest_messages_and_cut_texts():
    history = [said(n, -100 + n, "x" * 50) for n in range(1, 30)]
    history[-1] = said(29, -1, "y" * (CONTEXT_TEXT_CHARS * 3))
    notes = [Note(T - timedelta(hours=h), "anna", f"note {h}") for h in range(1, 9)]
    c = context(history, notes=notes)
    assert len(c.conversation) == CONTEXT_MESSAGES and c.conversation[0].message_key == "m-20"
    assert len(c.conversation[-1].text) == CONTEXT_TEXT_CHARS + 1 and c.conversation[
        -1
    ].text.endswith("…")
    assert len(c.notes) == CONTEXT_NOTES and c.notes[-1].text == "note 1"  # the latest notes
    assert c.truncated is True
    assert len(c.model_dump_json()) < 10_000  # bounded whatever the history holds
    assert cut("kurz") == ("kurz", False)


def test_earlier_contacts_count_90_days_and_describe_the_last_one():
    contacts = [
        Contact("m-a", T - timedelta(days=120), "order", True, True, 5.0),  # too old
        Contact("m-b", T - timedelta(days=40), "refund", True, True, 2.0),
        Contact("m-c", T - timedelta(days=3), "outage", True, False, None),
        Contact("m-0", T, "order", False, False, None),  # this message itself
        Contact("m-d", T + timedelta(minutes=1), "order", False, False, None),  # posted after
    ]
    e = earlier_contacts(contacts, "m-0", T)
    assert (e.count, e.last_reason, e.last_outcome, e.last_satisfaction) == (
        2,
        "outage",
        "replied",
        None,
    )
    assert e.last_at == T - timedelta(days=3) and e.days == 90
    resolved = earlier_contacts(contacts[:2], "m-0", T)
    assert (resolved.count, resolved.last_outcome, resolved.last_satisfaction) == (
        1,
        "resolved",
        2.0,
    )
    assert earlier_contacts([], "m-0", T).count == 0
    opened = earlier_contacts(
        [Contact("m-e", T - timedelta(days=1), None, False, False, None)], "m-0", T
    )
    assert opened.last_outcome == "open"


def test_pii_is_masked_as_the_classifier_masks_it():
    text = "Meine IBAN DE89 3704 0044 0532 0130 00, mail jane.doe@example.com, Tel 0151 23456789"
    masked = mask_text(text, region_of("de"))
    for finding in find_pii(text, "DE"):  # the classifier's masked forms, in place of the values
        assert finding.masked in masked
    assert "jane.doe" not in masked and "3704" not in masked and "23456789" not in masked
    assert masked.startswith("Meine IBAN DE") and "mail j***@e***.com" in masked
    assert mask_text("danke!", "DE") == "danke!"
    assert region_of("de-AT") == "AT" and region_of("tr") == "TR" and region_of(None) is None


def test_a_prolific_author_is_counted_up_to_the_bound():
    many = [
        Contact(f"m-{i}", T - timedelta(hours=i + 1), "order", True, True, None) for i in range(150)
    ]
    assert earlier_contacts(many, "m-x", T).count == CONTACTS_COUNTED == 100
