"""Sending a delivery to a subscriber's endpoint without opening the port's network to it.

A subscriber chooses the URL Ketenpas posts to, so a careless check turns the dispatcher into
a way into the port's own network (server-side request forgery): the cloud's metadata
service at 169.254.169.254, a database's HTTP port on 10.x, the services' own admin routes
on 127.0.0.1. The rules, in two places:

- `check_endpoint_url`, when a subscription is made: syntax only, no DNS (a name can resolve
  differently tomorrow). HTTPS only (plain HTTP to loopback in development), no user
  information, no fragment, a host that is a DNS name or an IP literal in its one canonical
  form, at most 2000 characters. An IP literal, or a name such as `localhost`, that is not a
  public address is refused. Numbers that some resolvers read as addresses (`2130706433`,
  `0x7f.1`, `0177.0.0.1`) are refused: resolvers disagree on them, and one that is public
  can be written in dotted decimal.
- `Sender.post`, at every attempt: the URL is checked again, the name is resolved, and the
  delivery is refused without any connection when ANY address of the answer is not public.
  The request then goes to those checked addresses themselves (the first that takes a
  connection, at most three tried), so a second resolution (DNS rebinding: a public answer
  for the check, 127.0.0.1 a moment later for the connection) never takes place.

How the address is pinned, with httpx alone: the request URL carries the checked IP in
place of the name, the `Host` header carries the name, and the httpx request extension
`sni_hostname` (passed by httpcore as `server_hostname` to the TLS handshake) carries the
name too. Python's TLS then sends the name as SNI and checks the certificate against the
name, not the IP, with httpx's default verification (`check_hostname`, certifi's trust
store). The other way, a custom httpcore network backend that swaps the
address inside `connect_tcp`, needs httpcore's connection pool built by hand in place of
httpx's transport; the extension is public API of httpx and keeps httpx's transport whole.
Because a client's pool keys connections by the URL's origin, which is now an IP, a
kept-alive connection opened for one name could carry the next request for another name on
the same IP (a shared host or CDN) under the first name's certificate. So each name gets a
client of its own (at most `MAX_CLIENTS`, the least recently used closed first): a
connection is only ever reused for the name whose certificate it checked, and deliveries to
one receiver share kept-alive connections instead of paying a connection and a TLS
handshake each (at a busy gate, a subscriber gets several deliveries a second).

The rest of a hostile endpoint's tricks: redirects are never followed (a 3xx is a failed
delivery, error "redirect", as the Standard Webhooks specification advises); the connect
timeout and a total deadline over resolution, connection, request and response together
(httpx's own timeouts are per operation, so an endpoint that trickles a byte a second would
never trip them); at most `max_response_bytes` of the response body are kept, and reading
stops there (the transport reads in chunks of at most 64 KiB, so no more than one chunk
beyond the limit ever reaches memory); the response is asked for without compression, so
the limit counts what is stored, not what a small compressed bomb would unpack to; no
proxy from the environment, no cookies kept from one delivery to the next. A 2xx whose
body is longer than the limit is still a delivery: the status is the answer, the body only
an excerpt for the subscriber's delivery log.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import ssl
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from http.cookiejar import Cookie, CookieJar, CookiePolicy
from typing import Final
from urllib.request import Request

import httpx

from shared.problems import InvalidInput
from shared.webhooks.envelope import CONTENT_TYPE

__all__ = [
    "DeliveryResult",
    "EgressPolicy",
    "EndpointRefused",
    "Resolver",
    "Sender",
    "check_endpoint_url",
    "is_public_address",
    "system_resolver",
]

MAX_URL_LENGTH: Final = 2000
# Receivers whose connections are kept at once, and how many and how long for each.
MAX_CLIENTS: Final = 256
KEEPALIVE_CONNECTIONS: Final = 8
KEEPALIVE_SECONDS: Final = 15.0
USER_AGENT: Final = "Ketenpas-Webhooks/1"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) -> the addresses the name resolves to, as text.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]


@dataclass(frozen=True)
class EgressPolicy:
    """What the sender may reach and how long and how much it waits for."""

    allow_private: bool = False  # True only in development (tests use 127.0.0.1 receivers)
    connect_timeout: float = 2.0
    total_timeout: float = 5.0
    max_response_bytes: int = 4096


class EndpointRefused(InvalidInput):
    """A subscriber's endpoint Ketenpas will not post to; a 422 problem with a stable code.

    Codes: endpoint_not_https, endpoint_has_credentials, endpoint_invalid,
    endpoint_private_address, endpoint_unresolvable.
    """

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(code, detail)


@dataclass(frozen=True)
class DeliveryResult:
    """How one attempt went; never an exception for the network's or the receiver's trouble."""

    status_code: int | None
    # None, or "timeout", "connect", "tls", "refused_address", "unresolvable", "invalid_url",
    # "redirect", "protocol", "network".
    error: str | None
    elapsed_ms: float
    # At most `max_response_bytes` of the response body, for the subscriber's delivery log.
    response_excerpt: bytes = b""

    @property
    def ok(self) -> bool:
        """A 2xx answer and no error."""
        return self.error is None and self.status_code is not None and 200 <= self.status_code < 300


# --- addresses ------------------------------------------------------------------------------

_NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052, the IPv4 address inside
_NAT64_LOCAL: Final = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215, local use
_SHARED: Final = ipaddress.IPv4Network("100.64.0.0/10")  # RFC 6598, carrier-grade NAT


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, NAT64, 6to4), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def is_public_address(address: IPAddress) -> bool:
    """Whether an address is on the public internet: not private, loopback, link-local,
    multicast, reserved, unspecified, shared (100.64/10), nor an IPv6 form of such an IPv4."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.is_site_local or address in _NAT64_LOCAL:
            return False
        # An IPv6 form of an IPv4 address is judged by the IPv4 address (a DNS64 resolver
        # answers 64:ff9b::x.y.z.w for every IPv4-only name, public or not).
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return is_public_address(embedded)
    if (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    ):
        return False
    return not (isinstance(address, ipaddress.IPv4Address) and address in _SHARED)


