"""Typed, frozen event contracts shared by every service.

Each event is a CloudEvents-style envelope (id, type, source, time, correlation id, subject)
around a typed ``data`` payload. Type names are past tense and carry their major version
(``switchboard.message.received.v1``). Evolution is additive: a new optional field is fine;
renaming, removing or retyping a field needs a new ``…v2`` type beside the old one.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

ID_NAMESPACE = uuid.UUID("6f1c2a4e-2d0b-4c55-9a57-8a8d3d0c6b11")
# How a message whose text the ingestor could not fetch begins (an Instagram mention without Graph
# API access): ``[text unavailable: <platform> <kind> (<reason>)]``. The classifier sends it to an
# agent whatever its models say; the text is never a customer's words.
TEXT_UNAVAILABLE = "[text unavailable:"
# A classification's contact reason, one tag ``reason:<id>`` (an id of the classifier's taxonomy,
# or a contact-reason model's label): what routing rules (``match.reason``), four-eyes tags
# (``reason:legal``), KPIs and helpdesks read. The classifier also keeps the rules' own tags.
REASON_TAG = "reason:"
SENTIMENT_TAG = "sentiment:"


def tagged(tags: tuple[str, ...] | list[str], prefix: str) -> str | None:
    """The value of the first ``<prefix><value>`` tag (``reason:``, ``sentiment:``), or ``None``."""
    return next(
        (t[len(prefix) :] for t in tags if t.startswith(prefix) and len(t) > len(prefix)), None
    )


def derived_id(parent_id: str, stage: str) -> str:
    """A deterministic event id for what ``stage`` produced from event ``parent_id``.

    Re-processing the same input yields the same output id, which is what lets every
    downstream consumer stay idempotent on the event id under at-least-once delivery.
    """
    return str(uuid.uuid5(ID_NAMESPACE, f"{stage}:{parent_id}"))


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Platform(StrEnum):
    FACEBOOK = "facebook"
    MESSENGER = "messenger"
    INSTAGRAM = "instagram"
    WHATSAPP = "whatsapp"
    X = "x"
    YOUTUBE = "youtube"
    TELEGRAM = "telegram"
    MASTODON = "mastodon"
    REVIEW = "review"
    SMS = "sms"
    GENERIC = "generic"


class ChannelKind(StrEnum):
    PUBLIC_COMMENT = "public_comment"
    DIRECT_MESSAGE = "direct_message"
    REVIEW = "review"
    MENTION = "mention"


class Author(Frozen):
    id: str = Field(min_length=1, max_length=256)
    handle: str | None = Field(default=None, max_length=256)
    display_name: str | None = Field(default=None, max_length=512)
    follower_count: int | None = Field(default=None, ge=0)


class MessageAction(StrEnum):
    """What happened to the platform message this event reports."""

    CREATED = "created"
    EDITED = "edited"
    DELETED = "deleted"


class Attachment(Frozen):
    """Media or a file attached to a message (a URL when the platform gives one, else its media id)."""

    type: str = Field(
        min_length=1, max_length=64, description="image, video, audio, file, sticker, …"
    )
    url: str | None = Field(default=None, max_length=4096)
    mime: str | None = Field(default=None, max_length=255)
    id: str | None = Field(
        default=None, max_length=512, description="Platform media id, when there is no URL"
    )


class CanonicalMessage(Frozen):
    """One social message, normalised from whatever platform it came from."""

    platform: Platform
    channel_kind: ChannelKind
    source: str = Field(min_length=1, max_length=128, description="Ingestion source name")
    account_id: str = Field(min_length=1, max_length=256, description="Page/account addressed")
    conversation_id: str = Field(min_length=1, max_length=512)
    platform_message_id: str = Field(min_length=1, max_length=512)
    author: Author
    text: str = Field(max_length=100_000)
    language_hint: str | None = Field(default=None, max_length=16)
    created_at: AwareDatetime
    in_reply_to: str | None = Field(default=None, max_length=512)
    permalink: str | None = Field(default=None, max_length=2048)
    attachments: tuple[Attachment, ...] = ()
    action: MessageAction = Field(
        default=MessageAction.CREATED,
        description="created, or an edit/removal of an earlier message",
    )
    raw_ref: str | None = Field(
        default=None,
        max_length=512,
        description="Where the raw webhook body is kept (ingestor `raw_payloads/<sha256>`)",
    )

    @property
    def conversation_key(self) -> str:
        """Kafka key: all messages of one conversation share it, so order holds per conversation."""
        return f"{self.platform}:{self.account_id}:{self.conversation_id}"

    @property
    def message_key(self) -> str:
        """Identity of the platform message, for deduplication across re-sent webhooks."""
        return f"{self.platform}:{self.account_id}:{self.platform_message_id}"

    @property
    def text_unavailable(self) -> bool:
        """The ingestor could not fetch the text (``TEXT_UNAVAILABLE``): an agent must open it."""
        return self.text.startswith(TEXT_UNAVAILABLE)


class Decision(StrEnum):
    DROP = "drop"  # spam: kept for audit, excluded from KPIs
    TAG = "tag"  # noise: tags for reports, no reply
    REPLY = "reply"  # actionable: goes to an agent queue


class Urgency(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


class Explanation(Frozen):
    """Why a decision was taken: which rules fired, which model said what, on what evidence."""

    rule_ids: tuple[str, ...] = ()
    model: str | None = None
    model_version: str | None = None
    score: float | None = None
    threshold: float | None = None
    evidence: tuple[str, ...] = ()


class Classification(Frozen):
    decision: Decision
    language: str = Field(min_length=2, max_length=16)
    tags: tuple[str, ...] = ()
    urgency: Urgency = Urgency.NORMAL
    reason: str = Field(max_length=512)
    explanation: Explanation = Explanation()
    review_required: bool = Field(
        default=False,
        description="A rule asks for four-eyes review: a second agent checks the reply before it is posted",
    )


class Classified(Frozen):
    message: CanonicalMessage
    classification: Classification


class Routing(Frozen):
    queue: str = Field(min_length=1, max_length=128)
    priority: int = Field(ge=0, le=100)
    sla_deadline: AwareDatetime
    routed_at: AwareDatetime
    policy: str = Field(max_length=128, description="SLA policy id that set the deadline")
    rule: str | None = Field(
        default=None, max_length=128, description="Routing rule that chose the queue"
    )
    assigned_agent: str | None = Field(
        default=None, max_length=128, description="Agent assigned at routing time"
    )
    four_eyes: bool = Field(
        default=False, description="A reply needs a second agent's approval before release"
    )
    sla_started_at: AwareDatetime | None = Field(
        default=None,
        description="When the SLA clock started: the platform's post time (message.created_at), "
        "or routed_at when created_at lies after it (clock skew)",
    )
    ingestion_delay_seconds: float | None = Field(
        default=None,
        ge=0,
        description="Seconds from the platform's post time to routed_at: time the message spent "
        "in pollers, backlogs or outages before it reached a queue (the SLA clock ran meanwhile)",
    )


# A routed item's customer context is bounded: at most this many earlier messages and notes,
# each text cut to this many characters (PII masked as the classifier masks it: shared.pii).
CONTEXT_MESSAGES = 10
CONTEXT_NOTES = 5
CONTEXT_TEXT_CHARS = 500


class ContextMessage(Frozen):
    """An earlier message of the item's conversation."""

    at: AwareDatetime = Field(description="Posted (inbound) or released (outbound)")
    direction: Literal["inbound", "outbound"] = Field(
        description="inbound: from the customer's side; outbound: a reply released by the router"
    )
    author: str | None = Field(
        default=None, max_length=256, description="Author id (inbound) or agent (outbound)"
    )
    text: str = Field(max_length=CONTEXT_TEXT_CHARS + 1, description="PII masked; cut with …")
    sentiment: str | None = Field(default=None, max_length=16)
    message_key: str | None = Field(default=None, max_length=1024)


