"""The ingestor's settings (``INGESTOR_``…, on the shared bases of ``shared.settings``): loaded
once in ``services.ingestor.__main__`` and passed down; nothing else reads the environment."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from shared.settings import ApiTokenSettings, CommonSettings

DEV_WEBHOOK_SECRET = (
    "whsec_c3dpdGNoYm9hcmQtZGV2ZWxvcG1lbnQtc2VjcmV0"  # "switchboard-development-secret"
)
DEV_PLATFORM_SECRET = "switchboard-development-platform-secret"  # examples and tests only


class PollSource(BaseModel):
    """One polled source of the ingestor (``INGESTOR_POLL_SOURCES``: source name -> this)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["youtube", "mastodon", "feed"]
    url: str | None = Field(
        None, description="Mastodon instance base URL, the feed URL, or another YouTube API base"
    )
    token: SecretStr | None = Field(
        None, description="Mastodon access token (bearer) or YouTube Data API key"
    )
    account: str | None = Field(
        None,
        max_length=256,
        description="Account id on events (default: the instance host / the feed host)",
    )
    channels: list[str] = Field(
        default_factory=list, description="YouTube channel ids (all their videos' comments)"
    )
    videos: list[str] = Field(
        default_factory=list, description="YouTube video ids polled besides the announced ones"
    )
    interval_s: float = Field(60.0, ge=1, description="Least time between two polls of one target")
    expected_interval_s: float | None = Field(
        None, gt=0, description="Usual rhythm; silence beyond it is reported"
    )


