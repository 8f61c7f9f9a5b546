"""A subscriber aims Ketenpas's webhooks at the port's own network (server-side request forgery).

The attack: a party with the right to subscribe (or an insider at one) registers an endpoint
that is not on the internet but inside the network Ketenpas runs in: the cloud's metadata
service (169.254.169.254, which hands out credentials), a database or admin port on 10.x or
127.0.0.1, written plainly, as a number (`http://2130706433/`), in octal, as an IPv6 form of
an IPv4 address, behind a name that resolves inside, behind a name whose answer changes
between the check and the connection (DNS rebinding), or behind a redirect. Each delivery
would then be a POST from inside, and its answer a way to probe what lives there.

Why it fails: outside development `check_endpoint_url` refuses every such URL when the
subscription is made (a 422 problem with a stable code), and the sender checks again at each
attempt: it resolves the name once, refuses without connecting when any answer is not a
public address, connects to the address it checked (so a second answer is never asked for),
and never follows a redirect. Real receivers on 127.0.0.1 show that no connection is made.
"""

import socket
from collections.abc import Sequence

import httpx
import pytest

from shared.problems import InvalidInput
from shared.webhooks.egress import EgressPolicy, EndpointRefused, Sender, check_endpoint_url
from tests.shared.webhooks.receivers import Receiver, answer, within

PRODUCTION = EgressPolicy()
# Public addresses, never connected to: a stand-in transport answers for them.
PUBLIC = "93.184.215.14"
PUBLIC_V6 = "2606:2800:21f:cb07::1"


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("https://127.0.0.1/hook", "endpoint_private_address"),
        ("https://127.8.9.10/hook", "endpoint_private_address"),
        ("https://10.0.0.5/hook", "endpoint_private_address"),
        ("https://172.16.0.1/hook", "endpoint_private_address"),
        ("https://172.31.255.254/hook", "endpoint_private_address"),
        ("https://192.168.1.1/hook", "endpoint_private_address"),
        ("https://169.254.169.254/latest/meta-data/", "endpoint_private_address"),
        ("https://100.64.0.1/hook", "endpoint_private_address"),
        ("https://0.0.0.0/hook", "endpoint_private_address"),
        ("https://224.0.0.1/hook", "endpoint_private_address"),
        ("https://255.255.255.255/hook", "endpoint_private_address"),
        ("https://[::1]/hook", "endpoint_private_address"),
        ("https://[::]/hook", "endpoint_private_address"),
        ("https://[fc00::1]/hook", "endpoint_private_address"),
        ("https://[fd00:ec2::254]/hook", "endpoint_private_address"),
        ("https://[fe80::1]/hook", "endpoint_private_address"),
        ("https://[::ffff:127.0.0.1]/hook", "endpoint_private_address"),
        ("https://[::ffff:169.254.169.254]/hook", "endpoint_private_address"),
        ("https://[64:ff9b::a00:5]/hook", "endpoint_private_address"),
        ("https://2130706433/hook", "endpoint_private_address"),
        ("http://2130706433/", "endpoint_private_address"),
        ("https://0x7f000001/hook", "endpoint_private_address"),
        ("https://0x7f.1/hook", "endpoint_private_address"),
        ("https://127.1/hook", "endpoint_private_address"),
        ("https://017700000001/hook", "endpoint_private_address"),
        ("http://0177.0.0.1/", "endpoint_invalid"),
        ("https://0177.0.0.1/hook", "endpoint_invalid"),
        ("https://localhost/hook", "endpoint_private_address"),
        ("https://LOCALHOST:8002/hook", "endpoint_private_address"),
        ("https://admin.localhost/hook", "endpoint_private_address"),
        ("https://localhost./hook", "endpoint_invalid"),
        ("https://[fe80::1%25eth0]/hook", "endpoint_invalid"),
        ("http://hooks.example/", "endpoint_not_https"),
        ("http://127.0.0.1:8002/", "endpoint_not_https"),
        ("file:///etc/passwd", "endpoint_not_https"),
        ("gopher://127.0.0.1:6379/_FLUSHALL", "endpoint_not_https"),
        ("https://user:password@hooks.example/", "endpoint_has_credentials"),
        ("https://hooks.example@127.0.0.1/", "endpoint_has_credentials"),
        ("https://hooks.example\\@127.0.0.1/", "endpoint_invalid"),
        ("https://hooks.example/#fragment", "endpoint_invalid"),
        ("https://hooks .example/", "endpoint_invalid"),
        ("https://hooks.example/\r\nX-Injected: 1", "endpoint_invalid"),
        ("https:///hook", "endpoint_invalid"),
        ("https://hooks.example:0/", "endpoint_invalid"),
        ("https://hooks.example/" + "a" * 2000, "endpoint_invalid"),
    ],
)
def test_an_endpoint_inside_the_network_is_refused_at_subscription(url: str, code: str) -> None:
    with pytest.raises(EndpointRefused) as refused:
        check_endpoint_url(url, PRODUCTION)
    assert refused.value.code == code
    # A refusal is a 422 problem document for the subscriptions API, never a 500.
    assert isinstance(refused.value, InvalidInput) and refused.value.status == 422


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example/ketenpas",
        "https://hooks.example:8443/ketenpas?tenant=7",
        f"https://{PUBLIC}/hook",
        "https://[2606:4700:4700::1111]/hook",
        "https://[::ffff:93.184.215.14]/hook",
    ],
)
def test_a_public_endpoint_is_accepted(url: str) -> None:
    assert check_endpoint_url(url, PRODUCTION) == url