class EarlierContacts(Frozen):
    """The customer's earlier routed items (any conversation) within ``days`` before this one."""

    days: int = Field(default=90, gt=0, description="Look-back window")
    count: int = Field(default=0, ge=0, description="Counted up to 100")
    last_at: AwareDatetime | None = None
    last_reason: str | None = Field(default=None, max_length=128, description="Contact reason")
    last_outcome: Literal["resolved", "replied", "open"] | None = None
    last_satisfaction: float | None = Field(default=None, ge=0, le=5, description="CSAT 0–5")


class ContextNote(Frozen):
    """An internal note on the conversation (from the helpdesk), never shown to the customer."""

    at: AwareDatetime
    author: str | None = Field(default=None, max_length=256)
    text: str = Field(max_length=CONTEXT_TEXT_CHARS + 1, description="PII masked; cut with …")


class CustomerContext(Frozen):
    """What an agent should know before answering: the conversation so far, earlier contacts and
    internal notes; bounded in size, PII masked."""

    customer: str = Field(
        max_length=1024, description="platform:author id, the key earlier contacts are counted by"
    )
    conversation: tuple[ContextMessage, ...] = Field(
        default=(), max_length=CONTEXT_MESSAGES, description="Oldest first, this message excluded"
    )
    earlier_contacts: EarlierContacts = EarlierContacts()
    notes: tuple[ContextNote, ...] = Field(default=(), max_length=CONTEXT_NOTES)
    truncated: bool = Field(
        default=False, description="Older messages or notes were left out, or a text was cut"
    )


