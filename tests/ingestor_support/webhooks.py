"""Helpers for the tests and the bench: a valid example event, requests signed the way each
platform signs them, and the app running in-process (lifespan included) behind an httpx client.
Example platform payloads live in ``platform_examples``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import orjson
from fastapi import FastAPI

from services.ingestor.platforms.signatures import (
    meta_signature,
    websub_signature,
    x_signature,
)
from services.ingestor.platforms.standard_signing import sign


def example_event(**data_overrides) -> dict:
    """A valid ``message.created`` event; ``data_overrides`` replace fields of ``data``."""
    data = {
        "platform": "generic",
        "channel_kind": "direct_message",
        "account_id": "acme",
        "conversation_id": "conv-1",
        "message_id": f"m-{uuid.uuid4().hex[:12]}",
        "author": {"id": "u-1", "handle": "ann", "display_name": "Ann", "follower_count": 12},
        "text": "My order never arrived",
        "language": "en",
        "created_at": "2026-01-02T09:59:58Z",
        "in_reply_to": None,
        "permalink": None,
    }
    return {
        "type": "message.created",
        "timestamp": "2026-01-02T10:00:00Z",
        "data": {**data, **data_overrides},
    }


def signed(
    secret: str, body: bytes | dict, webhook_id: str | None = None, timestamp: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """``(body bytes, headers)`` of a correctly signed JSON webhook."""
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    headers = sign(secret, webhook_id or f"msg_{uuid.uuid4().hex}", timestamp, raw)
    return raw, {**headers, "content-type": "application/json"}


@asynccontextmanager
async def running(
    app: FastAPI, ready_timeout_s: float | None = 15.0, raise_app_exceptions: bool = True
) -> AsyncIterator[httpx.AsyncClient]:
    """Run ``app``'s lifespan and yield a client bound to it. Unless ``ready_timeout_s`` is
    ``None``, first wait for ``/readyz`` (raises ``TimeoutError``). With
    ``raise_app_exceptions=False`` the client sees the app's 500 answer instead of the error."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingestor") as client:
            if ready_timeout_s is not None:
                await wait_ready(client, ready_timeout_s)
            yield client


async def wait_ready(client: httpx.AsyncClient, timeout_s: float) -> None:
    """Poll ``/readyz`` until 200. Raises ``TimeoutError``."""
    deadline = time.monotonic() + timeout_s
    while (await client.get("/readyz")).status_code != 200:
        if time.monotonic() > deadline:
            raise TimeoutError(f"ingestor not ready within {timeout_s}s")
        await asyncio.sleep(0.05)


def meta_signed(app_secret: str, body: bytes | dict) -> tuple[bytes, dict[str, str]]:
    """``(body, headers)`` of a Meta webhook POST, signed as Meta signs (X-Hub-Signature-256)."""
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return raw, {
        "x-hub-signature-256": meta_signature(app_secret, raw),
        "content-type": "application/json",
    }


def x_signed(consumer_secret: str, body: bytes | dict) -> tuple[bytes, dict[str, str]]:
    """``(body, headers)`` of an X Account Activity POST, signed as X signs."""
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return raw, {
        "x-twitter-webhooks-signature": x_signature(consumer_secret, raw),
        "content-type": "application/json",
    }


def telegram_signed(secret_token: str, body: bytes | dict) -> tuple[bytes, dict[str, str]]:
    """``(body, headers)`` of a Telegram update POST carrying the setWebhook secret token."""
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return raw, {
        "x-telegram-bot-api-secret-token": secret_token,
        "content-type": "application/json",
    }


def websub_signed(hub_secret: str, atom: bytes) -> tuple[bytes, dict[str, str]]:
    """``(body, headers)`` of a WebSub notification, signed as the hub signs (X-Hub-Signature sha1)."""
    return atom, {
        "x-hub-signature": websub_signature(hub_secret, atom),
        "content-type": "application/atom+xml",
    }


# outside development ``GET /v1/sources`` asks for a bearer token: the tests' settings give the
# ingestor this admin token, and their reads of the health send it
OPS_TOKEN = "sb_ingestor-tests-ops-token"
OPS = {"Authorization": f"Bearer {OPS_TOKEN}"}
