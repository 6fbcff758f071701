"""Rule tester: paste a message, pick its platform and channel, and see what the classifier would
decide (decision, tags, urgency, reason, explanation with the rules and evidence), and what the
shadow rule set (rules tried in shadow mode) would change. Stateless: nothing is stored or
published (the classifier's ``POST /v1/classify/shadow``)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Request

from services.console.web import ConsoleDep, SignedIn, changed, render
from shared.events import ChannelKind, Platform

router = APIRouter()
PLATFORMS = [p.value for p in Platform]
CHANNELS = [c.value for c in ChannelKind]


@router.get("/tester")
async def tester_page(request: Request, session: SignedIn):
    return render(
        request, "tester.html", platforms=PLATFORMS, channels=CHANNELS, form={}, result=None
    )


@router.post("/tester")
async def tester_run(request: Request, session: SignedIn, console: ConsoleDep):
    form = await changed(request, session)
    text = str(form.get("text", ""))
    platform, channel = str(form.get("platform", "")), str(form.get("channel", ""))
    if not text.strip() or len(text) > 100_000:
        raise HTTPException(422, "paste the message text (up to 100,000 characters)")
    if platform not in PLATFORMS or channel not in CHANNELS:
        raise HTTPException(422, "choose a platform and a channel from the lists")
    author = str(form.get("author", "")).strip()[:256] or "console-tester"
    message = {
        "platform": platform,
        "channel_kind": channel,
        "source": "console-tester",
        "account_id": str(form.get("account", "")).strip()[:256] or "console",
        "conversation_id": f"tester-{uuid.uuid4().hex[:12]}",
        "platform_message_id": f"tester-{uuid.uuid4().hex}",
        "author": {"id": author, "display_name": author},
        "text": text,
        "created_at": datetime.now(UTC).isoformat(),
    }
    result = await console.backends.call(
        "classifier", "POST", "/v1/classify/shadow", session.token, json=message
    )
    return render(
        request,
        "tester.html",
        platforms=PLATFORMS,
        channels=CHANNELS,
        form={"text": text, "platform": platform, "channel": channel, "author": author},
        result=result.body["classification"],
        shadow=result.body,
    )
