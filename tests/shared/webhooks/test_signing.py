"""Standard Webhooks signing: the specification's published vector, and what verify refuses.

The vector is the one every reference library of the specification tests its `sign` with
(standard-webhooks/standard-webhooks, e.g. `libraries/python/tests/test_webhooks.py`,
`libraries/go/webhook_test.go`, `libraries/csharp/.../WebhookTest.cs`): secret
`whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw`, id `msg_p5jXN8AQM9LWM0D4loKWxJek`, timestamp
1614265330, body `{"test": 2432232314}`, signature
`v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=`.
"""

import base64
from datetime import UTC, datetime, timedelta

import pytest
import standardwebhooks.webhooks

from shared.webhooks.signing import SignatureInvalid, new_secret, signed_headers, verify

VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIME = datetime.fromtimestamp(1614265330, UTC)
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
VECTOR_HEADERS = {
    "webhook-id": VECTOR_ID,
    "webhook-timestamp": "1614265330",
    "webhook-signature": VECTOR_SIGNATURE,
}


def test_signing_gives_the_published_signature() -> None:
    headers = signed_headers(
        VECTOR_SECRET, message_id=VECTOR_ID, timestamp=VECTOR_TIME, body=VECTOR_BODY
    )
    assert headers == VECTOR_HEADERS


def test_verify_accepts_the_published_vector_at_its_time(monkeypatch: pytest.MonkeyPatch) -> None:
    class AtTheVectorsTime(datetime):
        @classmethod
        def now(cls, tz: object = None) -> "AtTheVectorsTime":
            return cls.fromtimestamp(1614265330 + 60, UTC)

    monkeypatch.setattr(standardwebhooks.webhooks, "datetime", AtTheVectorsTime)
    verify(VECTOR_SECRET, VECTOR_HEADERS, VECTOR_BODY)
    with pytest.raises(SignatureInvalid):
        verify(VECTOR_SECRET, VECTOR_HEADERS, VECTOR_BODY + b" ")


def test_the_published_vector_replayed_today_is_refused() -> None:
    with pytest.raises(SignatureInvalid, match="too old"):
        verify(VECTOR_SECRET, VECTOR_HEADERS, VECTOR_BODY)


def test_a_new_secret_is_32_random_bytes_in_the_whsec_form() -> None:
    secrets = {new_secret() for _ in range(20)}
    assert len(secrets) == 20
    for secret in secrets:
        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32


def _signed(secret: str, *, at: datetime | None = None, body: bytes = b'{"a":1}') -> dict[str, str]:
    return signed_headers(secret, message_id="evt_1", timestamp=at or datetime.now(UTC), body=body)


def test_a_fresh_delivery_verifies() -> None:
    secret = new_secret()
    verify(secret, _signed(secret), b'{"a":1}')


def test_header_names_are_matched_whatever_their_case() -> None:
    secret = new_secret()
    headers = {name.title(): value for name, value in _signed(secret).items()}
    verify(secret, headers, b'{"a":1}')


def test_a_timestamp_within_the_tolerance_verifies() -> None:
    secret = new_secret()
    earlier = datetime.now(UTC) - timedelta(minutes=4)
    verify(secret, _signed(secret, at=earlier), b'{"a":1}')


def test_a_signature_with_another_secret_is_refused() -> None:
    with pytest.raises(SignatureInvalid):
        verify(new_secret(), _signed(new_secret()), b'{"a":1}')


def test_a_changed_body_is_refused() -> None:
    secret = new_secret()
    with pytest.raises(SignatureInvalid):
        verify(secret, _signed(secret), b'{"a":2}')


def test_a_changed_id_is_refused() -> None:
    secret = new_secret()
    headers = {**_signed(secret), "webhook-id": "evt_2"}
    with pytest.raises(SignatureInvalid):
        verify(secret, headers, b'{"a":1}')


def test_a_delivery_older_than_five_minutes_is_refused() -> None:
    secret = new_secret()
    old = datetime.now(UTC) - timedelta(minutes=6)
    with pytest.raises(SignatureInvalid, match="too old"):
        verify(secret, _signed(secret, at=old), b'{"a":1}')


def test_a_delivery_from_the_future_is_refused() -> None:
    secret = new_secret()
    future = datetime.now(UTC) + timedelta(minutes=6)
    with pytest.raises(SignatureInvalid, match="too new"):
        verify(secret, _signed(secret, at=future), b'{"a":1}')


def test_a_moved_timestamp_is_refused() -> None:
    # Re-dating an old delivery to pass the tolerance breaks its signature.
    secret = new_secret()
    old = datetime.now(UTC) - timedelta(minutes=30)
    headers = {
        **_signed(secret, at=old),
        "webhook-timestamp": str(int(datetime.now(UTC).timestamp())),
    }
    with pytest.raises(SignatureInvalid):
        verify(secret, headers, b'{"a":1}')


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_missing_header_is_refused(missing: str) -> None:
    secret = new_secret()
    headers = _signed(secret)
    del headers[missing]
    with pytest.raises(SignatureInvalid):
        verify(secret, headers, b'{"a":1}')


@pytest.mark.parametrize(
    ("name", "value"),
    [("webhook-signature", "v1,"), ("webhook-signature", "garbage"), ("webhook-timestamp", "soon")],
)
def test_a_malformed_header_is_refused(name: str, value: str) -> None:
    secret = new_secret()
    headers = {**_signed(secret), name: value}
    with pytest.raises(SignatureInvalid):
        verify(secret, headers, b'{"a":1}')


def test_one_matching_signature_of_several_verifies() -> None:
    # Secret rotation: the header may carry a signature per secret, space-separated.
    old, new = new_secret(), new_secret()
    headers = _signed(new)
    headers["webhook-signature"] = (
        _signed(old)["webhook-signature"] + " " + headers["webhook-signature"]
    )
    verify(new, headers, b'{"a":1}')


@pytest.mark.parametrize("message_id", ["", "evt.1", "evt 1", "evt\n1"])
def test_an_id_that_would_confuse_the_signed_text_is_refused(message_id: str) -> None:
    with pytest.raises(ValueError, match="webhook id"):
        signed_headers(new_secret(), message_id=message_id, timestamp=datetime.now(UTC), body=b"")


def test_a_naive_timestamp_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        signed_headers(new_secret(), message_id="evt_1", timestamp=datetime(2026, 1, 1), body=b"")
