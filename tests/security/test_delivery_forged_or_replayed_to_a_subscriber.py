"""Someone forges a delivery to a subscriber, or replays one he captured.

The attack: an insider at the subscriber (or anyone on the path to its endpoint, or who
reads its proxy's log) holds a genuine delivery, say `release.cancelled` or a lifted hold.
He sends it again later, so that the terminal's system acts on it twice or after the fact;
he changes its body (another container, another release) and sends that; he re-dates an old
one to pass the time check; or, without the secret, he makes one up.

Why it fails: each delivery is signed with the subscription's own secret over
`webhook-id.webhook-timestamp.body` (Standard Webhooks). The check the receivers' page
documents (docs/webhook-receivers.md), run here exactly as published, refuses a signature
that does not match, an altered body or id, a timestamp more than 5 minutes from now (and a
re-dated one no longer matches its signature); within those 5 minutes a replay carries a
`webhook-id` already handled and is answered without being handled again.
"""

from datetime import UTC, datetime, timedelta

import pytest

from shared.webhooks.signing import new_secret, signed_headers
from tests.shared.webhooks.receiver_doc import delivery, library_receiver, raw_verifier


def test_a_replay_within_five_minutes_is_not_handled_again() -> None:
    secret = new_secret()
    receive, handled = library_receiver(secret)
    headers, body = delivery(secret)
    assert receive(headers, body) == 204
    assert receive(headers, body) == 204
    assert len(handled) == 1


@pytest.mark.parametrize("kind", ["library", "raw"])
def test_a_captured_delivery_replayed_later_is_refused(kind: str) -> None:
    secret = new_secret()
    headers, body = delivery(secret, at=datetime.now(UTC) - timedelta(minutes=6))
    if kind == "library":
        receive, handled = library_receiver(secret)
        assert receive(headers, body) == 400 and handled == []
    else:
        assert raw_verifier()(secret, headers, body) is False


@pytest.mark.parametrize("kind", ["library", "raw"])
def test_a_redated_delivery_is_refused(kind: str) -> None:
    secret = new_secret()
    headers, body = delivery(secret, at=datetime.now(UTC) - timedelta(hours=2))
    headers["webhook-timestamp"] = str(int(datetime.now(UTC).timestamp()))
    if kind == "library":
        receive, handled = library_receiver(secret)
        assert receive(headers, body) == 400 and handled == []
    else:
        assert raw_verifier()(secret, headers, body) is False


@pytest.mark.parametrize("kind", ["library", "raw"])
def test_an_altered_delivery_is_refused(kind: str) -> None:
    secret = new_secret()
    headers, body = delivery(secret)
    altered = body.replace(b"rel_1", b"rel_2")
    assert altered != body
    new_id = {**headers, "webhook-id": "dlv_2"}
    for attempt_headers, attempt_body in ((headers, altered), (new_id, body)):
        if kind == "library":
            receive, handled = library_receiver(secret)
            assert receive(attempt_headers, attempt_body) == 400 and handled == []
        else:
            assert raw_verifier()(secret, attempt_headers, attempt_body) is False


@pytest.mark.parametrize("kind", ["library", "raw"])
def test_a_delivery_forged_without_the_secret_is_refused(kind: str) -> None:
    secret = new_secret()
    _, body = delivery(secret)
    forged = signed_headers(
        new_secret(), message_id="dlv_9", timestamp=datetime.now(UTC), body=body
    )
    unsigned = {name: value for name, value in forged.items() if name != "webhook-signature"}
    for headers in (forged, unsigned):
        if kind == "library":
            receive, handled = library_receiver(secret)
            assert receive(headers, body) == 400 and handled == []
        else:
            assert raw_verifier()(secret, headers, body) is False
