"""The release service's view of the identity service: cached, bounded, failing closed."""

import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from joserfc.jwk import Key

from services.identity.keys import service as keys_service
from services.identity.parties.models import Party
from services.release.identity_api import IdentityApi, PersonInfo
from services.release.identity_directory import IdentityDirectory
from services.release.identity_errors import IdentityUnavailable
from shared import jose
from shared.credentials import (
    CREDENTIAL_TYP,
    CredentialError,
    check_credential,
    verify_credential,
)
from shared.db import transaction
from shared.gatepass import verify_gate_pass
from shared.models import utcnow
from shared.problems import PROBLEM_MEDIA_TYPE, Problem
from shared.verifier_cache import VerifierCache
from tests.identity.credential_factories import act, issue_directly, issued, make_identity_port
from tests.identity.factories import (
    add_own_key,
    client_token,
    make_party,
    make_person,
    new_eori,
    person_token,
    totp_now,
    wrong_code,
)

App = tuple[FastAPI, httpx.AsyncClient]


class Switch(httpx.AsyncBaseTransport):
    """The identity app over ASGI, which a test can take away, bring back, or stand in for
    on one path (`answers`)."""

    def __init__(self, app: FastAPI) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.up = True
        self.requests = 0
        self.paths: list[str] = []
        self.answers: dict[str, Callable[[], httpx.Response]] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        self.paths.append(request.url.path)
        if not self.up:
            raise httpx.ConnectError("identity service away", request=request)
        answer = self.answers.get(request.url.path)
        if answer is not None:
            return answer()
        return await self.inner.handle_async_request(request)


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def directory(identity_app: App) -> tuple[IdentityDirectory, Switch, Clock]:
    app, _ = identity_app
    switch, clock = Switch(app), Clock()
    issuer = app.state.settings.issuer
    client = httpx.AsyncClient(transport=switch, base_url=issuer)
    return (
        IdentityDirectory(
            client,
            issuer=issuer,
            verifier_cache=VerifierCache(),
            refresh_seconds=60,
            max_staleness_seconds=300,
            clock=clock,
        ),
        switch,
        clock,
    )


async def test_keys_are_fetched_once_and_refreshed_after_the_interval(
    directory: tuple[IdentityDirectory, Switch, Clock],
) -> None:
    identity, switch, clock = directory
    keys = await identity.service_keys()
    assert keys
    await identity.service_keys()
    assert switch.requests == 1
    clock.now += 61  # past the interval: the held keys are answered, a fetch runs beside
    assert await identity.service_keys() == keys
    await identity.settled()
    assert switch.requests == 2
    clock.now += 121  # past twice the interval: fetched before answering
    await identity.service_keys()
    assert switch.requests == 3


async def test_an_unchanged_answer_keeps_the_very_key_objects(
    directory: tuple[IdentityDirectory, Switch, Clock],
) -> None:
    identity, switch, clock = directory
    keys = await identity.service_keys()
    clock.now += 121  # fetched again before answering
    again = await identity.service_keys()
    assert switch.requests == 2
    # The same body: the same objects, so what was verified under them stays remembered.
    assert again is keys
    assert all(again[kid] is keys[kid] for kid in keys)


async def test_a_changed_answer_is_parsed_again(
    directory: tuple[IdentityDirectory, Switch, Clock],
) -> None:
    identity, switch, clock = directory
    keys = await identity.service_keys()
    kid, key = next(iter(keys.items()))
    published = {**key.as_dict(private=False), "kid": kid}
    # The same key under a second kid: another body, so everything is read afresh.
    grown = {"keys": [published, {**published, "kid": "a-second-kid"}]}
    switch.answers["/.well-known/jwks.json"] = lambda: httpx.Response(200, json=grown)
    clock.now += 121
    changed = await identity.service_keys()
    assert set(changed) == {kid, "a-second-kid"}
    assert changed[kid] is not key


async def test_a_short_outage_is_bridged_and_a_long_one_fails_closed(
    directory: tuple[IdentityDirectory, Switch, Clock],
) -> None:
    identity, switch, clock = directory
    keys = await identity.service_keys()
    switch.up = False
    clock.now += 200  # past the refresh interval, within the staleness bound
    assert await identity.service_keys() == keys
    clock.now += 101  # 301 s since the last good fetch
    with pytest.raises(IdentityUnavailable) as refused:
        await identity.service_keys()
    assert refused.value.status == 503 and refused.value.code == "identity_unavailable"
    switch.up = True
    assert await identity.service_keys() == keys