# --- URL syntax -----------------------------------------------------------------------------

_LABEL: Final = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# A host made only of what inet_aton reads as a number: digits, hex, dots.
_NUMERIC_HOST: Final = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+))*\.?$")
_LOOPBACK_NAMES: Final = ("localhost",)


@dataclass(frozen=True)
class _Endpoint:
    url: httpx.URL
    host: str  # the ASCII (IDNA) name, or the IP literal without brackets
    address: IPAddress | None  # set when the host is an IP literal
    port: int


def _refuse(code: str, detail: str) -> EndpointRefused:
    return EndpointRefused(code, detail)


def _literal_address(host: str) -> IPAddress | None:
    """The address an IP-literal host names; None for a DNS name.

    Refuses the numeric forms resolvers disagree on (see the module docstring).
    """
    if ":" in host:  # only an IPv6 literal has a colon inside the host
        if "%" in host:
            raise _refuse("endpoint_invalid", "an IPv6 zone identifier is not allowed")
        try:
            return ipaddress.IPv6Address(host)
        except ValueError:
            raise _refuse("endpoint_invalid", "the host is not a valid IPv6 address") from None
    if not _NUMERIC_HOST.match(host):
        return None
    try:
        canonical = ipaddress.IPv4Address(host)
    except ValueError:
        canonical = None
    if canonical is not None:
        return canonical
    try:
        meant = ipaddress.IPv4Address(socket.inet_aton(host.rstrip(".")))
    except OSError:
        raise _refuse("endpoint_invalid", "the host is neither a name nor an address") from None
    if not is_public_address(meant):
        raise _refuse("endpoint_private_address", f"the host is another way of writing {meant}")
    raise _refuse("endpoint_invalid", f"write the address as {meant}")


def _parse(url: str, policy: EgressPolicy) -> _Endpoint:
    """The endpoint a URL names, or EndpointRefused (the rules of `check_endpoint_url`)."""
    if len(url) > MAX_URL_LENGTH:
        raise _refuse("endpoint_invalid", f"the URL is longer than {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise _refuse("endpoint_invalid", "the URL holds whitespace or control characters")
    if "\\" in url:
        raise _refuse("endpoint_invalid", "the URL holds a backslash")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError):
        raise _refuse("endpoint_invalid", "the URL cannot be parsed") from None
    if parsed.scheme not in ("https", "http"):
        raise _refuse("endpoint_not_https", "the endpoint must be an https URL")
    if parsed.userinfo:
        raise _refuse("endpoint_has_credentials", "the URL must not carry a user or password")
    if parsed.fragment or "#" in url:
        raise _refuse("endpoint_invalid", "the URL must not carry a fragment")
    host = parsed.raw_host.decode("ascii").lower()
    if not host:
        raise _refuse("endpoint_invalid", "the URL has no host")
    port = parsed.port if parsed.port is not None else (443 if parsed.scheme == "https" else 80)
    if not 0 < port < 65536:
        raise _refuse("endpoint_invalid", "the port is out of range")

    address = _literal_address(host)
    if address is None:
        labels = host.split(".")
        if len(host) > 253 or not all(_LABEL.match(label) for label in labels):
            raise _refuse("endpoint_invalid", "the host is not a valid DNS name")
    loopback = (address is not None and address.is_loopback) or (
        address is None and (host in _LOOPBACK_NAMES or host.endswith(".localhost"))
    )
    if parsed.scheme == "http" and not (policy.allow_private and loopback):
        raise _refuse("endpoint_not_https", "the endpoint must be an https URL")
    if not policy.allow_private:
        if loopback:
            raise _refuse("endpoint_private_address", "the host is this machine (loopback)")
        if address is not None and not is_public_address(address):
            raise _refuse("endpoint_private_address", f"{address} is not a public address")
    return _Endpoint(url=parsed, host=host, address=address, port=port)


