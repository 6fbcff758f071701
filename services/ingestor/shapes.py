"""Total, path-aware accessors for platform JSON: every platform parser reads through these, so a
hostile document is refused with ``PayloadInvalid`` naming where it went wrong (never a
``KeyError``/``TypeError`` that would become a 500). ``parse_json`` reads every JSON body.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

_MAX_ID = 512
_MAX_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z
_MS_THRESHOLD = 100_000_000_000  # larger Unix times are milliseconds (year 5138 in seconds)


class MalformedJson(ValueError):
    """The body is not a UTF-8 JSON document; the message says where."""


class PayloadInvalid(ValueError):
    """The JSON is well formed but not the platform's shape; ``str()`` names the path and problem."""


def parse_json(body: bytes) -> Any:
    """The JSON document in ``body``. Raises ``MalformedJson`` (bad UTF-8, NaN, lone
    surrogates and nesting deeper than 1024 included: orjson refuses them all)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedJson(str(exc)) from None


def obj(value: Any, path: str) -> dict:
    if not isinstance(value, dict):
        raise PayloadInvalid(f"{path}: expected an object")
    return value


def arr(parent: dict, key: str, path: str) -> list:
    """``parent[key]`` as a list; a missing key is an empty list."""
    value = parent.get(key, [])
    if not isinstance(value, list):
        raise PayloadInvalid(f"{path}.{key}: expected an array")
    return value


def ident(parent: dict, key: str, path: str, required: bool = True) -> str | None:
    """An identifier (string or integer in the JSON) as text: non-empty, printable, bounded."""
    value = parent.get(key)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise PayloadInvalid(f"{path}.{key}: expected an id (string or integer)")
    text_value = str(value)
    if not text_value or len(text_value) > _MAX_ID or not text_value.isprintable():
        raise PayloadInvalid(f"{path}.{key}: id must be 1-{_MAX_ID} printable characters")
    return text_value


def text(parent: dict, key: str, path: str, default: str | None = None) -> str | None:
    value = parent.get(key, default)
    if value is not None and not isinstance(value, str):
        raise PayloadInvalid(f"{path}.{key}: expected a string")
    return value


def count(parent: dict, key: str, path: str) -> int | None:
    value = parent.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise PayloadInvalid(f"{path}.{key}: expected a non-negative integer")
    return value


def unix_time(parent: dict, key: str, path: str) -> datetime:
    """A Unix time in seconds or milliseconds (number or numeric string), as an aware UTC datetime."""
    value = parent.get(key)
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 16:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 10**16:
        raise PayloadInvalid(f"{path}.{key}: expected a Unix time")
    seconds = value / 1000 if value >= _MS_THRESHOLD else value
    if seconds > _MAX_SECONDS:
        raise PayloadInvalid(f"{path}.{key}: Unix time after the year 9999")
    return datetime.fromtimestamp(seconds, UTC)


def iso_time(value: Any, path: str) -> datetime:
    """An ISO 8601 time with an offset (``Z`` allowed), as an aware datetime."""
    if not isinstance(value, str) or len(value) > 64:
        raise PayloadInvalid(f"{path}: expected an ISO 8601 time")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise PayloadInvalid(f"{path}: not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise PayloadInvalid(f"{path}: time has no UTC offset")
    return parsed
