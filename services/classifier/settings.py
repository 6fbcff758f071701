"""The classifier's settings (``CLASSIFIER_``…, on the shared bases of ``shared.settings``): loaded
once in ``services.classifier.__main__`` and passed down; nothing else reads the environment."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ROOT, ApiTokenSettings, ConsumerSettings


class ClassifierSettings(ConsumerSettings, ApiTokenSettings):
    model_config = SettingsConfigDict(
        env_prefix="CLASSIFIER_", frozen=True, populate_by_name=True, extra="ignore"
    )

    http_port: int = 8002
    consumer_group: str = "switchboard-classifier"
    models_dir: Path = ROOT / "services" / "classifier" / "models"
    rules_dir: Path = ROOT / "services" / "classifier" / "rules"
    spam_threshold: float = Field(
        0.5, ge=0.0, le=1.0, description="Spam probability that drops a public comment"
    )
    spam_threshold_addressed: float = Field(
        0.9,
        ge=0.0,
        le=1.0,
        description="Spam probability that drops a mention, direct message or review (written to "
        "the brand; scored without links and @handles), unless a rule, the reply model or a negative tone says a "
        "person is needed",
    )
    spam_languages: tuple[str, ...] = Field(
        ("en",), description="Languages the spam model was trained on (its card's `languages` wins)"
    )
    spam_threshold_foreign: float = Field(
        0.9,
        ge=0.0,
        le=1.0,
        description="The least spam probability that drops a message in any other language: "
        "the model knows too little of it to be sure",
    )
    shipped_task_models: bool = Field(
        True,
        description="Serve the task models that ship in models_dir (reply-needed-v1) where active.json names "
        "none; false serves only what active.json or task_models name",
    )
    tone_model: str | None = Field(
        "offense-de-v1", description="Task model scoring offensive tone; None disables"
    )
    tone_languages: tuple[str, ...] = ("de",)
    tone_threshold: float = Field(
        0.8, ge=0.0, le=1.0, description="Offense probability that tags tone:offensive"
    )
    task_models: tuple[str, ...] = Field(
        (),
        description="Task models to serve (reply_needed, relevance, contact_reason, sentiment; the card's task "
        "says which), each a name in models_dir or a path to <name>.json/.skops; overrides active.json for its task",
    )
    task_thresholds: dict[str, float] = Field(
        default_factory=dict,
        description="Probability a task model needs to act, per task (defaults: reply_needed "
        "and relevance 0.8, contact_reason and sentiment 0.5)",
    )
    shadow_rules_dir: Path | None = Field(
        None,
        description="A candidate rule set evaluated beside the live one: differences are logged and counted, never applied",
    )
    authors_dir: Path = Field(
        ROOT / "services" / "classifier" / "authors",
        description="blocked.txt (drop) and vip.txt (urgent reply) author lists",
    )
    large_account_followers: int = Field(
        100_000, ge=1, description="Authors with this many followers get urgent replies"
    )
    campaign_window_s: int = Field(
        600, gt=0, description="Near-duplicates this close in time form one campaign"
    )
    campaign_similarity: float = Field(
        0.7, gt=0, le=1, description="Estimated Jaccard similarity of near-duplicates"
    )
    campaign_drop_authors: int = Field(
        5, ge=1, description="Drop a campaign's messages once it has more authors than this"
    )
    spike_window_s: int = Field(
        300, gt=0, description="Window over which contact-reason rates are counted"
    )
    spike_factor: float = Field(
        4.0, gt=1, description="A window spikes at this multiple of its usual (EWMA) count"
    )
    spike_min_count: int = Field(10, ge=1, description="…and at no fewer messages than this")
    spike_warmup_windows: int = Field(
        3,
        ge=0,
        description="Windows of history before spikes are reported "
        "(history in the store; in memory, windows since start-up)",
    )
    signals_store: Literal["database", "memory"] = Field(
        "database",
        description="Where campaign and spike state lives: the database at database_url, shared by "
        "every replica (migrated tables), or this process's memory (one replica only)",
    )
    signals_prune_every_s: float = Field(
        30.0,
        ge=0,
        description="How often a replica deletes expired campaign "
        "and spike rows (inside a batch's transaction)",
    )
    languages: tuple[str, ...] = Field(
        ("en", "de", "fr", "es", "it", "nl", "pt", "tr"),
        min_length=1,
        description="ISO 639-1 codes the language detector chooses among; lingua loads models for these only",
    )
    language_short_accuracy: Literal["high", "low"] = Field(
        "high",
        description="lingua mode for texts under 120 characters: high loads every n-gram model "
        "(~240 MB for the 8 default languages), low only trigrams (~12 MB) but misreads very short texts",
    )
    reload_interval_s: float = Field(
        30.0,
        ge=0,
        description="How often to look for a promoted model (active.json), changed model cards, rule "
        "files or author lists, and load them without a restart; 0 disables",
    )
