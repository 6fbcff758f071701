"""Rule files: the shipped sets load and behave; invalid files fail naming file and rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.classifier.rules import Action, RuleFileError, load_dir, load_file
from services.classifier.settings import ClassifierSettings

VALID_RULE = (
    "  - id: en.tag.praise\n    action: tag\n    tags: [praise]\n    pattern: '\\blove\\b'\n"
)


def write(tmp_path: Path, rules: str, name: str = "en.yaml", header: str | None = None) -> Path:
    path = tmp_path / name
    path.write_text(
        (header or f'version: "t-1"\nlanguage: {path.stem}\n') + "rules:\n" + rules, "utf-8"
    )
    return path


def test_shipped_rule_sets_are_versioned_and_use_every_action():
    rule_sets = load_dir(ClassifierSettings().rules_dir)
    assert set(rule_sets) == {"en", "de"}
    for rule_set in rule_sets.values():
        assert rule_set.version
        assert {rule.action for rule in rule_set.rules} == set(Action)


@pytest.mark.parametrize(
    ("language", "text", "rule_id", "matched"),
    [
        (
            "en",
            "Hey guys check out my new channel",
            "en.drop.self-promotion",
            "check out my new channel",
        ),
        (
            "en",
            "Send 0.5 BTC, Elon doubles it in this giveaway",
            "en.drop.crypto-giveaway",
            "Send 0.5 BTC",
        ),
        ("en", "The charger caught fire last night", "en.urgent.safety", "caught fire"),
        (
            "en",
            "I want to cancel my subscription",
            "en.urgent.cancellation",
            "cancel my subscription",
        ),
        ("en", "app is not working after the update", "en.reply.problem", "not working"),
        ("de", "Die Rückerstattung fehlt noch", "de.reply.refund", "Rückerstattung"),
        ("de", "Hilfe! Konto gesperrt", "de.reply.help", "Hilfe"),
        ("de", "Das Gerät ist kaputt", "de.reply.problem", "kaputt"),
        ("de", "Ich schalte meinen Rechtsanwalt ein", "de.urgent.legal", "Rechtsanwalt"),
        ("de", "Ich bin Journalistin bei der Zeitung", "de.urgent.press", "Journalistin"),
        ("de", "Was für eine FRECHHEIT!", "de.urgent.outrage", "FRECHHEIT"),
        ("en", "Is this GDPR compliant?", "en.review.sensitive", "GDPR"),
        ("en", "Worst customer service ever", "en.urgent.outrage", "Worst customer service"),
    ],
)
def test_shipped_rules_fire_on_typical_phrases(language, text, rule_id, matched):
    hits = load_dir(ClassifierSettings().rules_dir)[language].match(text)
    assert (rule_id, matched) in [(hit.rule.id, hit.matched) for hit in hits]


def test_thanks_for_the_help_is_not_a_help_request():
    hits = load_dir(ClassifierSettings().rules_dir)["de"].match("Danke für die schnelle Hilfe!")
    assert [hit.rule.id for hit in hits] == ["de.tag.praise"]


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        (
            "  - id: en.reply.broken\n    action: reply\n    pattern: '(unclosed'\n",
            "pattern does not compile",
        ),
        ("  - id: en.reply.broken\n    action: shout\n    pattern: 'x'\n", "action must be one of"),
        ("  - id: en.tag.broken\n    action: tag\n    pattern: 'x'\n", "a tag rule needs tags"),
        ("  - id: en.reply.broken\n    action: reply\n", "needs exactly one of pattern or phrases"),
        (
            "  - id: en.reply.broken\n    action: reply\n    phrases: []\n",
            "phrases must be a non-empty list",
        ),
        (
            "  - id: en.reply.broken\n    action: reply\n    pattern: x\n    phrases: [y]\n",
            "needs exactly one of",
        ),
        (
            "  - id: en.reply.broken\n    action: reply\n    pattern: 'x'\n    colour: red\n",
            "unknown keys",
        ),
        (
            "  - id: en.reply.broken\n    action: reply\n    tags: praise\n    pattern: 'x'\n",
            "tags must be a list",
        ),
    ],
)
def test_invalid_rule_errors_name_file_and_rule(tmp_path, rule, problem):
    with pytest.raises(
        RuleFileError, match=rf"^en\.yaml:8: rule en\.(reply|tag)\.broken: {problem}"
    ):
        load_file(write(tmp_path, VALID_RULE + rule))


def test_rule_without_id_is_named_by_position(tmp_path):
    with pytest.raises(RuleFileError, match=r"^en\.yaml:8: rule #2: id must look like"):
        load_file(write(tmp_path, VALID_RULE + "  - action: reply\n    pattern: 'x'\n"))


def test_duplicate_rule_ids_are_refused(tmp_path):
    with pytest.raises(RuleFileError, match=r"^en\.yaml:8: rule en\.tag\.praise: duplicate id"):
        load_file(write(tmp_path, VALID_RULE + VALID_RULE))


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ('version: "t-1"\nlanguage: de\n', "does not match the file name"),
        ("language: en\n", "needs exactly the keys"),
        ('version: ""\nlanguage: en\n', "version must be"),
    ],
)
def test_invalid_file_headers_name_the_file(tmp_path, header, problem):
    with pytest.raises(RuleFileError, match=rf"^en\.yaml: .*{problem}"):
        load_file(write(tmp_path, VALID_RULE, header=header))


def test_yaml_syntax_errors_and_empty_dirs_are_reported(tmp_path):
    (tmp_path / "en.yaml").write_text("rules: [unclosed\n", "utf-8")
    with pytest.raises(RuleFileError, match=r"^en\.yaml: cannot read"):
        load_file(tmp_path / "en.yaml")
    with pytest.raises(RuleFileError, match="no rule files"):
        load_dir(tmp_path / "nowhere")


def test_phrases_match_whole_tokens_only(tmp_path):
    rule = (
        "  - id: de.urgent.cancel\n    action: urgent\n    phrases: [kündigung, vertrag beenden]\n"
    )
    rule_set = load_file(write(tmp_path, rule, name="de.yaml"))
    assert [h.matched for h in rule_set.match("Hiermit die KÜNDIGUNG.")] == ["KÜNDIGUNG"]
    assert [h.matched for h in rule_set.match("Ich will den Vertrag beenden!")] == [
        "Vertrag beenden"
    ]
    assert rule_set.match("Wie lang ist die Kündigungsfrist?") == ()


def test_rules_know_their_line(tmp_path):
    rule_set = load_file(write(tmp_path, VALID_RULE + VALID_RULE.replace("praise", "thanks")))
    assert [rule.line for rule in rule_set.rules] == [4, 8]
