"""Threat: strangers make the release service work for them against the identity service.

Anyone on the network can send a bearer token whose `kid` nobody published; an insider with
a party's API client can send links that name parties, keys and people nobody vouched for.
Each used to cost an outbound request to the identity service (a JWKS fetch, a directory
lookup, a person lookup), and every party id asked for stayed in the cache for ever. Here a
counting line to the identity service shows that a burst of such requests costs a bounded
number of calls, and that the directory cache has a bound.
"""

import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest

from services.release.identity_directory import IdentityDirectory
from shared import jose
from shared.auth import issue_access_token
from shared.verifier_cache import VerifierCache
from tests.conftest import SettingsFactory
from tests.identity.factories import bearer, new_eori
from tests.release.chains import Chain, accept, create_release, hand_over
from tests.release.port import Port, make_port, sign_link

BURST = 40


class Counting(httpx.AsyncBaseTransport):
    """The line to the identity service, counting the requests by kind of path."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.paths: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        return await self.inner.handle_async_request(request)

    def count(self, prefix: str) -> int:
        """Requests whose path starts with `prefix`."""
        return sum(1 for path in self.paths if path.startswith(prefix))

    def by_path(self) -> Counter[str]:
        """Requests per path."""
        return Counter(self.paths)


@pytest.fixture
async def port(make_settings: SettingsFactory) -> AsyncIterator[Port]:
    """The release port, where the identity service is asked again at most once an hour."""
    async with make_port(make_settings, identity_recheck_seconds=3600) as port:
        yield port


def count_calls(port: Port) -> Counting:
    """From now on, count the release service's requests to the identity service."""
    counting = Counting(port.identity_line.inner)
    port.identity_line.inner = counting  # type: ignore[assignment]
    return counting


def stranger_token(issuer: str) -> str:
    """A well-formed access token signed by a key nobody published (a random kid)."""
    return issue_access_token(
        jose.generate_key(),
        issuer=issuer,
        party_id=new_eori(),
        party_roles=["terminal"],
        scopes=["gate", "releases:read"],
        now=int(time.time()),
        lifetime=600,
    )


async def test_a_burst_of_tokens_with_random_kids_does_not_fetch_the_keys_each_time(
    port: Port,
) -> None:
    issuer = port.identity.state.settings.issuer
    path = f"/v1/releases/{uuid.uuid4()}"
    known = await port.client.get(path, headers=port["terminal"].headers)
    assert known.status_code == 404  # the keys are held, the caller verified
    calls = count_calls(port)
    for _ in range(BURST):
        response = await port.client.get(path, headers=bearer(stranger_token(issuer)))
        assert response.status_code == 401
    assert calls.count("/.well-known/jwks.json") <= 1, calls.by_path()
    assert len(calls.paths) <= 1, calls.by_path()


async def held_by_forwarder(port: Port) -> Chain:
    """A release the forwarder has received and accepted."""
    chain = await create_release(port)
    await accept(port, chain, 0, "forwarder")
    return chain


async def submit(port: Port, chain: Chain, link: str, sender: str = "forwarder") -> int:
    """Post a pre-signed link as `sender`'s client; the status code."""
    response = await port.client.post(
        f"/v1/releases/{chain.release_id}/links", json={"link": link}, headers=port[sender].headers
    )
    return response.status_code


def link_of(port: Port, chain: Chain, sender: str = "forwarder", **claims: object) -> str:
    """The next link `sender` signs with its own key, with these claims."""
    body: dict[str, object] = {
        "release_id": str(chain.release_id),
        "container": chain.container,
        "seq": len(chain.links),
        "kind": "handover",
        "to": port["carrier"].id,
        "prev": chain.links[-1],
        **claims,
    }
    return sign_link(port[sender], **body)


async def test_links_claiming_to_be_from_strangers_make_no_directory_lookups(port: Port) -> None:
    chain = await held_by_forwarder(port)
    calls = count_calls(port)
    for _ in range(BURST):
        assert await submit(port, chain, link_of(port, chain, **{"from": new_eori()})) == 422
    assert calls.count("/v1/directory/") == 0, calls.by_path()


async def test_links_to_strangers_with_a_bad_signature_make_no_directory_lookups(
    port: Port,
) -> None:
    chain = await held_by_forwarder(port)
    calls = count_calls(port)
    for _ in range(BURST):
        # The forwarder's claims, signed by a key of nobody: nothing vouches for `to`.
        forged = jose.sign(
            jose.peek(link_of(port, chain, to=new_eori()))[1],
            jose.generate_key(),
            typ="ketenpas-link+jwt",
        )
        assert await submit(port, chain, forged) == 422
    directory_calls = [path for path in calls.paths if path.startswith("/v1/directory/")]
    # At most one look at the forwarder's own credentials (its key may be new), none of a
    # stranger's.
    assert len(directory_calls) <= 1, calls.by_path()
    assert set(directory_calls) <= {f"/v1/directory/parties/{port['forwarder'].id}/credentials"}


async def test_assignments_of_unknown_people_with_a_bad_signature_make_no_person_lookups(
    port: Port,
) -> None:
    chain = await held_by_forwarder(port)
    seq = await hand_over(port, chain, "forwarder", "carrier")
    await accept(port, chain, seq, "carrier")
    calls = count_calls(port)
    for _ in range(BURST):
        claims = jose.peek(link_of(port, chain, "carrier", kind="assignment", to=str(uuid.uuid4())))
        forged = jose.sign(claims[1], jose.generate_key(), typ="ketenpas-link+jwt")
        assert await submit(port, chain, forged, "carrier") == 422
    assert calls.count("/v1/people/") == 0, calls.by_path()
    assert calls.count("/v1/directory/") <= 1, calls.by_path()


async def test_links_with_random_kids_refetch_the_signers_credentials_a_bounded_number_of_times(
    port: Port,
) -> None:
    chain = await held_by_forwarder(port)
    calls = count_calls(port)
    for _ in range(BURST):
        claims = jose.peek(link_of(port, chain))[1]
        unknown = jose.sign(claims, jose.generate_key(), typ="ketenpas-link+jwt")
        assert await submit(port, chain, unknown) == 422
    assert calls.count("/v1/directory/") <= 1, calls.by_path()
    assert calls.count("/.well-known/jwks.json") <= 1, calls.by_path()


class Directory(httpx.AsyncBaseTransport):
    """An identity service that knows no party: every directory lookup is a 404."""

    def __init__(self) -> None:
        self.requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if request.url.path == "/.well-known/jwks.json":
            return httpx.Response(200, json={"keys": []})
        return httpx.Response(
            404,
            json={"code": "party_not_found", "status": 404, "title": "Not Found"},
            headers={"content-type": "application/problem+json"},
        )


async def test_the_party_cache_holds_at_most_its_bound_of_attacker_chosen_parties() -> None:
    line = Directory()
    client = httpx.AsyncClient(transport=line, base_url="https://identity.test")
    directory = IdentityDirectory(
        client,
        issuer="https://identity.test",
        verifier_cache=VerifierCache(),
        refresh_seconds=60,
        max_entries=16,
    )
    parties = [new_eori() for _ in range(4 * BURST)]
    for party in parties:
        assert await directory.party_credentials(party) == ()
    assert len(directory) <= 16
    # An unknown party asked again within the refresh interval is answered from the cache.
    asked = line.requests
    assert await directory.party_credentials(parties[-1]) == ()
    assert line.requests == asked
    directory.clear()
    assert len(directory) == 0
    await client.aclose()
