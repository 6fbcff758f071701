"""Standard Webhooks signing and verification: interoperable with the reference library,
strict on headers, total on hostile input."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks import Webhook

from services.ingestor.errors import SignatureRejected
from services.ingestor.platforms.standard_signing import secret_key, sign, verify

SECRET = "whsec_" + base64.b64encode(b"unit-test-secret-0123456789").decode()
KEY = secret_key(SECRET)
NOW = 1_800_000_000


def check(headers: dict, body: bytes, tolerance_s: int = 300, now: float = NOW):
    return verify(KEY, headers, body, tolerance_s=tolerance_s, now=now)


def reason(headers: dict, body: bytes, **kw) -> str:
    with pytest.raises(SignatureRejected) as caught:
        check(headers, body, **kw)
    return caught.value.reason


@pytest.mark.parametrize("body", ["{}", '{"type": "message.created", "text": "Grüße 🚀"}', ""])
def test_signatures_match_the_reference_library(body):
    ours = sign(SECRET, "msg_1", NOW, body)
    theirs = Webhook(SECRET).sign("msg_1", datetime.fromtimestamp(NOW, UTC), body)
    assert ours["webhook-signature"] == theirs


def test_reference_library_accepts_our_headers_and_we_accept_its_own():
    headers = sign(SECRET, "msg_2", None, b'{"a": 1}')
    Webhook(SECRET).verify(b'{"a": 1}', headers, json_parse=False)
    ts = int(headers["webhook-timestamp"])
    theirs = Webhook(SECRET).sign("msg_2", datetime.fromtimestamp(ts, UTC), '{"a": 1}')
    assert verify(
        KEY, {**headers, "webhook-signature": theirs}, b'{"a": 1}', tolerance_s=300, now=ts
    )


def test_good_signature_verifies_and_returns_id_and_timestamp():
    verified = check(sign(SECRET, "msg_3", NOW, b"{}"), b"{}")
    assert (verified.webhook_id, verified.timestamp) == ("msg_3", NOW)


def test_any_of_several_signatures_may_match():
    good = sign(SECRET, "msg_4", NOW, b"{}")["webhook-signature"]
    header = f"v1,{base64.b64encode(b'x' * 32).decode()} v2,whatever  {good}"
    assert check({**sign(SECRET, "msg_4", NOW, b"{}"), "webhook-signature": header}, b"{}")


def test_non_utf8_body_is_verified_over_its_raw_bytes():
    body = b"\xff\xfe not utf-8"
    assert check(sign(SECRET, "msg_5", NOW, body), body)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda h: {**h, "webhook-id": "msg_other"},
        lambda h: {**h, "webhook-signature": "v1,AAAA"},
        lambda h: {**h, "webhook-signature": h["webhook-signature"].replace("v1,", "v2,")},
        lambda h: {**h, "webhook-signature": "v1"},
        lambda h: {**h, "webhook-signature": "v1,@@@not-base64"},
        lambda h: sign(
            "whsec_" + base64.b64encode(b"another secret").decode(), "msg_6", NOW, b"{}"
        ),
    ],
)
def test_wrong_or_junk_signatures_are_rejected_not_crashed(mutate):
    assert reason(mutate(sign(SECRET, "msg_6", NOW, b"{}")), b"{}") == "bad_signature"


def test_tampered_body_is_rejected():
    assert reason(sign(SECRET, "msg_7", NOW, b'{"a":1}'), b'{"a":2}') == "bad_signature"


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_each_missing_header_is_named(missing):
    headers = {k: v for k, v in sign(SECRET, "msg_8", NOW, b"{}").items() if k != missing}
    with pytest.raises(SignatureRejected, match=missing) as caught:
        check(headers, b"{}")
    assert caught.value.reason == "missing_signature_headers"


@pytest.mark.parametrize(
    "stamp", ["1800000000.5", "nan", "-1", "1e9", "１８００", "", "99999999999999"]
)
def test_malformed_timestamps_are_rejected(stamp):
    headers = {**sign(SECRET, "msg_9", NOW, b"{}"), "webhook-timestamp": stamp}
    assert reason(headers, b"{}") in {"invalid_timestamp", "missing_signature_headers"}


@pytest.mark.parametrize("age", [301, -301, 10**9])
def test_timestamps_outside_the_tolerance_are_stale(age):
    assert reason(sign(SECRET, "msg_10", NOW - age, b"{}"), b"{}") == "stale_timestamp"


def test_tolerance_comes_from_the_caller():
    headers = sign(SECRET, "msg_11", NOW - 500, b"{}")
    assert check(headers, b"{}", tolerance_s=600)
    assert reason(headers, b"{}", tolerance_s=300) == "stale_timestamp"


def test_header_names_are_case_insensitive():
    headers = {k.upper(): v for k, v in sign(SECRET, "msg_12", NOW, b"{}").items()}
    assert check(headers, b"{}")


def test_secret_parsing_accepts_unpadded_and_refuses_junk_without_echoing_it():
    assert secret_key(SECRET.rstrip("=")) == KEY
    with pytest.raises(ValueError) as caught:
        secret_key("whsec_sup3r$ecret!")
    assert "sup3r" not in str(caught.value)
    with pytest.raises(ValueError):
        secret_key("whsec_")


@given(
    webhook_id=st.text(max_size=40),
    stamp=st.text(max_size=20),
    sig=st.text(max_size=200),
    body=st.binary(),
)
def test_verify_only_ever_raises_signature_rejected(webhook_id, stamp, sig, body):
    headers = {"webhook-id": webhook_id, "webhook-timestamp": stamp, "webhook-signature": sig}
    with pytest.raises(SignatureRejected):
        check(headers, body)