def test_development_allows_loopback_receivers_and_nothing_else_over_http() -> None:
    development = EgressPolicy(allow_private=True)
    assert check_endpoint_url("http://127.0.0.1:9000/hook", development)
    assert check_endpoint_url("http://localhost:9000/hook", development)
    assert check_endpoint_url("https://10.0.0.5/hook", development)
    for url in ("http://10.0.0.5/hook", "http://hooks.example/hook", "http://2130706433/"):
        with pytest.raises(EndpointRefused):
            check_endpoint_url(url, development)


class StubResolver:
    """Answers from a list of answers, one per question; counts the questions."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.asked = 0

    async def __call__(self, host: str, _port: int) -> Sequence[str]:
        self.asked += 1
        if not self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


class StandIn(httpx.AsyncBaseTransport):
    """The internet, for the public address: records each request and answers it itself.

    Anything addressed elsewhere goes to a real transport, so a request that escaped the
    pinning would reach the local receiver and the test would see it.
    """

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.requests: list[httpx.Request] = []
        self.real = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host not in (PUBLIC, PUBLIC_V6):
            return await self.real.handle_async_request(request)
        self.requests.append(request)
        return httpx.Response(
            self.response.status_code, headers=self.response.headers, stream=httpx.ByteStream(b"")
        )

    async def aclose(self) -> None:
        await self.real.aclose()


async def _post(sender: Sender, url: str) -> tuple[int | None, str | None]:
    try:
        result = await within(sender.post(url, {"content-type": "application/json"}, b"{}"))
    finally:
        await sender.aclose()
    return result.status_code, result.error


async def test_a_literal_loopback_endpoint_gets_no_connection() -> None:
    async with Receiver(answer(204)) as receiver:
        for url in (
            f"https://127.0.0.1:{receiver.port}/hook",
            f"https://[::ffff:127.0.0.1]:{receiver.port}/hook",
            f"https://2130706433:{receiver.port}/hook",
            f"http://127.0.0.1:{receiver.port}/hook",
        ):
            assert (await _post(Sender(PRODUCTION), url))[1] in ("refused_address", "invalid_url")
    assert receiver.connections == 0


async def test_a_name_that_resolves_to_loopback_gets_no_connection() -> None:
    async with Receiver(answer(204)) as receiver:
        sender = Sender(PRODUCTION, resolver=StubResolver(["127.0.0.1"]))
        outcome = await _post(sender, f"https://inside.example:{receiver.port}/hook")
    assert outcome == (None, "refused_address")
    assert receiver.connections == 0


async def test_localhost_through_the_systems_resolver_gets_no_connection() -> None:
    async with Receiver(answer(204)) as receiver:
        outcome = await _post(Sender(PRODUCTION), f"https://localhost:{receiver.port}/hook")
    assert outcome == (None, "refused_address")
    assert receiver.connections == 0


@pytest.mark.parametrize(
    "inside", ["127.0.0.1", "10.1.2.3", "169.254.169.254", "::1", "fd00::1", "::ffff:10.0.0.1"]
)
async def test_one_inside_address_among_public_ones_refuses_the_delivery(inside: str) -> None:
    stand_in = StandIn(httpx.Response(204))
    resolver = StubResolver([PUBLIC, inside])
    sender = Sender(PRODUCTION, resolver=resolver, transport=stand_in)
    assert await _post(sender, "https://mixed.example/hook") == (None, "refused_address")
    assert stand_in.requests == []


async def test_dns_rebinding_cannot_move_the_connection_inside() -> None:
    # The name answers a public address first, 127.0.0.1 from then on. The delivery goes to
    # the address that was checked, under the name (Host header, TLS name); the next attempt
    # is judged on its own answer and refused.
    async with Receiver(answer(204)) as receiver:
        stand_in = StandIn(httpx.Response(204))
        resolver = StubResolver([PUBLIC], ["127.0.0.1"])
        sender = Sender(PRODUCTION, resolver=resolver, transport=stand_in)
        url = f"https://rebind.example:{receiver.port}/hook"
        try:
            first = await within(sender.post(url, {}, b"{}"))
            second = await within(sender.post(url, {}, b"{}"))
        finally:
            await sender.aclose()
    assert first.ok
    [request] = stand_in.requests
    assert request.url.host == PUBLIC and request.url.port == receiver.port
    assert request.headers["host"] == f"rebind.example:{receiver.port}"
    assert request.extensions["sni_hostname"] == "rebind.example"
    assert resolver.asked == 2  # once per attempt, never again between check and connect
    assert (second.status_code, second.error) == (None, "refused_address")
    assert receiver.connections == 0


async def test_a_redirect_into_the_network_is_not_followed() -> None:
    async with Receiver(answer(204)) as receiver:
        inside = f"http://127.0.0.1:{receiver.port}/latest/meta-data/"
        stand_in = StandIn(httpx.Response(302, headers={"location": inside}))
        sender = Sender(PRODUCTION, resolver=StubResolver([PUBLIC]), transport=stand_in)
        outcome = await _post(sender, "https://hooks.example/hook")
    assert outcome == (302, "redirect")
    assert len(stand_in.requests) == 1
    assert receiver.connections == 0


async def test_a_public_ipv6_answer_is_pinned_too() -> None:
    stand_in = StandIn(httpx.Response(204))
    sender = Sender(PRODUCTION, resolver=StubResolver([PUBLIC_V6]), transport=stand_in)
    assert await _post(sender, "https://v6.example/hook") == (204, None)
    [request] = stand_in.requests
    assert request.url.host == PUBLIC_V6
    assert str(request.url) == f"https://[{PUBLIC_V6}]/hook"
    assert request.headers["host"] == "v6.example"
