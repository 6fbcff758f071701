"""Author block list and VIP list, loaded from ``blocked.txt`` and ``vip.txt``.

Each line is ``<platform>:<author id>`` or ``<platform>:@<handle>`` (handles compare
case-insensitively); blank lines and ``#`` comments are ignored. A malformed line raises
``AuthorListError`` naming the file and line, so a bad deploy fails at start-up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from shared.events import CanonicalMessage, Platform

_ENTRY = re.compile(r"^([a-z]+):(@?)(\S{1,256})$")


class AuthorListError(ValueError):
    """An author list file is unreadable or has a malformed line."""


@dataclass(frozen=True)
class AuthorList:
    entries: frozenset[str]

    def __contains__(self, message: object) -> bool:
        if not isinstance(message, CanonicalMessage):
            return False
        author = message.author
        keys = {f"{message.platform}:{author.id}"}
        if author.handle:
            keys.add(f"{message.platform}:@{author.handle.lstrip('@').lower()}")
        return not keys.isdisjoint(self.entries)


@dataclass(frozen=True)
class AuthorLists:
    blocked: AuthorList
    vip: AuthorList

    @classmethod
    def empty(cls) -> AuthorLists:
        return cls(AuthorList(frozenset()), AuthorList(frozenset()))


def load_lists(directory: Path) -> AuthorLists:
    """``blocked.txt`` and ``vip.txt`` of ``directory`` (a missing file is an empty list)."""
    return AuthorLists(
        blocked=load_list(directory / "blocked.txt"), vip=load_list(directory / "vip.txt")
    )


def load_list(path: Path) -> AuthorList:
    """One list file. Raises ``AuthorListError`` on an unknown platform or malformed line."""
    if not path.exists():
        return AuthorList(frozenset())
    platforms = {p.value for p in Platform}
    entries = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        found = _ENTRY.match(line)
        if not found or found.group(1) not in platforms:
            raise AuthorListError(
                f"{path.name}:{number}: expected <platform>:<author id> or "
                f"<platform>:@<handle> with a platform of {sorted(platforms)}"
            )
        platform, at, name = found.groups()
        entries.add(f"{platform}:@{name.lower()}" if at else f"{platform}:{name}")
    return AuthorList(frozenset(entries))
