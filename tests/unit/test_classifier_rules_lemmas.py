"""Lemma rules: ``lemmas: [kündigen]`` matches the word's inflections as whole tokens, sequences
of lemmas match in order, and bad lemma rules fail on load naming file, line and rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.classifier.rules import RuleFileError, load_file
from services.classifier.rules.tokens import lemma_table_forms


def write(tmp_path: Path, body: str, language: str = "de") -> Path:
    path = tmp_path / f"{language}.yaml"
    path.write_text(f'version: "t-1"\nlanguage: {language}\nrules:\n' + body, "utf-8")
    return path


LEMMA_RULES = """\
  - id: de.urgent.cancel
    action: urgent
    tags: [cancellation]
    lemmas: [kündigen, "Vertrag beenden"]
  - id: de.reply.refund
    action: reply
    tags: [refund]
    pattern: '\\berstatt'
"""


@pytest.mark.parametrize(
    ("text", "matched"),
    [
        ("Ich habe gestern gekündigt!", "gekündigt"),
        ("Ich KÜNDIGE sofort.", "KÜNDIGE"),
        ("Hiermit kündigte ich", "kündigte"),
        ("Ich will den Vertrag beenden", "Vertrag beenden"),
        ("Den Vertrag beendete ich", "Vertrag beendete"),
    ],
)
def test_a_lemma_matches_its_inflected_forms(tmp_path, text, matched):
    rule_set = load_file(write(tmp_path, LEMMA_RULES))
    hits = {hit.rule.id: hit.matched for hit in rule_set.match(text)}
    assert hits == {"de.urgent.cancel": matched}


@pytest.mark.parametrize(
    "text", ["Die Kündigungsfrist ist lang", "kündigenswert?", "Vertrag ist super", "beenden"]
)
def test_lemmas_match_whole_tokens_and_whole_sequences_only(tmp_path, text):
    rule_set = load_file(write(tmp_path, LEMMA_RULES))
    assert "de.urgent.cancel" not in {hit.rule.id for hit in rule_set.match(text)}


def test_lemma_and_pattern_rules_fire_together_in_file_order(tmp_path):
    rule_set = load_file(write(tmp_path, LEMMA_RULES))
    assert [h.rule.id for h in rule_set.match("Erstattung fehlt, ich kündige")] == [
        "de.urgent.cancel",
        "de.reply.refund",
    ]


def test_english_lemmas_too(tmp_path):
    body = "  - id: en.urgent.cancel\n    action: urgent\n    tags: [cancellation]\n    lemmas: [cancel]\n"
    rule_set = load_file(write(tmp_path, body, "en"))
    assert [h.matched for h in rule_set.match("I cancelled it yesterday")] == ["cancelled"]


def test_only_the_asked_lemmas_are_kept_from_the_table():
    forms = lemma_table_forms("de", {"kündigen", "nichtswort"})
    assert set(forms) == {"kündigen"} and {"gekündigt", "kündige", "kündigen"} <= forms["kündigen"]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("    lemmas: [kündgen]\n", "de.yaml:2: rule de.urgent.cancel: unknown lemma 'kündgen'"),
        (
            "    lemmas: []\n",
            "de.yaml:2: rule de.urgent.cancel: lemmas must be a non-empty list of strings",
        ),
        (
            "    lemmas: kündigen\n",
            "de.yaml:2: rule de.urgent.cancel: lemmas must be a non-empty list of strings",
        ),
        (
            "    lemmas: [kündigen]\n    phrases: [Kündigung]\n",
            "de.yaml:2: rule de.urgent.cancel: needs exactly one of pattern or phrases or lemmas",
        ),
    ],
)
def test_bad_lemma_rules_fail_on_load_naming_the_line(tmp_path, rule, message):
    path = tmp_path / "de.yaml"
    path.write_text(
        'version: "t-1"\nlanguage: de\nrules:\n  - id: de.urgent.cancel\n    action: urgent\n'
        + rule,
        "utf-8",
    )
    with pytest.raises(RuleFileError) as caught:
        load_file(path)
    assert str(caught.value).startswith(message.replace(":2:", ":4:")), str(caught.value)


def test_a_language_without_a_lemma_table_is_a_load_error(tmp_path):
    body = "  - id: ja.urgent.cancel\n    action: urgent\n    lemmas: [解約]\n"
    with pytest.raises(
        RuleFileError, match=r"ja.yaml:4: rule ja.urgent.cancel: lemmas need a lemma table"
    ):
        load_file(write(tmp_path, body, "ja"))
