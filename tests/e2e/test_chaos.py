"""The chaos suite's reduced form (``tools.chaos``): ``switchboard run``'s own stack (supervised,
embedded broker, a private PostgreSQL) under steady signed webhook load takes a kill -9 of the
router, PostgreSQL stopped for a few seconds and the embedded broker killed, one after the
other, with nothing from outside the stack helping; every delivery answered 2xx then reaches
the router's table once, none twice, and the broker's death was recovered by re-publishing
what the ingestor had accepted. The full suite with its figures is ``make chaos``."""

import pytest

from tools import pgcluster
from tools.chaos import faults, trial

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]
REDUCED = trial.Options(rate=8, seconds=16, fault_at=3, outage_s=3, quiet_s=20)


async def test_no_delivery_answered_2xx_is_lost_or_doubled_through_three_faults(tmp_path):
    if not pgcluster.available():
        pytest.skip("initdb/pg_ctl not installed: no private PostgreSQL to stop")
    scenario = faults.in_turn(
        "reduced",
        "kill -9 of the router; PostgreSQL stopped; embedded broker killed",
        faults.kill_service("router"),
        faults.stop_database,
        faults.kill_broker,
        gap_s=3,
    )
    with pgcluster.PrivatePostgres() as pg:
        row = await trial.run(scenario, REDUCED, pg, tmp_path)
    assert row["stack_failed"] is None, row["stack_events"]
    assert row["answered_2xx"] >= REDUCED.rate * REDUCED.fault_at  # the load went through
    assert row["lost"] == 0, row
    assert row["doubled"] == 0, row
    assert row["restarts"]["router"] >= 1
    assert any(e.startswith("broker recovered") for e in row["stack_events"])
    assert row["republished"] >= 1  # what was accepted before the broker died came back
