"""The contact-reason taxonomy: loaded and validated with file and line, rule tags checked
against it, reasons decide spike keys and the "rules win" check, a contact-reason model with
labels outside it is refused, and without the file the old open behaviour holds."""

from __future__ import annotations

import shutil

import pytest

from services.classifier.rules import RuleFileError, load_dir, taxonomy
from services.classifier.rules.taxonomy import Taxonomy, TaxonomyError
from services.classifier.runtime import spike_keys
from services.classifier.settings import ClassifierSettings
from shared.events import Classification, Decision, Explanation, Urgency

SHIPPED = ClassifierSettings().rules_dir


@pytest.fixture
def rules_dir(tmp_path):
    shutil.copytree(SHIPPED, tmp_path / "rules")
    return tmp_path / "rules"


def classification(*tags: str) -> Classification:
    return Classification(
        decision=Decision.REPLY,
        language="en",
        urgency=Urgency.NORMAL,
        tags=tags,
        reason="r",
        explanation=Explanation(
            rule_ids=(), model="spam", model_version="1", score=0.1, threshold=0.5, evidence=()
        ),
    )


def test_a_message_s_one_contact_reason_is_the_first_in_the_file_s_order():
    shipped = taxonomy.load(SHIPPED)
    assert shipped.primary(("very-negative", "refund", "link")) == "refund"
    assert shipped.primary(("refund", "legal")) == "legal"
    assert shipped.primary(("noise", "link", "pii:email")) is None
    assert (
        taxonomy.Taxonomy.open().primary(("noise", "very-negative", "refund")) == "very-negative"
    )  # tag order


def test_the_shipped_taxonomy_declares_every_rule_tag():
    shipped = taxonomy.load(SHIPPED)
    assert shipped.declared and shipped.version == "taxonomy-3"
    tags = {tag for rs in load_dir(SHIPPED).values() for rule in rs.rules for tag in rule.tags}
    assert tags <= set(shipped.contact_reasons) | set(shipped.labels)
    assert (
        shipped.is_reason("refund")
        and not shipped.is_reason("link")
        and not shipped.is_reason("spam")
    )


def test_an_undeclared_rule_tag_is_a_load_error_naming_file_line_and_rule(rules_dir):
    path = rules_dir / "en.yaml"
    path.write_text(path.read_text("utf-8").replace("tags: [refund]", "tags: [refnud]"), "utf-8")
    with pytest.raises(
        RuleFileError,
        match=r"en\.yaml:\d+: rule en\.reply\.refund: tag 'refnud' is not in taxonomy\.yaml",
    ):
        load_dir(rules_dir)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("version: x\ncontact_reasons: {refund: Money}\n", "needs exactly the keys"),
        ("version: x\ncontact_reasons: {}\nlabels: {}\n", "at least one reason"),
        (
            "version: x\ncontact_reasons:\n  refund: Money\n  Bad_Id: No\nlabels: {}\n",
            r"taxonomy\.yaml:4: .*'Bad_Id' is not an id",
        ),
        (
            "version: x\ncontact_reasons:\n  refund: Money\nlabels:\n  refund: Also\n",
            r"taxonomy\.yaml:5: 'refund' is both",
        ),
        (
            "version: x\ncontact_reasons:\n  spam: Junk\nlabels: {}\n",
            r"taxonomy\.yaml:3: 'spam' is set by the stage",
        ),
        ("version: x\ncontact_reasons:\n  refund: ''\nlabels: {}\n", "refund needs a description"),
        ("version: [\n", "cannot read"),
    ],
)
def test_invalid_taxonomy_files_are_refused_with_the_line(rules_dir, body, message):
    (rules_dir / taxonomy.FILE).write_text(body, "utf-8")
    with pytest.raises(TaxonomyError, match=message):
        taxonomy.load(rules_dir)


def test_spike_keys_count_only_contact_reasons():
    declared = Taxonomy("t", {"refund": "Money", "order": "Parcels"}, {"link": "A link"})
    result = classification(
        "noise", "refund", "link", "pii:email", "contact_reason:order", "praise"
    )
    assert spike_keys(result, declared) == ("tag:refund", "tag:order")  # praise: not declared here
    assert spike_keys(result, Taxonomy.open()) == ("tag:refund", "tag:order", "tag:praise")


def test_without_a_file_the_taxonomy_is_open_as_before(rules_dir):
    (rules_dir / taxonomy.FILE).unlink()
    found = taxonomy.load(rules_dir)
    assert not found.declared and found.knows("anything-new")
    assert found.is_reason("refund") and not found.is_reason("link") and not found.is_reason("vip")
    assert set(load_dir(rules_dir)) == {"en", "de"}  # the rule files still load


def test_a_contact_reason_model_with_undeclared_labels_is_reported(tmp_path, rules_dir):
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.svm import LinearSVC

    from services.classifier.serving.bundle import load_models
    from services.classifier.serving.tasks import save

    texts = [
        "refund my money",
        "money back please",
        "where is my parcel",
        "parcel lost again",
        "app keeps crashing",
        "login broken again",
    ] * 3
    labels = ["refund", "refund", "order", "order", "bugs", "bugs"] * 3
    pipeline = Pipeline(
        [
            ("features", FeatureUnion([("word", TfidfVectorizer())])),
            ("clf", CalibratedClassifierCV(LinearSVC(), cv=2)),
        ]
    ).fit(texts, labels)
    shutil.copytree(ClassifierSettings().models_dir, tmp_path / "models")
    save(
        pipeline,
        tmp_path / "models",
        "reasons-r1",
        {
            "version": "1",
            "task": "contact_reason",
            "rows": {"train": 18},
            "evaluation": {},
            "training_data_sha256": "0" * 64,
        },
    )
    settings = ClassifierSettings(
        models_dir=tmp_path / "models", rules_dir=rules_dir, task_models=("reasons-r1",)
    )
    described = load_models(settings).describe()["tasks"]["contact_reason"]
    assert described["labels_outside_taxonomy"] == ["bugs"]  # served, and the gap is shown


async def test_the_api_lists_the_taxonomy():
    import httpx

    from services.classifier.app import build

    app, _ = build(ClassifierSettings(signals_store="memory"))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://classifier"
    ) as client:
        body = (await client.get("/v1/taxonomy")).json()
    assert body["version"] == "taxonomy-3" and body["declared"] is True
    assert "refund" in body["contact_reasons"] and body["labels"] == {
        "link": "The message contains a link."
    }
    assert "spam" in body["builtin_labels"]