async def test_a_credential_verifies_with_fetched_keys_and_status_list(
    identity_app: App, directory: tuple[IdentityDirectory, Switch, Clock]
) -> None:
    app, client = identity_app
    identity, _, clock = directory
    port = await make_identity_port(app, client)
    token = (await issue_directly(port)).token
    _, claims = jose.peek(token)
    uri = claims["status"]["status_list"]["uri"]
    status_list = await identity.status_list(uri)
    verified = verify_credential(
        token,
        cache=identity.verifier_cache,
        resolve_key=await identity.resolver(jose.peek(token)[0]["kid"]),
        issuer=app.state.settings.issuer,
        status_lists={uri: status_list},
        now=clock.now,
    )
    assert verified.party_id == port.carrier.id


async def test_a_status_list_of_another_host_is_refused(
    directory: tuple[IdentityDirectory, Switch, Clock],
) -> None:
    identity, switch, _ = directory
    with pytest.raises(Problem) as refused:
        await identity.status_list("https://evil.example/v1/status-lists/1")
    assert refused.value.code == "status_list_foreign"
    assert switch.requests == 0


async def test_an_unknown_kid_refreshes_the_keys_once(
    directory: tuple[IdentityDirectory, Switch, Clock],
) -> None:
    identity, switch, _ = directory
    known = next(iter(await identity.service_keys()))
    assert (await identity.resolver(known))(known) is not None
    assert switch.requests == 1
    resolve = await identity.resolver("no-such-kid")
    assert resolve("no-such-kid") is None
    assert switch.requests == 2


# --- parties' credentials -------------------------------------------------------------------


def directory_path(party_id: str) -> str:
    return f"/v1/directory/parties/{party_id}/credentials"


async def test_a_partys_credentials_are_read_once_per_interval(
    identity_app: App, directory: tuple[IdentityDirectory, Switch, Clock]
) -> None:
    app, client = identity_app
    identity, switch, clock = directory
    port = await make_identity_port(app, client)
    made = {str((await issue_directly(port)).id) for _ in range(2)}
    credentials = await identity.party_credentials(port.carrier.id)
    assert {credential.credential_id for credential in credentials} == made
    assert {(c.party_id, c.kid) for c in credentials} == {(port.carrier.id, port.carrier_kid)}
    path = directory_path(port.carrier.id)
    await identity.party_credentials(port.carrier.id)
    assert switch.paths.count(path) == 1
    clock.now += 61
    await identity.party_credentials(port.carrier.id)
    await identity.settled()
    assert switch.paths.count(path) == 2


async def test_unchanged_credentials_under_unchanged_keys_are_not_read_again(
    identity_app: App, directory: tuple[IdentityDirectory, Switch, Clock]
) -> None:
    app, client = identity_app
    identity, switch, clock = directory
    port = await make_identity_port(app, client)
    await issue_directly(port)
    first = await identity.party_credentials(port.carrier.id)
    clock.now += 121  # keys and credentials fetched again, both unchanged
    again = await identity.party_credentials(port.carrier.id)
    assert switch.paths.count(directory_path(port.carrier.id)) == 2
    assert again is first

    new = await issue_directly(port)  # another body: read afresh
    clock.now += 121
    grown = await identity.party_credentials(port.carrier.id)
    assert grown is not first
    assert {credential.credential_id for credential in grown} == {
        *(credential.credential_id for credential in first),
        str(new.id),
    }


async def test_a_status_list_is_judged_afresh_on_every_fetch(
    identity_app: App, directory: tuple[IdentityDirectory, Switch, Clock]
) -> None:
    app, client = identity_app
    identity, _, clock = directory
    port = await make_identity_port(app, client)
    token = (await issue_directly(port)).token
    uri = jose.peek(token)[1]["status"]["status_list"]["uri"]
    first = await identity.status_list(uri)
    clock.now += 121
    # Its parse judges expiry against the clock, so an unchanged body is no shortcut.
    assert await identity.status_list(uri) is not first


