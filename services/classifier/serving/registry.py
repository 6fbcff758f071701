"""Which artifact of each model family is live: ``<models_dir>/active.json``.

``{"spam": "spam-r2", "reply_needed": "reply_needed-r1", "updated_at": "...", "history": [...]}``.
Absent file or family → the shipped default (``spam-v1``). ``retrain`` promotes by writing
the new artifact and card first, then replacing this file atomically (write a temporary file
in the same directory, fsync, ``os.replace``): a reader sees the old pointer or the new one,
never half of it, and never a pointer to an artifact that is not fully written. The runtime
reads it at start-up (``bundle.load_models``): a promotion takes effect on the next restart.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

FILE = "active.json"
HISTORY = 20  # promotions remembered in the file


class RegistryError(ValueError):
    """``active.json`` is unreadable or names something that is not a model name."""


def read(models_dir: Path) -> dict:
    path = models_dir / FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise RegistryError(f"{path}: unreadable: {exc}") from exc
    if not isinstance(data, dict):
        raise RegistryError(f"{path}: must be a JSON object")
    return data


def active(models_dir: Path, family: str, default: str | None = None) -> str | None:
    """The live artifact name of ``family`` (``spam``, a task), or ``default``."""
    name = read(models_dir).get(family, default)
    if name is not None and (not isinstance(name, str) or "/" in name or name.startswith(".")):
        raise RegistryError(
            f"{models_dir / FILE}: {family} must name an artifact in the directory, got {name!r}"
        )
    return name


def promote(models_dir: Path, family: str, name: str, version: str) -> dict:
    """Point ``family`` at ``name`` atomically; returns the new registry content."""
    if not (models_dir / f"{name}.json").is_file():
        raise RegistryError(f"cannot promote {name}: {name}.json is not in {models_dir}")
    data = read(models_dir)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    history = [
        *data.get("history", []),
        {
            "family": family,
            "name": name,
            "version": version,
            "previous": data.get(family),
            "at": now,
        },
    ][-HISTORY:]
    data |= {family: name, "updated_at": now, "history": history}
    handle, temp = tempfile.mkstemp(prefix=".active-", suffix=".json", dir=models_dir)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(json.dumps(data, indent=2) + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, models_dir / FILE)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return data
