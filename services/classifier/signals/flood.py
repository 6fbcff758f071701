"""Flood and campaign detection: near-duplicate messages from different authors.

Each message long enough to mean something (``MIN_CHARS`` after normalising; "thanks!" from
a hundred people is not a campaign) gets a MinHash signature over its character 5-grams,
computed for a whole batch in one numpy pass. Signatures go into an LSH index (16 bands of
4 rows: pairs above about 0.5 Jaccard become candidates), candidates are confirmed by the
estimated Jaccard similarity ``similarity``, and confirmed near-duplicates share one campaign
whose distinct authors are counted. Entries older than ``window`` (by the message's own
``created_at``) are forgotten, so memory is bounded by the traffic of one window.

``datasketch`` was measured first: its per-message ``MinHash.update_batch`` ran at about
4,000 messages/s here, more than the rest of the classifier's budget; this batched form
does the same work at several times that rate.

``CampaignDetector`` keeps its state in this process (``CLASSIFIER_SIGNALS_STORE=memory``,
the benches); the service shares it between replicas through the database with
``stores.campaigns.SharedCampaignDetector``, which decides with the same functions.
Not thread-safe; the classifier calls it from one worker at a time.
"""

from __future__ import annotations

import hashlib
import re
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

import numpy as np

from shared.events import TEXT_UNAVAILABLE, CanonicalMessage

NUM_PERM = 64
BANDS, ROWS = 16, 4
SHINGLE = 5
MIN_CHARS = 30
MAX_CHARS = 500
CHUNK_GRAMS = 1024  # 5-grams hashed at a time (a 512 KB block of hashes: stays in the CPU cache)
_RNG = np.random.default_rng(20261122)  # fixed: signatures are comparable across restarts
_A = _RNG.integers(1, 1 << 63, NUM_PERM, dtype=np.uint64) | np.uint64(1)  # odd multipliers
_B = _RNG.integers(0, 1 << 63, NUM_PERM, dtype=np.uint64)
_P = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit multiplier of the 5-gram polynomial hash
_URL = re.compile(r"https?://\S+|www\.\S+")
_NON_WORD = re.compile(r"[\W_]+")


class _Candidate(Protocol):
    signature: np.ndarray
    campaign: object  # its campaign, or None


_C = TypeVar("_C", bound=_Candidate)


@dataclass(frozen=True)
class CampaignMatch:
    campaign_id: str
    authors: int  # distinct authors in the campaign within the window, this one included
    messages: int
    similarity: float  # estimated Jaccard similarity to the nearest earlier message


@dataclass
class _Entry:
    key: str
    at: datetime
    author: str
    signature: np.ndarray
    campaign: _Campaign | None = None
    bands: tuple[tuple[int, bytes], ...] = ()  # LSH bucket keys, computed once


@dataclass
class _Campaign:
    id: str
    authors: dict[str, datetime] = field(default_factory=dict)
    messages: int = 0


def signatures(texts: Sequence[str]) -> list[np.ndarray | None]:
    """MinHash signature per text (``None`` when too short to judge), computed in one pass.

    The batch's normalised texts are laid end to end as one array of code points; every
    5-gram's hash is a polynomial over its code points (wrapping uint64 arithmetic, vectorised
    over all positions at once, 5-grams crossing into the next text left out); each hash is
    mapped by the ``NUM_PERM`` multiply-shift permutations and a text's signature is the
    minimum per permutation over its 5-grams (a repeated 5-gram cannot change a minimum, so no
    set is built)."""
    norms = [
        "" if text.startswith(TEXT_UNAVAILABLE) else _normalise(text) for text in texts
    ]  # not their words
    kept = [i for i, norm in enumerate(norms) if len(norm) >= MIN_CHARS]
    out: list[np.ndarray | None] = [None] * len(texts)
    if not kept:
        return out
    lengths = np.fromiter((len(norms[i]) for i in kept), dtype=np.int64, count=len(kept))
    points = np.frombuffer(
        "".join(norms[i] for i in kept).encode("utf-32-le"), dtype=np.uint32
    ).astype(np.uint64)
    count = points.size - SHINGLE + 1
    grams = points[:count].copy()
    for k in range(1, SHINGLE):  # Horner: ((c0·P + c1)·P + c2)…
        grams *= _P
        grams += points[k : k + count]
    ends = np.cumsum(lengths)
    starts = ends - lengths
    owner = np.repeat(np.arange(len(kept)), lengths)[:count]
    inside = np.arange(count) + SHINGLE <= ends[owner]
    grams = grams[inside]
    firsts = starts - np.arange(len(kept)) * (
        SHINGLE - 1
    )  # each text has len - 4 5-grams, contiguous
    for i, signature in zip(kept, _minhash(grams, firsts), strict=True):
        out[i] = signature
    return out


