"""Hot reload: a promoted model, an edited rule file or author list goes live without a
restart; a file that does not load leaves the running models serving and says why."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime

import pytest

from services.classifier.serving import registry
from services.classifier.serving.bundle import load_models
from services.classifier.serving.reload import Reloader, fingerprint
from services.classifier.settings import ClassifierSettings
from services.classifier.stage import classify
from shared.events import Author, CanonicalMessage, Decision

SHIPPED = ClassifierSettings()
NEW_RULE = """
  - id: en.reply.hot-reload-probe
    action: urgent
    tags: [safety]
    pattern: '\\bzebra\\s+crossing\\b'
"""


def message(text: str, author: str = "a1") -> CanonicalMessage:
    return CanonicalMessage(
        platform="facebook",
        channel_kind="public_comment",
        source="test",
        account_id="acme",
        conversation_id="c1",
        platform_message_id=f"m-{hash(text)}",
        author=Author(id=author),
        text=text,
        created_at=datetime(2026, 11, 23, 10, tzinfo=UTC),
    )


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> ClassifierSettings:
    root = tmp_path_factory.mktemp("classifier")
    for name in ("models", "rules", "authors"):
        shutil.copytree(getattr(SHIPPED, f"{name}_dir"), root / name)
    return ClassifierSettings(
        models_dir=root / "models", rules_dir=root / "rules", authors_dir=root / "authors"
    )


@pytest.fixture(scope="module")
def reloader(settings) -> Reloader:
    models = load_models(settings)
    holder: dict = {"models": models}
    reloader = Reloader(settings, models, lambda new: holder.__setitem__("models", new))
    reloader.holder = holder  # type: ignore[attr-defined]
    return reloader


def served(reloader: Reloader):
    return reloader.holder["models"]  # type: ignore[attr-defined]


def test_nothing_changed_nothing_reloaded(reloader):
    before = served(reloader)
    assert reloader.check() is False
    assert served(reloader) is before and reloader.status.reloads == 0


def test_an_edited_rule_file_goes_live_and_keeps_the_detector(settings, reloader):
    text = "the zebra crossing outside your shop is dangerous"
    before = served(reloader)
    assert "en.reply.hot-reload-probe" not in classify(message(text), before).explanation.rule_ids
    rules = settings.rules_dir / "en.yaml"
    rules.write_text(
        rules.read_text("utf-8").replace('version: "en-', 'version: "en-hot-') + NEW_RULE, "utf-8"
    )

    assert reloader.check() is True
    after = served(reloader)
    result = classify(message(text), after)
    assert (
        "en.reply.hot-reload-probe" in result.explanation.rule_ids
        and result.decision == Decision.REPLY
    )
    assert after.detector is before.detector  # no second copy of lingua's models
    assert after.rules["en"].version.startswith("en-hot-")


def test_a_broken_rule_file_keeps_the_running_rules_and_says_why(settings, reloader):
    rules = settings.rules_dir / "de.yaml"
    good = rules.read_text("utf-8")
    before = served(reloader)
    rules.write_text(
        good + "\n  - id: de.reply.broken\n    action: reply\n    pattern: '(unclosed'\n", "utf-8"
    )
    try:
        assert reloader.check() is False
        assert served(reloader) is before
        error = reloader.status.last_error or ""
        assert "de.yaml" in error and "de.reply.broken" in error and "does not compile" in error
        assert reloader.status.describe()["last_error_at"] is not None
        assert reloader.check() is False  # the same broken files are not loaded again on every look
    finally:
        rules.write_text(good, "utf-8")
    assert (
        reloader.check() is False
    )  # undone: the files are what is serving again, and the error is cleared
    assert reloader.status.last_error is None and served(reloader) is before


def test_a_promoted_spam_model_and_a_new_block_list_entry_go_live(settings, reloader):
    card = json.loads((settings.models_dir / "spam-v1.json").read_text("utf-8"))
    shutil.copyfile(settings.models_dir / card["artifact"], settings.models_dir / "spam-r9.skops")
    card |= {"name": "spam-r9", "version": "9.0.0", "artifact": "spam-r9.skops"}
    (settings.models_dir / "spam-r9.json").write_text(json.dumps(card), "utf-8")
    assert reloader.check() is True  # a new card alone is loaded (the pointer still names spam-v1)
    assert served(reloader).spam.card.name == "spam-v1"

    registry.promote(settings.models_dir, "spam", "spam-r9", "9.0.0")
    blocked = settings.authors_dir / "blocked.txt"
    blocked.write_text(blocked.read_text("utf-8") + "\nfacebook:troll-42\n", "utf-8")
    assert reloader.check() is True
    models = served(reloader)
    assert models.spam.card.name == "spam-r9" and models.spam.card.version == "9.0.0"
    assert (
        classify(message("hello there, nice shop", author="troll-42"), models).decision
        == Decision.DROP
    )


def test_a_pointer_to_a_missing_card_is_refused(settings, reloader):
    before = served(reloader)
    data = json.loads((settings.models_dir / registry.FILE).read_text("utf-8"))
    (settings.models_dir / registry.FILE).write_text(
        json.dumps(data | {"spam": "spam-nowhere"}), "utf-8"
    )
    try:
        assert reloader.check() is False
        assert served(reloader) is before and "spam-nowhere" in (reloader.status.last_error or "")
    finally:
        (settings.models_dir / registry.FILE).write_text(json.dumps(data), "utf-8")


def test_fingerprint_follows_contents_not_timestamps(settings, tmp_path):
    first = fingerprint(settings)
    rules = settings.rules_dir / "en.yaml"
    rules.write_text(rules.read_text("utf-8"), "utf-8")  # rewritten, same bytes
    assert fingerprint(settings) == first
    assert (
        fingerprint(settings.model_copy(update={"shadow_rules_dir": tmp_path})) == first
    )  # empty shadow folder
    (tmp_path / "en.yaml").write_text("version: x\n", "utf-8")
    assert fingerprint(settings.model_copy(update={"shadow_rules_dir": tmp_path})) != first


def test_zero_interval_disables_the_loop(settings, reloader):
    import asyncio

    idle = Reloader(
        settings.model_copy(update={"reload_interval_s": 0}), served(reloader), lambda m: None
    )
    asyncio.run(asyncio.wait_for(idle.run(asyncio.Event()), timeout=1))  # returns at once
    assert idle.status.reloads == 0
