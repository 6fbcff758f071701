"""``switchboard`` — the operator and developer command line.

switchboard migrate [--service NAME ...]
                               apply the services' database migrations (DATABASE_URL; all four
                               unless named: each service owns its tables and history)
switchboard topics             create every registered topic (KAFKA_BOOTSTRAP_SERVERS), and the
                               router's per-queue routed topics (ROUTER_ROUTING_FILE)
switchboard run [--exit-after-replay] [--no-replay]
                               the whole pipeline on embedded defaults, with demo traffic
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from shared.settings import CommonSettings

SERVICES = ("ingestor", "classifier", "router", "notifier")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="switchboard",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    migrate = sub.add_parser("migrate", help="apply database migrations to DATABASE_URL")
    migrate.add_argument(
        "--service",
        action="append",
        choices=SERVICES,
        dest="services",
        help="migrate only this service's tables (repeatable; default: every service)",
    )
    sub.add_parser("topics", help="create every registered topic on KAFKA_BOOTSTRAP_SERVERS")
    run = sub.add_parser("run", help="run the whole pipeline locally and replay demo traffic")
    run.add_argument(
        "--exit-after-replay", action="store_true", help="stop once the replay is through"
    )
    run.add_argument("--no-replay", action="store_true", help="start the services only")
    args = parser.parse_args(argv)
    if args.command == "migrate":
        return _migrate(args.services)
    if args.command == "topics":
        return _topics()
    from tools.demo import run_demo

    return asyncio.run(
        run_demo(replay=not args.no_replay, exit_after_replay=args.exit_after_replay)
    )


def _migrate(services: list[str] | None) -> int:
    from tools import migrate

    url = CommonSettings().database_url
    migrate.upgrade(url, services)
    print(f"database migrated to head: {', '.join(services or SERVICES)}")
    return 0


def _topics() -> int:
    from services.router.queuetopics import ensure_from_file
    from services.router.settings import RouterSettings
    from shared.broker import BrokerError, TopicConfig, ensure_topics

    settings = CommonSettings()
    try:
        names = asyncio.run(
            ensure_topics(
                settings.kafka_bootstrap_servers,
                settings.kafka_topic_namespace,
                config=TopicConfig.of(settings),
            )
        )
        print(f"{len(names)} topics ready on {settings.kafka_bootstrap_servers}")
        # the router's per-queue routed topics, from its routing file
        # (docs/router.md#per-queue-routed-topics)
        queues = asyncio.run(ensure_from_file(settings, RouterSettings().routing_file))
    except BrokerError as exc:  # a topic of the wrong shape: say which, no traceback
        print(f"switchboard topics: {exc}", file=sys.stderr)
        return 2
    print(f"{len(queues)} per-queue routed topics ready")
    return 0


if __name__ == "__main__":
    sys.exit(main())
