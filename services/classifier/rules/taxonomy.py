"""The contact-reason taxonomy: which tags say what a message is about.

``rules/taxonomy.yaml`` (beside the rule files, so it ships, deploys and reloads with them)::

    version: "taxonomy-2"
    contact_reasons:          # what a message is about; in precedence order (a message's one
                              # reason, its ``reason:<id>`` tag, is the first of these it has)
      refund: Money back, double or wrong charges, chargebacks.
      order: Where is my order, tracking, lost parcels.
    labels:                   # other tags rules may set (how a message is flagged, not its topic)
      link: The message contains a link.

Contact reasons are the reports' and the spike detector's categories (``tag:<reason>``), the
router's ``contact_reason`` matching and the contact-reason model's labels. Loading validates
the file (ids ``lower-case-with-dashes``, no id in both lists, none of the stage's own
``BUILTIN_LABELS`` as a reason) and every rule file against it: a tag neither a reason nor a
label is a load error naming the rule file, line and rule — a typo (``refnud``) would otherwise
silently become a new category. A contact-reason model with labels that are not reasons is
served, logged (``classifier.labels_outside_taxonomy``) and shown by ``GET /v1/models``
(``labels_outside_taxonomy``): its labels come from helpdesks' corrections, which may be ahead of
the file.

Without the file (a rules directory from before it existed) the taxonomy is *open*: every plain
rule tag other than the built-in labels and ``link`` is a contact reason, as before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from services.classifier.rules.configfile import read_versioned

FILE = "taxonomy.yaml"
# tags the stage itself sets (decision and signals): never contact reasons
BUILTIN_LABELS = frozenset(
    {"spam", "noise", "vip", "large-account", "blocked-author", "text-unavailable"}
)
OPEN_LABELS = BUILTIN_LABELS | {"link"}  # what an open taxonomy does not count as a reason
MODEL_REASON = (
    "contact_reason:"  # the tag a served contact-reason model sets: ``contact_reason:<label>``
)
_ID = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
_KEYS = {"version", "contact_reasons", "labels"}


class TaxonomyError(ValueError):
    """``taxonomy.yaml`` is unreadable or invalid; the message names the file and line."""


@dataclass(frozen=True)
class Taxonomy:
    version: str
    contact_reasons: dict[str, str]  # id -> description
    labels: dict[str, str]
    declared: bool = True  # False: open (no file), see the module docstring

    @classmethod
    def open(cls) -> Taxonomy:
        return cls("open", {}, {}, declared=False)

    def is_reason(self, tag: str) -> bool:
        """Whether a plain tag (no ``:``) names a contact reason."""
        if self.declared:
            return tag in self.contact_reasons
        return ":" not in tag and tag not in OPEN_LABELS

    def primary(self, tags: tuple[str, ...]) -> str | None:
        """The one contact reason of a message with ``tags``: the first reason in the file's order
        (its precedence) among them; with an open taxonomy, the first reason tag."""
        reasons = [tag for tag in tags if self.is_reason(tag)]
        if not reasons or not self.declared:
            return reasons[0] if reasons else None
        return min(reasons, key=self._precedence.__getitem__)

    @cached_property
    def _precedence(self) -> dict[str, int]:
        """Each contact reason's place in the file (built once: ``primary`` runs per message)."""
        return {reason: i for i, reason in enumerate(self.contact_reasons)}

    def knows(self, tag: str) -> bool:
        """Whether a rule may set ``tag``."""
        return not self.declared or tag in self.contact_reasons or tag in self.labels

    def describe(self) -> dict:
        return {
            "version": self.version,
            "declared": self.declared,
            "contact_reasons": dict(self.contact_reasons),
            "labels": dict(self.labels),
            "builtin_labels": sorted(BUILTIN_LABELS),
        }


def load(rules_dir: Path) -> Taxonomy:
    """``rules_dir/taxonomy.yaml``, or the open taxonomy when there is none. Raises ``TaxonomyError``."""
    path = rules_dir / FILE
    if not path.is_file():
        return Taxonomy.open()
    doc, root = read_versioned(path, _KEYS, TaxonomyError)
    lines = _key_lines(root)
    reasons, labels = (_entries(doc, key, lines) for key in ("contact_reasons", "labels"))
    if not reasons:
        raise TaxonomyError(f"{FILE}: contact_reasons must name at least one reason")
    for tag in sorted(set(reasons) & set(labels)):
        raise TaxonomyError(
            f"{FILE}:{lines.get(('labels', tag), 0)}: {tag!r} is both a contact reason and a label"
        )
    for tag in sorted(set(reasons) & BUILTIN_LABELS):
        raise TaxonomyError(
            f"{FILE}:{lines.get(('contact_reasons', tag), 0)}: {tag!r} is set by the stage itself "
            f"({', '.join(sorted(BUILTIN_LABELS))}) and cannot be a contact reason"
        )
    return Taxonomy(str(doc["version"]), reasons, labels)


def _entries(doc: dict, key: str, lines: dict[tuple[str, str], int]) -> dict[str, str]:
    entries: Any = doc[key] or {}
    if not isinstance(entries, dict):
        raise TaxonomyError(f"{FILE}: {key} must be a mapping of id to description")
    for tag, description in entries.items():
        where = f"{FILE}:{lines.get((key, str(tag)), 0)}"
        if not isinstance(tag, str) or not _ID.match(tag):
            raise TaxonomyError(
                f"{where}: {key}: {tag!r} is not an id (lower-case words joined by dashes)"
            )
        if not isinstance(description, str) or not description.strip():
            raise TaxonomyError(f"{where}: {key}: {tag} needs a description")
    return {tag: description.strip() for tag, description in entries.items()}


def _key_lines(root: yaml.Node | None) -> dict[tuple[str, str], int]:
    """1-based line of each entry of ``contact_reasons`` and ``labels``."""
    found: dict[tuple[str, str], int] = {}
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if isinstance(value, yaml.MappingNode):
                for entry, _ in value.value:
                    found[(key.value, entry.value)] = entry.start_mark.line + 1
    return found
