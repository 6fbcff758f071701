"""Platform signatures: the exact header formats each platform documents, rotation, and refusals."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from services.ingestor.errors import SignatureRejected
from services.ingestor.platforms import signatures as ps

BODY = b'{"object":"page","entry":[]}'


def test_header_formats_match_the_platform_documentation():
    assert (
        ps.meta_signature("s", BODY) == "sha256=" + hmac.new(b"s", BODY, hashlib.sha256).hexdigest()
    )
    assert (
        ps.x_signature("s", BODY)
        == "sha256=" + base64.b64encode(hmac.new(b"s", BODY, hashlib.sha256).digest()).decode()
    )
    assert (
        ps.x_crc_response("s", "tok")
        == "sha256=" + base64.b64encode(hmac.new(b"s", b"tok", hashlib.sha256).digest()).decode()
    )
    assert (
        ps.websub_signature("s", BODY) == "sha1=" + hmac.new(b"s", BODY, hashlib.sha1).hexdigest()
    )


@pytest.mark.parametrize(
    "scheme, sign",
    [(ps.META, ps.meta_signature), (ps.X, ps.x_signature), (ps.WEBSUB, ps.websub_signature)],
)
def test_any_active_secret_verifies_and_others_are_refused(scheme, sign):
    keys = [b"new", b"old"]
    ps.check_hmac(
        scheme, sign("old", BODY), keys, BODY
    )  # mid-rotation: the previous secret still works
    ps.check_hmac(scheme, sign("new", BODY), keys, BODY)
    for header, reason in [
        (None, "missing_signature"),
        ("", "missing_signature"),
        (sign("other", BODY), "bad_signature"),
        (sign("new", BODY + b" "), "bad_signature"),
        ("sha256=zz", "bad_signature"),
        (sign("new", BODY).split("=", 1)[1], "bad_signature"),
        ("md5=abc", "bad_signature"),
    ]:
        with pytest.raises(SignatureRejected) as caught:
            ps.check_hmac(scheme, header, keys, BODY)
        assert caught.value.reason == reason


def test_telegram_secret_token():
    ps.check_token("t-2", [b"t-1", b"t-2"])
    for given, reason in [
        (None, "missing_signature"),
        ("", "missing_signature"),
        ("t-3", "bad_signature"),
        ("t-1 ", "bad_signature"),
    ]:
        with pytest.raises(SignatureRejected) as caught:
            ps.check_token(given, [b"t-1", b"t-2"])
        assert caught.value.reason == reason