def _minhash(grams: np.ndarray, firsts: np.ndarray) -> np.ndarray:
    """Per text (its 5-gram hashes at ``grams[firsts[j]:firsts[j + 1]]``), the minimum of each
    multiply-shift permutation ``(g·A + B) >> 32`` over its 5-grams.

    Texts are taken a few at a time so the (5-grams × ``NUM_PERM``) block of hashes stays in the
    CPU cache (about ``CHUNK_GRAMS`` × 512 bytes), computed in place in one reused buffer: the
    same arithmetic as one (all 5-grams × ``NUM_PERM``) array, at about twice the speed."""
    texts = len(firsts)
    bounds = np.append(firsts, grams.size)
    result = np.empty((texts, NUM_PERM), dtype=np.uint64)
    buffer = np.empty((max(CHUNK_GRAMS, int(np.diff(bounds).max())), NUM_PERM), dtype=np.uint64)
    shift = np.uint64(32)
    j = 0
    while j < texts:
        k = j + 1  # at least one text; more while they fit in the chunk
        while k < texts and bounds[k + 1] - bounds[j] <= CHUNK_GRAMS:
            k += 1
        block = buffer[: bounds[k] - bounds[j]]
        np.multiply(grams[bounds[j] : bounds[k], None], _A[None, :], out=block)
        np.add(block, _B[None, :], out=block)
        np.right_shift(block, shift, out=block)
        result[j:k] = np.minimum.reduceat(block, bounds[j:k] - bounds[j], axis=0)
        j = k
    return result


def campaign_id(first_key: str) -> str:
    """A campaign's id, derived from its first member's message key (the same on every replica)."""
    return hashlib.sha1(first_key.encode()).hexdigest()[:10]


def nearest(
    candidates: Iterable[_C], signature: np.ndarray, similarity: float
) -> tuple[_C | None, float]:
    """The earlier message a new one joins, and their estimated similarity: the most similar
    candidate at or above ``similarity``, a later one already in a campaign displacing one
    that is not (both detectors, in memory and shared, decide with this)."""
    best, found = 0.0, None
    for other in candidates:
        score = np.count_nonzero(other.signature == signature) / NUM_PERM
        if score >= similarity and (
            score > best or (found and other.campaign and not found.campaign)
        ):
            best, found = score, other
    return found, best


def _normalise(text: str) -> str:
    """Lower case, links and punctuation removed, single spaces, at most ``MAX_CHARS``."""
    return " ".join(_NON_WORD.sub(" ", _URL.sub(" ", text.lower())).split())[:MAX_CHARS]


class CampaignDetector:
    """Near-duplicates across authors within ``window``; see the module docstring."""

    def __init__(self, window: timedelta = timedelta(minutes=10), similarity: float = 0.7) -> None:
        self.window = window
        self.similarity = similarity
        self._entries: deque[_Entry] = deque()
        self._buckets: dict[tuple[int, bytes], set[int]] = {}
        self._by_id: dict[int, _Entry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def observe(self, messages: Sequence[CanonicalMessage]) -> list[CampaignMatch | None]:
        """Index each message in order; its campaign when it is a near-duplicate of another
        author's message (or of one already in a campaign) within the window, else ``None``."""
        sigs = signatures([m.text for m in messages])
        return [
            self._observe_one(m, sig) if sig is not None else None
            for m, sig in zip(messages, sigs, strict=True)
        ]

    def _observe_one(self, message: CanonicalMessage, sig: np.ndarray) -> CampaignMatch | None:
        self._expire(message.created_at)
        entry = _Entry(
            message.message_key,
            message.created_at,
            f"{message.platform}:{message.author.id}",
            sig,
            bands=self._bands(sig),
        )
        nearest, best = self._nearest(entry)
        self._insert(entry)
        if nearest is None or (nearest.author == entry.author and nearest.campaign is None):
            return None
        campaign = nearest.campaign or self._start(nearest)
        entry.campaign = campaign
        campaign.authors[entry.author] = entry.at
        campaign.messages += 1
        return CampaignMatch(campaign.id, len(campaign.authors), campaign.messages, round(best, 3))

    def _nearest(self, entry: _Entry) -> tuple[_Entry | None, float]:
        candidates: set[int] = set()
        buckets = self._buckets
        for band in entry.bands:
            found = buckets.get(band)
            if found:
                candidates |= found
        return nearest(map(self._by_id.__getitem__, candidates), entry.signature, self.similarity)

    def _start(self, first: _Entry) -> _Campaign:
        campaign = _Campaign(id=campaign_id(first.key))
        campaign.authors[first.author] = first.at
        campaign.messages = 1
        first.campaign = campaign
        return campaign

    def _insert(self, entry: _Entry) -> None:
        ident = id(entry)
        self._by_id[ident] = entry
        self._entries.append(entry)
        for band in entry.bands:
            self._buckets.setdefault(band, set()).add(ident)

    def _expire(self, now: datetime) -> None:
        while self._entries and self._entries[0].at < now - self.window:
            old = self._entries.popleft()
            self._by_id.pop(id(old), None)
            for band in old.bands:
                bucket = self._buckets.get(band)
                if bucket is not None:
                    bucket.discard(id(old))
                    if not bucket:
                        del self._buckets[band]

    @staticmethod
    def _bands(sig: np.ndarray) -> tuple[tuple[int, bytes], ...]:
        raw = sig.tobytes()
        width = ROWS * sig.itemsize
        return tuple((b, raw[b * width : (b + 1) * width]) for b in range(BANDS))
