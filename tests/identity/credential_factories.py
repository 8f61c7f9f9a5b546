"""Helpers for the credential and status-list tests: `IdentityPort` (the identity
service alone, not the two-service `tests.release.port.Port`), requests, status lists."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from fastapi import FastAPI
from joserfc.jwk import Key, OKPKey

from services.identity.credentials import service
from services.identity.credentials.models import Credential
from services.identity.credentials.statuslist import LIST_SIZE
from services.identity.parties.models import Party
from services.identity.settings import IdentitySettings
from shared import jose
from shared.credentials import StatusListView, decode_status_list_token
from shared.db import transaction
from shared.models import utcnow
from tests.identity.factories import add_own_key, admin_headers, bearer, client_token, make_party


@dataclass
class IdentityPort:
    """A running identity service with an administrator and a carrier holding its own key."""

    app: FastAPI
    client: httpx.AsyncClient
    settings: IdentitySettings
    admin: dict[str, str]
    carrier: Party
    carrier_key: OKPKey
    carrier_headers: dict[str, str]

    @property
    def carrier_kid(self) -> str:
        """The kid of the carrier's key."""
        return jose.thumbprint(self.carrier_key)


async def make_identity_port(app: FastAPI, client: httpx.AsyncClient) -> IdentityPort:
    """An admin party and a carrier (also a forwarder) with one own key."""
    _, admin = await admin_headers(app)
    carrier = await make_party(app, "carrier", "forwarder", name="Haulier")
    return IdentityPort(
        app=app,
        client=client,
        settings=app.state.settings,
        admin=admin,
        carrier=carrier,
        carrier_key=await add_own_key(app, carrier),
        carrier_headers=bearer(await client_token(app, carrier)),
    )


async def issue(identity_port: IdentityPort, **body: Any) -> httpx.Response:
    """POST /v1/credentials as the admin, for the carrier and its key unless told otherwise."""
    payload = {"party_id": identity_port.carrier.id, "kid": identity_port.carrier_kid, **body}
    payload = {name: value for name, value in payload.items() if value is not None}
    return await identity_port.client.post(
        "/v1/credentials", json=payload, headers=identity_port.admin
    )


async def issued(identity_port: IdentityPort, **body: Any) -> dict[str, Any]:
    """A credential issued through the API (201), as its response body."""
    response = await issue(identity_port, **body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def issue_directly(
    identity_port: IdentityPort, *, now: datetime | None = None, list_size: int = LIST_SIZE
) -> Credential:
    """A credential for the carrier's key, issued by the service in a transaction of its own."""
    _, signing_key = await identity_port.app.state.keyring.signing()
    async with transaction(identity_port.app.state.sessions) as session:
        record = await service.issue_credential(
            session,
            party_id=identity_port.carrier.id,
            kid=identity_port.carrier_kid,
            roles=None,
            settings=identity_port.settings,
            signing_key=signing_key,
            actor="test",
            now=now if now is not None else utcnow(),
            list_size=list_size,
        )
    return record.credential


async def act(identity_port: IdentityPort, credential_id: str, action: str) -> httpx.Response:
    """POST /v1/credentials/{id}/{action} as the admin."""
    return await identity_port.client.post(
        f"/v1/credentials/{credential_id}/{action}", headers=identity_port.admin
    )


async def party_action(identity_port: IdentityPort, party_id: str, action: str) -> None:
    """Suspend, reinstate or revoke a party through the parties API."""
    response = await identity_port.client.post(
        f"/v1/parties/{party_id}/{action}", headers=identity_port.admin
    )
    assert response.status_code == 200, response.text


async def service_keys(client: httpx.AsyncClient) -> Callable[[str], Key | None]:
    """A resolver over the service's published JWKS, as a verifier would build it."""
    response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    keys = {jwk["kid"]: jose.import_key(jwk) for jwk in response.json()["keys"]}
    return keys.get


async def fetch_status_list(identity_port: IdentityPort, uri: str, now: float) -> StatusListView:
    """GET a status list by its URI and verify it, as the release service does."""
    path = uri.removeprefix(identity_port.settings.issuer)
    response = await identity_port.client.get(path)
    assert response.status_code == 200, response.text
    return decode_status_list_token(
        response.text,
        resolve_key=await service_keys(identity_port.client),
        issuer=identity_port.settings.issuer,
        now=now,
    )
