"""Build ``data/replay/messages.jsonl`` — the demo traffic ``make run`` replays — from the
permissively licensed sets in ../shared/datasets (YouTube Spam Collection and SMS Spam
Collection: CC BY 4.0 per UCI; GermEval 2018: CC BY 4.0). Deterministic: same input, same file.

Each line is the ``data`` of a generic webhook (see the ingestor's API contract) plus the
dataset's own label under ``_label`` for the demo summary (never sent to the classifier).
"""

from __future__ import annotations

import csv
import json
import sys
from datetime import UTC, datetime, timedelta

from shared.settings import ROOT

DATASETS = ROOT.parent / "shared" / "datasets"
OUT = ROOT / "data" / "replay" / "messages.jsonl"
T0 = datetime(2026, 11, 21, 18, 0, tzinfo=UTC)
PER_VIDEO, SMS_ROWS, GERMAN_ROWS = 60, 100, 100


def youtube() -> list[dict]:
    rows = []
    for path in sorted((DATASETS / "youtube-spam").glob("Youtube0*.csv")):
        video = path.stem.split("-")[1]
        with path.open(encoding="utf-8") as f:
            for i, row in enumerate(csv.DictReader(f)):
                if i >= PER_VIDEO:
                    break
                rows.append(
                    _msg(
                        "youtube",
                        "public_comment",
                        f"channel-{video}",
                        f"video-{video}",
                        row["COMMENT_ID"],
                        row["AUTHOR"],
                        row["CONTENT"],
                        "spam" if row["CLASS"] == "1" else "ham",
                    )
                )
    return rows


def sms() -> list[dict]:
    rows, seen = [], set()
    with (DATASETS / "sms-spam" / "SMSSpamCollection").open(encoding="utf-8") as f:
        for i, line in enumerate(f):
            label, _, text = line.rstrip("\n").partition("\t")
            if text in seen:
                continue
            seen.add(text)
            rows.append(
                _msg(
                    "sms",
                    "direct_message",
                    "shortcode-1",
                    f"sms-thread-{i}",
                    f"sms-{i}",
                    f"+4917000{i:05d}",
                    text,
                    label,
                )
            )
            if len(rows) >= SMS_ROWS:
                break
    return rows


def german() -> list[dict]:
    rows = []
    with (DATASETS / "germeval2018" / "germeval2018.training.txt").open(encoding="utf-8") as f:
        for i, line in enumerate(f):
            text, coarse, _fine = line.rstrip("\n").split("\t")
            rows.append(
                _msg(
                    "x",
                    "mention",
                    "brand-de",
                    f"tweet-{i}",
                    f"gv18-{i}",
                    f"user-{i}",
                    text,
                    coarse.lower(),
                )
            )
            if len(rows) >= GERMAN_ROWS:
                break
    return rows


def _msg(platform, kind, account, conversation, message_id, author, text, label) -> dict:
    return {
        "platform": platform,
        "channel_kind": kind,
        "account_id": account,
        "conversation_id": conversation,
        "message_id": message_id,
        "author": {"id": author, "display_name": author},
        "text": text,
        "_label": label,
    }


def interleave(*groups: list[dict]) -> list[dict]:
    out, i = [], 0
    while any(i < len(g) for g in groups):
        out.extend(g[i] for g in groups if i < len(g))
        i += 1
    for n, row in enumerate(out):
        row["created_at"] = (T0 + timedelta(seconds=37 * n)).isoformat()
    return out


def main() -> int:
    if not DATASETS.is_dir():
        print(
            f"datasets not found at {DATASETS}; the committed {OUT.name} stays as it is",
            file=sys.stderr,
        )
        return 1
    rows = interleave(youtube(), sms(), german())
    with OUT.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} messages to {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
