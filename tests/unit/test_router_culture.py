"""Culture matching (agents of the customer's locale first, the language as fall-back), and
queue ids that must name their per-queue topic (the documented naming rule)."""

import pytest

from services.router.assign import AgentView, Need, choose, eligible, locale_of
from services.router.rules import RoutingConfigError, load_routing
from shared import topics
from shared.settings import ROOT


def agent(id_, languages, load=0, capacity=4, status="online"):
    return AgentView(
        id=id_,
        team="care-de",
        languages=frozenset(languages),
        skills={},
        channels=frozenset({"mention"}),
        capacity=capacity,
        load=load,
        status=status,
    )


def need(locale=None, language="de"):
    return Need(
        language=language,
        channel="mention",
        skill=None,
        min_proficiency=1,
        team="care-de",
        locale=locale,
    )


@pytest.mark.parametrize(
    ("language", "hint", "tags", "expected"),
    [
        ("de", None, (), None),  # nothing says where the customer is
        ("de", "de-AT", (), "de-AT"),  # the platform's hint
        ("de", "de_ch", (), "de-CH"),
        ("de-AT", None, (), "de-AT"),  # the classifier's language with a region
        ("de", "en-GB", (), None),  # a locale of another language does not count
        ("de", "de-DE", ("locale:de-AT",), "de-AT"),  # a locale tag wins over the hint
    ],
)
def test_locale_of_an_item(language, hint, tags, expected):
    assert locale_of(language, hint, tags) == expected


def test_an_agent_of_the_customers_locale_is_preferred_even_when_busier():
    vienna = agent("vienna", ["de-AT", "en"], load=3)
    berlin = agent("berlin", ["de-DE"], load=0)
    zurich = agent("zurich", ["de-CH"], load=0)
    plain = agent("plain", ["de"], load=1)
    pool = [vienna, berlin, zurich, plain]
    assert choose(pool, need("de-AT")).agent_id == "vienna"  # Austrian customer, Austrian agent
    assert choose(pool, need("de-CH")).agent_id == "zurich"
    assert choose(pool, need(None)).agent_id == "berlin"  # unknown locale: least loaded, then id
    full = [agent("vienna", ["de-AT"], load=4), berlin, plain]
    assert (
        choose(full, need("de-AT")).agent_id == "berlin"
    )  # no Austrian with room: the language suffices
    assert all(eligible(a, need("de-AT")) for a in pool)  # every German speaker stays eligible
    assert not eligible(agent("london", ["en-GB"]), need("de-AT"))


@pytest.mark.parametrize("bad", ["Support_DE", "dlq", "a.b", "-x"])
def test_queue_ids_must_name_a_topic(bad):
    text = (
        (ROOT / "config" / "routing.yaml")
        .read_text()
        .replace("{id: support-default,", f"{{id: {bad!r},")
    )
    text = text.replace("fallback_queue: support-default", f"fallback_queue: {bad!r}")
    with pytest.raises(RoutingConfigError, match="cannot name its topic"):
        load_routing(text)


def test_per_queue_topic_names_follow_the_documented_rule():
    assert topics.per_queue(topics.ROUTED, "support-de") == "switchboard.items.routed.v1.support-de"
    assert (
        topics.qualified("switchboard.items.routed.v1.support-de", "t1.")
        == "t1.switchboard.items.routed.v1.support-de"
    )
    assert topics.per_queue_parent("switchboard.items.routed.v1.support-de").name == topics.ROUTED
    assert topics.per_queue_parent("switchboard.items.routed.v1.dlq") is None  # the registered DLQ
    with pytest.raises(topics.UnknownTopic):
        topics.qualified("switchboard.items.routed.v2.support-de")
    with pytest.raises(topics.UnknownTopic):
        topics.per_queue(topics.ASSIGNED, "support-de")
    with pytest.raises(ValueError):
        topics.per_queue(topics.ROUTED, "Bad Queue")
