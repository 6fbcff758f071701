"""Prometheus Alertmanager webhooks (payload version 4) routed through the same rota.

One incident per Alertmanager group (``groupKey``); each firing alert attaches once per
(``fingerprint``, ``startsAt``), so Alertmanager's repeat notifications never page twice. A
group reported ``resolved`` resolves its incident. Older Alertmanager releases send alerts without
``fingerprint`` or per-alert ``status``: the alert then takes its group's status, and a fingerprint
derived from its sorted labels (the way Alertmanager computes its own). Ops alerts page at any hour. The team is
the ``team`` label when it names a team, else the default team.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from services.notifier.paging import Paging
from services.notifier.store import Attach


class AlertmanagerAlert(BaseModel):
    model_config = ConfigDict(extra="ignore")
    status: Literal["firing", "resolved"] | None = None
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    startsAt: datetime
    endsAt: datetime | None = None
    generatorURL: str = ""
    fingerprint: str = ""

    @model_validator(mode="after")
    def _fingerprint_from_labels(self) -> AlertmanagerAlert:
        if not self.fingerprint:
            labels = json.dumps(sorted(self.labels.items()), separators=(",", ":"))
            self.fingerprint = "labels-" + hashlib.sha256(labels.encode()).hexdigest()[:16]
        return self


class AlertmanagerWebhook(BaseModel):
    model_config = ConfigDict(extra="ignore")
    version: Literal["4"]
    groupKey: str
    truncatedAlerts: int = 0
    status: Literal["firing", "resolved"]
    receiver: str
    groupLabels: dict[str, str] = {}
    commonLabels: dict[str, str] = {}
    commonAnnotations: dict[str, str] = {}
    externalURL: str = ""
    alerts: list[AlertmanagerAlert]

    @model_validator(mode="after")
    def _alert_status_from_group(self) -> AlertmanagerWebhook:
        for alert in self.alerts:
            if alert.status is None:
                alert.status = self.status
        return self


def summary_of(hook: AlertmanagerWebhook) -> str:
    name = hook.commonLabels.get("alertname") or hook.groupLabels.get("alertname") or hook.receiver
    text = hook.commonAnnotations.get("summary") or hook.commonAnnotations.get("description") or ""
    firing = sum(a.status == "firing" for a in hook.alerts)
    return f"[alert] {name} ({firing} firing): {text}"[:1024]


async def receive(paging: Paging, hook: AlertmanagerWebhook, now: datetime) -> dict:
    """Open/join the group's incident for firing alerts, resolve it when the group resolved."""
    key = f"alertmanager:{hook.groupKey}"[:512]
    team = paging.oncall.team_for(None, hook.commonLabels.get("team"))
    attached = 0
    for alert in (a for a in hook.alerts if a.status == "firing"):
        item = Attach(
            f"am:{alert.fingerprint}:{alert.startsAt.isoformat()}"[:256],
            key,
            team,
            "alert",
            "alertmanager",
            summary_of(hook),
            None,
            None,
            f"alertmanager:{alert.fingerprint}",
        )
        attached += await paging.open(item, now) is not None
    current = await paging.incidents.open_for(key)
    if hook.status == "resolved" and current is not None:
        await paging.resolve(current.id, "alertmanager", now)
        return {"incident_id": current.id, "status": "resolved", "attached": attached}
    return {
        "incident_id": current.id if current else None,
        "status": current.status if current else "none",
        "attached": attached,
    }