async def test_an_unknown_party_has_no_credentials_and_that_is_no_outage(
    directory: tuple[IdentityDirectory, Switch, Clock],
) -> None:
    identity, switch, _ = directory
    stranger = new_eori()
    assert await identity.party_credentials(stranger) == ()
    assert await identity.party_credentials(stranger) == ()
    assert switch.paths.count(directory_path(stranger)) == 1


async def test_the_directory_away_or_answering_oddly_fails_closed(
    directory: tuple[IdentityDirectory, Switch, Clock],
) -> None:
    identity, switch, _ = directory
    await identity.service_keys()
    # A 404 that does not say "no such party" (an identity service without the directory).
    route_missing = new_eori()
    switch.answers[directory_path(route_missing)] = lambda: httpx.Response(
        404,
        json={"status": 404, "code": "not_found"},
        headers={"content-type": PROBLEM_MEDIA_TYPE},
    )
    with pytest.raises(IdentityUnavailable):
        await identity.party_credentials(route_missing)
    switch.up = False
    with pytest.raises(IdentityUnavailable):
        await identity.party_credentials(new_eori())


async def test_entries_that_are_not_the_partys_checkable_credentials_are_dropped(
    identity_app: App, directory: tuple[IdentityDirectory, Switch, Clock]
) -> None:
    app, client = identity_app
    identity, switch, _ = directory
    port = await make_identity_port(app, client)
    good = await issue_directly(port)
    other = await make_party(app, "carrier")
    other_kid = jose.thumbprint(await add_own_key(app, other))
    theirs = (await issued(port, party_id=other.id, kid=other_kid))["credential"]
    _, service_key = await app.state.keyring.signing()
    _, claims = jose.peek(good.token)
    foreign = {"status_list": {"idx": 0, "uri": "https://evil.example/v1/status-lists/1"}}
    foreign_list = jose.sign(
        {**claims, "jti": str(uuid.uuid4()), "status": foreign}, service_key, typ=CREDENTIAL_TYP
    )
    unknown_signer = jose.sign(claims, jose.generate_key(), typ=CREDENTIAL_TYP)
    spliced = good.token.rpartition(".")[0] + "." + unknown_signer.rpartition(".")[2]
    entries = [theirs, foreign_list, unknown_signer, spliced, "not a jws", 42, good.token]
    switch.answers[directory_path(port.carrier.id)] = lambda: httpx.Response(
        200, json={"party_id": port.carrier.id, "credentials": entries}
    )

    [kept] = await identity.party_credentials(port.carrier.id)
    assert kept.credential_id == str(good.id)
    evidence = await identity.evidence([port.carrier.id])
    assert [c.credential_id for c in evidence.credentials[port.carrier.id]] == [str(good.id)]
    assert list(evidence.status_lists) == [kept.status_uri]


async def test_evidence_holds_each_partys_credentials_and_their_status_lists(
    identity_app: App, directory: tuple[IdentityDirectory, Switch, Clock]
) -> None:
    app, client = identity_app
    identity, _, clock = directory
    port = await make_identity_port(app, client)
    ours = await issued(port)
    line = await make_party(app, "shipping_line")
    await issued(port, party_id=line.id, kid=jose.thumbprint(await add_own_key(app, line)))
    nobody = new_eori()

    evidence = await identity.evidence([port.carrier.id, line.id, nobody])
    assert evidence.credentials[nobody] == ()
    assert [c.party_id for c in evidence.credentials[line.id]] == [line.id]
    [credential] = evidence.credentials[port.carrier.id]
    assert set(evidence.status_lists) == {ours["status"]["uri"]}
    check_credential(credential, at=clock.now, status_lists=evidence.status_lists, now=clock.now)

    # A revocation is seen once the status list is refreshed, by the same rule as the keys.
    assert (await act(port, ours["credential_id"], "revoke")).status_code == 200
    clock.now += 61
    await identity.evidence([port.carrier.id])  # answers what is held, refreshes beside
    await identity.settled()
    later = await identity.evidence([port.carrier.id])
    with pytest.raises(CredentialError) as refused:
        check_credential(credential, at=clock.now, status_lists=later.status_lists, now=clock.now)
    assert refused.value.code == "credential_revoked"


