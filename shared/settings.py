"""Typed, frozen settings: one object per service, loaded once in ``main`` and passed down.

Nothing else reads the environment. Common variables keep their conventional names
(``KAFKA_BOOTSTRAP_SERVERS``, ``DATABASE_URL``); service-specific ones carry the service's
prefix (``INGESTOR_…``, ``CLASSIFIER_…``, ``ROUTER_…``, ``NOTIFIER_…``). Secrets are
``SecretStr`` (never logged) and development placeholders are refused outside development.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.auth import TokenGrant

ROOT = Path(__file__).resolve().parent.parent
DEV_WEBHOOK_SECRET = "whsec_c3dpdGNoYm9hcmQtZGV2ZWxvcG1lbnQtc2VjcmV0"  # "switchboard-development-secret"
DEV_SIGNING_KEY = "switchboard-development-signing-key"
DEV_ROUTER_ADMIN_TOKEN = "switchboard-development-router-admin-token"
DEV_NOTIFIER_ADMIN_TOKEN = "switchboard-development-notifier-admin-token"  # used when unset, development only
DEV_PLATFORM_SECRET = "switchboard-development-platform-secret"  # examples and tests only


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
    kafka_replication_factor: int = Field(
        1, ge=1, validation_alias=_env("KAFKA_REPLICATION_FACTOR"),
        description="Replication factor of the topics Switchboard creates (`switchboard topics`, the router's "
        "per-queue topics); 1 suits only a one-broker development stack, and production must set it",
    )
    kafka_min_insync_replicas: int | None = Field(
        None, ge=1, validation_alias=_env("KAFKA_MIN_INSYNC_REPLICAS"),
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
    fetch_max_wait_ms: int = Field(50, description="How long the broker may hold a fetch for data (latency vs idle load)")
    shutdown_deadline_s: float = 20.0
    retry_max_attempts: int = 5
    retry_initial_backoff_s: float = 0.2
    retry_max_backoff_s: float = 5.0
    dlq_max_consecutive: int = Field(
        1000, description="Stop the consumer after this many poison messages in a row "
        "(a bad deploy should crash-loop loudly, not dead-letter the whole topic)",
    )


class PollSource(BaseModel):
    """One polled source of the ingestor (``INGESTOR_POLL_SOURCES``: source name -> this)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["youtube", "mastodon", "feed"]
    url: str | None = Field(None, description="Mastodon instance base URL, the feed URL, or another YouTube API base")
    token: SecretStr | None = Field(None, description="Mastodon access token (bearer) or YouTube Data API key")
    account: str | None = Field(None, max_length=256, description="Account id on events (default: the instance "
                                "host / the feed host)")
    channels: list[str] = Field(default_factory=list, description="YouTube channel ids (all their videos' comments)")
    videos: list[str] = Field(default_factory=list, description="YouTube video ids polled besides the announced ones")
    interval_s: float = Field(60.0, ge=1, description="Least time between two polls of one target")
    expected_interval_s: float | None = Field(None, gt=0, description="Usual rhythm; silence beyond it is reported")


class IngestorSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="INGESTOR_", frozen=True, populate_by_name=True, extra="ignore")

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
        default_factory=list, description="Meta app secret(s) for X-Hub-Signature-256; empty disables /v1/webhooks/meta",
    )
    meta_verify_token: SecretStr | None = Field(None, description="hub.verify_token expected on Meta's GET handshake")
    meta_legacy_sha1: bool = Field(
        False, description="Also accept Meta deliveries signed only with the legacy X-Hub-Signature (HMAC-SHA1 with "
        "the app secret) when X-Hub-Signature-256 is absent (older apps, captured fixtures); off by default",
    )
    meta_instagram_tokens: dict[str, SecretStr] = Field(
        default_factory=dict, description="Instagram account id (ig-user-id) -> Graph API access token, to fetch the "
        "text and author of @mentions (without one a mention is published with a placeholder text)",
    )
    meta_graph_url: str = Field("https://graph.facebook.com", description="Graph API base URL (mention fetches)")
    meta_graph_version: str = Field("v26.0", pattern=r"^v\d+\.\d+$", description="Graph API version of mention fetches")
    meta_mention_max_hold_s: float = Field(
        600.0, ge=0, description="How long a mention waits out Graph API rate limits (error codes 4, 17, 32, 613, "
        "80001-80014) before it is published with the placeholder text: near-live channels are due in 15-20 minutes")
    x_consumer_secrets: list[SecretStr] = Field(
        default_factory=list, description="X app consumer secret(s) (CRC and signature); empty disables /v1/webhooks/x",
    )
    telegram_secret_tokens: dict[str, SecretStr | list[SecretStr]] = Field(
        default_factory=dict, description="Bot name -> setWebhook secret_token(s) (/v1/webhooks/telegram/{bot})",
    )
    youtube_hub_secrets: list[SecretStr] = Field(
        default_factory=list, description="WebSub hub.secret(s); empty disables /v1/webhooks/youtube",
    )
    youtube_channels: list[str] = Field(
        default_factory=list, description="YouTube channel ids whose WebSub subscriptions are confirmed",
    )
    dedup_retention_days: int = Field(8, ge=7, description="Dedup ledger rows are pruned after this (>= 7 days)")
    raw_retention_days: int = Field(30, ge=1, description="Raw webhook bodies are pruned after this")
    poll_sources: dict[str, PollSource] = Field(
        default_factory=dict, description="Polled sources: source name -> {kind: youtube|mastodon|feed, url, token, …}",
    )
    pollers_enabled: bool = Field(True, description="Run the pollers of poll_sources in this process")
    poll_lease_s: float = Field(120.0, gt=0, description="A replica's claim on a polled source expires after this")
    poll_max_attempts: int = Field(5, ge=1, description="HTTP attempts per request (429, 5xx, transport errors)")
    poll_backoff_s: float = Field(1.0, gt=0, description="First retry delay after a 5xx or transport error (doubles)")
    poll_max_backoff_s: float = Field(300.0, gt=0, description="Largest retry / re-poll delay after errors")
    poll_max_pages: int = Field(10, ge=1, description="Pages per target per round (the rest resumes next round)")
    youtube_daily_quota: int = Field(10_000, ge=1, description="YouTube Data API units per Pacific day (1 per list call)")
    youtube_video_days: int = Field(14, ge=1, description="Announced videos have their comments polled this long")
    youtube_callback_url: str | None = Field(
        None, description="Public URL of /v1/webhooks/youtube: set it to (re)subscribe the channels at the hub",
    )
    youtube_hub_url: str = Field("https://pubsubhubbub.appspot.com/subscribe", description="WebSub hub endpoint")
    youtube_lease_s: int = Field(864_000, ge=3600, description="hub.lease_seconds asked for (the hub may grant less)")
    source_expected_intervals: dict[str, float] = Field(
        default_factory=dict, description="Source name -> usual seconds between events (else learned)",
    )
    silence_enabled: bool = Field(True, description="Emit ConnectorStatusChanged when a source goes silent / recovers")
    silence_factor: float = Field(6.0, gt=1, description="Silent after this multiple of the learned inter-arrival time")
    silence_min_interval_s: float = Field(900.0, gt=0, description="…and never sooner than this")
    silence_min_samples: int = Field(5, ge=1, description="Inter-arrival samples before a learned rhythm is used")
    silence_check_s: float = Field(30.0, gt=0, description="How often silence is checked")
    silence_flush_s: float = Field(15.0, gt=0, description="Last-event times are written at most this often per source")

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
    for label, table in (("webhook secret for source", settings.webhook_secrets),
                         ("telegram secret token for bot", settings.telegram_secret_tokens)):
        for source, value in table.items():
            found += [(f"{label} {source!r}", s) for s in (value if isinstance(value, list) else [value])]
    for label, values in (("meta app secret", settings.meta_app_secrets), ("x consumer secret", settings.x_consumer_secrets),
                          ("youtube hub secret", settings.youtube_hub_secrets)):
        found += [(label, s) for s in values]
    if settings.meta_verify_token is not None:
        found.append(("meta verify token", settings.meta_verify_token))
    found += [(f"instagram access token for account {account!r}", token)
              for account, token in settings.meta_instagram_tokens.items()]
    return found


