"""YouTube WebSub (re-)subscription: keeps every configured channel subscribed at the hub.

A channel whose subscription is missing, was unsubscribed, or whose ``resubscribe_at`` (80 % of
the granted lease, stored when the hub verified the intent) has come, gets a subscription
request: ``POST hub.callback, hub.mode=subscribe, hub.topic, hub.secret, hub.lease_seconds``.
The hub answers 202 and verifies the intent with a GET to our callback, which stores the new
lease (``youtube_api``). A request is not repeated for an hour while the verification is pending.
It runs on the poller core (lease ``_websub``: one replica at a time; 429/5xx retried with
backoff) when ``INGESTOR_YOUTUBE_CALLBACK_URL`` is set.
"""

from __future__ import annotations

from datetime import timedelta

from services.ingestor.ledger import aware
from services.ingestor.platforms import youtube, youtube_store
from services.ingestor.pollers.context import PollContext
from services.ingestor.pollers.fetch import PollFailed
from services.ingestor.pollers.store import is_due
from services.ingestor.settings import PollSource
from shared.logging import get_logger

log = get_logger(__name__)
NAME = "_websub"  # not a valid source name, so it never clashes with a configured one
PENDING = timedelta(hours=1)


def config(hub_url: str) -> PollSource:
    return PollSource(kind="youtube", url=hub_url, interval_s=300)


class WebSubRenewal:
    platform = "youtube"

    async def round(self, ctx: PollContext) -> None:
        settings = ctx.settings
        subscriptions = {s.topic: s for s in await youtube_store.subscriptions(ctx.store.ledger)}
        requests = await ctx.store.cursors(ctx.name)
        now = ctx.now()
        for channel in settings.youtube_channels:
            topic = youtube.topic_for(channel)
            current = subscriptions.get(topic)
            renew_at = aware(current.resubscribe_at) if current is not None else None
            if (
                current is not None
                and current.mode == "subscribe"
                and renew_at is not None
                and renew_at > now
            ):
                continue
            if not is_due(requests.get(channel), now):
                continue  # asked within the hour: waiting for the hub's verification GET
            form = {
                "hub.callback": settings.youtube_callback_url,
                "hub.mode": "subscribe",
                "hub.topic": topic,
                "hub.verify": "async",
                "hub.lease_seconds": str(settings.youtube_lease_s),
            }
            if settings.youtube_hub_secrets:
                form["hub.secret"] = settings.youtube_hub_secrets[0].get_secret_value()
            response = await ctx.http.request("POST", ctx.config.url or "", data=form)
            if response.status_code not in (202, 204):
                raise PollFailed(
                    f"hub answered {response.status_code} to the subscription of {channel}"
                )
            log.info(
                "youtube.subscription_requested", channel=channel, renewing=current is not None
            )
            await ctx.save(
                {"requested_at": now.isoformat()}, channel, next_poll_at=now + PENDING, polled=True
            )
