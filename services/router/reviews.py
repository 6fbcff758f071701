"""Four-eyes review of reply drafts. When the item asks for it (its rule, VIP, legal or press
tags) or the author is a trainee, a submitted draft waits for a second agent: approve
releases it, reject sends it back with a reason; the author can do neither. The reviewer must
act for the item's team, hold at least the role the four-eyes settings ask for (a rule's
``four_eyes_reviewer``, else ``four_eyes.reviewer_role``) and not be a trainee (unless
``four_eyes.trainees_review``): a trainee never approves a senior's draft on a sensitive item.
Otherwise a submitted draft is released at once. Every step is audited; a released reply's
``ReplyReleased`` event is written to the outbox in the same transaction (and returned).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select

from services.router.rules import RoutingConfig
from services.router.store import Repository, transaction, utc
from services.router.tables import Draft, RoutedItem
from shared import topics
from shared.auth import Principal
from shared.events import ReplyRelease, ReplyReleased, derived_id

SUBMITTED, APPROVED, REJECTED, RELEASED = "submitted", "approved", "rejected", "released"


class ReviewError(ValueError):
    """A review step that is not allowed; ``status`` is the HTTP status that fits."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


def released_event(draft: Draft, item: RoutedItem, at: datetime) -> ReplyReleased:
    data = ReplyRelease(
        draft_id=draft.id,
        item_id=item.event_id,
        message_key=item.message_key,
        conversation_key=item.conversation_key,
        text=draft.text,
        author=draft.author,
        approver=draft.reviewer,
        released_at=at,
    )
    return ReplyReleased(
        id=derived_id(draft.id, "router:released"),
        source="switchboard/router",
        time=at,
        correlation_id=item.event_id,
        subject=item.conversation_key,
        data=data,
    )


class Reviews:
    def __init__(self, sessions, config: callable) -> None:
        self._sessions, self._config = sessions, config

    async def submit(
        self, item_id: str, author: str, text: str, now: datetime
    ) -> tuple[Draft, ReplyReleased | None]:
        """Store a draft; released at once unless four-eyes applies. Raises ``ReviewError``."""
        now = utc(now)
        async with transaction(self._sessions) as repo:
            item = await _item(repo, item_id)
            agent = await repo.agent(author)
            needs_review = item.four_eyes or (
                self._config().four_eyes.trainee_drafts and bool(agent and agent.trainee)
            )
            draft = Draft(
                id=str(uuid.uuid4()),
                message_key=item.message_key,
                author=author,
                text=text,
                state=SUBMITTED if needs_review else RELEASED,
                created_at=now,
            )
            repo.session.add(draft)
            repo.audit(
                now,
                item.message_key,
                "draft_submitted",
                {"draft": draft.id, "four_eyes": needs_review},
                author,
            )
            released = None if needs_review else released_event(draft, item, now)
            if released is not None:  # published by the outbox relay, committed with the draft
                await repo.add_to_outbox(topics.RELEASED, released, now)
            await repo.commit()
        return draft, released

    async def decide(
        self,
        draft_id: str,
        reviewer: Principal,
        approve: bool,
        reason: str | None,
        now: datetime,
    ) -> tuple[Draft, ReplyReleased | None]:
        """Approve (release) or reject a submitted draft. Raises ``ReviewError``."""
        now = utc(now)
        config: RoutingConfig = self._config()
        if not approve and not (reason or "").strip():
            raise ReviewError("a rejection needs a reason", 422)
        async with transaction(self._sessions) as repo:
            draft = await repo.session.get(Draft, draft_id)
            if draft is None:
                raise ReviewError(f"no draft {draft_id}", 404)
            if draft.state != SUBMITTED:
                raise ReviewError(f"draft {draft_id} is {draft.state}, not awaiting review")
            if draft.author == reviewer.subject:
                raise ReviewError("four-eyes: the author cannot review their own draft", 403)
            item = await repo.item_by_key(draft.message_key)
            await _may_review(repo, config, item, reviewer)
            draft.state, draft.reviewer, draft.reason, draft.decided_at = (
                RELEASED if approve else REJECTED,
                reviewer.subject,
                reason,
                now,
            )
            repo.audit(
                now,
                draft.message_key,
                "draft_approved" if approve else "draft_rejected",
                {"draft": draft_id, "reason": reason},
                reviewer.subject,
            )
            released = released_event(draft, item, now) if approve else None
            if released is not None:
                await repo.add_to_outbox(topics.RELEASED, released, now)
            await repo.commit()
        return draft, released

    async def pending(self, message_keys: set[str] | None = None) -> list[Draft]:
        async with self._sessions() as session:
            drafts = list(
                (
                    await session.execute(
                        select(Draft).where(Draft.state == SUBMITTED).order_by(Draft.created_at)
                    )
                ).scalars()
            )
        return [d for d in drafts if message_keys is None or d.message_key in message_keys]


def reviewer_role(config: RoutingConfig, item: RoutedItem) -> str:
    """The least role that may review drafts on ``item``: its rule's, else the default."""
    rule = next((r for r in config.rules if r.id == item.rule), None)
    return (rule and rule.four_eyes_reviewer) or config.four_eyes.reviewer_role


async def _may_review(
    repo: Repository, config: RoutingConfig, item: RoutedItem, reviewer: Principal
) -> None:
    """Raises ``ReviewError`` (403) unless ``reviewer`` may be the second pair of eyes."""
    team = next((q.team for q in config.queues if q.id == item.queue), None)
    if team is not None and not reviewer.may_act_for(team):
        raise ReviewError(f"four-eyes: {reviewer.subject} does not act for team {team}", 403)
    needed = reviewer_role(config, item)
    if not reviewer.at_least(needed):
        raise ReviewError(
            f"four-eyes: reviewing drafts on this item needs the {needed} role "
            f"({reviewer.subject} is {reviewer.role})",
            403,
        )
    agent = await repo.agent(reviewer.subject)
    if agent is not None and agent.trainee and not config.four_eyes.trainees_review:
        raise ReviewError(f"four-eyes: {reviewer.subject} is a trainee and cannot review", 403)


async def _item(repo: Repository, item_id: str) -> RoutedItem:
    item = await repo.item(item_id)
    if item is None:
        raise ReviewError(f"no routed item {item_id}", 404)
    return item
