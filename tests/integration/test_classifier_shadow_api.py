"""The rule tester's comparison on the classifier's API: the live rules' decision beside the shadow
rule set's (rules tried in shadow mode), and what would change."""

from __future__ import annotations

import httpx

from services.classifier.app import build
from shared import schemagen


async def test_the_shadow_comparison_shows_what_the_shadow_rule_set_would_change(
    sqlite_url, tmp_path
):
    """``POST /v1/classify/shadow`` (the console's rule tester): the live decision beside the
    shadow rule set's, and the fields that differ; with no shadow rules, ``shadow`` is null."""
    import shutil

    from services.classifier.settings import ClassifierSettings as Settings

    shadow = tmp_path / "shadow"
    shutil.copytree(Settings().rules_dir, shadow)
    rules = (shadow / "en.yaml").read_text(encoding="utf-8")
    rules = rules.replace(
        "rules:\n",
        "rules:\n  - id: en.urgent.refund-threat\n    action: urgent\n    tags: [refund]\n"
        "    description: a rule tried in shadow\n    pattern: '\\bchargeback\\b'\n",
        1,
    )
    (shadow / "en.yaml").write_text(rules, encoding="utf-8")
    message = (
        schemagen.example_events()[0]
        .data.model_copy(
            update={
                "text": "I will file a chargeback if my parcel does not arrive this week.",
                "language_hint": "en",
            }
        )
        .model_dump(mode="json")
    )
    for shadow_dir, expect_shadow in ((shadow, True), (None, False)):
        app, _ = build(
            Settings(
                environment="development", database_url=sqlite_url, shadow_rules_dir=shadow_dir
            )
        )
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://classifier"
        ) as http:
            answer = (await http.post("/v1/classify/shadow", json=message)).json()
        assert answer["shadow_rules"] is expect_shadow
        if expect_shadow:
            assert answer["changes"]["urgency"] == [answer["classification"]["urgency"], "high"]
            assert "en.urgent.refund-threat" in answer["shadow"]["explanation"]["rule_ids"]
            assert (
                "en.urgent.refund-threat" not in answer["classification"]["explanation"]["rule_ids"]
            )
        else:
            assert answer["shadow"] is None and answer["changes"] == {}
