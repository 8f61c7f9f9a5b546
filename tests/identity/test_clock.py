"""The identity service's one clock: every handler takes the time of the request from
`deps.NowDep` (seconds) or `deps.UtcNowDep` (the same instant as a datetime), both fed by
`current_time`, so that a test which overrides that one dependency moves every handler."""

import uuid
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from services.identity.clock import current_time
from services.identity.credentials.models import Credential, StatusList
from services.identity.deps import current_utc_datetime
from services.identity.parties.models import Party
from shared import jose
from tests.identity.assertions import get_row
from tests.identity.credential_factories import IdentityPort, act, issue_directly, issued
from tests.identity.factories import bearer, client_token, make_party, new_eori

# Well away from the real time, so that a handler reading the system clock would show.
FIXED = datetime(2024, 2, 29, 12, 34, 56, tzinfo=UTC)


def fixed_clock() -> float:
    """`current_time` stopped at FIXED."""
    return FIXED.timestamp()


async def stopped_at_fixed(port: IdentityPort) -> IdentityPort:
    """The service with its clock stopped at FIXED, and an administrator whose token was
    issued then (access tokens are judged by the same clock)."""
    port.app.dependency_overrides[current_time] = fixed_clock
    admin = await make_party(port.app, "admin", name="Administration in 2024")
    token = await client_token(port.app, admin, now=int(FIXED.timestamp()))
    return replace(port, admin=bearer(token))


async def test_the_datetime_is_the_same_instant_as_the_seconds() -> None:
    assert await current_utc_datetime(1_234_567_890.5) == datetime(
        2009, 2, 13, 23, 31, 30, 500_000, tzinfo=UTC
    )
    assert await current_utc_datetime(FIXED.timestamp()) == FIXED


async def test_a_party_registered_over_http_is_stamped_with_the_overridden_clock(
    identity_port: IdentityPort,
) -> None:
    port = await stopped_at_fixed(identity_port)

    response = await port.client.post(
        "/v1/parties",
        json={"id": new_eori(), "name": "Clockwork BV", "roles": ["carrier"]},
        headers=port.admin,
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert datetime.fromisoformat(body["created_at"]) == FIXED
    assert datetime.fromisoformat(body["updated_at"]) == FIXED
    stored = await get_row(port.app, Party, body["id"])
    assert stored.created_at == FIXED


async def test_a_suspension_over_http_is_stamped_with_the_overridden_clock(
    identity_port: IdentityPort,
) -> None:
    port = await stopped_at_fixed(identity_port)

    response = await port.client.post(f"/v1/parties/{port.carrier.id}/suspend", headers=port.admin)

    assert response.status_code == 200, response.text
    assert datetime.fromisoformat(response.json()["updated_at"]) == FIXED


async def status_list_of(port: IdentityPort, credential_id: uuid.UUID) -> StatusList:
    """A fresh copy of the status list row a credential's entry is kept in."""
    credential = await get_row(port.app, Credential, credential_id)
    status_list: StatusList = await get_row(port.app, StatusList, credential.status_list_id)
    return status_list


@pytest.mark.parametrize("actions", [["suspend"], ["suspend", "reinstate"], ["revoke"]])
async def test_a_credential_status_change_over_http_stamps_its_list_with_the_overridden_clock(
    identity_port: IdentityPort, actions: list[str]
) -> None:
    # Issued (and its list stamped) at the real time, before the clock stops.
    credential = await issue_directly(identity_port)
    assert (await status_list_of(identity_port, credential.id)).updated_at != FIXED
    port = await stopped_at_fixed(identity_port)

    for action in actions:
        response = await act(port, str(credential.id), action)
        assert response.status_code == 200, response.text

    assert (await status_list_of(port, credential.id)).updated_at == FIXED


async def test_a_party_suspension_over_http_stamps_its_credentials_list_with_the_overridden_clock(
    identity_port: IdentityPort,
) -> None:
    credential = await issue_directly(identity_port)
    port = await stopped_at_fixed(identity_port)

    response = await port.client.post(f"/v1/parties/{port.carrier.id}/suspend", headers=port.admin)

    assert response.status_code == 200, response.text
    assert (await status_list_of(port, credential.id)).updated_at == FIXED


async def test_a_status_list_token_is_issued_at_the_overridden_clock(
    identity_port: IdentityPort,
) -> None:
    port = await stopped_at_fixed(identity_port)
    credential = await issued(port)
    path = str(credential["status"]["uri"]).removeprefix(port.settings.issuer)

    response = await port.client.get(path)

    assert response.status_code == 200, response.text
    _, claims = jose.peek(response.text)
    assert claims["iat"] == int(FIXED.timestamp())
    # The credential issued over HTTP in the same test was stamped by the same clock.
    _, credential_claims = jose.peek(str(credential["credential"]))
    assert credential_claims["iat"] == int(FIXED.timestamp())


async def test_access_tokens_are_judged_by_the_same_clock(identity_port: IdentityPort) -> None:
    # The administrator's token was issued at the real time: at FIXED it is not valid yet.
    real_time_admin = identity_port.admin
    port = await stopped_at_fixed(identity_port)

    refused = await port.client.get("/v1/parties", headers=real_time_admin)
    accepted = await port.client.get("/v1/parties", headers=port.admin)

    assert refused.status_code == 401, refused.text
    assert refused.json()["code"] == "token_not_yet_valid"
    assert accepted.status_code == 200, accepted.text
