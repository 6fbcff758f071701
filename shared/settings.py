"""Typed, frozen settings: one object per service, loaded once in ``main`` and passed down.

Nothing else reads the environment. Common variables keep their conventional names
(``KAFKA_BOOTSTRAP_SERVERS``, ``DATABASE_URL``); service-specific ones carry the service's
prefix (``INGESTOR_…``, ``CLASSIFIER_…``, ``ROUTER_…``, ``NOTIFIER_…``). Secrets are
``SecretStr`` (never logged) and development placeholders are refused outside development.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent
DEV_WEBHOOK_SECRET = "whsec_c3dpdGNoYm9hcmQtZGV2ZWxvcG1lbnQtc2VjcmV0"  # "switchboard-development-secret"
DEV_SIGNING_KEY = "switchboard-development-signing-key"


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, name.lower())


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    environment: Literal["development", "test", "production"] = Field(
        "development", validation_alias=_env("SWITCHBOARD_ENV")
    )
    log_level: str = Field("INFO", validation_alias=_env("LOG_LEVEL"))
    log_json: bool = Field(True, validation_alias=_env("LOG_JSON"))
    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092", validation_alias=_env("KAFKA_BOOTSTRAP_SERVERS")
    )
    kafka_topic_namespace: str = Field(
        "", validation_alias=_env("KAFKA_TOPIC_NAMESPACE"),
        description="Prefix for every topic name (isolates tests and parallel stacks)",
    )
    kafka_request_timeout_ms: int = Field(5000, validation_alias=_env("KAFKA_REQUEST_TIMEOUT_MS"))
    database_url: str = Field(
        f"sqlite:///{ROOT / 'var' / 'switchboard.db'}", validation_alias=_env("DATABASE_URL")
    )
    http_host: str = "0.0.0.0"
    http_port: int = 8000


class ConsumerSettings(CommonSettings):
    consumer_group: str = ""
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 2_000
    max_batch: int = 200
    poll_timeout_ms: int = 500
    fetch_max_wait_ms: int = Field(50, description="How long the broker may hold a fetch for data (latency vs idle load)")
    shutdown_deadline_s: float = 20.0
    retry_max_attempts: int = 5
    retry_initial_backoff_s: float = 0.2
    retry_max_backoff_s: float = 5.0
    dlq_max_consecutive: int = Field(
        1000, description="Stop the consumer after this many poison messages in a row "
        "(a bad deploy should crash-loop loudly, not dead-letter the whole topic)",
    )


class IngestorSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="INGESTOR_", frozen=True, populate_by_name=True, extra="ignore")

    http_port: int = 8001
    webhook_secrets: dict[str, SecretStr] = Field(
        default_factory=lambda: {"demo": SecretStr(DEV_WEBHOOK_SECRET)},
        description="Standard Webhooks secrets per source name (whsec_…)",
    )
    webhook_tolerance_s: int = 300
    max_body_bytes: int = 1_000_000
    produce_timeout_s: float = 5.0

    @model_validator(mode="after")
    def _no_placeholder_secrets(self) -> "IngestorSettings":
        if self.environment != "development":
            for source, secret in self.webhook_secrets.items():
                if secret.get_secret_value() == DEV_WEBHOOK_SECRET:
                    raise ValueError(f"webhook secret for source {source!r} is the development placeholder")
        return self


class ClassifierSettings(ConsumerSettings):
    model_config = SettingsConfigDict(env_prefix="CLASSIFIER_", frozen=True, populate_by_name=True, extra="ignore")

    http_port: int = 8002
    consumer_group: str = "switchboard-classifier"
    models_dir: Path = ROOT / "services" / "classifier" / "models"
    rules_dir: Path = ROOT / "services" / "classifier" / "rules"
    spam_threshold: float = 0.5


class RouterSettings(ConsumerSettings):
    model_config = SettingsConfigDict(env_prefix="ROUTER_", frozen=True, populate_by_name=True, extra="ignore")

    http_port: int = 8003
    consumer_group: str = "switchboard-router"
    languages: tuple[str, ...] = ("en", "de")
    sla_minutes: dict[str, int] = Field(
        default_factory=lambda: {
            "direct_message": 15, "mention": 20, "public_comment": 60, "review": 24 * 60,
        }
    )
    urgent_sla_minutes: int = 15


class NotifierSettings(ConsumerSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFIER_", frozen=True, populate_by_name=True, extra="ignore")

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

    @model_validator(mode="after")
    def _no_placeholder_key(self) -> "NotifierSettings":
        if self.environment != "development" and self.signing_key.get_secret_value() == DEV_SIGNING_KEY:
            raise ValueError("NOTIFIER_SIGNING_KEY is the development placeholder")
        return self