class ClassifierSettings(ConsumerSettings):
    model_config = SettingsConfigDict(env_prefix="CLASSIFIER_", frozen=True, populate_by_name=True, extra="ignore")

    http_port: int = 8002
    consumer_group: str = "switchboard-classifier"
    models_dir: Path = ROOT / "services" / "classifier" / "models"
    rules_dir: Path = ROOT / "services" / "classifier" / "rules"
    spam_threshold: float = Field(0.5, ge=0.0, le=1.0, description="Spam probability that drops a public comment")
    spam_threshold_addressed: float = Field(
        0.9, ge=0.0, le=1.0, description="Spam probability that drops a mention, direct message or review (written to "
        "the brand; scored without links and @handles), unless a rule, the reply model or a negative tone says a "
        "person is needed")
    spam_languages: tuple[str, ...] = Field(
        ("en",), description="Languages the spam model was trained on (its card's `languages` wins)")
    spam_threshold_foreign: float = Field(
        0.9, ge=0.0, le=1.0, description="The least spam probability that drops a message in any other language: "
        "the model knows too little of it to be sure")
    shipped_task_models: bool = Field(
        True, description="Serve the task models that ship in models_dir (reply-needed-v1) where active.json names "
        "none; false serves only what active.json or task_models name")
    tone_model: str | None = Field("offense-de-v1", description="Task model scoring offensive tone; None disables")
    tone_languages: tuple[str, ...] = ("de",)
    tone_threshold: float = Field(0.8, ge=0.0, le=1.0, description="Offense probability that tags tone:offensive")
    task_models: tuple[str, ...] = Field(
        (), description="Task models to serve (reply_needed, relevance, contact_reason, sentiment; the card's task "
        "says which), each a name in models_dir or a path to <name>.json/.skops; overrides active.json for its task")
    task_thresholds: dict[str, float] = Field(
        default_factory=dict, description="Probability a task model needs to act, per task (defaults: reply_needed "
        "and relevance 0.8, contact_reason and sentiment 0.5)")
    shadow_rules_dir: Path | None = Field(
        None, description="A candidate rule set evaluated beside the live one: differences are logged and counted, never applied",
    )
    authors_dir: Path = Field(ROOT / "services" / "classifier" / "authors",
                              description="blocked.txt (drop) and vip.txt (urgent reply) author lists")
    large_account_followers: int = Field(100_000, ge=1, description="Authors with this many followers get urgent replies")
    campaign_window_s: int = Field(600, gt=0, description="Near-duplicates this close in time form one campaign")
    campaign_similarity: float = Field(0.7, gt=0, le=1, description="Estimated Jaccard similarity of near-duplicates")
    campaign_drop_authors: int = Field(5, ge=1, description="Drop a campaign's messages once it has more authors than this")
    spike_window_s: int = Field(300, gt=0, description="Window over which contact-reason rates are counted")
    spike_factor: float = Field(4.0, gt=1, description="A window spikes at this multiple of its usual (EWMA) count")
    spike_min_count: int = Field(10, ge=1, description="…and at no fewer messages than this")
    spike_warmup_windows: int = Field(3, ge=0, description="Windows of history before spikes are reported "
                                      "(history in the store; in memory, windows since start-up)")
    signals_store: Literal["database", "memory"] = Field(
        "database", description="Where campaign and spike state lives: the database at database_url, shared by "
        "every replica (migrated tables), or this process's memory (one replica only)")
    signals_prune_every_s: float = Field(30.0, ge=0, description="How often a replica deletes expired campaign "
                                         "and spike rows (inside a batch's transaction)")
    languages: tuple[str, ...] = Field(
        ("en", "de", "fr", "es", "it", "nl", "pt", "tr"), min_length=1,
        description="ISO 639-1 codes the language detector chooses among; lingua loads models for these only")
    language_short_accuracy: Literal["high", "low"] = Field(
        "high", description="lingua mode for texts under 120 characters: high loads every n-gram model "
        "(~240 MB for the 8 default languages), low only trigrams (~12 MB) but misreads very short texts")
    reload_interval_s: float = Field(
        30.0, ge=0, description="How often to look for a promoted model (active.json), changed model cards, rule "
        "files or author lists, and load them without a restart; 0 disables")


