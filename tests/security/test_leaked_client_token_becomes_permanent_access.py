"""Threat: a party's one-hour access token leaks (a log, a proxy, a departing employee) and
its holder turns it into access for ever: he registers a key of his own with the token and
then mints fresh tokens with that key whenever he likes.

Refused: a key is registered by an administrator, or with proof of possession of a current
key that holds a valid credential and of the new key; the registration is audited and left
as a notice for the party's administrators; and the token endpoint accepts only keys that
hold a valid (unexpired, unrevoked, unsuspended) credential of the party.
"""

import time
import uuid
from typing import Any

import httpx
from joserfc.jwk import OKPKey

from services.identity.clock import current_time
from shared import jose
from tests.identity.assertions import audit_events
from tests.identity.credential_factories import IdentityPort, act, issued
from tests.identity.factories import bearer, make_person, person_token
from tests.identity.oauth_factories import sign_assertion, token_form

PROOF_TYP = "ketenpas-key-proof+jwt"


def proof_claims(port: IdentityPort, new: OKPKey, **overrides: Any) -> dict[str, Any]:
    """Honest key-proof claims for a new key of the carrier."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": port.carrier.id,
        "aud": port.settings.issuer,
        "jkt": jose.thumbprint(new),
        "iat": now,
        "exp": now + 30,
        "jti": str(uuid.uuid4()),
    }
    claims.update(overrides)
    return claims


def proven(
    port: IdentityPort, new: OKPKey, *, current: OKPKey | None = None, **claims: Any
) -> dict[str, Any]:
    """A registration body with both proofs (the current key's and the new key's)."""
    body = proof_claims(port, new, **claims)
    return {
        "jwk": jose.public_jwk(new),
        "proof": jose.sign(body, current or port.carrier_key, typ=PROOF_TYP),
        "new_key_proof": jose.sign(body, new, typ=PROOF_TYP),
    }


async def register(port: IdentityPort, body: dict[str, Any]) -> httpx.Response:
    """The carrier's API client registers a key."""
    return await port.client.post(
        f"/v1/parties/{port.carrier.id}/keys", json=body, headers=port.carrier_headers
    )


async def token_with(port: IdentityPort, key: OKPKey) -> httpx.Response:
    """A token request of the carrier's client, signed with `key`."""
    now = int(time.time())
    port.app.dependency_overrides[current_time] = lambda: float(now)
    assertion = sign_assertion(key, port.carrier.id, port.settings.issuer, now)
    return await port.client.post("/v1/token", data=token_form(assertion))


def refused(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["code"] == code, response.text


async def test_a_leaked_client_token_alone_cannot_register_a_key(
    identity_port: IdentityPort,
) -> None:
    port = identity_port
    await issued(port)
    attacker = jose.generate_key()

    response = await register(port, {"jwk": jose.public_jwk(attacker)})

    refused(response, 403, "key_proof_required")
    refused(await token_with(port, attacker), 401, "token_kid_unknown")  # never registered


async def test_a_key_without_a_credential_gets_no_access_token(identity_port: IdentityPort) -> None:
    port = identity_port  # the carrier's key is registered, but no credential holds it

    refused(await token_with(port, port.carrier_key), 401, "assertion_key_not_certified")


async def test_a_key_whose_credential_is_suspended_or_revoked_gets_no_access_token(
    identity_port: IdentityPort,
) -> None:
    port = identity_port
    credential = await issued(port)
    assert (await token_with(port, port.carrier_key)).status_code == 200

    assert (await act(port, credential["credential_id"], "suspend")).status_code == 200
    refused(await token_with(port, port.carrier_key), 401, "assertion_key_not_certified")
    assert (await act(port, credential["credential_id"], "revoke")).status_code == 200
    refused(await token_with(port, port.carrier_key), 401, "assertion_key_not_certified")


async def test_a_proof_by_a_key_without_a_valid_credential_is_refused(
    identity_port: IdentityPort,
) -> None:
    port = identity_port  # the carrier's current key holds no credential
    new = jose.generate_key()

    refused(await register(port, proven(port, new)), 403, "key_proof_not_certified")


async def test_a_proof_without_the_new_keys_signature_or_for_another_key_is_refused(
    identity_port: IdentityPort,
) -> None:
    port = identity_port
    await issued(port)
    new, other = jose.generate_key(), jose.generate_key()
    body = proven(port, new)
    # The new key's proof signed by some other key: the holder of the new key never said so.
    forged = {**body, "new_key_proof": jose.sign(proof_claims(port, new), other, typ=PROOF_TYP)}
    refused(await register(port, forged), 422, "key_proof_invalid")
    # A proof made for another key cannot register this one.
    swapped = {**proven(port, other), "jwk": jose.public_jwk(new)}
    refused(await register(port, swapped), 422, "key_proof_invalid")
    # Nor one that names another issuer.
    refused(
        await register(port, proven(port, new, aud="https://elsewhere")), 422, "key_proof_invalid"
    )


async def test_a_proven_key_is_registered_audited_announced_and_the_proof_used_once(
    identity_port: IdentityPort,
) -> None:
    port = identity_port
    await issued(port)
    new = jose.generate_key()
    body = proven(port, new)

    response = await register(port, body)

    assert response.status_code == 201, response.text
    [event] = [
        e
        for e in await audit_events(port.app, "party_key.registered")
        if e["kid"] == jose.thumbprint(new)
    ]
    assert event["proven_by"] == port.carrier_kid
    assert event["actor"] == f"client:{port.carrier.id}"
    refused(await register(port, body), 409, "key_proof_replayed")
    again = proven(port, jose.generate_key())
    replayed = {**again, "proof": body["proof"]}
    refused(await register(port, replayed), 422, "key_proof_invalid")

    # The party's administrators read what happened to their keys.
    admin = await make_person(port.app, port.carrier, "admin")
    headers = bearer(await person_token(port.app, admin, port.carrier))
    notices = await port.client.get(f"/v1/parties/{port.carrier.id}/key-notices", headers=headers)
    assert notices.status_code == 200, notices.text
    [notice] = [n for n in notices.json() if n["kid"] == jose.thumbprint(new)]
    assert notice["event"] == "party_key.registered"
    assert notice["detail"]["proven_by"] == port.carrier_kid
    # ... and nobody else of the party does.
    driver = await make_person(port.app, port.carrier, "driver")
    driver_headers = bearer(await person_token(port.app, driver, port.carrier))
    refused(
        await port.client.get(f"/v1/parties/{port.carrier.id}/key-notices", headers=driver_headers),
        403,
        "admin_required",
    )
    # Even a proven new key gets tokens only once an administrator certifies it.
    refused(await token_with(port, new), 401, "assertion_key_not_certified")


async def test_a_replayed_proof_is_refused(identity_port: IdentityPort) -> None:
    port = identity_port
    await issued(port)
    new = jose.generate_key()
    body = proven(port, new)
    assert (await register(port, body)).status_code == 201
    # The same proofs for the same key once the key was retired and removed cannot come
    # back: here, the same jti with a fresh key pair of proofs.
    other = jose.generate_key()
    claims = proof_claims(port, other, jti=jose.peek(body["proof"])[1]["jti"])
    replay = {
        "jwk": jose.public_jwk(other),
        "proof": jose.sign(claims, port.carrier_key, typ=PROOF_TYP),
        "new_key_proof": jose.sign(claims, other, typ=PROOF_TYP),
    }
    refused(await register(port, replay), 409, "key_proof_replayed")
