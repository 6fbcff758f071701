"""Refusals and their JSON shape: ``{"error": <code>, "detail": <text>}`` (plus ``fields`` for
422). Codes are stable for clients; details are for humans and never echo secrets or bodies.

Every refusal of a webhook is built here (400 malformed, 401/403 signature, 404 not configured,
422 invalid, 503 unavailable) and turned into JSON in one place, ``http.edge.answer``.
"""

from __future__ import annotations

from pydantic import BaseModel, ValidationError

from shared.signatures import SignatureRejected  # raised by the platform modules

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

    def __init__(
        self,
        status: int,
        error: str,
        detail: str,
        outcome: str,
        *,
        fields: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {error}: {detail}")
        self.status, self.outcome, self.headers = status, outcome, headers or {}
        self.problem = Problem(error=error, detail=detail, fields=fields)


def invalid(exc: ValidationError, prefix: tuple = ()) -> Rejected:
    """422 naming each invalid field (at most 20; inputs are not echoed)."""
    fields = [
        FieldError(loc=_dotted((*prefix, *err["loc"])), msg=err["msg"], type=err["type"])
        for err in exc.errors(include_url=False, include_input=False)[:20]
    ]
    return Rejected(
        422, "invalid_message", f"{exc.error_count()} invalid field(s)", "invalid", fields=fields
    )


def invalid_payload(exc: Exception) -> Rejected:
    """422 naming the path of a platform body that is JSON but not the platform's shape
    (``PayloadInvalid``, or the first error of a ``ValidationError``)."""
    if isinstance(exc, ValidationError):
        first = exc.errors(include_url=False, include_input=False)[0]
        detail = f"{'.'.join(map(str, first['loc']))}: {first['msg']}"
    else:
        detail = str(exc)[:500]
    return Rejected(422, "invalid_payload", detail, "invalid")


def malformed(error: str, detail: str) -> Rejected:
    """400: the body is not the format it claims (``malformed_json``, ``malformed_xml``)."""
    return Rejected(400, error, detail, "malformed")


def signature_refused(exc: SignatureRejected) -> Rejected:
    """403 when a signature is present but wrong; 401 when it is missing, malformed or stale."""
    status = 403 if exc.reason == "bad_signature" else 401
    return Rejected(status, exc.reason, exc.detail, signature_outcome(exc))


def signature_outcome(exc: SignatureRejected) -> str:
    """The metric outcome of a refused signature: ``forbidden`` (wrong) or ``unauthorized``."""
    return "forbidden" if exc.reason == "bad_signature" else "unauthorized"


def not_configured(what: str) -> Rejected:
    """404 for a platform (or bot) whose webhooks have no secret configured."""
    return Rejected(404, "not_configured", f"{what} webhooks are not configured", "unknown_source")


def unavailable(error: str, detail: str) -> Rejected:
    """503 with ``Retry-After``: the platform should re-send later."""
    return Rejected(503, error, detail, "unavailable", headers={"Retry-After": str(RETRY_AFTER_S)})


def _dotted(loc: tuple) -> str:
    return ".".join(str(part) for part in loc) or "(body)"