def check_endpoint_url(url: str, policy: EgressPolicy) -> str:
    """Syntax only (no DNS), for subscription creation: https only unless allow_private
    (then http to loopback allowed too), no userinfo, no fragment, a host, length <= 2000;
    a literal IP address that is private/loopback/link-local/multicast/reserved/unspecified/
    shared (100.64/10)/IPv4-mapped/NAT64 of those is refused unless allow_private. Returns
    the normalised URL."""
    return str(_parse(url, policy).url)


# --- sending --------------------------------------------------------------------------------


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the system's resolver gives for a name (all of them, in its order)."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return [str(info[4][0]) for info in infos]


class _NoCookies(CookiePolicy):
    """Keep no cookie: what one receiver sets must never reach another."""

    netscape = True
    rfc2965 = False
    hide_cookie2 = True

    def set_ok(self, cookie: Cookie, request: Request) -> bool:
        return False

    def return_ok(self, cookie: Cookie, request: Request) -> bool:
        return False

    def domain_return_ok(self, domain: str, request: Request) -> bool:
        return False

    def path_return_ok(self, path: str, request: Request) -> bool:
        return False


def _caused_by_tls(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


_URL_ERRORS: Final = {
    "endpoint_private_address": "refused_address",
    "endpoint_unresolvable": "unresolvable",
}
# A connection that timed out: the next address may be tried ("timeout" if none is left).
_NO_CONNECTION: Final = "connect_timeout"
# At most this many addresses of one answer are tried, each within the total deadline.
_MAX_ADDRESSES: Final = 3
# Headers the sender sets itself; a caller's value for them is dropped.
_OWN_HEADERS: Final = frozenset({"host", "content-length", "transfer-encoding", "connection"})


class Sender:
    """Posts deliveries under an EgressPolicy; one per dispatcher, closed with `aclose`."""

    def __init__(
        self,
        policy: EgressPolicy,
        *,
        resolver: Resolver | None = None,
        verify: ssl.SSLContext | bool = True,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """`resolver`, `verify` and `transport` are for tests: a stub resolver, a test CA,
        a recording transport. Production uses the defaults."""
        self._policy = policy
        self._resolve: Resolver = resolver or system_resolver
        # One TLS context for every receiver's client: building one reads the whole trust
        # store, which the dispatcher's profile showed costing more than many deliveries.
        self._verify = httpx.create_ssl_context(trust_env=False) if verify is True else verify
        self._transport = transport
        # One client per (scheme, name, port), most recently used last (module docstring).
        self._clients: OrderedDict[tuple[str, str, int], httpx.AsyncClient] = OrderedDict()
        self._closing: set[asyncio.Future[None]] = set()

    def _client_for(self, endpoint: _Endpoint) -> httpx.AsyncClient:
        """The client whose kept-alive connections were opened for this endpoint's name."""
        key = (endpoint.url.scheme, endpoint.host, endpoint.port)
        client = self._clients.pop(key, None)
        if client is None:
            client = httpx.AsyncClient(
                timeout=httpx.Timeout(
                    self._policy.total_timeout, connect=self._policy.connect_timeout
                ),
                follow_redirects=False,
                trust_env=False,  # no proxy or CA bundle from the environment
                # No bound on connections: the dispatcher bounds its concurrency, and a wait
                # for a pool slot would be charged to the subscriber as its timeout.
                limits=httpx.Limits(
                    max_connections=None,
                    max_keepalive_connections=KEEPALIVE_CONNECTIONS,
                    keepalive_expiry=KEEPALIVE_SECONDS,
                ),
                verify=self._verify,
                transport=self._transport,
                cookies=CookieJar(policy=_NoCookies()),
                headers={"user-agent": USER_AGENT, "accept-encoding": "identity"},
            )
            if len(self._clients) >= MAX_CLIENTS:
                _, oldest = self._clients.popitem(last=False)
                closing = asyncio.ensure_future(oldest.aclose())
                self._closing.add(closing)
                closing.add_done_callback(self._closing.discard)
        self._clients[key] = client
        return client

    async def aclose(self) -> None:
        """Close every HTTP client."""
        clients, self._clients = list(self._clients.values()), OrderedDict()
        await asyncio.gather(*(client.aclose() for client in clients), *self._closing)

    async def post(self, url: str, headers: Mapping[str, str], body: bytes) -> DeliveryResult:
        """Resolve the host, refuse (no connection made) if ANY resolved address is not
        public (unless allow_private), connect to the resolved address itself (pinning it,
        so DNS rebinding between check and connect cannot redirect the request) while
        keeping the Host header and TLS SNI/certificate check of the name; never follow
        redirects (3xx is a failed delivery, error "redirect"); enforce the timeouts; read at
        most max_response_bytes of the body and never more. Never raises for network
        trouble: returns a DeliveryResult."""
        started = time.perf_counter()

        def result(status: int | None, error: str | None, excerpt: bytes = b"") -> DeliveryResult:
            elapsed = (time.perf_counter() - started) * 1000
            return DeliveryResult(status, error, elapsed, excerpt)

        try:
            async with asyncio.timeout(self._policy.total_timeout):
                status, error, excerpt = await self._attempt(url, headers, body)
        except TimeoutError:
            return result(None, "timeout")
        return result(status, error, excerpt)

    async def _attempt(
        self, url: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int | None, str | None, bytes]:
        try:
            endpoint = _parse(url, self._policy)
            addresses = await self._checked_addresses(endpoint)
        except EndpointRefused as refused:
            return None, _URL_ERRORS.get(refused.code, "invalid_url"), b""

        request_headers = {
            name: value for name, value in headers.items() if name.lower() not in _OWN_HEADERS
        }
        if not any(name.lower() == "content-type" for name in request_headers):
            request_headers["content-type"] = CONTENT_TYPE
        request_headers["host"] = endpoint.url.netloc.decode("ascii")
        # An address that takes no connection (a dead IPv6 route, one server of several
        # down) is passed over for the next one checked; nothing was sent to it.
        outcome: tuple[int | None, str | None, bytes] = (None, "connect", b"")
        for address in addresses[:_MAX_ADDRESSES]:
            outcome = await self._send_to(endpoint, address, request_headers, body)
            if outcome[1] not in ("connect", _NO_CONNECTION):
                break
        status, error, excerpt = outcome
        return status, "timeout" if error == _NO_CONNECTION else error, excerpt

    async def _send_to(
        self, endpoint: _Endpoint, address: IPAddress, headers: dict[str, str], body: bytes
    ) -> tuple[int | None, str | None, bytes]:
        """One request to one checked address, under the endpoint's name."""
        extensions = {"sni_hostname": endpoint.host} if endpoint.url.scheme == "https" else {}
        pinned_url = endpoint.url.copy_with(host=str(address))
        limit = self._policy.max_response_bytes
        try:
            async with self._client_for(endpoint).stream(
                "POST", pinned_url, headers=headers, content=body, extensions=extensions
            ) as response:
                excerpt = bytearray()
                async for chunk in response.aiter_raw():
                    excerpt += chunk[: limit - len(excerpt)]
                    if len(excerpt) >= limit:
                        break  # leaving the block closes the connection unread
                status = response.status_code
        except httpx.ConnectTimeout:
            return None, _NO_CONNECTION, b""
        except httpx.TimeoutException:
            return None, "timeout", b""
        except httpx.ConnectError as exc:
            return None, "tls" if _caused_by_tls(exc) else "connect", b""
        except httpx.ProtocolError:
            return None, "protocol", b""
        except (httpx.HTTPError, OSError) as exc:
            return None, "tls" if _caused_by_tls(exc) else "network", b""
        if 300 <= status < 400:
            return status, "redirect", bytes(excerpt)
        return status, None, bytes(excerpt)

    async def _checked_addresses(self, endpoint: _Endpoint) -> list[IPAddress]:
        """The addresses to connect to, in the resolver's order, every one of them checked."""
        if endpoint.address is not None:
            return [endpoint.address]
        try:
            answers = await self._resolve(endpoint.host, endpoint.port)
            addresses = [ipaddress.ip_address(answer.partition("%")[0]) for answer in answers]
        except (OSError, UnicodeError, ValueError):
            raise _refuse("endpoint_unresolvable", f"{endpoint.host} does not resolve") from None
        if not addresses:
            raise _refuse("endpoint_unresolvable", f"{endpoint.host} does not resolve")
        if not self._policy.allow_private:
            for address in addresses:
                if not is_public_address(address):
                    raise _refuse(
                        "endpoint_private_address",
                        f"{endpoint.host} resolves to {address}, not a public address",
                    )
        return list(dict.fromkeys(addresses))
