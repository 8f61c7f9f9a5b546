"""GET /v1/status-lists/{id} and the whole credential lifecycle as a verifier sees it."""

import time
from typing import Any

import pytest

from services.identity.credentials.statuslist import BITS, LIST_SIZE
from services.registry import SERVICES
from shared import jose
from shared.credentials import CredentialError, VerifiedCredential, verify_credential
from shared.status_list import STATUS_LIST_MEDIA_TYPE, StatusValue
from shared.verifier_cache import VerifierCache
from tests.conftest import SettingsFactory, running
from tests.helpers import assert_problem
from tests.identity.credential_factories import (
    IdentityPort,
    act,
    fetch_status_list,
    issued,
    make_identity_port,
    party_action,
    service_keys,
)


async def test_a_status_list_is_served_signed_public_and_short_lived(
    identity_port: IdentityPort,
) -> None:
    credential = await issued(identity_port)
    uri = credential["status"]["uri"]
    path = uri.removeprefix(identity_port.settings.issuer)
    assert path == "/v1/status-lists/1"

    response = await identity_port.client.get(path)  # no Authorization: the list is public
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == STATUS_LIST_MEDIA_TYPE
    cache_control = response.headers["cache-control"]
    assert cache_control.startswith("public, max-age=")
    ttl = identity_port.settings.status_list_ttl_seconds
    assert 0 < int(cache_control.removeprefix("public, max-age=")) <= ttl

    header, claims = jose.peek(response.text)
    _, service_key = await identity_port.app.state.keyring.signing()
    assert header == {
        "alg": "Ed25519",
        "typ": "statuslist+jwt",
        "kid": jose.thumbprint(service_key),
    }
    assert claims["iss"] == identity_port.settings.issuer
    assert claims["sub"] == uri
    assert claims["ttl"] == ttl
    assert claims["exp"] == claims["iat"] + ttl
    assert abs(claims["iat"] - time.time()) < 5
    assert claims["status_list"]["bits"] == BITS

    view = await fetch_status_list(identity_port, uri, time.time())
    # The whole list is published, however few credentials it holds yet.
    assert view.size == LIST_SIZE
    assert view.status(credential["status"]["idx"]) == StatusValue.VALID


async def test_the_ttl_follows_the_settings(make_settings: SettingsFactory) -> None:
    app = SERVICES["identity"].create_app(make_settings("identity", status_list_ttl_seconds=60))
    async with running(app) as client:
        identity_port = await make_identity_port(app, client)
        credential = await issued(identity_port)
        response = await client.get(
            credential["status"]["uri"].removeprefix(identity_port.settings.issuer)
        )
    _, claims = jose.peek(response.text)
    assert (claims["ttl"], claims["exp"] - claims["iat"]) == (60, 60)
    assert response.headers["cache-control"] == "public, max-age=30"


async def test_an_unknown_status_list_is_a_404_problem(identity_port: IdentityPort) -> None:
    assert_problem(
        await identity_port.client.get("/v1/status-lists/1"), 404, "status_list_not_found"
    )
    await issued(identity_port)
    assert_problem(
        await identity_port.client.get("/v1/status-lists/2"), 404, "status_list_not_found"
    )
    assert_problem(
        await identity_port.client.get(f"/v1/status-lists/{2**31 - 1}"),
        404,
        "status_list_not_found",
    )


@pytest.mark.parametrize("list_id", ["0", "-1", str(2**31), str(10**30), "abc", "1.5", "1e3"])
async def test_a_status_list_id_that_cannot_exist_is_refused(
    identity_port: IdentityPort, list_id: str
) -> None:
    assert_problem(
        await identity_port.client.get(f"/v1/status-lists/{list_id}"), 422, "invalid_request"
    )


# --- the lifecycle ---------------------------------------------------------------------------


async def verify(identity_port: IdentityPort, token: str) -> VerifiedCredential:
    """Verify a credential as the release service would: JWKS, then the fetched list."""
    now = time.time()
    _, claims = jose.peek(token)
    uri = claims["status"]["status_list"]["uri"]
    return verify_credential(
        token,
        cache=VerifierCache(),
        resolve_key=await service_keys(identity_port.client),
        issuer=identity_port.settings.issuer,
        status_lists={uri: await fetch_status_list(identity_port, uri, now)},
        now=now,
    )


async def refused(identity_port: IdentityPort, token: str) -> str:
    """The code with which verification refuses the credential."""
    with pytest.raises(CredentialError) as caught:
        await verify(identity_port, token)
    return caught.value.code


async def list_says(identity_port: IdentityPort, credential: dict[str, Any]) -> int:
    """What the published status list says about the credential."""
    view = await fetch_status_list(identity_port, credential["status"]["uri"], time.time())
    return view.status(credential["status"]["idx"])


async def test_issue_verify_suspend_refuse_reinstate_verify_revoke_for_good(
    identity_port: IdentityPort,
) -> None:
    credential = await issued(identity_port)
    token = credential["credential"]
    verified = await verify(identity_port, token)
    assert verified.party_id == identity_port.carrier.id
    assert verified.kid == identity_port.carrier_kid
    assert verified.roles == {"carrier", "forwarder"}

    # The party is suspended: its credential with it.
    await party_action(identity_port, identity_port.carrier.id, "suspend")
    assert await list_says(identity_port, credential) == StatusValue.SUSPENDED
    assert await refused(identity_port, token) == "credential_suspended"
    await party_action(identity_port, identity_port.carrier.id, "reinstate")
    assert await list_says(identity_port, credential) == StatusValue.VALID
    assert (await verify(identity_port, token)).party_id == identity_port.carrier.id

    # The one credential is suspended.
    assert (await act(identity_port, credential["credential_id"], "suspend")).status_code == 200
    assert await list_says(identity_port, credential) == StatusValue.SUSPENDED
    assert await refused(identity_port, token) == "credential_suspended"
    assert (await act(identity_port, credential["credential_id"], "reinstate")).status_code == 200
    assert await list_says(identity_port, credential) == StatusValue.VALID
    assert (await verify(identity_port, token)).party_id == identity_port.carrier.id

    # Revocation is final: nothing brings it back.
    assert (await act(identity_port, credential["credential_id"], "revoke")).status_code == 200
    assert await list_says(identity_port, credential) == StatusValue.INVALID
    assert await refused(identity_port, token) == "credential_revoked"
    assert_problem(
        await act(identity_port, credential["credential_id"], "reinstate"),
        409,
        "credential_revoked",
    )
    await party_action(identity_port, identity_port.carrier.id, "suspend")
    await party_action(identity_port, identity_port.carrier.id, "reinstate")
    assert await list_says(identity_port, credential) == StatusValue.INVALID
    assert await refused(identity_port, token) == "credential_revoked"


async def test_a_revoked_party_loses_every_credential_for_good(identity_port: IdentityPort) -> None:
    first, second = await issued(identity_port), await issued(identity_port, roles=["carrier"])
    await party_action(identity_port, identity_port.carrier.id, "revoke")
    for credential in (first, second):
        assert await list_says(identity_port, credential) == StatusValue.INVALID
        assert await refused(identity_port, credential["credential"]) == "credential_revoked"


async def test_other_credentials_in_the_same_list_are_untouched(
    identity_port: IdentityPort,
) -> None:
    keep, drop = await issued(identity_port), await issued(identity_port)
    assert keep["status"]["uri"] == drop["status"]["uri"]
    assert (await act(identity_port, drop["credential_id"], "revoke")).status_code == 200
    assert (await verify(identity_port, keep["credential"])).status_idx == keep["status"]["idx"]
