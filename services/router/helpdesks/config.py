"""Per-helpdesk configuration (``ROUTER_HELPDESKS``: helpdesk name -> this), checked when the
router starts. Secrets are ``SecretStr`` lists, current first: during a rotation every listed
secret is accepted, so the helpdesk can switch at any moment and the old one is removed after.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

KINDS = ("standard", "zammad", "chatwoot", "zendesk")
Kind = Literal["standard", "zammad", "chatwoot", "zendesk"]
StatusAction = Literal["replied", "resolved", "reopened"]

# what each helpdesk's own statuses mean by default (names compared case-insensitively)
DEFAULT_STATUSES: dict[str, dict[str, StatusAction]] = {
    "standard": {},
    "zammad": {"closed": "resolved", "open": "reopened"},
    "chatwoot": {"resolved": "resolved", "open": "reopened"},
    "zendesk": {"solved": "resolved", "closed": "resolved", "open": "reopened"},
}
# where the Switchboard item id travels by default
DEFAULT_ITEM_ID: dict[str, dict[str, str]] = {
    "standard": {"source": "body"},
    "zammad": {"source": "field", "name": "switchboard_item_id"},
    "chatwoot": {"source": "field", "name": "switchboard_item_id"},
    "zendesk": {"source": "external_id"},
}
SUPPORTED_SOURCES = {
    "standard": {"body"},
    "zammad": {"field", "tag"},
    "chatwoot": {"field", "tag"},
    "zendesk": {"external_id", "tag"},
}
# Chatwoot labels are lowercase letters, digits, "-" and "_": no colon
DEFAULT_TAG_PREFIX = {"chatwoot": "sb-"}


class ItemIdSource(BaseModel):
    """Where the helpdesk carries the Switchboard item id: ``field`` (a custom field/attribute
    named ``name``), ``external_id`` (Zendesk's ticket external id), ``tag`` (a tag or label
    ``<prefix><item id>``) or ``body`` (the Standard Webhooks lifecycle body's ``item_id``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: Literal["field", "external_id", "tag", "body"]
    name: str | None = Field(None, min_length=1, max_length=128)
    prefix: str = Field("switchboard-item-", min_length=1, max_length=64)


class HelpdeskConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Kind = Field(description="standard, zammad, chatwoot or zendesk")
    secrets: list[SecretStr] = Field(
        default_factory=list,
        description="Signing secrets, current first (all accepted during a rotation): "
        "whsec_… for standard, the HMAC token/secret the helpdesk signs with otherwise",
    )
    url_tokens: list[SecretStr] = Field(
        default_factory=list,
        description="Secret URL tokens for a helpdesk that cannot sign (the weaker option)",
    )
    tolerance_s: int = Field(300, ge=1, le=3600, description="Accepted clock skew of a timestamp")
    item_id: ItemIdSource | None = Field(None, description="Where the item id travels")
    statuses: dict[str, StatusAction] | None = Field(
        None, description="Helpdesk status -> replied / resolved / reopened"
    )
    tag_prefix: str | None = Field(
        None, max_length=32, description="Tags/labels with this prefix are Switchboard's"
    )
    tag_map: dict[str, str] = Field(
        default_factory=dict, description="Helpdesk tag/label -> Switchboard tag"
    )
    not_spam_tag: str | None = Field(None, description="Tag that says: was not spam")
    needed_reply_tag: str | None = Field(None, description="Tag that says: needed a reply")
    agents: dict[str, str] = Field(
        default_factory=dict, description="Helpdesk user (login, e-mail or id) -> agent id"
    )

    @model_validator(mode="after")
    def _usable(self) -> HelpdeskConfig:
        if not self.secrets and not self.url_tokens:
            raise ValueError("needs secrets (signed webhooks) or url_tokens")
        source = self.where.source
        if source not in SUPPORTED_SOURCES[self.kind]:
            raise ValueError(f"{self.kind} cannot carry the item id in {source}")
        if source == "field" and not self.where.name:
            raise ValueError("item_id source field needs a name")
        if any(len(t.get_secret_value()) < 16 for t in self.url_tokens):
            raise ValueError("url_tokens must be at least 16 characters")
        return self

    @property
    def where(self) -> ItemIdSource:
        return self.item_id or ItemIdSource(**DEFAULT_ITEM_ID[self.kind])  # type: ignore[arg-type]

    @property
    def status_actions(self) -> dict[str, StatusAction]:
        chosen = DEFAULT_STATUSES[self.kind] if self.statuses is None else self.statuses
        return {k.lower(): v for k, v in chosen.items()}

    @property
    def prefix(self) -> str:
        return (
            DEFAULT_TAG_PREFIX.get(self.kind, "sb:") if self.tag_prefix is None else self.tag_prefix
        )

    @property
    def marks(self) -> tuple[str, str]:
        """The tags that mean "not spam" and "needed a reply"."""
        return (
            self.not_spam_tag or f"{self.prefix}not-spam",
            self.needed_reply_tag or f"{self.prefix}needed-reply",
        )
