"""What every versioned YAML file of the classifier's rules directory (rule files, the
taxonomy) checks first: it reads, it is a mapping with exactly the expected keys, and it has a
non-empty ``version``. Errors name the file; the node tree is returned for line numbers."""

from __future__ import annotations

from pathlib import Path

import yaml


def read_versioned(
    path: Path, keys: set[str], error: type[ValueError]
) -> tuple[dict, yaml.Node | None]:
    """The document and its node tree. Raises ``error`` naming the file."""
    try:
        source = path.read_text(encoding="utf-8")
        doc = yaml.safe_load(source)
        root = yaml.compose(source)
    except (OSError, yaml.YAMLError) as exc:
        raise error(f"{path.name}: cannot read: {exc}") from exc
    if not isinstance(doc, dict) or set(doc) != keys:
        raise error(f"{path.name}: needs exactly the keys {sorted(keys)}")
    if not isinstance(doc["version"], (str, int)) or not str(doc["version"]).strip():
        raise error(f"{path.name}: version must be a non-empty string or number")
    return doc, root
