"""Typed, frozen settings: the shared bases of every service's settings object.

Each service owns its settings (``services/<service>/settings.py``: ``IngestorSettings``,
``ClassifierSettings``, ``RouterSettings``, ``NotifierSettings``), loaded once in its ``main`` and
passed down; nothing else reads the environment. Common variables keep their conventional names
(``KAFKA_BOOTSTRAP_SERVERS``, ``DATABASE_URL``, ``KAFKA_REPLICATION_FACTOR``) and live here, on
``CommonSettings`` (every process) and ``ConsumerSettings`` (the Kafka consumers); service-specific
ones carry the service's prefix (``INGESTOR_…``, ``CLASSIFIER_…``, ``ROUTER_…``, ``NOTIFIER_…``).
Secrets are ``SecretStr`` (never logged) and development placeholders are refused outside
development.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.auth import StaticTokens, TokenGrant, api_tokens

ROOT = Path(__file__).resolve().parent.parent


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
        "",
        validation_alias=_env("KAFKA_TOPIC_NAMESPACE"),
        description="Prefix for every topic name (isolates tests and parallel stacks)",
    )
    kafka_request_timeout_ms: int = Field(5000, validation_alias=_env("KAFKA_REQUEST_TIMEOUT_MS"))
    kafka_replication_factor: int = Field(
        1,
        ge=1,
        validation_alias=_env("KAFKA_REPLICATION_FACTOR"),
        description="Replication factor of the topics Switchboard creates (`switchboard topics`, the router's "
        "per-queue topics); 1 suits only a one-broker development stack, and production must set it",
    )
    kafka_min_insync_replicas: int | None = Field(
        None,
        ge=1,
        validation_alias=_env("KAFKA_MIN_INSYNC_REPLICAS"),
        description="min.insync.replicas of the topics Switchboard creates (acks=all writes need this many "
        "replicas); unset leaves the broker's default",
    )
    database_url: str = Field(
        f"sqlite:///{ROOT / 'var' / 'switchboard.db'}", validation_alias=_env("DATABASE_URL")
    )
    http_host: str = "0.0.0.0"
    http_port: int = 8000

    @model_validator(mode="after")
    def _insync_within_replicas(self) -> "CommonSettings":
        if (self.kafka_min_insync_replicas or 0) > self.kafka_replication_factor:
            raise ValueError("KAFKA_MIN_INSYNC_REPLICAS exceeds KAFKA_REPLICATION_FACTOR")
        return self


class ConsumerSettings(CommonSettings):
    consumer_group: str = ""
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 2_000
    max_batch: int = 200
    poll_timeout_ms: int = 500
    fetch_max_wait_ms: int = Field(
        50, description="How long the broker may hold a fetch for data (latency vs idle load)"
    )
    shutdown_deadline_s: float = 20.0
    retry_max_attempts: int = 5
    retry_initial_backoff_s: float = 0.2
    retry_max_backoff_s: float = 5.0
    dlq_max_consecutive: int = Field(
        1000,
        description="Stop the consumer after this many poison messages in a row "
        "(a bad deploy should crash-loop loudly, not dead-letter the whole topic)",
    )


class ApiTokenSettings(BaseSettings):
    """The configured bearer tokens of a service's ``/v1`` API (mixed into its settings; the
    service's env prefix applies): outside development the API asks for one of them."""

    admin_token: SecretStr | None = Field(
        None,
        description="Admin bearer token of this service's /v1 API (outside development the API "
        "asks for a token; in development it is open)",
    )
    api_tokens: dict[str, TokenGrant] = Field(
        default_factory=dict,
        description="JSON: sha256(token) -> {subject, role, team, expires_at}; make one with "
        "python -m shared.auth new <subject> <role> [team] [--days N]",
    )

    def api_guard_tokens(self) -> StaticTokens | None:
        """The tokens the API asks for; ``None`` (open) in development."""
        admin = self.admin_token.get_secret_value() if self.admin_token else None
        return api_tokens(getattr(self, "environment", "development"), admin, self.api_tokens)