class Routed(Frozen):
    message: CanonicalMessage
    classification: Classification
    routing: Routing
    context: CustomerContext | None = Field(
        default=None, description="Conversation so far, earlier contacts and notes"
    )
    suggested_templates: tuple[str, ...] = Field(
        default=(),
        max_length=10,
        description="Response template ids for the item's reason, language and channel, best first",
    )


class Page(Frozen):
    incident_key: str = Field(max_length=512)
    item_event_id: str
    queue: str
    target: str = Field(description="Delivery target name")
    summary: str = Field(max_length=1024)
    sent_at: AwareDatetime
    message_key: str


class Unstaffed(Frozen):
    """An item waits in a queue because no online agent with the skills has free capacity."""

    queue: str = Field(min_length=1, max_length=128)
    item_id: str = Field(description="Event id of the routed item")
    message_key: str
    urgency: Urgency = Urgency.NORMAL
    sla_deadline: AwareDatetime
    waiting: int = Field(ge=0, description="Items waiting in the queue, this one included")
    online_agents: int = Field(ge=0, description="Online agents able to serve the queue")
    since: AwareDatetime


class Assignment(Frozen):
    """An item handed to an agent (at routing time, when capacity freed, or after relaxing skills)."""

    item_id: str = Field(description="Event id of the routed item")
    message_key: str
    conversation_key: str
    queue: str
    agent_id: str = Field(min_length=1, max_length=128)
    cause: Literal["routed", "sticky", "reoffered", "relaxed", "manual"]
    relax_level: int = Field(default=0, ge=0)
    assigned_at: AwareDatetime


class LifecycleAction(StrEnum):
    ASSIGNED = "assigned"
    REPLIED = "replied"
    RESOLVED = "resolved"
    RETAGGED = "retagged"
    SATISFACTION = "satisfaction"
    REOPENED = "reopened"  # the item is open again (the customer wrote after it was resolved)
    NOTE = "note"  # an internal note of an agent, kept with the item's history
    NOT_SPAM = "not_spam"  # a correction: the message was not spam
    NEEDED_REPLY = "needed_reply"  # a correction: the message needed a reply


class Lifecycle(Frozen):
    """What a helpdesk reports back about a routed item."""

    item_id: str = Field(description="Event id of the routed item")
    action: LifecycleAction
    at: AwareDatetime
    agent_id: str | None = Field(default=None, max_length=128)
    tags: tuple[str, ...] = Field(default=(), description="retagged: the item's new tags")
    satisfaction: float | None = Field(
        default=None, ge=0, le=5, description="satisfaction: score 0–5"
    )
    handling_seconds: float | None = Field(
        default=None, ge=0, description="Agent working time spent"
    )
    note: str | None = Field(
        default=None, max_length=10_000, description="note: the internal note's text"
    )


class ReplyRelease(Frozen):
    """A reply draft released for posting (after four-eyes approval when the rules ask)."""

    draft_id: str
    item_id: str
    message_key: str
    conversation_key: str
    text: str = Field(max_length=100_000)
    author: str
    approver: str | None = None
    released_at: AwareDatetime


class IssueSpike(Frozen):
    """A contact reason (or tag) arriving well above its usual rate: likely a widespread issue."""

    key: str = Field(
        min_length=1, max_length=256, description="What spiked, e.g. tag:outage or tag:refund"
    )
    account_id: str = Field(
        min_length=1, max_length=256, description="Account (page) the messages addressed"
    )
    window_start: AwareDatetime
    window_seconds: int = Field(gt=0)
    count: int = Field(ge=0, description="Messages with the key in the window")
    expected: float = Field(ge=0, description="Usual count per window (EWMA of earlier windows)")
    threshold: float = Field(
        ge=0, description="Count at or above which the window counts as a spike"
    )
    sample_message_keys: tuple[str, ...] = Field(default=(), max_length=20)
    detected_by: str = Field(
        default="ewma-v1", max_length=64, description="Detector name and version"
    )


class ConnectorState(StrEnum):
    SILENT = "silent"
    RECOVERED = "recovered"


class ConnectorStatus(Frozen):
    """A source (webhook or poller) went silent beyond its usual rhythm, or came back."""

    source: str = Field(min_length=1, max_length=128, description="Ingestion source name")
    platform: str = Field(min_length=1, max_length=64)
    state: ConnectorState
    last_event_at: AwareDatetime | None = Field(
        description="Last accepted event; None if never seen"
    )
    silent_seconds: float = Field(
        ge=0, description="Seconds since the last event (or since watching began)"
    )
    expected_interval_seconds: float = Field(
        gt=0, description="The source's usual rhythm the silence exceeded"
    )
    errors: int = Field(
        default=0, ge=0, description="Errors counted for the source since its last event"
    )
    detected_at: AwareDatetime


