"""CloudEvents Kafka protocol binding, binary content mode.

The Kafka value is the event's ``data`` as JSON; the envelope attributes travel as ``ce_*``
headers (``ce_specversion``, ``ce_id``, ``ce_type``, ``ce_source``, ``ce_time``,
``ce_subject``, ``ce_correlationid``) and ``content-type: application/json``. The key is the
event's subject (the conversation key), so a conversation's events stay in order.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from pydantic import ValidationError

from shared.events import EVENT_TYPES, Envelope

Headers = list[tuple[str, bytes]]
CONTENT_TYPE = "application/json"
_ATTRS = {
    "ce_id": "id",
    "ce_source": "source",
    "ce_time": "time",
    "ce_subject": "subject",
    "ce_correlationid": "correlation_id",
}


class PoisonMessage(Exception):
    """A message that can never be processed as it is: undecodable, invalid, unsupported.

    The runner dead-letters it and moves on; retrying would only loop.
    """


@dataclass(frozen=True)
class Encoded:
    key: bytes | None
    value: bytes
    headers: Headers


def encode(event: Envelope) -> Encoded:
    """Serialise ``event`` for Kafka (binary content mode)."""
    body = event.model_dump(mode="json")
    headers: Headers = [("ce_specversion", b"1.0"), ("ce_type", event.TYPE.encode())]
    for header, attr in _ATTRS.items():
        if body.get(attr) is not None:
            headers.append((header, str(body[attr]).encode()))
    headers.append(("content-type", CONTENT_TYPE.encode()))
    key = event.subject.encode() if event.subject else None
    return Encoded(key=key, value=orjson.dumps(body["data"]), headers=headers)


def header(headers: Headers | tuple, name: str) -> str | None:
    """The last value of header ``name`` as text, or ``None``."""
    found = None
    for key, value in headers or ():
        if key == name and value is not None:
            found = value.decode("utf-8", errors="replace")
    return found


def decode(headers: Headers | tuple, value: bytes | None) -> Envelope:
    """Rebuild the typed event. Raises ``PoisonMessage`` with the reason when impossible."""
    event_type = header(headers, "ce_type")
    if event_type is None:
        raise PoisonMessage("missing ce_type header")
    cls = EVENT_TYPES.get(event_type)
    if cls is None:
        raise PoisonMessage(f"unsupported event type {event_type!r}")
    if value is None:
        raise PoisonMessage("empty value")
    try:
        data = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise PoisonMessage(f"value is not JSON: {exc}") from exc
    attrs = {attr: header(headers, h) for h, attr in _ATTRS.items()}
    attrs = {k: v for k, v in attrs.items() if v is not None}
    try:
        return cls.model_validate({**attrs, "type": event_type, "data": data})
    except ValidationError as exc:
        raise PoisonMessage(f"invalid {event_type}: {_brief(exc)}") from exc


def _brief(exc: ValidationError) -> str:
    parts = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5]]
    return "; ".join(parts)
