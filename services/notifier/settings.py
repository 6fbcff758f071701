"""The notifier's settings (``NOTIFIER_``…, on the shared bases of ``shared.settings``): loaded
once in ``services.notifier.__main__`` and passed down; nothing else reads the environment."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from shared.auth import TokenGrant
from shared.settings import ROOT, ConsumerSettings

DEV_SIGNING_KEY = "switchboard-development-signing-key"
DEV_NOTIFIER_ADMIN_TOKEN = (
    "switchboard-development-notifier-admin-token"  # used when unset, development only
)


class NotifierSettings(ConsumerSettings):
    model_config = SettingsConfigDict(
        env_prefix="NOTIFIER_", frozen=True, populate_by_name=True, extra="ignore"
    )

    http_port: int = 8004
    consumer_group: str = "switchboard-notifier"
    timezone: str = "Europe/Berlin"
    office_hours: dict[str, str] = Field(
        default_factory=lambda: {d: "09:00-17:00" for d in ("mon", "tue", "wed", "thu", "fri")},
        description="Weekly hours per weekday, local time; a missing day is closed",
    )
    page_url: str | None = Field(None, description="HTTP endpoint that receives pages (JSON POST)")
    page_target: str = "oncall-http"
    page_timeout_s: float = 5.0
    signing_key: SecretStr = SecretStr(DEV_SIGNING_KEY)
    calendar_file: Path = Field(
        ROOT / "config" / "calendar.yaml",
        description="Business calendar (holidays, "
        "closures); NOTIFIER_TIMEZONE / NOTIFIER_OFFICE_HOURS override its zone / weekly hours when set",
    )
    oncall_file: Path = Field(
        ROOT / "config" / "oncall.yaml", description="People, targets, rotations, escalation"
    )
    page_min_urgency: Literal["low", "normal", "high"] = Field(
        "high",
        description="Reply-needed items at or above this urgency page outside office hours; "
        "lower ones wait in the digest delivered when the office opens",
    )
    sla_min_urgency: Literal["low", "normal", "high"] = "normal"
    sla_warn_minutes: float = Field(
        5.0, description="Page this long before an SLA deadline passes (outside hours)"
    )
    public_url: str = Field(
        "http://127.0.0.1:8004", description="Base URL of this API, for one-click ack links"
    )
    link_ttl_minutes: float = 12 * 60
    target_secrets: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Target name -> PagerDuty routing key or apprise URL with its tokens",
    )
    scheduler_interval_s: float = Field(
        1.0, description="How often due escalations, SLA timers and digests are checked"
    )
    delivery_attempts: int = 3
    delivery_backoff_s: float = 0.5
    admin_token: SecretStr | None = Field(
        None,
        description="Bootstrap admin bearer token of the notifier API (ack/resolve, Alertmanager); "
        "unset = the development placeholder in development, none elsewhere",
    )
    api_tokens: dict[str, TokenGrant] = Field(
        default_factory=dict,
        description="JSON: sha256(token) -> {subject, role: agent|lead|admin, team}; "
        "make one with python -m shared.auth new <subject> <role> [team]",
    )

    @model_validator(mode="after")
    def _no_placeholder_key(self) -> "NotifierSettings":
        if (
            self.environment != "development"
            and self.signing_key.get_secret_value() == DEV_SIGNING_KEY
        ):
            raise ValueError("NOTIFIER_SIGNING_KEY is the development placeholder")
        if (
            self.environment != "development"
            and self.admin_token is not None
            and self.admin_token.get_secret_value() == DEV_NOTIFIER_ADMIN_TOKEN
        ):
            raise ValueError("NOTIFIER_ADMIN_TOKEN is the development placeholder")
        return self
