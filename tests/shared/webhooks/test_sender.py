"""The sender against real receivers on 127.0.0.1: what arrives, and how trouble is reported.

Development's policy (`allow_private=True`) lets the sender reach 127.0.0.1; a stub resolver
gives the receivers names, so HTTPS is checked against a name while the connection goes to
the pinned address. The refusals of private addresses are in
tests/security/test_subscriber_url_reaches_the_port_network.py.
"""

import gzip
import socket
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

import pytest

from shared.webhooks.egress import DeliveryResult, EgressPolicy, Sender
from shared.webhooks.envelope import CONTENT_TYPE, cloud_event
from shared.webhooks.signing import new_secret, signed_headers, verify
from tests.shared.webhooks.receivers import (
    Receiver,
    answer,
    endless_body,
    never_answer,
    trickle,
    within,
)
from tests.shared.webhooks.tls import Authority

DEV = EgressPolicy(allow_private=True, connect_timeout=2.0, total_timeout=2.0)


def resolving(table: dict[str, list[str]]) -> "StubResolver":
    return StubResolver(table)


class StubResolver:
    """Answers names from a table, counting the questions."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.asked: list[str] = []

    async def __call__(self, host: str, _port: int) -> Sequence[str]:
        self.asked.append(host)
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return self.table[host]


@pytest.fixture
async def sender() -> AsyncIterator[Sender]:
    sender = Sender(DEV)
    yield sender
    await sender.aclose()


def _delivery(secret: str) -> tuple[dict[str, str], bytes]:
    now = datetime.now(UTC)
    body = cloud_event(
        event_id="evt_1",
        event_type="nl.ketenpas.release.cancelled",
        source="https://release.ketenpas.example",
        subject="rel_1",
        time=now,
        data={"release_id": "rel_1"},
    )
    return signed_headers(secret, message_id="evt_1", timestamp=now, body=body), body


async def test_a_delivery_arrives_whole_and_verifies_at_the_receiver(sender: Sender) -> None:
    secret = new_secret()
    headers, body = _delivery(secret)
    async with Receiver(answer(204)) as receiver:
        result = await within(sender.post(receiver.url(), headers, body))
    assert result.ok and result.status_code == 204 and result.error is None
    [seen] = receiver.requests
    assert seen.method == "POST" and seen.target == "/hook"
    assert seen.body == body
    assert seen.headers["content-type"] == CONTENT_TYPE
    assert seen.headers["host"] == f"127.0.0.1:{receiver.port}"
    assert seen.headers["user-agent"].startswith("Ketenpas-Webhooks/")
    verify(secret, seen.headers, seen.body)


async def test_a_non_2xx_answer_is_a_failed_delivery_with_its_status(sender: Sender) -> None:
    headers, body = _delivery(new_secret())
    async with Receiver(answer(503, b"busy")) as receiver:
        result = await within(sender.post(receiver.url(), headers, body))
    assert not result.ok
    assert (result.status_code, result.error, result.response_excerpt) == (503, None, b"busy")


async def test_a_redirect_is_not_followed(sender: Sender) -> None:
    headers, body = _delivery(new_secret())
    async with Receiver(answer(204)) as elsewhere:
        moved = answer(307, headers={"location": elsewhere.url("/moved")})
        async with Receiver(moved) as receiver:
            result = await within(sender.post(receiver.url(), headers, body))
    assert not result.ok
    assert (result.status_code, result.error) == (307, "redirect")
    assert elsewhere.connections == 0


async def test_a_receiver_that_never_answers_gets_a_timeout() -> None:
    sender = Sender(EgressPolicy(allow_private=True, total_timeout=0.5))
    try:
        async with Receiver(never_answer) as receiver:
            result = await within(sender.post(receiver.url(), {}, b"{}"))
    finally:
        await sender.aclose()
    assert (result.status_code, result.error, result.ok) == (None, "timeout", False)
    assert len(receiver.requests) == 1


async def test_a_receiver_that_trickles_is_cut_off_by_the_total_deadline() -> None:
    # Each byte comes well within any read timeout; only the deadline over the whole attempt
    # ends it. Without it the answer would take 14 hours and `within` would fail the test.
    sender = Sender(EgressPolicy(allow_private=True, total_timeout=1.0))
    try:
        async with Receiver(trickle) as receiver:
            result = await within(sender.post(receiver.url(), {}, b"{}"))
    finally:
        await sender.aclose()
    assert (result.status_code, result.error) == (None, "timeout")


async def test_an_endless_body_is_read_only_to_the_limit() -> None:
    policy = EgressPolicy(allow_private=True, total_timeout=10.0, max_response_bytes=1000)
    sender = Sender(policy)
    try:
        async with Receiver(endless_body) as receiver:
            result = await within(sender.post(receiver.url(), {}, b"{}"))
            # The sender hung up rather than reading on: the receiver's next write fails.
            await within(receiver.peer_closed.wait())
    finally:
        await sender.aclose()
    assert result.ok and result.status_code == 200
    assert result.response_excerpt == b"x" * 1000


async def test_an_unresolvable_name_is_reported() -> None:
    sender = Sender(DEV, resolver=resolving({}))
    try:
        result = await within(sender.post("https://nowhere.example/hook", {}, b"{}"))
    finally:
        await sender.aclose()
    assert (result.status_code, result.error) == (None, "unresolvable")


async def test_a_closed_port_is_a_connect_error(sender: Sender) -> None:
    async with Receiver(answer(204)) as receiver:
        url = receiver.url()
    result = await within(sender.post(url, {}, b"{}"))
    assert (result.status_code, result.error) == (None, "connect")


async def test_https_to_a_pinned_address_checks_the_certificate_against_the_name(
    authority: Authority,
) -> None:
    resolver = resolving({"receiver.example": ["127.0.0.1"]})
    sender = Sender(DEV, resolver=resolver, verify=authority.client_context())
    try:
        async with Receiver(
            answer(200), ssl_context=authority.server_context("receiver.example")
        ) as receiver:
            result = await within(sender.post(receiver.url(host="receiver.example"), {}, b"{}"))
    finally:
        await sender.aclose()
    assert result.ok, result
    assert receiver.sni_names == ["receiver.example"]
    assert receiver.requests[0].headers["host"] == f"receiver.example:{receiver.port}"
    assert resolver.asked == ["receiver.example"]


async def test_a_certificate_for_another_name_is_refused(authority: Authority) -> None:
    # The pinned connection reaches a server whose certificate names someone else: the
    # check is against the endpoint's name, so the delivery fails before any request.
    resolver = resolving({"receiver.example": ["127.0.0.1"]})
    sender = Sender(DEV, resolver=resolver, verify=authority.client_context())
    try:
        async with Receiver(
            answer(200), ssl_context=authority.server_context("someone-else.example")
        ) as receiver:
            result = await within(sender.post(receiver.url(host="receiver.example"), {}, b"{}"))
    finally:
        await sender.aclose()
    assert (result.status_code, result.error) == (None, "tls")
    assert receiver.requests == []


async def test_a_certificate_of_an_unknown_authority_is_refused(
    authority: Authority, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from tests.shared.webhooks.tls import make_ca

    stranger = make_ca(tmp_path_factory.mktemp("stranger"))
    resolver = resolving({"receiver.example": ["127.0.0.1"]})
    sender = Sender(DEV, resolver=resolver, verify=authority.client_context())
    try:
        async with Receiver(
            answer(200), ssl_context=stranger.server_context("receiver.example")
        ) as receiver:
            result = await within(sender.post(receiver.url(host="receiver.example"), {}, b"{}"))
    finally:
        await sender.aclose()
    assert (result.status_code, result.error) == (None, "tls")
    assert receiver.requests == []


async def test_a_cookie_one_receiver_sets_never_reaches_the_next(sender: Sender) -> None:
    async with Receiver(answer(204, headers={"set-cookie": "track=me; Path=/"})) as receiver:
        first = await within(sender.post(receiver.url(), {}, b"{}"))
        second = await within(sender.post(receiver.url(), {}, b"{}"))
    assert first.ok and second.ok
    assert [("cookie" in seen.headers) for seen in receiver.requests] == [False, False]


async def test_the_caller_cannot_set_the_host_header(sender: Sender) -> None:
    async with Receiver(answer(204)) as receiver:
        result = await within(sender.post(receiver.url(), {"Host": "metadata.internal"}, b"{}"))
    assert result.ok
    assert receiver.requests[0].headers["host"] == f"127.0.0.1:{receiver.port}"


def test_ok_means_a_2xx_without_error() -> None:
    assert DeliveryResult(200, None, 1.0).ok
    assert DeliveryResult(299, None, 1.0).ok
    assert not DeliveryResult(300, "redirect", 1.0).ok
    assert not DeliveryResult(199, None, 1.0).ok
    assert not DeliveryResult(None, "timeout", 1.0).ok
    assert not DeliveryResult(200, "protocol", 1.0).ok


async def test_an_address_that_takes_no_connection_is_passed_over_for_the_next(
    authority: Authority,
) -> None:
    # The name answers 127.0.0.2 first (nothing listens there: the receiver is bound to
    # 127.0.0.1 alone), then 127.0.0.1; both were checked, nothing was sent to the first.
    resolver = resolving({"receiver.example": ["127.0.0.2", "127.0.0.1"]})
    sender = Sender(DEV, resolver=resolver, verify=authority.client_context())
    try:
        async with Receiver(
            answer(204), ssl_context=authority.server_context("receiver.example")
        ) as receiver:
            result = await within(sender.post(receiver.url(host="receiver.example"), {}, b"{}"))
    finally:
        await sender.aclose()
    assert result.ok, result
    assert receiver.requests[0].headers["host"] == f"receiver.example:{receiver.port}"
    assert resolver.asked == ["receiver.example"]


async def test_a_compressed_answer_is_never_unpacked() -> None:
    # A few kilobytes of gzip that would unpack to 10 MB: the limit counts the bytes as
    # received, and nothing is decompressed.
    bomb = gzip.compress(b"\0" * 10_000_000)
    policy = EgressPolicy(allow_private=True, max_response_bytes=100)
    sender = Sender(policy)
    try:
        async with Receiver(answer(200, bomb, {"content-encoding": "gzip"})) as receiver:
            result = await within(sender.post(receiver.url(), {}, b"{}"))
    finally:
        await sender.aclose()
    assert result.ok
    assert result.response_excerpt == bomb[:100]
    assert receiver.requests[0].headers["accept-encoding"] == "identity"


async def test_deliveries_to_one_receiver_share_a_kept_alive_connection(sender: Sender) -> None:
    async with Receiver(answer(204), keep_alive=True) as receiver:
        results = [await within(sender.post(receiver.url(), {}, b"{}")) for _ in range(3)]
    assert all(result.ok for result in results), results
    assert (receiver.connections, len(receiver.requests)) == (1, 3)


async def test_a_connection_kept_for_one_name_never_carries_another_names_delivery(
    authority: Authority,
) -> None:
    # Two names on one address (a shared host), a certificate for the first only: the
    # connection kept alive after the first delivery was checked against the first name,
    # so the second name's delivery must open its own, and fail its certificate check.
    resolver = resolving({"first.example": ["127.0.0.1"], "second.example": ["127.0.0.1"]})
    sender = Sender(DEV, resolver=resolver, verify=authority.client_context())
    try:
        async with Receiver(
            answer(204), ssl_context=authority.server_context("first.example"), keep_alive=True
        ) as receiver:
            first = await within(sender.post(receiver.url(host="first.example"), {}, b"{}"))
            second = await within(sender.post(receiver.url(host="second.example"), {}, b"{}"))
    finally:
        await sender.aclose()
    assert first.ok, first
    assert (second.status_code, second.error) == (None, "tls")
    assert [seen.headers["host"] for seen in receiver.requests] == [
        f"first.example:{receiver.port}"
    ]
    assert receiver.sni_names == ["first.example", "second.example"]
