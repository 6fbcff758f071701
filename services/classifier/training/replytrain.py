"""The shipped reply-needed model ``reply-needed-v1``: what it learns from, and its training.

``python -m services.classifier.train --only reply-needed-v1`` (part of ``make train``).

Binary: ``reply`` (a person at the company should answer) vs ``noise`` (no answer needed). Only
permissively licensed text, and the team's own:

* ``reply``: BANKING77 training queries (CC BY 4.0; Casanueva et al. 2020), 40 per intent; CLINC150
  training queries of the customer-service intents (``SERVICE_INTENTS``: banking, cards, travel,
  orders, reservations, insurance; CC BY 3.0; Larson et al. 2019), 40 per intent; the team's own
  ``reply`` examples (``data/examples.csv``);
* ``noise``: CLINC150's small-talk intents (``CHATTER_INTENTS``: greetings, thanks, jokes, yes/no,
  questions about the assistant itself); the ham *and* spam of the YouTube spam collection (UCI,
  CC BY 4.0: comments that ask the company nothing; spam is the spam model's job, and must not look
  like a request to this one); the team's own ``noise`` and ``spam`` examples. The SMS collection is
  left out on purpose: friends' texts ("still waiting for you at the station") read like customer
  complaints, and with it the model called real complaints noise (measured with ``evaluate --triage``).

The non-commercial sets (twcs, airline, GermEval 2017) never enter: they only measure
(``evaluate --triage``). Every text is read as the stage reads it (``model.content``: markup,
links and @handles removed). The recipe is ``recipes.fit_ours`` (the same as every task model).
"""

from __future__ import annotations

import csv
import json
import random
from collections import Counter
from pathlib import Path

from services.classifier.serving.model import content, normalise
from services.classifier.training import corpus as corpus_
from services.classifier.training import task_models
from services.classifier.training.datasets import DatasetMissing
from shared.settings import ROOT

NAME = "reply-needed-v1"
EXAMPLES = ROOT / "services" / "classifier" / "data" / "examples.csv"
PER_INTENT = 40
SEED = 20240601
SERVICE_INTENTS = frozenset(
    {
        "account_blocked",
        "application_status",
        "apr",
        "balance",
        "bill_balance",
        "bill_due",
        "book_flight",
        "book_hotel",
        "cancel_reservation",
        "car_rental",
        "card_declined",
        "carry_on",
        "confirm_reservation",
        "credit_limit",
        "credit_limit_change",
        "damaged_card",
        "direct_deposit",
        "expiration_date",
        "flight_status",
        "freeze_account",
        "insurance",
        "insurance_change",
        "interest_rate",
        "international_fees",
        "lost_luggage",
        "min_payment",
        "new_card",
        "order",
        "order_checks",
        "order_status",
        "pay_bill",
        "pin_change",
        "redeem_rewards",
        "replacement_card_duration",
        "report_fraud",
        "report_lost_card",
        "restaurant_reservation",
        "rewards_balance",
        "routing",
        "spending_history",
        "transactions",
        "transfer",
        "travel_notification",
        "reset_settings",
        "sync_device",
        "accept_reservations",
    }
)
CHATTER_INTENTS = frozenset(
    {
        "greeting",
        "goodbye",
        "thank_you",
        "tell_joke",
        "fun_fact",
        "meaning_of_life",
        "what_are_your_hobbies",
        "do_you_have_pets",
        "how_old_are_you",
        "where_are_you_from",
        "what_is_your_name",
        "who_made_you",
        "are_you_a_bot",
        "who_do_you_work_for",
        "yes",
        "no",
        "maybe",
    }
)
SOURCES = [
    "BANKING77 training queries (Casanueva et al. 2020), CC BY 4.0: reply",
    "CLINC150 training queries (Larson et al. 2019), CC BY 3.0: customer-service intents reply, small talk noise",
    "UCI YouTube Spam Collection (Alberto, Lochter, Almeida 2015), CC BY 4.0: noise (ham and spam alike: they ask "
    "the company nothing)",
    "services/classifier/data/examples.csv: the team's own labelled messages (see its README)",
]


def _sampled(
    rows: list[tuple[str, str]], per_label: int, rng: random.Random
) -> list[tuple[str, str]]:
    by: dict[str, list[str]] = {}
    for text, label in rows:
        by.setdefault(label, []).append(text)
    picked = []
    for label in sorted(by):
        texts = by[label]
        picked += [(t, label) for t in rng.sample(texts, min(per_label, len(texts)))]
    return picked


def team_examples(path: Path = EXAMPLES) -> list[tuple[str, str, str]]:
    """(text, label, language) of the team's own examples; ``[]`` when the file is absent."""
    if not path.is_file():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        return [
            (r["text"], r["label"], r["language"]) for r in csv.DictReader(handle) if r.get("text")
        ]


def load(datasets: Path) -> tuple[list[str], list[str], dict[str, int]]:
    """Texts (as ``content`` reads them), labels and row counts per source. Raises ``DatasetMissing``."""
    rng = random.Random(SEED)
    banking = datasets / "banking77" / "train.csv"
    clinc = datasets / "clinc150" / "data_full.json"
    for path in (banking, clinc):
        if not path.is_file():
            raise DatasetMissing(f"{path} not found")
    with banking.open(encoding="utf-8", newline="") as handle:
        bank = _sampled(
            [(r["text"], r["category"]) for r in csv.DictReader(handle)], PER_INTENT, rng
        )
    train = json.loads(clinc.read_text(encoding="utf-8"))["train"]
    service = _sampled([(t, i) for t, i in train if i in SERVICE_INTENTS], PER_INTENT, rng)
    chatter = [(t, i) for t, i in train if i in CHATTER_INTENTS]
    spam_sets = [e for e in corpus_.load(datasets, extra=False).examples if e.source == "youtube"]
    team = team_examples()
    rows = (
        [(t, "reply", "banking77") for t, _ in bank]
        + [(t, "reply", "clinc150") for t, _ in service]
        + [(t, "noise", "clinc150-chatter") for t, _ in chatter]
        + [(e.text, "noise", f"{e.source}-{'spam' if e.label else 'ham'}") for e in spam_sets]
        + [(t, "reply" if label == "reply" else "noise", f"team-{label}") for t, label, _ in team]
    )
    seen: dict[str, tuple[str, str]] = {}
    for text, label, source in rows:
        key = content(normalise(text))
        if key and key not in seen:
            seen[key] = (label, source)
    texts = list(seen)
    return texts, [seen[t][0] for t in texts], dict(Counter(source for _, source in seen.values()))


def train(datasets: Path, out: Path, progress) -> None:
    texts, labels, counts = load(datasets)
    progress(f"reply-needed: {len(texts)} texts ({counts})")
    task_models.train_task(
        texts,
        labels,
        task="reply_needed",
        name=NAME,
        out=out,
        progress=progress,
        word_min_df=2,
        extra={
            "positive_label": "reply",
            "sources": SOURCES,
            "source_rows": counts,
            "input": "model.content: normalised text without links and @handles",
            "see_also": "python -m services.classifier.evaluate --triage (the decision on real traffic)",
        },
    )
