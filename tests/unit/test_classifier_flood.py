"""Campaign detection over real-looking near-duplicates from several authors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.classifier.signals.flood import CampaignDetector, signatures
from shared.events import Author, CanonicalMessage

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
SCAM = "Congratulations! You have been selected for our exclusive giveaway, claim your prize at {url} now"


def message(i: int, text: str, author: str | None = None, at: datetime = T0) -> CanonicalMessage:
    return CanonicalMessage(
        platform="instagram",
        channel_kind="public_comment",
        source="t",
        account_id="acme",
        conversation_id=f"post-{i % 3}",
        platform_message_id=f"m{i}",
        author=Author(id=author or f"u{i}"),
        text=text,
        created_at=at,
    )


def test_near_duplicates_from_different_authors_form_one_growing_campaign():
    detector = CampaignDetector()
    texts = [SCAM.format(url=f"http://bit.ly/x{i}") + "!" * (i % 3) for i in range(7)]
    matches = detector.observe(
        [message(i, t, at=T0 + timedelta(seconds=i)) for i, t in enumerate(texts)]
    )
    assert matches[0] is None  # the first of a kind is not yet a campaign
    ids = {m.campaign_id for m in matches[1:]}
    assert len(ids) == 1
    assert [m.authors for m in matches[1:]] == [2, 3, 4, 5, 6, 7]
    assert all(m.similarity >= 0.7 for m in matches[1:])


def test_different_texts_short_texts_and_one_author_repeating_are_not_campaigns():
    detector = CampaignDetector()
    batch = [
        message(1, "My order 1234 has not arrived after two weeks, where is it?"),
        message(2, "The app crashes every time I open the settings page on Android."),
        message(3, "danke!"),
        message(4, "danke!"),
        message(5, "danke!"),
        message(
            6, "I keep asking the same thing: where is my refund for order 5567?", author="same"
        ),
        message(
            7, "I keep asking the same thing: where is my refund for order 5567?", author="same"
        ),
    ]
    assert detector.observe(batch) == [None] * 7


def test_entries_older_than_the_window_are_forgotten():
    detector = CampaignDetector(window=timedelta(minutes=10))
    detector.observe([message(1, SCAM.format(url="a"))])
    later = detector.observe([message(2, SCAM.format(url="b"), at=T0 + timedelta(minutes=11))])
    assert later == [None] and len(detector) == 1


def test_signatures_are_deterministic_and_none_for_short_texts():
    first, short = signatures([SCAM.format(url="x"), "ok"])
    assert short is None and (first == signatures([SCAM.format(url="x")])[0]).all()


def _reference_signature(text: str) -> list[int] | None:
    """The MinHash signature as the module docstring defines it, one 5-gram and one permutation
    at a time in Python integers (mod 2**64): what the vectorised, chunked form must equal."""
    from services.classifier.signals import flood

    norm = flood._normalise(text)
    if len(norm) < flood.MIN_CHARS:
        return None
    mask, points = (1 << 64) - 1, [ord(c) for c in norm]
    grams = []
    for i in range(len(points) - flood.SHINGLE + 1):
        value = points[i]
        for c in points[i + 1 : i + flood.SHINGLE]:
            value = (value * int(flood._P) + c) & mask
        grams.append(value)
    return [
        min((((g * int(a)) & mask) + int(b) & mask) >> 32 for g in grams)
        for a, b in zip(flood._A, flood._B, strict=True)
    ]


def test_batched_signatures_equal_the_plain_definition_across_chunks():
    """A batch far larger than one hashing chunk (``CHUNK_GRAMS`` 5-grams), with texts of every
    length up to the cut-off, non-Latin letters and texts too short to judge in between: each
    signature equals the per-text definition and what the text gets alone."""
    from services.classifier.signals import flood

    texts = [
        f"{SCAM.format(url=i)} {'x' * (i * 7)}" for i in range(70)
    ]  # up to ~600 characters: cut at 500
    texts[3], texts[17] = (
        "ok",
        "Kündigung sofort!!! Ärger mit İstanbul-Filiale, 😡 refund now please ok",
    )
    texts[40] = "short text"
    got = signatures(texts)
    assert sum(len(flood._normalise(t)) for t in texts) > 10 * flood.CHUNK_GRAMS
    for text, signature in zip(texts, got, strict=True):
        expected = _reference_signature(text)
        assert (signature is None) == (expected is None)
        if expected is not None:
            assert signature.tolist() == expected
            assert signature.tolist() == signatures([text])[0].tolist()
