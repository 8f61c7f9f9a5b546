"""The identity half of the exposure report (docs/exposure.md): a party's people by role,
what each role signs with the custodial key, its keys and API clients; for port security
and the party's own administrators."""

from datetime import date
from typing import Any

import httpx
from fastapi import FastAPI

from services.identity.keys import service as keys
from shared import jose
from shared.db import transaction
from shared.models import utcnow
from tests.helpers import assert_problem
from tests.identity.factories import (
    add_certified_key,
    add_own_key,
    bearer,
    client_token,
    make_party,
    make_person,
    person_token,
)

App = tuple[FastAPI, httpx.AsyncClient]


async def officer(app: FastAPI) -> dict[str, str]:
    """A signed-in officer of port security."""
    party = await make_party(app, "port_security")
    person = await make_person(app, party, "officer")
    return bearer(await person_token(app, person, party))


async def test_a_shipping_lines_dispatchers_sign_releases_and_nobody_else_signs(
    identity_app: App,
) -> None:
    app, client = identity_app
    line = await make_party(app, "shipping_line", name="Line")
    await make_person(app, line, "dispatcher", name="Dora")
    await make_person(app, line, "dispatcher", name="Suspended Sam", status="suspended")
    await make_person(app, line, "operator", name="Otto", screened_until=date(2030, 1, 1))
    async with transaction(app.state.sessions) as session:
        await keys.create_custodial_key(
            session, settings=app.state.settings, party_id=line.id, actor="test", now=utcnow()
        )
    certified = await add_certified_key(app, line)
    await add_own_key(app, line)  # no credential: it lets no client in
    response = await client.get(f"/v1/parties/{line.id}/exposure", headers=await officer(app))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    roles = {role["role"]: role for role in body["roles"]}
    assert set(roles) == {"driver", "dispatcher", "operator", "officer", "admin"}
    assert roles["dispatcher"]["custodial_signing"] == {"link_kinds": ["release"], "accepts": False}
    assert (roles["dispatcher"]["active"], roles["dispatcher"]["suspended"]) == (1, 1)
    for name in ("driver", "operator", "officer", "admin"):
        assert roles[name]["custodial_signing"] == {"link_kinds": [], "accepts": False}
    assert roles["dispatcher"]["sees_party_people"] is True
    assert roles["operator"]["sees_party_people"] is False
    people = {p["name"]: p for p in body["people"]}
    # A suspended dispatcher signs nothing, though his role would.
    assert people["Dora"]["custodial_signing"] is True
    assert people["Suspended Sam"]["custodial_signing"] is False
    assert people["Otto"]["screened_until"] == "2030-01-01"
    by_kind = sorted((k["kind"], k["certified"]) for k in body["keys"])
    assert by_kind == [("custodial", False), ("own", False), ("own", True)]
    assert [c["kid"] for c in body["api_clients"]] == [jose.thumbprint(certified)]
    assert body["client_scopes"] == ["releases:read", "releases:write", "subscriptions:manage"]


async def test_the_partys_own_admin_reads_it_its_dispatcher_may_not(identity_app: App) -> None:
    app, client = identity_app
    carrier = await make_party(app, "carrier")
    admin = await make_person(app, carrier, "admin")
    dispatcher = await make_person(app, carrier, "dispatcher")
    own = await client.get(
        f"/v1/parties/{carrier.id}/exposure",
        headers=bearer(await person_token(app, admin, carrier)),
    )
    assert own.status_code == 200, own.text
    refused = await client.get(
        f"/v1/parties/{carrier.id}/exposure",
        headers=bearer(await person_token(app, dispatcher, carrier)),
    )
    assert_problem(refused, 403, "exposure_not_allowed")
    client_refused = await client.get(
        f"/v1/parties/{carrier.id}/exposure", headers=bearer(await client_token(app, carrier))
    )
    assert_problem(client_refused, 403, "exposure_not_allowed")


async def test_an_unknown_party_is_not_found(identity_app: App) -> None:
    app, client = identity_app
    response = await client.get(
        "/v1/parties/EU.EORI.NL000000001/exposure", headers=await officer(app)
    )
    assert_problem(response, 404, "party_not_found")
