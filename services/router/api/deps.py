"""The API's dependencies, in one style: typed ``Annotated[..., Depends(...)]`` aliases that
endpoints take as parameters (``ApiDep``, the callers ``AgentCaller``/``Lead``/``Admin``, and
``TeamQueues``). Everything an endpoint uses comes through ``ApiDep``: the ``Api`` that
``routes`` bound to the request. Checks that answer after the body is read (an unknown item, a
bad time window) are plain helpers called from the endpoint, so a 422 for a bad body still
comes before a 404.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request
from sqlalchemy.ext.asyncio import async_sessionmaker

from services.router.auth import Principal, Tokens, Unauthenticated
from services.router.configs import ConfigStore
from services.router.reviews import Reviews
from services.router.runtime import RouterRuntime
from services.router.store import Directory, RoutedItems
from services.router.tables import RoutedItem

API_STATE = "router_api"  # the request.state attribute routes() sets


@dataclass
class Api:
    """What the endpoints work with, built by the composition root."""

    tokens: Tokens
    directory: Directory
    reviews: Reviews
    configs: ConfigStore
    runtime: RouterRuntime
    sessions: async_sessionmaker
    items: RoutedItems = field(init=False)

    def __post_init__(self) -> None:
        self.items = RoutedItems(self.sessions)


def api_of(request: Request) -> Api:
    """The ``Api`` that ``routes`` bound to this request."""
    return getattr(request.state, API_STATE)


ApiDep = Annotated[Api, Depends(api_of)]


async def caller(api: ApiDep, authorization: Annotated[str | None, Header()] = None) -> Principal:
    """The authenticated caller (401 without a valid bearer token)."""
    try:
        return await api.tokens.principal(authorization)
    except Unauthenticated as exc:
        raise HTTPException(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from exc


def role(minimum: str):
    """A dependency: the caller, 403 below ``minimum`` (agent < lead < admin)."""

    async def check(p: Annotated[Principal, Depends(caller)]) -> Principal:
        if not p.at_least(minimum):
            raise HTTPException(403, f"needs role {minimum} (you are {p.role})")
        return p

    return check


AgentCaller = Annotated[Principal, Depends(role("agent"))]
Lead = Annotated[Principal, Depends(role("lead"))]
Admin = Annotated[Principal, Depends(role("admin"))]


async def team_queues(api: ApiDep, p: Annotated[Principal, Depends(caller)]) -> set[str] | None:
    """The queues of the caller's team; ``None`` for a caller without a team (sees all)."""
    return None if p.team is None else set((await api.directory.teams()).get(p.team, []))


TeamQueues = Annotated[set[str] | None, Depends(team_queues)]


async def visible_item(api: Api, queues: set[str] | None, item_id: str) -> RoutedItem:
    """The routed item ``item_id``: 404 unknown, 403 outside ``queues``."""
    row = await api.items.by_id(item_id)
    if row is None:
        raise HTTPException(404, f"no routed item {item_id}")
    if queues is not None and row.queue not in queues:
        raise HTTPException(403, f"item {item_id} is in queue {row.queue}, not one of your team's")
    return row


def check_window(since: datetime | None, until: datetime | None) -> None:
    """422 unless both bounds carry an offset and since < until."""
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise HTTPException(422, f"{name} needs a UTC offset, e.g. 2026-11-23T00:00:00Z")
    if since is not None and until is not None and since >= until:
        raise HTTPException(422, "since must be before until")
