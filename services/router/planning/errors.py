"""What planning refuses, by name: each message says what is missing and what to do about it.

All are ``ValueError`` subclasses, so the CLI prints them and the HTTP router answers 422 with
the message; none is ever swallowed into a zero.
"""

from __future__ import annotations


class PlanningError(ValueError):
    """A forecast or staffing request planning cannot answer as asked."""


class NotEnoughHistory(PlanningError):
    """Fewer observed intervals than the smallest method needs (less than one day)."""


class MissingHandlingTime(PlanningError):
    """A queue with arrivals but no handling time: staffing would be a guess."""


class InfeasibleTarget(PlanningError):
    """A service-level target no number of agents reaches (e.g. 100 %, or answered within 0 s)."""