async def test_a_key_certified_after_the_last_fetch_refreshes_its_party_once(
    identity_app: App, directory: tuple[IdentityDirectory, Switch, Clock]
) -> None:
    app, client = identity_app
    identity, switch, clock = directory
    port = await make_identity_port(app, client)
    await issued(port)
    path = directory_path(port.carrier.id)
    await identity.evidence([port.carrier.id], kids=[(port.carrier.id, port.carrier_kid)])
    assert switch.paths.count(path) == 1

    new_kid = jose.thumbprint(await add_own_key(app, port.carrier))
    await issued(port, kid=new_kid)
    # A party named only in `kids` is gathered too.
    evidence = await identity.evidence([], kids=[(port.carrier.id, new_kid)])
    assert new_kid in {credential.kid for credential in evidence.credentials[port.carrier.id]}
    assert switch.paths.count(path) == 2

    # Within the recheck time, another unknown kid is answered from what is held.
    await identity.evidence([port.carrier.id], kids=[(port.carrier.id, "no-such-kid")])
    assert switch.paths.count(path) == 2
    clock.now += 11  # past the recheck time (10 s), within the refresh interval
    await identity.evidence([port.carrier.id], kids=[(port.carrier.id, "no-such-kid")])
    assert switch.paths.count(path) == 3  # one refresh, not one per look
    await identity.evidence([port.carrier.id])
    assert switch.paths.count(path) == 3


# --- calls on behalf of a caller -------------------------------------------------------------


@pytest.fixture
async def api(identity_app: App) -> AsyncIterator[tuple[IdentityApi, Switch]]:
    app, _ = identity_app
    switch = Switch(app)
    async with httpx.AsyncClient(transport=switch, base_url=app.state.settings.issuer) as client:
        yield IdentityApi(client), switch


async def custodial_signer(app: FastAPI) -> tuple[Party, Key, str]:
    """A carrier with a custodial key, that key's public half, and a dispatcher's token."""
    party = await make_party(app, "carrier")
    async with transaction(app.state.sessions) as session:
        key = await keys_service.create_custodial_key(
            session, settings=app.state.settings, party_id=party.id, actor="test", now=utcnow()
        )
    person = await make_person(app, party, "dispatcher")
    return party, jose.import_key(key.public_jwk), await person_token(app, person, party)


def link_claims(party: Party) -> dict[str, Any]:
    now = int(time.time())
    return {
        "release_id": str(uuid.uuid4()),
        "container": "MSKU1234565",
        "seq": 1,
        "kind": "handover",
        "from": party.id,
        "to": new_eori(),
        "iat": now,
        "exp": now + 600,
        "jti": str(uuid.uuid4()),
    }


async def test_a_person_signs_with_his_partys_custodial_key(
    identity_app: App, api: tuple[IdentityApi, Switch]
) -> None:
    app, _ = identity_app
    identity, _ = api
    party, public, token = await custodial_signer(app)
    claims = link_claims(party)
    jws = await identity.sign(token, typ="ketenpas-link+jwt", claims=claims)
    verified = jose.verify(
        jws, typ="ketenpas-link+jwt", resolve_key={jose.thumbprint(public): public}.get
    )
    # The identity service sets `iat` and names the person who had it signed (`act`).
    assert abs(verified.claims["iat"] - claims["iat"]) <= 5
    assert {**verified.claims, "iat": claims["iat"]} == {**claims, "act": verified.claims["act"]}
    assert set(verified.claims["act"]) == {"sub"}


async def test_a_signing_refusal_reaches_the_caller_with_its_code(
    identity_app: App, api: tuple[IdentityApi, Switch]
) -> None:
    app, _ = identity_app
    identity, _ = api
    party, _, token = await custodial_signer(app)
    with pytest.raises(Problem) as refused:
        await identity.sign(
            token, typ="ketenpas-link+jwt", claims=link_claims(await make_party(app))
        )
    assert (refused.value.status, refused.value.code) == (422, "claims_from_mismatch")
    keyless = await make_party(app, "carrier")
    keyless_token = await person_token(app, await make_person(app, keyless, "dispatcher"), keyless)
    with pytest.raises(Problem) as refused:
        await identity.sign(keyless_token, typ="ketenpas-link+jwt", claims=link_claims(keyless))
    assert (refused.value.status, refused.value.code) == (409, "no_custodial_key")
    with pytest.raises(Problem) as refused:
        await identity.sign("not a token", typ="ketenpas-link+jwt", claims=link_claims(party))
    assert refused.value.status == 401


