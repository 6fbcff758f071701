"""Queueing formulas for one interval: Erlang C (M/M/n, everyone waits) and Erlang A
(M/M/n+M, customers abandon after an exponential patience), with concurrency.

Concurrency (asynchronous channels: one agent keeps ``c`` conversations open at once) is modelled
as ``n × c`` independent *slots*, each holding a conversation for its handling time; ``n`` agents
give ``n × c`` servers. The simulation (``planning.simulation``) checks this against agents that
each own ``c`` slots. The service level is the share of *all* arrivals answered within the
target time (an abandonment counts as a miss), the same definition the simulation measures.

Pure functions of floats; nothing here reads a clock or a file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from services.router.planning.errors import InfeasibleTarget

MAX_AGENTS = 100_000


@dataclass(frozen=True)
class Metrics:
    """What ``agents`` achieve on one interval, as the model predicts it."""

    agents: int
    service_level: float  # share of arrivals answered within the target time
    abandonment: float  # share of arrivals that give up (0 under Erlang C)
    mean_wait_s: float
    occupancy: float  # busy share of the slots


def erlang_b(servers: int, load: float) -> float:
    """Blocking probability of M/M/s/s with offered load ``load`` (Erlangs); stable recursion."""
    b = 1.0
    for s in range(1, servers + 1):
        b = load * b / (s + load * b)
    return b


def erlang_c(servers: int, load: float) -> float:
    """Probability an arrival waits in M/M/s with offered load ``load``; 1.0 when unstable."""
    if load <= 0:
        return 0.0
    if load >= servers:
        return 1.0
    b = erlang_b(servers, load)
    return servers * b / (servers - load * (1 - b))


def metrics_c(
    *, rate: float, aht_s: float, agents: int, sla_s: float, concurrency: int = 1
) -> Metrics:
    """Erlang C: ``rate`` arrivals per second, mean handling ``aht_s``, ``agents`` × ``concurrency`` slots."""
    servers, load = agents * concurrency, rate * aht_s
    if load <= 0:
        return Metrics(agents, 1.0, 0.0, 0.0, 0.0)
    if servers <= load:
        return Metrics(agents, 0.0, 0.0, math.inf, 1.0)
    pw = erlang_c(servers, load)
    gap = servers / aht_s - rate
    return Metrics(agents, 1 - pw * math.exp(-gap * sla_s), 0.0, pw / gap, load / servers)


def _queue_lengths(servers: int, load: float, mu: float, theta: float, rate: float) -> np.ndarray:
    """Stationary probabilities of states n, n+1, … (relative to state n = 1) of M/M/n+M, truncated."""
    drift = max(0.0, (rate - servers * mu) / theta)
    size = int(min(20_000, drift + 12 * math.sqrt(rate / theta + 1) + 60))
    k = np.arange(1, size)
    ratios = rate / (servers * mu + k * theta)
    return np.concatenate(([1.0], np.cumprod(ratios)))


def _served_within(servers: int, mu: float, theta: float, sla_s: float, size: int) -> np.ndarray:
    """P(answered within ``sla_s``) for a caller arriving at queue position p = 1..size (uniformisation).

    Its offered wait passes positions at rates n·mu + (j-1)·theta; tilting by its own patience
    turns that into rates n·mu + j·theta times the probability of staying (see docs/planning.md).
    """
    p = np.arange(1, size + 1)
    stay = np.cumprod((servers * mu + (p - 1) * theta) / (servers * mu + p * theta))
    rates = servers * mu + p * theta
    top = float(rates[-1])
    steps = top * sla_s
    n_steps = int(steps + 8 * math.sqrt(steps) + 20)
    move = rates / top
    v = np.zeros(size + 1)  # v[p] = P(answered within k jumps | position p); v[0] = answered
    v[0] = 1.0
    total, mass, log_w = np.zeros(size), 0.0, -steps
    for k in range(n_steps + 1):
        if k:
            v[1:] = move * v[:-1] + (1 - move) * v[1:]
            log_w += math.log(steps) - math.log(k)
        weight = math.exp(log_w)
        total += weight * v[1:]
        mass += weight
    return stay * np.minimum(1.0, total + max(0.0, 1 - mass) * v[1:])


def metrics_a(
    *, rate: float, aht_s: float, patience_s: float, agents: int, sla_s: float, concurrency: int = 1
) -> Metrics:
    """Erlang A (M/M/n+M): as ``metrics_c`` with exponential patience of mean ``patience_s``."""
    if not math.isfinite(patience_s) or patience_s <= 0:
        return metrics_c(
            rate=rate, aht_s=aht_s, agents=agents, sla_s=sla_s, concurrency=concurrency
        )
    servers, load, mu, theta = agents * concurrency, rate * aht_s, 1 / aht_s, 1 / patience_s
    if load <= 0:
        return Metrics(agents, 1.0, 0.0, 0.0, 0.0)
    if servers == 0:
        return Metrics(agents, 0.0, 1.0, patience_s, 0.0)
    log_below = np.array([s * math.log(load) - math.lgamma(s + 1) for s in range(servers)])
    log_n = servers * math.log(load) - math.lgamma(servers + 1)
    queue = _queue_lengths(servers, load, mu, theta, rate)
    scale = max(log_below.max(), log_n)
    below, at_or_above = np.exp(log_below - scale), np.exp(log_n - scale) * queue
    norm = below.sum() + at_or_above.sum()
    p_queue = at_or_above / norm  # arrival finds n + k busy/queued, k = 0, 1, …
    size = len(queue)
    p = np.arange(1, size + 1)
    stay = np.cumprod((servers * mu + (p - 1) * theta) / (servers * mu + p * theta))
    within = _served_within(servers, mu, theta, sla_s, size) if sla_s > 0 else np.zeros(size)
    # mean time in queue from position p: sum over stages of P(still there) / (exit rate)
    stage_exit = 1 / (servers * mu + p * theta)
    reach = np.concatenate(([1.0], stay[:-1]))
    mean_wait_p = np.cumsum(reach * stage_exit)
    abandon = float((p_queue * (1 - stay)).sum())
    service = below.sum() / norm + float((p_queue * within).sum())
    return Metrics(
        agents,
        float(service),
        abandon,
        float((p_queue * mean_wait_p).sum()),
        rate * (1 - abandon) * aht_s / servers,
    )


@dataclass(frozen=True)
class StaffingTarget:
    """A queue's staffing rule: ``target`` of arrivals answered within ``sla_s``.

    ``patience_s`` = mean patience for Erlang A (None: Erlang C); ``shrinkage`` = share of paid
    time not on queue work (breaks, training, absence); ``max_occupancy`` caps agents' busy share.
    """

    sla_s: float
    target: float
    aht_s: float
    patience_s: float | None = None
    concurrency: int = 1
    shrinkage: float = 0.0
    max_occupancy: float = 1.0
    reliability: float | None = None  # meet the target in this share of intervals (reliable.py)

    def check(self) -> None:
        """Raises ``InfeasibleTarget`` (a ``ValueError``) naming the impossible parameter."""
        if not 0 < self.target < 1:
            raise InfeasibleTarget(
                f"service-level target {self.target:.3g} is unreachable: "
                "queueing models never answer 100 %; use a share between 0 and 1 (e.g. 0.8)"
            )
        if self.sla_s < 0:
            raise InfeasibleTarget(f"answer-within time {self.sla_s} s is negative")
        if self.aht_s <= 0 or not math.isfinite(self.aht_s):
            raise InfeasibleTarget(
                f"handling time {self.aht_s} s must be a positive number of seconds"
            )
        if self.concurrency < 1:
            raise InfeasibleTarget(f"concurrency {self.concurrency} must be at least 1")
        if not 0 <= self.shrinkage < 1:
            raise InfeasibleTarget(f"shrinkage {self.shrinkage} must be in [0, 1)")
        if not 0 < self.max_occupancy <= 1:
            raise InfeasibleTarget(f"occupancy cap {self.max_occupancy} must be in (0, 1]")
        if self.reliability is not None and not 0 < self.reliability < 1:
            raise InfeasibleTarget(
                f"reliability {self.reliability:.3g} is unreachable: no staffing meets the "
                "target in every interval; use a share between 0 and 1 (e.g. 0.95)"
            )


def evaluate(target: StaffingTarget, rate: float, agents: int) -> Metrics:
    """The model's prediction for ``agents`` on the floor at ``rate`` arrivals per second."""
    if target.patience_s:
        return metrics_a(
            rate=rate,
            aht_s=target.aht_s,
            patience_s=target.patience_s,
            agents=agents,
            sla_s=target.sla_s,
            concurrency=target.concurrency,
        )
    return metrics_c(
        rate=rate,
        aht_s=target.aht_s,
        agents=agents,
        sla_s=target.sla_s,
        concurrency=target.concurrency,
    )