class WebhookFilter(BaseModel):
    """What one helpdesk webhook endpoint receives (``ROUTER_WEBHOOK_FILTERS``: endpoint name -> this).
    A missing field means every value; the router checks the names when it starts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    queues: frozenset[str] | None = Field(None, min_length=1, description="Queue ids of the routing configuration "
                                          "whose routed, assigned and released-reply events the endpoint receives")
    event_types: frozenset[str] | None = Field(None, min_length=1, description="CloudEvents types it receives: "
                                               "switchboard.item.routed.v1, switchboard.item.assigned.v1, "
                                               "switchboard.reply.released.v1")


class RouterSettings(ConsumerSettings):
    model_config = SettingsConfigDict(env_prefix="ROUTER_", frozen=True, populate_by_name=True, extra="ignore")

    http_port: int = 8003
    consumer_group: str = "switchboard-router"
    routing_file: Path = Field(ROOT / "config" / "routing.yaml",
                               description="Teams, queues, agents, SLA policies and routing rules (YAML)")
    calendar_file: Path = Field(ROOT / "config" / "calendar.yaml",
                                description="Business calendar for SLA deadlines (shared with the notifier)")
    admin_token: SecretStr = Field(SecretStr(DEV_ROUTER_ADMIN_TOKEN),
                                   description="Bootstrap admin bearer token (more tokens are issued via the API)")
    sweep_interval_s: float = Field(15.0, description="How often waiting items are re-offered and skills relaxed")
    webhook_endpoints: dict[str, str] = Field(
        default_factory=dict, description="Helpdesk name -> URL receiving routed, assigned and released-reply "
        "events as Standard Webhooks (for helpdesks that cannot read Kafka)",
    )
    webhook_secrets: dict[str, SecretStr] = Field(
        default_factory=dict, description="Helpdesk name -> whsec_ secret that signs its deliveries",
    )
    webhook_filters: dict[str, WebhookFilter] = Field(
        default_factory=dict, description="Helpdesk name -> {queues, event_types} it receives; an endpoint "
        "without a filter receives every event of every queue",
    )
    webhook_timeout_s: float = 10.0

    @model_validator(mode="after")
    def _no_placeholder_token(self) -> "RouterSettings":
        if self.environment != "development" and self.admin_token.get_secret_value() == DEV_ROUTER_ADMIN_TOKEN:
            raise ValueError("ROUTER_ADMIN_TOKEN is the development placeholder")
        if missing := sorted(set(self.webhook_endpoints) - set(self.webhook_secrets)):
            raise ValueError(f"ROUTER_WEBHOOK_SECRETS has no secret for endpoint(s) {', '.join(missing)}")
        if unknown := sorted(set(self.webhook_filters) - set(self.webhook_endpoints)):
            raise ValueError(f"ROUTER_WEBHOOK_FILTERS names endpoint(s) {', '.join(unknown)} "
                             "missing from ROUTER_WEBHOOK_ENDPOINTS")
        return self


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
    calendar_file: Path = Field(ROOT / "config" / "calendar.yaml", description="Business calendar (holidays, "
                                "closures); NOTIFIER_TIMEZONE / NOTIFIER_OFFICE_HOURS override its zone / weekly hours when set")
    oncall_file: Path = Field(ROOT / "config" / "oncall.yaml", description="People, targets, rotations, escalation")
    page_min_urgency: Literal["low", "normal", "high"] = Field(
        "high", description="Reply-needed items at or above this urgency page outside office hours; "
        "lower ones wait in the digest delivered when the office opens")
    sla_min_urgency: Literal["low", "normal", "high"] = "normal"
    sla_warn_minutes: float = Field(5.0, description="Page this long before an SLA deadline passes (outside hours)")
    public_url: str = Field("http://127.0.0.1:8004", description="Base URL of this API, for one-click ack links")
    link_ttl_minutes: float = 12 * 60
    target_secrets: dict[str, SecretStr] = Field(
        default_factory=dict, description="Target name -> PagerDuty routing key or apprise URL with its tokens")
    scheduler_interval_s: float = Field(1.0, description="How often due escalations, SLA timers and digests are checked")
    delivery_attempts: int = 3
    delivery_backoff_s: float = 0.5
    admin_token: SecretStr | None = Field(
        None, description="Bootstrap admin bearer token of the notifier API (ack/resolve, Alertmanager); "
        "unset = the development placeholder in development, none elsewhere")
    api_tokens: dict[str, TokenGrant] = Field(
        default_factory=dict, description="JSON: sha256(token) -> {subject, role: agent|lead|admin, team}; "
        "make one with python -m shared.auth new <subject> <role> [team]")

    @model_validator(mode="after")
    def _no_placeholder_key(self) -> "NotifierSettings":
        if self.environment != "development" and self.signing_key.get_secret_value() == DEV_SIGNING_KEY:
            raise ValueError("NOTIFIER_SIGNING_KEY is the development placeholder")
        if (self.environment != "development" and self.admin_token is not None
                and self.admin_token.get_secret_value() == DEV_NOTIFIER_ADMIN_TOKEN):
            raise ValueError("NOTIFIER_ADMIN_TOKEN is the development placeholder")
        return self