async def test_a_person_of_the_callers_party_is_seen_and_another_partys_is_not(
    identity_app: App, api: tuple[IdentityApi, Switch]
) -> None:
    app, _ = identity_app
    identity, _ = api
    carrier = await make_party(app, "carrier")
    driver = await make_person(app, carrier, "driver")
    token = await client_token(app, carrier)
    assert await identity.person(token, driver.id) == PersonInfo(
        person_id=driver.id,
        party_id=carrier.id,
        role="driver",
        status="active",
        screened_until=driver.screened_until,
    )
    stranger = await make_person(app, await make_party(app, "carrier"), "driver")
    assert await identity.person(token, stranger.id) is None
    assert await identity.person(token, uuid.uuid4()) is None


async def test_a_kiosk_gets_a_gate_pass_with_the_drivers_code_and_a_wrong_code_is_refused(
    identity_app: App, api: tuple[IdentityApi, Switch]
) -> None:
    app, _ = identity_app
    identity, _ = api
    driver = await make_person(app, await make_party(app, "carrier"), "driver")
    kiosk = await client_token(app, await make_party(app, "terminal"))
    gate_pass = await identity.kiosk_gate_pass(kiosk, driver.id, totp_now())
    ring = await app.state.keyring.get()
    verified = verify_gate_pass(
        gate_pass, resolve_key=ring.resolve, issuer=app.state.settings.issuer, now=time.time()
    )
    assert verified.person_id == driver.id

    wrong = wrong_code(time.time())
    for _ in range(app.state.settings.sign_in_failures_per_person):
        with pytest.raises(Problem) as refused:
            await identity.kiosk_gate_pass(kiosk, driver.id, wrong)
        assert (refused.value.status, refused.value.code) == (401, "otp_invalid")
    with pytest.raises(Problem) as locked:
        await identity.kiosk_gate_pass(kiosk, driver.id, totp_now())
    assert (locked.value.status, locked.value.code) == (429, "too_many_attempts")
    assert locked.value.extensions["retry_after"] > 0


@pytest.mark.parametrize(
    "answer",
    [
        lambda: httpx.Response(
            500,
            json={"status": 500, "code": "internal_error"},
            headers={"content-type": PROBLEM_MEDIA_TYPE},
        ),
        lambda: httpx.Response(403, text="<html>denied by a proxy</html>"),
        lambda: httpx.Response(200, text="not json"),
        lambda: httpx.Response(200, json={"something": "else"}),
    ],
    ids=["5xx", "not-a-problem", "not-json", "wrong-form"],
)
async def test_an_odd_answer_is_identity_unavailable(
    identity_app: App,
    api: tuple[IdentityApi, Switch],
    answer: Callable[[], httpx.Response],
) -> None:
    app, _ = identity_app
    identity, switch = api
    carrier = await make_party(app, "carrier")
    driver = await make_person(app, carrier, "driver")
    switch.answers[f"/v1/people/{driver.id}"] = answer
    with pytest.raises(IdentityUnavailable) as refused:
        await identity.person(await client_token(app, carrier), driver.id)
    assert (refused.value.status, refused.value.code) == (503, "identity_unavailable")


async def test_identity_away_is_identity_unavailable(
    identity_app: App, api: tuple[IdentityApi, Switch]
) -> None:
    app, _ = identity_app
    identity, switch = api
    party, _, token = await custodial_signer(app)
    driver = await make_person(app, party, "driver")
    switch.up = False
    calls = [
        identity.sign(token, typ="ketenpas-link+jwt", claims=link_claims(party)),
        identity.person(token, driver.id),
        identity.kiosk_gate_pass(token, driver.id, totp_now()),
    ]
    for call in calls:
        with pytest.raises(IdentityUnavailable) as refused:
            await call
        assert (refused.value.status, refused.value.code) == (503, "identity_unavailable")
