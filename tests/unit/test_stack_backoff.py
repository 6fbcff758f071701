"""The local stack's restart back-off: Kubernetes' CrashLoopBackOff shape."""

from tools.stack import Backoff, StackConfig, service_database_url


def test_backoff_doubles_to_the_cap_and_resets_after_a_long_run():
    b = Backoff()
    delays, previous = [], None
    for _ in range(7):
        previous = b.next(previous, uptime_s=2)
        delays.append(previous)
    assert delays == [1, 2, 4, 8, 16, 30, 30]
    assert b.next(30, uptime_s=60) == 1


def test_service_database_urls(tmp_path):
    config = StackConfig(var_dir=tmp_path, schema_prefix="x_")
    assert service_database_url(None, "router", config) == f"sqlite:///{tmp_path}/router.db"
    assert service_database_url("sqlite:///a.db", "router", config) == "sqlite:///a.db"
    assert (
        service_database_url("postgresql://u:p@h:5432/db", "router", config)
        == "postgresql://u:p@h:5432/db?options=-csearch_path%3Dx_router"
    )
    assert service_database_url(
        "postgresql://h/db?options=-cstatement_timeout%3D5", "ingestor", config
    ) == ("postgresql://h/db?options=-cstatement_timeout%3D5+-csearch_path%3Dx_ingestor")
