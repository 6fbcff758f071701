"""The escalation state machine of one incident. Pure: the policy and the time are passed in.

An incident is ``triggered`` (escalating), ``acknowledged`` or ``resolved``. While triggered,
``next_at`` is when the current step is due; the scheduler notifies the step's people and
calls ``after_step``: the next step is due after this step's wait (or at once when nobody
could be reached: a failed delivery falls through, never silently). After the last step the
chain starts over ``repeat`` times, then stops with ``next_at`` unset (exhausted, still open).
An ack sets ``next_at`` to the ack's expiry: if nobody resolves by then, it re-triggers.
``round`` only ever grows, so each (round, step) is notified at most once (delivery ledger key).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from services.notifier.oncall import Policy

TRIGGERED, ACKNOWLEDGED, RESOLVED = "triggered", "acknowledged", "resolved"


@dataclass(frozen=True)
class EscalationState:
    status: str
    step: int
    round: int
    passes_left: int
    next_at: datetime | None


def opened(policy: Policy, now: datetime) -> EscalationState:
    """A new incident: step 0 is due now."""
    return EscalationState(TRIGGERED, step=0, round=0, passes_left=policy.repeat, next_at=now)


def due(state: EscalationState, now: datetime) -> bool:
    return state.status != RESOLVED and state.next_at is not None and state.next_at <= now


def after_step(
    policy: Policy, state: EscalationState, now: datetime, reached: bool
) -> EscalationState:
    """The state once the current step was notified (``reached``: someone accepted the page)."""
    wait = timedelta(minutes=policy.steps[state.step].wait_minutes) if reached else timedelta()
    if state.step + 1 < len(policy.steps):
        return replace(state, step=state.step + 1, next_at=now + wait)
    if state.passes_left > 0:
        return replace(
            state,
            step=0,
            round=state.round + 1,
            passes_left=state.passes_left - 1,
            next_at=now + wait,
        )
    return replace(state, next_at=None)


def acknowledged(policy: Policy, state: EscalationState, now: datetime) -> EscalationState:
    """Stop escalating; re-trigger after ``ack_timeout_minutes`` unless resolved first."""
    if state.status == RESOLVED:
        return state
    return replace(
        state, status=ACKNOWLEDGED, next_at=now + timedelta(minutes=policy.ack_timeout_minutes)
    )


def retriggered(policy: Policy, state: EscalationState, now: datetime) -> EscalationState:
    """An ack timed out: start the chain again from the first step, in a fresh round."""
    return EscalationState(
        TRIGGERED, step=0, round=state.round + 1, passes_left=policy.repeat, next_at=now
    )


def resolved(state: EscalationState) -> EscalationState:
    return replace(state, status=RESOLVED, next_at=None)
