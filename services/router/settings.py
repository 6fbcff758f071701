"""The router's settings (``ROUTER_``…, on the shared bases of ``shared.settings``): loaded
once in ``services.router.__main__`` and passed down; nothing else reads the environment."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from services.router.helpdesks.config import HelpdeskConfig
from shared.settings import ROOT, ConsumerSettings

DEV_ROUTER_ADMIN_TOKEN = "switchboard-development-router-admin-token"
HELPDESK_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


class WebhookFilter(BaseModel):
    """What one helpdesk webhook endpoint receives (``ROUTER_WEBHOOK_FILTERS``: endpoint name -> this).
    A missing field means every value; the router checks the names when it starts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    queues: frozenset[str] | None = Field(
        None,
        min_length=1,
        description="Queue ids of the routing configuration "
        "whose routed, assigned and released-reply events the endpoint receives",
    )
    event_types: frozenset[str] | None = Field(
        None,
        min_length=1,
        description="CloudEvents types it receives: "
        "switchboard.item.routed.v1, switchboard.item.assigned.v1, "
        "switchboard.reply.released.v1",
    )


class RouterSettings(ConsumerSettings):
    model_config = SettingsConfigDict(
        env_prefix="ROUTER_", frozen=True, populate_by_name=True, extra="ignore"
    )

    http_port: int = 8003
    consumer_group: str = "switchboard-router"
    routing_file: Path = Field(
        ROOT / "config" / "routing.yaml",
        description="Teams, queues, agents, SLA policies and routing rules (YAML)",
    )
    calendar_file: Path = Field(
        ROOT / "config" / "calendar.yaml",
        description="Business calendar for SLA deadlines (shared with the notifier)",
    )
    admin_token: SecretStr = Field(
        SecretStr(DEV_ROUTER_ADMIN_TOKEN),
        description="Bootstrap admin bearer token (more tokens are issued via the API)",
    )
    token_ttl_days: float = Field(
        90.0,
        ge=0,
        description="Lifetime of API tokens issued through the API unless the issuer gives "
        "another (0: tokens never expire; revoke them by hand)",
    )
    templates_dir: Path = Field(
        ROOT / "services" / "router" / "templates",
        description="Response templates (*.yaml), validated at start-up",
    )
    sweep_interval_s: float = Field(
        15.0, description="How often waiting items are re-offered and skills relaxed"
    )
    pending_grace_s: float = Field(
        60.0,
        description="A routed item still pending (its publication unfinished) this long after "
        "it was routed is published again through the outbox",
    )
    republish_interval_s: float = Field(
        10.0, description="How often routed items left pending are looked for"
    )
    webhook_endpoints: dict[str, str] = Field(
        default_factory=dict,
        description="Helpdesk name -> URL receiving routed, assigned and released-reply "
        "events as Standard Webhooks (for helpdesks that cannot read Kafka)",
    )
    webhook_secrets: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Helpdesk name -> whsec_ secret that signs its deliveries",
    )
    webhook_filters: dict[str, WebhookFilter] = Field(
        default_factory=dict,
        description="Helpdesk name -> {queues, event_types} it receives; an endpoint "
        "without a filter receives every event of every queue",
    )
    webhook_timeout_s: float = 10.0
    helpdesks: dict[str, HelpdeskConfig] = Field(
        default_factory=dict,
        description="Helpdesk name -> {kind, secrets, url_tokens, item_id, statuses, tag_prefix, "
        "tag_map, agents, …}: who may post lifecycle events to /v1/helpdesks/{name}/events "
        "(docs/helpdesks.md)",
    )
    helpdesk_max_body_bytes: int = Field(1_000_000, ge=1024, description="Larger bodies get 413")
    helpdesk_publish_timeout_s: float = Field(
        5.0, gt=0, description="How long an inbound helpdesk event waits for the broker's ack"
    )
    planning_tag_only_handling_s: dict[str, NonNegativeFloat] = Field(
        default_factory=dict,
        description="Queue id -> seconds an agent spends on one tag-only (noise) message, "
        "for staffing; 0 leaves the queue's tag-only work out of staffing",
    )
    planning_tag_only_default_s: float = Field(
        15.0,
        ge=0,
        description="Tag-only handling seconds of queues not in planning_tag_only_handling_s "
        "(a glance and a tag); 0 leaves tag-only work out of staffing",
    )

    @model_validator(mode="after")
    def _no_placeholder_token(self) -> "RouterSettings":
        if (
            self.environment != "development"
            and self.admin_token.get_secret_value() == DEV_ROUTER_ADMIN_TOKEN
        ):
            raise ValueError("ROUTER_ADMIN_TOKEN is the development placeholder")
        if missing := sorted(set(self.webhook_endpoints) - set(self.webhook_secrets)):
            raise ValueError(
                f"ROUTER_WEBHOOK_SECRETS has no secret for endpoint(s) {', '.join(missing)}"
            )
        if unknown := sorted(set(self.webhook_filters) - set(self.webhook_endpoints)):
            raise ValueError(
                f"ROUTER_WEBHOOK_FILTERS names endpoint(s) {', '.join(unknown)} "
                "missing from ROUTER_WEBHOOK_ENDPOINTS"
            )
        if bad := sorted(n for n in self.helpdesks if not HELPDESK_NAME.match(n)):
            raise ValueError(f"ROUTER_HELPDESKS: names must match {HELPDESK_NAME.pattern}: {bad}")
        return self
