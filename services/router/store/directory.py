"""The directory in the database: teams, queues, agents and SLA policies, seeded from the
routing configuration, and agent status changes.

``sync`` upserts what the configuration declares and keeps what belongs to run time (an
agent's status and load); agents removed from the configuration go offline, not away, so
their history stays readable.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from services.router.assign import AgentView
from services.router.rules import RoutingConfig
from services.router.store.rows import audit, view
from services.router.tables import Agent, Queue, SlaPolicy, Team

STATUSES = ("online", "away", "offline")


class UnknownAgent(KeyError):
    """No agent with that id."""


class Directory:
    def __init__(self, sessions: async_sessionmaker) -> None:
        self._sessions = sessions

    async def sync(self, config: RoutingConfig) -> None:
        """Make teams, queues, agents and SLA policies match ``config``. Idempotent."""
        async with self._sessions() as session:
            for t in config.teams:
                await session.merge(Team(id=t.id, name=t.name))
            await session.flush()
            for q in config.queues:
                await session.merge(Queue(id=q.id, team_id=q.team, skill=q.skill))
            for a in config.agents:
                existing = await session.get(Agent, a.id)
                fields = dict(
                    name=a.name,
                    team_id=a.team,
                    languages=list(a.languages),
                    skills=dict(a.skills),
                    channels=[c.value for c in a.channels],
                    capacity=a.capacity,
                    trainee=a.trainee,
                )
                if existing is None:
                    session.add(Agent(id=a.id, load=0, status="offline", **fields))
                else:
                    for key, value in fields.items():
                        setattr(existing, key, value)
            for channel, per_urgency in config.sla.minutes.items():
                for urgency, minutes in per_urgency.items():
                    await session.merge(
                        SlaPolicy(
                            channel=channel.value,
                            urgency=urgency.value,
                            business_minutes=minutes,
                            policy=config.sla.policy,
                        )
                    )
            await session.commit()

    async def agents(self) -> list[AgentView]:
        async with self._sessions() as session:
            return [
                view(a) for a in (await session.execute(select(Agent).order_by(Agent.id))).scalars()
            ]

    async def agent(self, agent_id: str) -> Agent:
        async with self._sessions() as session:
            agent = await session.get(Agent, agent_id)
        if agent is None:
            raise UnknownAgent(agent_id)
        return agent

    async def set_status(self, agent_id: str, status: str, now: datetime, actor: str) -> str:
        """Set an agent's status; returns the previous one. Raises ``UnknownAgent``, ``ValueError``."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}")
        async with self._sessions() as session:
            agent = await session.get(Agent, agent_id)
            if agent is None:
                raise UnknownAgent(agent_id)
            previous, agent.status = agent.status, status
            audit(
                session,
                now,
                None,
                "agent_status",
                {"agent": agent_id, "from": previous, "to": status},
                actor,
            )
            await session.commit()
        return previous

    async def teams(self) -> dict[str, list[str]]:
        """Team id -> its queue ids."""
        async with self._sessions() as session:
            teams = (await session.execute(select(Team.id))).scalars().all()
            queues = (await session.execute(select(Queue.id, Queue.team_id))).all()
        return {t: sorted(q for q, team in queues if team == t) for t in teams}