class Correction(Frozen):
    """A person corrected a classification: the labelled example the classifier learns from."""

    message_key: str = Field(
        min_length=1, max_length=1024, description="Identity of the platform message"
    )
    text: str = Field(max_length=100_000, description="The message text the label applies to")
    language: str | None = Field(default=None, max_length=16)
    decision: Decision | None = Field(
        default=None, description="The right decision (e.g. drop -> reply: was not spam)"
    )
    tags: tuple[str, ...] = Field(default=(), description="The right tags (re-tagged)")
    previous_decision: Decision | None = None
    previous_tags: tuple[str, ...] = ()
    item_id: str | None = Field(
        default=None, max_length=128, description="Routed item id, when the item was routed"
    )
    corrected_by: str | None = Field(
        default=None, max_length=128, description="Agent or system that corrected"
    )
    origin: str = Field(
        default="helpdesk", max_length=64, description="helpdesk, router-retag, api, …"
    )
    at: AwareDatetime


class Envelope(Frozen):
    """The CloudEvents attributes every event carries."""

    TYPE: ClassVar[str] = ""
    specversion: Literal["1.0"] = "1.0"
    id: str = Field(min_length=1, max_length=128)
    source: str = Field(min_length=1, max_length=256)
    time: AwareDatetime
    correlation_id: str = Field(min_length=1, max_length=128)
    subject: str | None = Field(default=None, max_length=1024, description="Kafka key")

    @property
    def event_type(self) -> str:
        return self.TYPE


class WidespreadIssueDetected(Envelope):
    TYPE: ClassVar[str] = "switchboard.issue.spiked.v1"
    type: Literal["switchboard.issue.spiked.v1"] = "switchboard.issue.spiked.v1"
    data: IssueSpike


class ConnectorStatusChanged(Envelope):
    TYPE: ClassVar[str] = "switchboard.connector.status_changed.v1"
    type: Literal["switchboard.connector.status_changed.v1"] = (
        "switchboard.connector.status_changed.v1"
    )
    data: ConnectorStatus


class ClassificationCorrected(Envelope):
    TYPE: ClassVar[str] = "switchboard.classification.corrected.v1"
    type: Literal["switchboard.classification.corrected.v1"] = (
        "switchboard.classification.corrected.v1"
    )
    data: Correction


class MessageReceived(Envelope):
    TYPE: ClassVar[str] = "switchboard.message.received.v1"
    type: Literal["switchboard.message.received.v1"] = "switchboard.message.received.v1"
    data: CanonicalMessage


class MessageClassified(Envelope):
    TYPE: ClassVar[str] = "switchboard.message.classified.v1"
    type: Literal["switchboard.message.classified.v1"] = "switchboard.message.classified.v1"
    data: Classified


class ItemRouted(Envelope):
    TYPE: ClassVar[str] = "switchboard.item.routed.v1"
    type: Literal["switchboard.item.routed.v1"] = "switchboard.item.routed.v1"
    data: Routed


class PageSent(Envelope):
    TYPE: ClassVar[str] = "switchboard.page.sent.v1"
    type: Literal["switchboard.page.sent.v1"] = "switchboard.page.sent.v1"
    data: Page


class QueueUnstaffed(Envelope):
    TYPE: ClassVar[str] = "switchboard.queue.unstaffed.v1"
    type: Literal["switchboard.queue.unstaffed.v1"] = "switchboard.queue.unstaffed.v1"
    data: Unstaffed


class ItemAssigned(Envelope):
    TYPE: ClassVar[str] = "switchboard.item.assigned.v1"
    type: Literal["switchboard.item.assigned.v1"] = "switchboard.item.assigned.v1"
    data: Assignment


class HelpdeskItemUpdated(Envelope):
    TYPE: ClassVar[str] = "switchboard.helpdesk.item.updated.v1"
    type: Literal["switchboard.helpdesk.item.updated.v1"] = "switchboard.helpdesk.item.updated.v1"
    data: Lifecycle


class ReplyReleased(Envelope):
    TYPE: ClassVar[str] = "switchboard.reply.released.v1"
    type: Literal["switchboard.reply.released.v1"] = "switchboard.reply.released.v1"
    data: ReplyRelease


EVENT_TYPES: dict[str, type[Envelope]] = {
    cls.TYPE: cls
    for cls in (
        MessageReceived,
        MessageClassified,
        ItemRouted,
        PageSent,
        QueueUnstaffed,
        ItemAssigned,
        HelpdeskItemUpdated,
        ReplyReleased,
        WidespreadIssueDetected,
        ConnectorStatusChanged,
        ClassificationCorrected,
    )
}


def new_event_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    """The current time, timezone-aware (UTC): the default clock of every stage."""
    return datetime.now(UTC)