def _meets(target: StaffingTarget, m: Metrics) -> bool:
    return m.service_level >= target.target and m.occupancy <= target.max_occupancy + 1e-12


def required_agents(target: StaffingTarget, rate: float) -> Metrics:
    """Fewest agents on the floor (before shrinkage) meeting the target; 0 when nothing arrives.

    Erlang C counts up from the stable minimum; Erlang A bisects below the Erlang C figure (it
    never needs more). Raises ``InfeasibleTarget`` when no staffing up to ``MAX_AGENTS`` does.
    """
    target.check()
    if rate <= 0:
        return Metrics(0, 1.0, 0.0, 0.0, 0.0)
    load, c = rate * target.aht_s, target.concurrency
    n = max(1, math.floor(load / c) + 1)
    plain = StaffingTarget(**{**target.__dict__, "patience_s": None})
    while not _meets(
        plain,
        m := metrics_c(rate=rate, aht_s=target.aht_s, agents=n, sla_s=target.sla_s, concurrency=c),
    ):
        n += 1 if n < 50 else max(1, n // 50)
        if n > MAX_AGENTS:
            raise InfeasibleTarget(
                f"no staffing up to {MAX_AGENTS} agents answers {target.target:.0%} "
                f"within {target.sla_s:g} s at {rate * 3600:.0f} arrivals/hour"
            )
    hi = _smallest(plain, rate, n, m)
    if not target.patience_s:
        return hi
    lo = 0
    best = evaluate(target, rate, hi.agents)
    while hi.agents - lo > 1:  # invariant: lo fails, hi meets
        mid = (lo + hi.agents) // 2
        m = evaluate(target, rate, mid)
        if _meets(target, m):
            hi, best = m, m
        else:
            lo = mid
    return best


def _smallest(target: StaffingTarget, rate: float, n: int, m: Metrics) -> Metrics:
    """Step back down after a coarse climb so the answer is the smallest meeting count."""
    while n > 1:
        prev = metrics_c(
            rate=rate,
            aht_s=target.aht_s,
            agents=n - 1,
            sla_s=target.sla_s,
            concurrency=target.concurrency,
        )
        if not _meets(target, prev):
            break
        n, m = n - 1, prev
    return m


def scheduled(agents_on_floor: int, shrinkage: float) -> int:
    """Agents to schedule so ``agents_on_floor`` remain after shrinkage."""
    return 0 if agents_on_floor == 0 else math.ceil(agents_on_floor / (1 - shrinkage) - 1e-9)
