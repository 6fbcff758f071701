"""Response templates: the shipped files load; every invalid file is refused with a message that
names the file, the template and its line; selection prefers the item's reason, channel and
language with fallbacks; rendering names missing and unknown values."""

from __future__ import annotations

import pytest

from services.router.templates import TemplateError, load_templates, parse_templates

GOOD = """\
templates:
  - id: de-general
    version: 1
    language: de
    text: Hallo {customer_name}!
  - id: de-refund
    version: 1
    language: de
    reason: refund
    text: Geld zurück, {customer_name}.
  - id: de-refund
    version: 2
    language: de
    reason: refund
    text: "Wir erstatten, {customer_name}. Vorgang {reference}."
  - id: de-dm
    version: 1
    language: de
    channels: [direct_message]
    text: Hallo {customer_name}, hier ist {agent_name}.
  - id: en-general
    version: 1
    language: en
    text: Hi {customer_name}!
  - id: en-order-review
    version: 1
    language: en
    reason: order
    channels: [review]
    text: Sorry about your order, {customer_name}.
"""


def templates(text: str = GOOD):
    return parse_templates([("templates/test.yaml", text)])


def test_the_shipped_templates_load_and_every_language_has_a_generic_one():
    shipped = load_templates()
    assert len(shipped.latest()) >= 10
    for language in ("de", "en"):
        assert any(t.language == language and t.reason is None for t in shipped.latest())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("Hallo {customer_name}!", "Hallo {kunde}!"),
            "template 'de-general' (line 2): unknown placeholder {kunde}",
        ),
        (("Hallo {customer_name}!", "Hallo {}!"), "unknown placeholder {}"),
        (("Hallo {customer_name}!", "Hallo {customer_name!r}!"), "takes no format or conversion"),
        (("Hallo {customer_name}!", "Hallo {customer_name"), "not a valid template"),
        (
            ("    version: 2\n", "    version: 1\n"),
            "template 'de-refund' (line 11): duplicate id 'de-refund' version 1 (first at templates/test.yaml: template 'de-refund' (line 6))",
        ),
        (
            ("language: en\n    text: Hi", "language: english\n    text: Hi"),
            "template 'en-general' (line 21): language 'english' is not a language code",
        ),
        (
            ("language: en\n    text: Hi", "language: EN\n    text: Hi"),
            "language 'EN' is not a language code",
        ),
        (("[direct_message]", "[dm]"), "template 'de-dm' (line 16): channels.0: Input should be"),
        (
            ("    version: 2\n    language: de", "    version: 2\n    language: en"),
            "version 2 changes the language of 'de-refund' from de",
        ),
        (
            ("  - id: de-general\n", "  - id: De General\n"),
            "template 'De General' (line 2): id: String should match pattern",
        ),
        (
            (
                "    version: 1\n    language: de\n    text: Hallo",
                "    version: 0\n    language: de\n    text: Hallo",
            ),
            "version: Input should be greater than or equal to 1",
        ),
        (
            ("    reason: refund\n", "    reasn: refund\n"),
            "template 'de-refund' (line 6): reasn: Extra inputs are not permitted",
        ),
    ],
)
def test_an_invalid_template_is_refused_naming_file_template_and_line(change, message):
    old, new = change
    assert old in GOOD
    with pytest.raises(TemplateError) as caught:
        templates(GOOD.replace(old, new, 1))
    assert message in str(caught.value)
    assert str(caught.value).startswith("templates/test.yaml: ")


@pytest.mark.parametrize(
    "text",
    ["templates: [", "- just a list", "templates: {}", "other: []"],
)
def test_a_malformed_file_is_refused(text):
    with pytest.raises(TemplateError, match="templates/test.yaml: "):
        templates(text)


def test_a_duplicate_across_files_names_both(tmp_path):
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yaml").write_text(GOOD.split("  - id: de-refund")[0])
    with pytest.raises(
        TemplateError,
        match=r"templates/b.yaml: template 'de-general' \(line 2\): duplicate .*first at templates/a.yaml",
    ):
        load_templates(tmp_path)
    with pytest.raises(TemplateError, match="does not exist"):
        load_templates(tmp_path / "missing")


def test_selection_prefers_the_reason_then_the_channel_then_the_language():
    t = templates()
    # the reason's template first, then the generic ones (channel-specific before any-channel)
    assert t.suggest("refund", "de", "direct_message") == ("de-refund", "de-dm", "de-general")
    assert t.suggest("refund", "de", "public_comment") == ("de-refund", "de-general")
    # a template for another reason or other channels never fits
    assert t.suggest("order", "de", "public_comment") == ("de-general",)
    assert t.suggest("order", "en", "mention") == ("en-general",)
    assert t.suggest("order", "en", "review") == ("en-order-review", "en-general")
    # a locale falls back to its language, an unknown language to English
    assert t.suggest(None, "de-AT", "public_comment") == ("de-general",)
    assert t.suggest("refund", "tr", "public_comment") == ("en-general",)
    assert t.suggest(None, "tr", "public_comment", fallback_language="de") == ("de-general",)
    assert t.suggest("refund", "de", "direct_message", limit=1) == ("de-refund",)


def test_the_latest_version_is_the_one_used_and_older_ones_stay_readable():
    t = templates()
    assert t.get("de-refund").version == 2 and t.get("de-refund", 1).version == 1
    assert t.get("de-refund", 3) is None and t.get("nope") is None
    assert [x.id for x in t.latest()].count("de-refund") == 1


def test_render_fills_placeholders_and_names_what_is_missing_or_unknown():
    t = templates()
    refund = t.get("de-refund")
    assert refund.placeholders == ("customer_name", "reference")
    text = t.render(refund, {"customer_name": "Jana", "reference": "R-7"})
    assert text == "Wir erstatten, Jana. Vorgang R-7."
    with pytest.raises(
        TemplateError, match=r"'de-refund' version 2 needs value\(s\) for reference"
    ):
        t.render(refund, {"customer_name": "Jana"})
    with pytest.raises(TemplateError, match="unknown value"):
        t.render(refund, {"customer_name": "Jana", "reference": "R", "kunde": "x"})
    # a value is inserted as it is, never parsed as a template
    assert t.render(t.get("de-general"), {"customer_name": "{agent_name}"}) == "Hallo {agent_name}!"
