"""Response templates as versioned data: each has an id, a version, a language, optionally a
contact reason and channels, and a text with ``{placeholder}`` fields.

``load_templates(directory)`` reads every ``*.yaml`` there and validates it; each problem raises
``TemplateError`` naming the file, the template and its line (``templates/de.yaml: template
'billing-de' (line 12): unknown placeholder {kunde}; known: …``): an unknown placeholder, a
duplicate id and version, a language that is not a language code (``de``, ``pt-BR``), an unknown
channel, a new version that changes its template's language. Pure once loaded: ``suggest``
(the ids for an item's reason, language and channel, most specific first) and ``render``.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.events import ChannelKind

DEFAULT_DIR = Path(__file__).resolve().parent
FALLBACK_LANGUAGE = "en"
SUGGESTED = 3
PLACEHOLDERS = {
    "customer_name": "the customer's display name (else their handle)",
    "customer_handle": "the customer's handle on the platform",
    "agent_name": "the answering agent's first name",
    "account": "the company account or page the customer wrote to",
    "reference": "a reference the customer can quote (ticket or item id)",
}
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Z]{2})?$")


class TemplateError(ValueError):
    """The templates are invalid, or a render cannot be done; the message says where and why."""


class Template(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    version: int = Field(ge=1)
    language: str = Field(min_length=2, max_length=16)
    reason: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9_-]{0,127}$")
    channels: tuple[ChannelKind, ...] = ()  # none: every channel
    text: str = Field(min_length=1, max_length=5000)

    @property
    def placeholders(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(name for _, name, _, _ in _fields(self.text) if name))

    def summary(self) -> dict:
        return {**self.model_dump(mode="json"), "placeholders": list(self.placeholders)}


@dataclass(frozen=True)
class TemplateSet:
    """Every version of every template; the latest version of an id is the one suggested."""

    templates: tuple[Template, ...]

    def latest(self) -> list[Template]:
        newest: dict[str, Template] = {}
        for t in self.templates:
            if t.id not in newest or t.version > newest[t.id].version:
                newest[t.id] = t
        return sorted(newest.values(), key=lambda t: t.id)

    def get(self, template_id: str, version: int | None = None) -> Template | None:
        versions = [t for t in self.templates if t.id == template_id]
        if version is not None:
            return next((t for t in versions if t.version == version), None)
        return max(versions, key=lambda t: t.version, default=None)

    def suggest(
        self,
        reason: str | None,
        language: str,
        channel: ChannelKind | str,
        limit: int = SUGGESTED,
        fallback_language: str = FALLBACK_LANGUAGE,
    ) -> tuple[str, ...]:
        """Template ids for an item, best first: in the customer's language (else its base
        language, else ``fallback_language``); the item's reason before generic templates (no
        reason), templates for its channel before those for every channel. A template for
        another reason or other channels never fits."""
        fitting = [t for t in self.latest() if _fits(t, reason, channel)]
        for wanted in dict.fromkeys((language, language.split("-")[0], fallback_language)):
            found = [t for t in fitting if t.language == wanted]
            if found:
                found.sort(key=lambda t: (t.reason is None, not t.channels, t.id))
                return tuple(t.id for t in found[:limit])
        return ()

    def render(self, template: Template, values: Mapping[str, str]) -> str:
        """``template``'s text with its placeholders filled. Raises ``TemplateError`` naming
        the missing or unknown values."""
        if unknown := sorted(set(values) - set(PLACEHOLDERS)):
            raise TemplateError(f"unknown value(s) {', '.join(unknown)}; known: {_known()}")
        if missing := [p for p in template.placeholders if not values.get(p)]:
            raise TemplateError(
                f"template {template.id!r} version {template.version} needs "
                f"value(s) for {', '.join(missing)}"
            )
        return template.text.format_map(dict(values))


def _fits(t: Template, reason: str | None, channel: ChannelKind | str) -> bool:
    return (t.reason is None or t.reason == reason) and (
        not t.channels or ChannelKind(channel) in t.channels
    )


def _known() -> str:
    return ", ".join(sorted(PLACEHOLDERS))


def _fields(text: str) -> list[tuple]:
    try:
        return list(string.Formatter().parse(text))
    except ValueError as exc:
        raise TemplateError(
            f"text is not a valid template: {exc} (write {{{{ for a brace)"
        ) from exc


def load_templates(directory: Path = DEFAULT_DIR) -> TemplateSet:
    """Read and validate every ``*.yaml`` in ``directory`` (sorted by name). Raises
    ``TemplateError``, also for a missing directory."""
    if not Path(directory).is_dir():
        raise TemplateError(f"templates directory {directory} does not exist")
    files = sorted(Path(directory).glob("*.yaml"))
    documents = []
    for path in files:
        try:
            documents.append((f"templates/{path.name}", path.read_text(encoding="utf-8")))
        except OSError as exc:
            raise TemplateError(f"templates/{path.name}: {exc.strerror}") from exc
    return parse_templates(documents)


def parse_templates(documents: list[tuple[str, str]]) -> TemplateSet:
    """Validate ``(origin, yaml text)`` documents into one set. Raises ``TemplateError``."""
    seen: dict[tuple[str, int], str] = {}
    languages: dict[str, tuple[str, str]] = {}
    found: list[Template] = []
    for origin, text in documents:
        for where, template in _read(origin, text):
            key = (template.id, template.version)
            if key in seen:
                raise TemplateError(
                    f"{where}: duplicate id {template.id!r} version {template.version} "
                    f"(first at {seen[key]})"
                )
            seen[key] = where
            first = languages.setdefault(template.id, (template.language, where))
            if first[0] != template.language:
                raise TemplateError(
                    f"{where}: version {template.version} changes the language of "
                    f"{template.id!r} from {first[0]} ({first[1]}) to {template.language}: "
                    "a template in another language needs its own id"
                )
            found.append(template)
    return TemplateSet(tuple(found))


def _read(origin: str, text: str) -> list[tuple[str, Template]]:
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        raise TemplateError(f"{origin}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("templates"), list):
        raise TemplateError(f"{origin}: expected a mapping with a list 'templates'")
    lines = _lines(root)
    answer = []
    for i, entry in enumerate(data["templates"]):
        ident = entry.get("id") if isinstance(entry, dict) else None
        where = f"{origin}: template {ident!r}" if ident else f"{origin}: template #{i + 1}"
        where += f" (line {lines[i]})" if i in lines else ""
        answer.append((where, _validated(where, entry)))
    return answer


def _validated(where: str, entry: object) -> Template:
    try:
        template = Template.model_validate(entry)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(map(str, error["loc"])) or "entry"
        raise TemplateError(f"{where}: {field}: {error['msg']}") from exc
    if not _LANGUAGE.match(template.language):
        raise TemplateError(
            f"{where}: language {template.language!r} is not a language code "
            "(ISO 639: 'de', or with a region: 'pt-BR')"
        )
    try:
        fields = _fields(template.text)
    except TemplateError as exc:
        raise TemplateError(f"{where}: {exc}") from exc
    for _, name, spec, conversion in fields:
        if name is None:
            continue
        if name not in PLACEHOLDERS:
            shown = f"{{{name}}}" if name else "{}"
            raise TemplateError(f"{where}: unknown placeholder {shown}; known: {_known()}")
        if spec or conversion:
            raise TemplateError(f"{where}: placeholder {{{name}}} takes no format or conversion")
    return template


def _lines(root: yaml.Node | None) -> dict[int, int]:
    """Index -> 1-based line of each entry of the top-level ``templates`` list."""
    if not isinstance(root, yaml.MappingNode):
        return {}
    for key, value in root.value:
        if key.value == "templates" and isinstance(value, yaml.SequenceNode):
            return {i: item.start_mark.line + 1 for i, item in enumerate(value.value)}
    return {}
