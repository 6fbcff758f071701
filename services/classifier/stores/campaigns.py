"""Campaign detection shared by every classifier replica, through the classifier's database.

The same decisions as ``flood.CampaignDetector`` (its signatures, LSH bands and
``flood.nearest``), with the last window's messages in ``classifier_campaign_entries`` and
``classifier_campaign_bands`` instead of memory: a campaign whose messages land on partitions
held by different replicas is seen whole. ``observe(messages)`` blocks (call it from the worker
thread) and runs one transaction per batch:

1. one query for the entries sharing an LSH band with any message of the batch within the
   window (all band keys in one parameter, ``signals.one_of``). Band keys are 64-bit hashes
   of (band, its rows), recomputed from the stored signatures: a collision only adds a
   candidate, which the signature comparison rejects;
2. the batch is matched in order against those and its own earlier messages;
3. writes: a stored entry that becomes a campaign's first member is claimed
   (``UPDATE … WHERE campaign_id IS NULL``: counted once if two replicas start the same
   campaign), new entries and bands inserted (insert-ignore: a redelivery is stored once),
   campaign authors inserted (insert-ignore: an author counts once whichever replica saw
   them), and the campaign counters incremented atomically (``ON CONFLICT DO UPDATE …
   RETURNING``). A match's author and message counts are the shared totals as of its batch;
4. at most every ``prune_every_s``, rows older than the window (behind the batch's newest
   message) are deleted, and campaigns whose last member is gone.

Eventually consistent: replicas matching the first members of a new campaign at the same moment
do not see each other's uncommitted messages and may start two campaigns (the id derives from
the first member, so only when they picked different ones); later messages join one of them.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
from sqlalchemy import Connection, Engine, case, delete, select, update

from services.classifier.signals.flood import (
    BANDS,
    ROWS,
    CampaignMatch,
    campaign_id,
    nearest,
    signatures,
)
from services.classifier.stores.sql import (
    Pruner,
    insert_for,
    insert_ignore_integers,
    micros,
    one_of,
    span_us,
)
from services.classifier.tables import (
    ClassifierCampaign,
    ClassifierCampaignAuthor,
    ClassifierCampaignBand,
    ClassifierCampaignEntry,
)
from shared.events import CanonicalMessage

_RNG = np.random.default_rng(20261123)  # fixed: band keys must agree across replicas and restarts
_MIX = _RNG.integers(1, 1 << 63, ROWS, dtype=np.uint64) | np.uint64(1)
_SALT = _RNG.integers(0, 1 << 63, BANDS, dtype=np.uint64)
Entries, Bands = ClassifierCampaignEntry.__table__, ClassifierCampaignBand.__table__
Campaigns, Authors = ClassifierCampaign.__table__, ClassifierCampaignAuthor.__table__


@dataclass(eq=False)
class _Entry:
    id: int
    key: str
    author: str
    at_us: int
    signature: np.ndarray
    campaign: str | None
    seq: int  # candidates are weighed in this order: stored ones by time, then the batch's
    stored: bool


@dataclass
class _Plan:
    """What matching the batch decided: per campaign, its members in order as (author, at, index
    of the matching message in the batch or ``None`` for a first member, similarity)."""

    members: dict[str, list[tuple[str, int, int | None, float]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    claims: list[_Entry] = field(default_factory=list)  # stored entries that became first members
    lost: set[str] = field(
        default_factory=set
    )  # campaigns another replica started first (claim failed)

    def counted(self, cid: str, index: int | None) -> bool:
        """Whether a member adds to the message count (a lost claim's first member is counted)."""
        return index is not None or cid not in self.lost


def band_keys(sigs: np.ndarray) -> np.ndarray:
    """``(n, BANDS)`` signed 64-bit LSH bucket keys for ``(n, NUM_PERM)`` signatures."""
    rows = sigs.reshape(len(sigs), BANDS, ROWS)
    return ((rows * _MIX).sum(axis=2, dtype=np.uint64) + _SALT).view(np.int64)


def entry_id(message_key: str) -> int:
    return int.from_bytes(
        hashlib.blake2b(message_key.encode(), digest_size=8).digest(), "big", signed=True
    )


class SharedCampaignDetector:
    """``flood.CampaignDetector`` with its state in the database; see the module docstring."""

    def __init__(
        self,
        engine: Engine,
        window: timedelta = timedelta(minutes=10),
        similarity: float = 0.7,
        prune_every_s: float = 30.0,
    ) -> None:
        self.engine, self.window, self.similarity = engine, window, similarity
        self._window_us = span_us(window)
        self._pruner = Pruner(prune_every_s)

    def observe(self, messages: Sequence[CanonicalMessage]) -> list[CampaignMatch | None]:
        """Index each message in order; its campaign when it is a near-duplicate of another
        author's message (or of one already in a campaign) within the window, else ``None``."""
        sigs = signatures([m.text for m in messages])
        judged = [i for i, sig in enumerate(sigs) if sig is not None]
        out: list[CampaignMatch | None] = [None] * len(messages)
        if not judged:
            return out
        batch = [
            _Entry(
                entry_id(messages[i].message_key),
                messages[i].message_key,
                f"{messages[i].platform}:{messages[i].author.id}",
                micros(messages[i].created_at),
                sigs[i],
                None,
                seq=0,
                stored=False,
            )
            for i in judged
        ]
        keys = band_keys(np.stack([e.signature for e in batch])).tolist()
        with self.engine.begin() as conn:
            known, stored = self._candidates(
                conn, keys, min(e.at_us for e in batch) - self._window_us
            )
            plan = self._match(batch, keys, known, stored)
            totals, new_authors = self._write(
                conn, [messages[i].account_id for i in judged], batch, keys, plan
            )
            self._pruner.run(lambda: self._prune(conn, max(e.at_us for e in batch)))
        for cid, members in plan.members.items():
            self._count(out, judged, plan, cid, totals[cid], new_authors[cid])
        return out

    def _candidates(
        self, conn: Connection, keys: list[list[int]], since_us: int
    ) -> tuple[dict[int, list[_Entry]], int]:
        """Stored entries at or after ``since_us`` by band key (one query), and how many."""
        wanted = sorted({k for row in keys for k in row})
        sharing = select(Bands.c.entry_id).where(
            one_of(conn, Bands.c.band, wanted), Bands.c.at_us >= since_us
        )
        rows = conn.execute(
            select(
                Entries.c.id,
                Entries.c.message_key,
                Entries.c.author,
                Entries.c.at_us,
                Entries.c.signature,
                Entries.c.campaign_id,
            )
            .where(Entries.c.id.in_(sharing))
            .order_by(Entries.c.at_us, Entries.c.id)
        ).all()
        entries = [
            _Entry(
                r.id,
                r.message_key,
                r.author,
                r.at_us,
                np.frombuffer(r.signature, dtype=np.uint64),
                r.campaign_id,
                seq=n,
                stored=True,
            )
            for n, r in enumerate(rows)
        ]
        buckets: dict[int, list[_Entry]] = defaultdict(list)
        if entries:
            for entry, bands in zip(
                entries, band_keys(np.stack([e.signature for e in entries])).tolist(), strict=True
            ):
                for band in bands:
                    buckets[band].append(entry)
        return buckets, len(entries)

    def _match(
        self,
        batch: list[_Entry],
        keys: list[list[int]],
        buckets: dict[int, list[_Entry]],
        stored: int,
    ) -> _Plan:
        """Match the batch in order, exactly as ``CampaignDetector`` does (in memory)."""
        plan = _Plan()
        for index, (entry, bands) in enumerate(zip(batch, keys, strict=True)):
            entry.seq = stored + index
            cutoff = entry.at_us - self._window_us
            found_in = {
                c.seq: c
                for band in bands
                for c in buckets.get(band, ())
                if c.at_us >= cutoff and c.id != entry.id
            }
            found, best = nearest(
                (found_in[s] for s in sorted(found_in)), entry.signature, self.similarity
            )
            for band in bands:
                buckets.setdefault(band, []).append(entry)
            if found is None or (found.author == entry.author and found.campaign is None):
                continue
            if found.campaign is None:
                found.campaign = campaign_id(found.key)
                plan.members[found.campaign].append((found.author, found.at_us, None, 0.0))
                if found.stored:
                    plan.claims.append(found)
            entry.campaign = found.campaign
            plan.members[entry.campaign].append((entry.author, entry.at_us, index, best))
        return plan

    def _write(
        self,
        conn: Connection,
        accounts: list[str],
        batch: list[_Entry],
        keys: list[list[int]],
        plan: _Plan,
    ) -> tuple[dict[str, tuple[int, int]], dict[str, set[str]]]:
        """Store the batch's decisions; per campaign its (messages, authors) totals before this
        batch's members, and the authors this batch added to it."""
        if plan.claims:
            plan.lost = self._claim(conn, plan.claims)
        unique = {
            e.id: (e, account, bands)
            for e, account, bands in zip(batch, accounts, keys, strict=True)
        }
        entries = sorted(unique.values(), key=lambda t: t[0].id)  # one lock order for every replica
        conn.execute(
            insert_for(conn)(Entries).on_conflict_do_nothing(),
            [
                {
                    "id": e.id,
                    "message_key": e.key,
                    "account_id": account,
                    "author": e.author,
                    "at_us": e.at_us,
                    "signature": e.signature.tobytes(),
                    "campaign_id": e.campaign,
                }
                for e, account, _ in entries
            ],
        )
        insert_ignore_integers(
            conn,
            Bands,
            sorted({(band, e.id, e.at_us) for e, _, bands in entries for band in bands}),
        )
        return self._add_members(conn, plan) if plan.members else ({}, {})

    @staticmethod
    def _claim(conn: Connection, claims: list[_Entry]) -> set[str]:
        """Mark stored entries as their campaigns' first members; the campaigns whose first
        member another replica had marked already (and counted)."""
        claimed = set(
            conn.execute(
                update(Entries)
                .where(Entries.c.id.in_([e.id for e in claims]), Entries.c.campaign_id.is_(None))
                .values(campaign_id=case({e.id: e.campaign for e in claims}, value=Entries.c.id))
                .returning(Entries.c.id)
            ).scalars()
        )
        return {e.campaign for e in claims if e.id not in claimed}

    @staticmethod
    def _add_members(
        conn: Connection, plan: _Plan
    ) -> tuple[dict[str, tuple[int, int]], dict[str, set[str]]]:
        """Insert the new (campaign, author) pairs and add the batch's members to the counters."""
        insert = insert_for(conn)
        authors = sorted(
            {(cid, author) for cid, members in plan.members.items() for author, *_ in members}
        )
        added: dict[str, set[str]] = defaultdict(set)
        for cid, author in conn.execute(
            insert(Authors)
            .on_conflict_do_nothing()
            .returning(Authors.c.campaign_id, Authors.c.author),
            [{"campaign_id": c, "author": a} for c, a in authors],
        ):
            added[cid].add(author)
        rows = [
            {
                "id": cid,
                "messages": sum(1 for _, _, index, _ in members if plan.counted(cid, index)),
                "authors": len(added[cid]),
                "last_at_us": max(at for _, at, _, _ in members),
            }
            for cid, members in sorted(plan.members.items())
        ]
        stmt = insert(Campaigns)
        stmt = stmt.on_conflict_do_update(
            index_elements=[Campaigns.c.id],
            set_={
                "messages": Campaigns.c.messages + stmt.excluded.messages,
                "authors": Campaigns.c.authors + stmt.excluded.authors,
                "last_at_us": case(
                    (stmt.excluded.last_at_us > Campaigns.c.last_at_us, stmt.excluded.last_at_us),
                    else_=Campaigns.c.last_at_us,
                ),
            },
        )
        delta = {row["id"]: row for row in rows}
        totals = {
            r.id: (r.messages - delta[r.id]["messages"], r.authors - delta[r.id]["authors"])
            for r in conn.execute(
                stmt.returning(Campaigns.c.id, Campaigns.c.messages, Campaigns.c.authors), rows
            )
        }
        return totals, added

    @staticmethod
    def _count(
        out: list[CampaignMatch | None],
        judged: list[int],
        plan: _Plan,
        cid: str,
        before: tuple[int, int],
        added: set[str],
    ) -> None:
        """Each matching message's counts: the totals before this batch plus its members so far."""
        messages, authors = before
        seen: set[str] = set()
        for author, _, index, similarity in plan.members[cid]:
            messages += plan.counted(cid, index)
            if author in added and author not in seen:
                seen.add(author)
                authors += 1
            if index is not None:
                out[judged[index]] = CampaignMatch(cid, authors, messages, round(similarity, 3))

    def _prune(self, conn: Connection, newest_us: int) -> None:
        cutoff = Pruner.cap(newest_us - self._window_us)
        conn.execute(delete(Bands).where(Bands.c.at_us < cutoff))
        conn.execute(delete(Entries).where(Entries.c.at_us < cutoff))
        gone = select(Campaigns.c.id).where(Campaigns.c.last_at_us < cutoff)
        conn.execute(delete(Authors).where(Authors.c.campaign_id.in_(gone)))
        conn.execute(delete(Campaigns).where(Campaigns.c.last_at_us < cutoff))
