"""The private PostgreSQL cluster the fault tests stop and start: it really goes away and comes
back with its data."""

import psycopg
import pytest

from tools import pgcluster

pytestmark = pytest.mark.skipif(not pgcluster.available(), reason="no initdb/pg_ctl here")


def test_a_private_cluster_keeps_its_data_across_a_stop_and_refuses_connections_while_down():
    with pgcluster.PrivatePostgres() as pg:
        with psycopg.connect(pg.url, autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (n int)")
            conn.execute("INSERT INTO kept VALUES (7)")
        pg.stop()
        assert not pg.running()
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(pg.url, connect_timeout=2)
        pg.start()
        with psycopg.connect(pg.url) as conn:
            assert conn.execute("SELECT n FROM kept").fetchall() == [(7,)]
    assert not pg.root.exists()
