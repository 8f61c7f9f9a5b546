"""The sealed session cookie: nobody reads or changes it without the key."""

import base64
import json
import os

import pytest

from services.web.session import Session, SessionCookie, Who

KEY = os.urandom(32)


def _who() -> Who:
    return Who("p1", "j.jansen", "Jan", "EU.EORI.NL1", "Haulage", ["carrier"], "driver")


def test_a_sealed_session_opens_to_the_same_session() -> None:
    cookie = SessionCookie(KEY, secure=False)
    session = Session()
    session.sign_in("token-text", 2_000, _who(), 1_000)
    opened = cookie.open(cookie.seal(session))
    assert opened is not None
    assert (opened.token, opened.who, opened.csrf, opened.seen) == (
        "token-text",
        _who(),
        session.csrf,
        1_000,
    )


def test_the_token_is_not_readable_in_the_cookie() -> None:
    cookie = SessionCookie(KEY, secure=False)
    session = Session()
    session.sign_in("eyJhbGciOi-secret-token", 2_000, _who(), 1_000)
    value = cookie.seal(session)
    raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    assert b"secret-token" not in raw and b"j.jansen" not in raw


def test_every_altered_byte_is_refused() -> None:
    cookie = SessionCookie(KEY, secure=False)
    session = Session()
    session.sign_in("t", 2_000, _who(), 1_000)
    raw = bytearray(base64.urlsafe_b64decode(cookie.seal(session) + "=="))
    for position in range(len(raw)):
        altered = bytearray(raw)
        altered[position] ^= 0x01
        value = base64.urlsafe_b64encode(bytes(altered)).decode().rstrip("=")
        assert cookie.open(value) is None, position


def test_another_key_or_another_cookie_name_does_not_open_it() -> None:
    session = Session()
    sealed = SessionCookie(KEY, secure=False).seal(session)
    assert SessionCookie(os.urandom(32), secure=False).open(sealed) is None
    # The name is the associated data: a development cookie is no production cookie.
    assert SessionCookie(KEY, secure=True).open(sealed) is None


def test_garbage_is_no_session() -> None:
    cookie = SessionCookie(KEY, secure=False)
    for value in ("", "x", "!!!!", base64.urlsafe_b64encode(b"\0" * 40).decode(), None):
        assert cookie.open(value) is None


def test_a_session_of_another_format_is_refused() -> None:
    session = Session()
    payload = json.loads(session.to_json())
    payload["v"] = 99
    with pytest.raises(ValueError, match="another session version"):
        Session.from_json(json.dumps(payload).encode())


def test_idle_and_token_expiry() -> None:
    session = Session()
    session.sign_in("t", 2_000, _who(), 1_000)
    assert not session.expired(1_500, idle_seconds=600)
    assert session.expired(1_601, idle_seconds=600)  # idle too long
    assert session.expired(2_000, idle_seconds=5_000)  # the token itself has expired


def test_production_cookie_is_host_prefixed() -> None:
    assert SessionCookie(KEY, secure=True).name.startswith("__Host-")
