"""Promoted models, edited rules and author lists go live without a restart.

``retrain`` promotes a model by replacing ``models/active.json``; operators edit rule files
and the block/VIP lists. The classifier used to read all of it only at start-up, so a promotion
needed a restart (in Kubernetes, a rollout). ``Reloader`` looks every ``reload_interval_s`` at
a fingerprint of what ``load_models`` reads — ``active.json`` and the model cards in the models
directory, the rule files (live and shadow) and the author lists, by content — and when it
changed, loads a complete new ``Models`` in a worker thread (reusing the running language
detector, so no second copy of lingua's n-gram models), then hands it to ``apply``, which
swaps it in between two batches. Campaign and spike state are untouched.

Nothing half-loaded ever serves: a file that does not load (a rule file with an error, an
artifact whose checksum or types are refused, a malformed ``active.json``) leaves the running
models in place; the error is logged with its reason, counted, and shown by ``GET /v1/models``
under ``reload``; the same fingerprint is not retried until the files change again.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import Counter

from services.classifier.rules import RuleFileError
from services.classifier.serving.bundle import Models, TaskModelError, load_models
from services.classifier.serving.model import UntrustedArtifact
from services.classifier.serving.registry import RegistryError
from services.classifier.settings import ClassifierSettings
from services.classifier.signals.authors import AuthorListError
from shared.logging import get_logger

log = get_logger("classifier.reload")
RELOADS = Counter(
    "switchboard_classifier_model_reloads_total",
    "Reloads of models, rules and author lists after their files changed",
    ["outcome"],
)
LOAD_ERRORS = (
    OSError,
    ValueError,
    RuleFileError,
    AuthorListError,
    TaskModelError,
    RegistryError,
    UntrustedArtifact,
)


def fingerprint(settings: ClassifierSettings) -> str:
    """sha256 over the names and contents of every small file ``load_models`` depends on
    (model cards carry their artifact's sha256, so artifacts themselves are not re-read)."""
    digest = hashlib.sha256()
    folders = [
        (settings.models_dir, "*.json"),
        (settings.rules_dir, "*.yaml"),
        (settings.authors_dir, "*.txt"),
    ]
    if settings.shadow_rules_dir is not None:
        folders.append((settings.shadow_rules_dir, "*.yaml"))
    for folder, pattern in folders:
        for path in sorted(Path(folder).glob(pattern)) if Path(folder).is_dir() else ():
            digest.update(f"{path}\0".encode())
            try:
                digest.update(path.read_bytes())
            except (
                OSError
            ) as exc:  # vanished between listing and reading: next look sees the new state
                digest.update(repr(exc).encode())
    return digest.hexdigest()


@dataclass
class ReloadStatus:
    fingerprint: str
    loaded_at: datetime
    reloads: int = 0
    failed_fingerprint: str | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None

    def describe(self) -> dict:
        return {
            "loaded_at": self.loaded_at.isoformat(timespec="seconds"),
            "reloads": self.reloads,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at.isoformat(timespec="seconds")
            if self.last_error_at
            else None,
        }


class Reloader:
    """See the module docstring. ``check`` blocks (file reads, model loading): run it in a thread."""

    def __init__(
        self,
        settings: ClassifierSettings,
        current: Models,
        apply: Callable[[Models], None],
        loaded_fingerprint: str | None = None,
    ) -> None:
        self.settings, self.current, self.apply = settings, current, apply
        self.status = ReloadStatus(loaded_fingerprint or fingerprint(settings), datetime.now(UTC))

    def check(self) -> bool:
        """Load and apply new models if the files changed since the last load; True if applied."""
        seen = fingerprint(self.settings)
        if (
            seen == self.status.fingerprint
        ):  # the files are what is serving (again, after a bad edit was undone)
            self.status.failed_fingerprint = self.status.last_error = self.status.last_error_at = (
                None
            )
            return False
        if seen == self.status.failed_fingerprint:
            return False
        try:
            models = load_models(self.settings, detector=self.current.detector)
        except LOAD_ERRORS as exc:
            self.status.failed_fingerprint, self.status.last_error = (
                seen,
                f"{type(exc).__name__}: {exc}",
            )
            self.status.last_error_at = datetime.now(UTC)
            RELOADS.labels("failed").inc()
            log.error(
                "classifier.reload_failed",
                error=self.status.last_error,
                kept=self.current.describe()["spam"]["name"],
            )
            return False
        before = self.current.describe()
        self.apply(models)
        self.current = models
        self.status.fingerprint, self.status.loaded_at = seen, datetime.now(UTC)
        self.status.reloads += 1
        self.status.failed_fingerprint = self.status.last_error = self.status.last_error_at = None
        RELOADS.labels("loaded").inc()
        after = models.describe()
        log.info(
            "classifier.models_reloaded",
            spam=after["spam"]["name"],
            spam_was=before["spam"]["name"],
            tasks={k: v["name"] for k, v in after["tasks"].items()},
            rules={k: v["version"] for k, v in after["rules"].items()},
        )
        return True

    async def run(self, stopping: asyncio.Event) -> None:
        """``check`` every ``reload_interval_s`` until ``stopping`` is set (0 disables)."""
        interval = self.settings.reload_interval_s
        if interval <= 0:
            return
        while not stopping.is_set():
            try:
                await asyncio.wait_for(stopping.wait(), timeout=interval)
                return
            except TimeoutError:
                pass
            try:
                await asyncio.to_thread(self.check)
            except Exception as exc:  # noqa: BLE001 - an unexpected loader bug must not end the service
                RELOADS.labels("failed").inc()
                log.exception("classifier.reload_crashed", error=str(exc))
