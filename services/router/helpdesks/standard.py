"""Any helpdesk (or middleware) that can send Switchboard's own lifecycle body as a Standard
Webhook (https://www.standardwebhooks.com/: ``webhook-id``, ``webhook-timestamp``,
``webhook-signature: v1,<base64 HMAC-SHA256>`` with a ``whsec_`` secret): the body is the
``data`` of ``switchboard.helpdesk.item.updated.v1`` (``item_id``, ``action``, ``at``,
``agent_id``, ``tags``, ``satisfaction``, ``handling_seconds``, ``note``). The same rules as the
ingestor's Standard Webhooks: raw bytes, constant time, timestamp tolerance."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from services.router.helpdesks.config import HelpdeskConfig
from services.router.helpdesks.mapping import Change, PayloadInvalid, Reading
from shared.events import Lifecycle
from shared.signatures import verify as verify_standard


def verify(
    headers: Mapping[str, str], body: bytes, keys: Sequence[bytes], now: float, tolerance_s: int
) -> None:
    verify_standard(keys, headers, body, tolerance_s=tolerance_s, now=now)


def delivery_id(headers: Mapping[str, str], payload: Any) -> str | None:
    return headers.get("webhook-id") or None


def read(payload: Any, config: HelpdeskConfig, now: datetime) -> Reading:
    try:
        change = Lifecycle.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(map(str, first["loc"])) or "(body)"
        raise PayloadInvalid(f"{where}: {first['msg']}") from None
    return Reading(
        change.item_id,
        [
            Change(
                key=None,
                action=change.action,
                at=change.at,
                agent_id=change.agent_id,
                tags=change.tags,
                satisfaction=change.satisfaction,
                note=change.note,
                handling_seconds=change.handling_seconds,
            )
        ],
    )