class IngestorSettings(CommonSettings, ApiTokenSettings):
    model_config = SettingsConfigDict(
        env_prefix="INGESTOR_", frozen=True, populate_by_name=True, extra="ignore"
    )

    http_port: int = 8001
    webhook_secrets: dict[str, SecretStr | list[SecretStr]] = Field(
        default_factory=lambda: {"demo": SecretStr(DEV_WEBHOOK_SECRET)},
        description="Standard Webhooks secrets per source name (whsec_…); a list holds several "
        "active secrets during a rotation",
    )
    webhook_tolerance_s: int = 300
    max_body_bytes: int = 1_000_000
    produce_timeout_s: float = 5.0
    meta_app_secrets: list[SecretStr] = Field(
        default_factory=list,
        description="Meta app secret(s) for X-Hub-Signature-256; empty disables /v1/webhooks/meta",
    )
    meta_verify_token: SecretStr | None = Field(
        None, description="hub.verify_token expected on Meta's GET handshake"
    )
    meta_legacy_sha1: bool = Field(
        False,
        description="Also accept Meta deliveries signed only with the legacy X-Hub-Signature (HMAC-SHA1 with "
        "the app secret) when X-Hub-Signature-256 is absent (older apps, captured fixtures); off by default",
    )
    meta_instagram_tokens: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Instagram account id (ig-user-id) -> Graph API access token, to fetch the "
        "text and author of @mentions (without one a mention is published with a placeholder text)",
    )
    meta_graph_url: str = Field(
        "https://graph.facebook.com", description="Graph API base URL (mention fetches)"
    )
    meta_graph_version: str = Field(
        "v26.0", pattern=r"^v\d+\.\d+$", description="Graph API version of mention fetches"
    )
    meta_mention_max_hold_s: float = Field(
        600.0,
        ge=0,
        description="How long a mention waits out Graph API rate limits (error codes 4, 17, 32, 613, "
        "80001-80014) before it is published with the placeholder text: near-live channels are due in 15-20 minutes",
    )
    x_consumer_secrets: list[SecretStr] = Field(
        default_factory=list,
        description="X app consumer secret(s) (CRC and signature); empty disables /v1/webhooks/x",
    )
    telegram_secret_tokens: dict[str, SecretStr | list[SecretStr]] = Field(
        default_factory=dict,
        description="Bot name -> setWebhook secret_token(s) (/v1/webhooks/telegram/{bot})",
    )
    youtube_hub_secrets: list[SecretStr] = Field(
        default_factory=list,
        description="WebSub hub.secret(s); empty disables /v1/webhooks/youtube",
    )
    youtube_channels: list[str] = Field(
        default_factory=list,
        description="YouTube channel ids whose WebSub subscriptions are confirmed",
    )
    dedup_retention_days: int = Field(
        8, ge=7, description="Dedup ledger rows are pruned after this (>= 7 days)"
    )
    raw_retention_days: int = Field(
        30, ge=1, description="Raw webhook bodies are pruned after this"
    )
    poll_sources: dict[str, PollSource] = Field(
        default_factory=dict,
        description="Polled sources: source name -> {kind: youtube|mastodon|feed, url, token, …}",
    )
    pollers_enabled: bool = Field(
        True, description="Run the pollers of poll_sources in this process"
    )
    poll_lease_s: float = Field(
        120.0, gt=0, description="A replica's claim on a polled source expires after this"
    )
    poll_max_attempts: int = Field(
        5, ge=1, description="HTTP attempts per request (429, 5xx, transport errors)"
    )
    poll_backoff_s: float = Field(
        1.0, gt=0, description="First retry delay after a 5xx or transport error (doubles)"
    )
    poll_max_backoff_s: float = Field(
        300.0, gt=0, description="Largest retry / re-poll delay after errors"
    )
    poll_max_pages: int = Field(
        10, ge=1, description="Pages per target per round (the rest resumes next round)"
    )
    youtube_daily_quota: int = Field(
        10_000, ge=1, description="YouTube Data API units per Pacific day (1 per list call)"
    )
    youtube_video_days: int = Field(
        14, ge=1, description="Announced videos have their comments polled this long"
    )
    youtube_callback_url: str | None = Field(
        None,
        description="Public URL of /v1/webhooks/youtube: set it to (re)subscribe the channels at the hub",
    )
    youtube_hub_url: str = Field(
        "https://pubsubhubbub.appspot.com/subscribe", description="WebSub hub endpoint"
    )
    youtube_lease_s: int = Field(
        864_000, ge=3600, description="hub.lease_seconds asked for (the hub may grant less)"
    )
    source_expected_intervals: dict[str, float] = Field(
        default_factory=dict,
        description="Source name -> usual seconds between events (else learned)",
    )
    silence_enabled: bool = Field(
        True, description="Emit ConnectorStatusChanged when a source goes silent / recovers"
    )
    silence_factor: float = Field(
        6.0, gt=1, description="Silent after this multiple of the learned inter-arrival time"
    )
    silence_min_interval_s: float = Field(900.0, gt=0, description="…and never sooner than this")
    silence_min_samples: int = Field(
        5, ge=1, description="Inter-arrival samples before a learned rhythm is used"
    )
    silence_check_s: float = Field(30.0, gt=0, description="How often silence is checked")
    silence_flush_s: float = Field(
        15.0, gt=0, description="Last-event times are written at most this often per source"
    )

    @model_validator(mode="after")
    def _no_placeholder_secrets(self) -> "IngestorSettings":
        if self.environment != "development":
            for name, secret in _ingestor_secrets(self):
                if secret.get_secret_value() in (DEV_WEBHOOK_SECRET, DEV_PLATFORM_SECRET):
                    raise ValueError(f"{name} is a development placeholder")
        return self


def _ingestor_secrets(settings: IngestorSettings) -> list[tuple[str, SecretStr]]:
    """Every configured ingestor secret, named for error messages (never with its value)."""
    found: list[tuple[str, SecretStr]] = []
    for label, table in (
        ("webhook secret for source", settings.webhook_secrets),
        ("telegram secret token for bot", settings.telegram_secret_tokens),
    ):
        for source, value in table.items():
            found += [
                (f"{label} {source!r}", s) for s in (value if isinstance(value, list) else [value])
            ]
    for label, values in (
        ("meta app secret", settings.meta_app_secrets),
        ("x consumer secret", settings.x_consumer_secrets),
        ("youtube hub secret", settings.youtube_hub_secrets),
    ):
        found += [(label, s) for s in values]
    if settings.meta_verify_token is not None:
        found.append(("meta verify token", settings.meta_verify_token))
    found += [
        (f"instagram access token for account {account!r}", token)
        for account, token in settings.meta_instagram_tokens.items()
    ]
    return found
