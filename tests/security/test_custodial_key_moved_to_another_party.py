"""Threat: someone with write access to the identity database moves a party's custodial key
row to another party (or copies it there), so that people of that party sign with a key the
service vouches for as someone else's.

Refused: a custodial key is sealed bound to its kid and its party; moved to another party's
row it no longer opens. Keys sealed before the party was bound in still open where they
are, and are sealed again with the party bound in the first time they sign.
"""

import time
import uuid
from typing import Any

from sqlmodel import select

from services.identity.keys import service as keys_service
from services.identity.keys.models import PartyKey
from services.identity.sealing import seal, unseal
from shared import jose
from shared.db import transaction
from shared.models import utcnow
from tests.identity.factories import bearer, make_party, make_person, person_token


def handover(party_id: str) -> dict[str, Any]:
    now = int(time.time())
    return {
        "release_id": str(uuid.uuid4()),
        "container": "MSKU1234565",
        "seq": 1,
        "kind": "handover",
        "from": party_id,
        "to": "EU.EORI.NL999999999",
        "iat": now,
        "exp": now + 600,
        "jti": str(uuid.uuid4()),
    }


async def test_a_custodial_key_moved_to_another_party_does_not_sign(identity_app: Any) -> None:
    app, client = identity_app
    victim, thief = await make_party(app, "carrier"), await make_party(app, "carrier")
    async with transaction(app.state.sessions) as session:
        key = await keys_service.create_custodial_key(
            session, settings=app.state.settings, party_id=victim.id, actor="test", now=utcnow()
        )
    async with transaction(app.state.sessions) as session:
        row = (await session.exec(select(PartyKey).where(PartyKey.kid == key.kid))).one()
        row.party_id = thief.id  # the insider's UPDATE
        session.add(row)
    person = await make_person(app, thief, "dispatcher")

    response = await client.post(
        "/v1/sign",
        json={"typ": "ketenpas-link+jwt", "claims": handover(thief.id)},
        headers=bearer(await person_token(app, person, thief)),
    )

    assert response.status_code == 500, response.text
    assert response.json()["code"] == "custodial_key_unusable"
    assert "jws" not in response.json()


async def test_a_key_sealed_before_the_party_was_bound_in_still_signs_and_is_resealed(
    identity_app: Any,
) -> None:
    app, client = identity_app
    party = await make_party(app, "carrier")
    private = jose.generate_key()
    kid = jose.thumbprint(private)
    kek = app.state.settings.kek_bytes()
    pem = private.as_pem(private=True)
    async with transaction(app.state.sessions) as session:
        session.add(
            PartyKey(
                kid=kid,
                party_id=party.id,
                public_jwk=jose.public_jwk(private),
                custodial=True,
                sealed_private=seal(kek, pem, bound_to=f"party_keys:{kid}"),
            )
        )
    person = await make_person(app, party, "dispatcher")

    response = await client.post(
        "/v1/sign",
        json={"typ": "ketenpas-link+jwt", "claims": handover(party.id)},
        headers=bearer(await person_token(app, person, party)),
    )

    assert response.status_code == 200, response.text
    assert response.json()["kid"] == kid
    async with transaction(app.state.sessions) as session:
        row = (await session.exec(select(PartyKey).where(PartyKey.kid == kid))).one()
    assert row.sealed_private is not None
    assert unseal(kek, bytes(row.sealed_private), bound_to=f"party_keys:{party.id}:{kid}") == pem
