"""Configured tokens: an expired grant is refused with a message saying so; the CLI writes the
expiry into the entry it prints and refuses a bad --days."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from shared import auth
from shared.auth import StaticTokens, TokenGrant, Unauthenticated, digest

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def test_an_expired_grant_is_refused_and_a_live_one_passes():
    tokens = StaticTokens(
        None,
        {
            digest("live"): TokenGrant(
                subject="a", role="lead", expires_at=NOW + timedelta(days=1)
            ),
            digest("old"): TokenGrant(subject="b", role="agent", expires_at=NOW),
        },
    )
    assert tokens.principal("Bearer live", NOW).subject == "a"
    with pytest.raises(Unauthenticated, match="expired on 2026-12-06 09:00 UTC"):
        tokens.principal("Bearer old", NOW)
    with pytest.raises(Unauthenticated, match="unknown"):
        tokens.principal("Bearer other", NOW)


def test_the_cli_prints_an_entry_with_its_expiry(capsys):
    assert auth.main(["new", "alice", "agent", "support", "--days", "30"]) == 0
    out = capsys.readouterr().out.splitlines()
    token = out[0].split(": ", 1)[1]
    [(key, entry)] = json.loads(out[1]).items()
    grant = TokenGrant.model_validate(entry)
    assert key == digest(token) and grant.team == "support"
    assert timedelta(days=29) < grant.expires_at - datetime.now(UTC) <= timedelta(days=30)
    assert auth.main(["new", "alice", "agent", "--days", "0"]) == 2
    assert auth.main(["new", "alice", "agent", "--days"]) == 2
