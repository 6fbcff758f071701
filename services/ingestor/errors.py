"""Refusals and their JSON shape: ``{"error": <code>, "detail": <text>}`` (plus ``fields`` for
422). Codes are stable for clients; details are for humans and never echo secrets or bodies.
"""

from __future__ import annotations

from pydantic import BaseModel, ValidationError

RETRY_AFTER_S = 5


class FieldError(BaseModel):
    loc: str
    msg: str
    type: str


class Problem(BaseModel):
    """The body of every 4xx/5xx answer of the webhook endpoint."""

    error: str
    detail: str
    fields: list[FieldError] | None = None


class Rejected(Exception):
    """A request refused with ``status``; ``outcome`` is the metric label."""

    def __init__(self, status: int, error: str, detail: str, outcome: str, *,
                 fields: list[FieldError] | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {error}: {detail}")
        self.status, self.outcome, self.headers = status, outcome, headers or {}
        self.problem = Problem(error=error, detail=detail, fields=fields)


def invalid(exc: ValidationError, prefix: tuple = ()) -> Rejected:
    """422 naming each invalid field (at most 20; inputs are not echoed)."""
    fields = [FieldError(loc=_dotted((*prefix, *err["loc"])), msg=err["msg"], type=err["type"])
              for err in exc.errors(include_url=False, include_input=False)[:20]]
    return Rejected(422, "invalid_message", f"{exc.error_count()} invalid field(s)", "invalid", fields=fields)


def unavailable(error: str, detail: str) -> Rejected:
    """503 with ``Retry-After``: the platform should re-send later."""
    return Rejected(503, error, detail, "unavailable", headers={"Retry-After": str(RETRY_AFTER_S)})


def _dotted(loc: tuple) -> str:
    return ".".join(str(part) for part in loc) or "(body)"
