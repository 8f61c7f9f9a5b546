"""The public party directory: a party's credentials, for anyone who verifies what it signs."""

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from joserfc.jwk import OKPKey

from services.identity.credentials import service
from services.identity.credentials.models import Credential
from services.identity.keys import service as keys_service
from services.identity.sealing import unseal
from shared import jose
from shared.credentials import read_credential
from shared.db import transaction
from shared.models import utcnow
from shared.verifier_cache import VerifierCache
from tests.helpers import assert_problem
from tests.identity.credential_factories import (
    IdentityPort,
    act,
    issue_directly,
    issued,
    service_keys,
)
from tests.identity.factories import add_own_key, make_party, new_eori


def directory_path(party_id: str) -> str:
    return f"/v1/directory/parties/{party_id}/credentials"


async def listed(identity_port: IdentityPort, party_id: str) -> list[str]:
    """The credentials the directory lists for a party, read without any authentication."""
    response = await identity_port.client.get(directory_path(party_id))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["party_id"] == party_id
    tokens: list[str] = body["credentials"]
    return tokens


def jti(token: str) -> str:
    return str(jose.peek(token)[1]["jti"])


async def custodial_key(identity_port: IdentityPort) -> OKPKey:
    """A custodial key for the carrier, made by the service; returns its private half."""
    async with transaction(identity_port.app.state.sessions) as session:
        key = await keys_service.create_custodial_key(
            session,
            settings=identity_port.settings,
            party_id=identity_port.carrier.id,
            actor="test",
            now=utcnow(),
        )
    assert key.sealed_private is not None
    pem = unseal(
        identity_port.settings.kek_bytes(),
        key.sealed_private,
        bound_to=keys_service.bound_to(key.kid, identity_port.carrier.id),
    )
    return OKPKey.import_key(pem)


async def test_anyone_reads_a_partys_credentials_newest_first(identity_port: IdentityPort) -> None:
    for day in (1, 3, 2):
        await issue_directly(identity_port, now=datetime(2026, 1, day, tzinfo=UTC))
    response = await identity_port.client.get(directory_path(identity_port.carrier.id))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "public, max-age=30"
    tokens = response.json()["credentials"]
    assert [jose.peek(token)[1]["iat"] for token in tokens] == [
        int(datetime(2026, 1, day, tzinfo=UTC).timestamp()) for day in (3, 2, 1)
    ]
    resolve = await service_keys(identity_port.client)
    for token in tokens:
        credential = read_credential(
            token, cache=VerifierCache(), resolve_key=resolve, issuer=identity_port.settings.issuer
        )
        assert (credential.party_id, credential.kid) == (
            identity_port.carrier.id,
            identity_port.carrier_kid,
        )


async def test_credentials_of_own_and_custodial_keys_are_listed(
    identity_port: IdentityPort,
) -> None:
    own = await issued(identity_port)
    custodial = await custodial_key(identity_port)
    held = await issued(identity_port, kid=jose.thumbprint(custodial))
    tokens = await listed(identity_port, identity_port.carrier.id)
    assert {jti(token) for token in tokens} == {own["credential_id"], held["credential_id"]}


async def test_only_the_partys_own_credentials_are_listed(identity_port: IdentityPort) -> None:
    ours = await issued(identity_port)
    other = await make_party(identity_port.app, "carrier")
    other_key = await add_own_key(identity_port.app, other)
    theirs = await issued(identity_port, party_id=other.id, kid=jose.thumbprint(other_key))
    assert [jti(token) for token in await listed(identity_port, identity_port.carrier.id)] == [
        ours["credential_id"]
    ]
    assert [jti(token) for token in await listed(identity_port, other.id)] == [
        theirs["credential_id"]
    ]
    assert await listed(identity_port, (await make_party(identity_port.app, "forwarder")).id) == []


async def test_revoked_and_suspended_credentials_are_still_listed(
    identity_port: IdentityPort,
) -> None:
    revoked = (await issued(identity_port))["credential_id"]
    suspended = (await issued(identity_port))["credential_id"]
    assert (await act(identity_port, revoked, "revoke")).status_code == 200
    assert (await act(identity_port, suspended, "suspend")).status_code == 200
    assert {jti(token) for token in await listed(identity_port, identity_port.carrier.id)} == {
        revoked,
        suspended,
    }


async def test_a_credential_whose_subject_is_a_person_is_not_listed(
    identity_port: IdentityPort,
) -> None:
    party_credential = await issue_directly(identity_port)
    device = await issue_directly(identity_port)
    async with transaction(identity_port.app.state.sessions) as session:
        row = await session.get(Credential, device.id)
        assert row is not None
        row.subject = str(uuid.uuid4())
        session.add(row)
    assert [jti(token) for token in await listed(identity_port, identity_port.carrier.id)] == [
        str(party_credential.id)
    ]


async def test_at_most_the_newest_credentials_up_to_the_limit_are_listed(
    identity_port: IdentityPort, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "DIRECTORY_LIMIT", 2)
    made = [
        await issue_directly(identity_port, now=datetime(2026, 1, day, tzinfo=UTC))
        for day in (1, 2, 3)
    ]
    assert [jti(token) for token in await listed(identity_port, identity_port.carrier.id)] == [
        str(made[2].id),
        str(made[1].id),
    ]


async def test_an_unknown_party_is_not_found_and_a_malformed_id_is_refused(
    identity_port: IdentityPort,
) -> None:
    assert_problem(
        await identity_port.client.get(directory_path(new_eori())), 404, "party_not_found"
    )
    assert_problem(await identity_port.client.get(directory_path("x" * 65)), 422, "invalid_request")


async def test_the_answer_holds_no_private_material(identity_port: IdentityPort) -> None:
    await issued(identity_port)
    custodial = await custodial_key(identity_port)
    await issued(identity_port, kid=jose.thumbprint(custodial))
    response = await identity_port.client.get(directory_path(identity_port.carrier.id))
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"party_id", "credentials"}
    for private in (identity_port.carrier_key, custodial):
        d = str(private.as_dict(private=True)["d"])
        assert d not in response.text
    for token in response.json()["credentials"]:
        assert set(jose.peek(token)[1]["cnf"]["jwk"]) == {"kty", "crv", "x", "kid"}
