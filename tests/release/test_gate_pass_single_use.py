"""A gate pass is good for one gate-out: the second presentation is refused, on any replica."""

import asyncio
import time

import httpx
import pytest
from fastapi import FastAPI

from services.release.gate.passes import spend_gate_pass
from shared import jose
from shared.db import transaction
from shared.gatepass import GatePass, verify_gate_pass
from shared.models import utcnow
from shared.problems import Conflict
from tests.identity.factories import bearer, make_party, make_person, person_token

App = tuple[FastAPI, httpx.AsyncClient]


async def issued_gate_pass(identity: App) -> GatePass:
    """A driver's real gate pass from the identity service, verified as a gate does."""
    app, client = identity
    carrier = await make_party(app, "carrier")
    driver = await make_person(app, carrier, "driver")
    token = await person_token(app, driver, carrier)
    response = await client.post(f"/v1/people/{driver.id}/gate-pass", headers=bearer(token))
    assert response.status_code == 200, response.text
    jwks = (await client.get("/.well-known/jwks.json")).json()
    keys = {jwk["kid"]: jose.import_key(jwk) for jwk in jwks["keys"]}
    return verify_gate_pass(
        response.json()["gate_pass"],
        resolve_key=keys.get,
        issuer=app.state.settings.issuer,
        now=time.time(),
    )


async def spend(release: FastAPI, gate_pass: GatePass) -> None:
    async with transaction(release.state.sessions) as session:
        await spend_gate_pass(session, gate_pass=gate_pass, now=utcnow())


async def test_a_gate_pass_used_twice_is_refused(identity_app: App, release_app: App) -> None:
    gate_pass = await issued_gate_pass(identity_app)
    release, _ = release_app
    await spend(release, gate_pass)
    with pytest.raises(Conflict) as refused:
        await spend(release, gate_pass)
    assert refused.value.code == "gate_pass_replayed"


async def test_twenty_gates_presenting_one_pass_at_once_let_exactly_one_through(
    identity_app: App, release_app: App
) -> None:
    gate_pass = await issued_gate_pass(identity_app)
    release, _ = release_app

    async def one_gate() -> bool:
        try:
            await spend(release, gate_pass)
        except Conflict:
            return False
        return True

    results = await asyncio.gather(*(one_gate() for _ in range(20)))
    assert results.count(True) == 1
