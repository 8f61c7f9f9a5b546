"""Credentials: issuing, reading, suspending, reinstating, revoking, following the party."""

import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from sqlmodel import col, select

from services.identity.credentials import service
from services.identity.credentials.cli import cli
from services.identity.credentials.models import Credential, CredentialStatus, StatusList
from services.identity.keys.models import KeyStatus, PartyKey
from services.identity.parties.models import Party, PartyStatus
from shared import jose
from shared.db import transaction
from shared.models import utcnow
from tests.helpers import assert_problem, invoke_cli
from tests.identity.assertions import audit_events, snapshot, unchanged
from tests.identity.credential_factories import IdentityPort, act, issue, issue_directly, issued
from tests.identity.factories import add_own_key, bearer, client_token, make_party, new_eori


async def entry(app: FastAPI, credential_id: str) -> int:
    """The status-list entry of a credential, read from the database."""
    async with transaction(app.state.sessions) as session:
        credential = await session.get(Credential, uuid.UUID(credential_id))
        assert credential is not None
        status_list = await session.get(StatusList, credential.status_list_id)
        assert status_list is not None
        return status_list.statuses[credential.status_index]


async def set_party(app: FastAPI, party_id: str, status: PartyStatus) -> int:
    """Change a party's status the way the parties area does, and let credentials follow."""
    async with transaction(app.state.sessions) as session:
        party = await session.get(Party, party_id)
        assert party is not None
        party.status = status
        session.add(party)
        return await service.set_party_status(
            session, party_id=party_id, status=status, now=utcnow()
        )


# --- issuing -----------------------------------------------------------------------------------


async def test_an_admin_issues_a_credential_binding_the_party_to_its_key(
    identity_port: IdentityPort,
) -> None:
    before = int(time.time())
    response = await issue(identity_port)
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/v1/credentials/{body['credential_id']}"

    header, claims = jose.peek(body["credential"])
    _, service_key = await identity_port.app.state.keyring.signing()
    assert header == {
        "alg": "Ed25519",
        "typ": "ketenpas-credential+jwt",
        "kid": jose.thumbprint(service_key),
    }
    assert claims["iss"] == identity_port.settings.issuer
    assert claims["sub"] == identity_port.carrier.id
    assert claims["roles"] == ["carrier", "forwarder"]
    assert claims["cnf"] == {
        "jwk": {**jose.public_jwk(identity_port.carrier_key), "kid": identity_port.carrier_kid}
    }
    assert before <= claims["iat"] == claims["nbf"] <= int(time.time())
    assert claims["exp"] - claims["iat"] == identity_port.settings.credential_lifetime_days * 86400
    assert claims["jti"] == body["credential_id"]
    uri = f"{identity_port.settings.issuer}/v1/status-lists/1"
    assert claims["status"] == {"status_list": {"idx": 0, "uri": uri}}
    assert body["status"] == {"idx": 0, "uri": uri}
    # Signed by the service key, in the credential type's own verification.
    jose.verify(
        body["credential"], typ="ketenpas-credential+jwt", resolve_key=lambda kid: service_key
    )

    [event] = await audit_events(identity_port.app, "credential.issued")
    assert event["credential_id"] == body["credential_id"]
    assert event["party_id"] == identity_port.carrier.id
    assert event["kid"] == identity_port.carrier_kid
    assert event["actor"].startswith("client:")
    assert await entry(identity_port.app, body["credential_id"]) == CredentialStatus.valid


async def test_roles_may_be_narrowed_to_a_subset_of_the_partys_roles(
    identity_port: IdentityPort,
) -> None:
    body = await issued(identity_port, roles=["forwarder", "forwarder"])
    assert jose.peek(body["credential"])[1]["roles"] == ["forwarder"]


@pytest.mark.parametrize(
    ("roles", "code"), [(["shipping_line"], "roles_not_held"), ([], "roles_empty")]
)
async def test_roles_the_party_does_not_hold_are_refused(
    identity_port: IdentityPort, roles: list[str], code: str
) -> None:
    async with unchanged(identity_port.app):
        assert_problem(await issue(identity_port, roles=roles), 422, code)


@pytest.mark.parametrize(
    "body",
    [
        {"party_id": "P", "kid": "k", "extra": 1},
        {"kid": "k"},
        {"party_id": "P"},
        {"party_id": 7, "kid": "k"},
        {"party_id": "P", "kid": None},
        {"party_id": "P", "kid": "k", "roles": "carrier"},
        {"party_id": "P", "kid": "k", "roles": ["pirate"]},
        {"party_id": "P", "kid": "k", "roles": [None]},
        {"party_id": "P" * 41, "kid": "k"},
        {"party_id": "P", "kid": "k" * 65},
        {"party_id": "", "kid": "k"},
        [],
        "credential",
    ],
)
async def test_bad_bodies_are_refused_without_state_change(
    identity_port: IdentityPort, body: Any
) -> None:
    async with unchanged(identity_port.app):
        response = await identity_port.client.post(
            "/v1/credentials", json=body, headers=identity_port.admin
        )
        assert_problem(response, 422, "invalid_request")


@pytest.mark.parametrize("raw", [b"{", b"not json", b'{"party_id": "P", "kid": "k"', b"\xff\xfe"])
async def test_malformed_json_is_refused_without_state_change(
    identity_port: IdentityPort, raw: bytes
) -> None:
    async with unchanged(identity_port.app):
        response = await identity_port.client.post(
            "/v1/credentials",
            content=raw,
            headers={**identity_port.admin, "content-type": "application/json"},
        )
        assert_problem(response, 422, "invalid_request")


async def test_an_oversize_body_is_refused_with_413(identity_port: IdentityPort) -> None:
    big = {"party_id": identity_port.carrier.id, "kid": "k" * 2_000_000}
    assert_problem(
        await identity_port.client.post("/v1/credentials", json=big, headers=identity_port.admin),
        413,
        "body_too_large",
    )


async def test_an_unknown_party_is_not_found(identity_port: IdentityPort) -> None:
    async with unchanged(identity_port.app):
        assert_problem(await issue(identity_port, party_id=new_eori()), 404, "party_not_found")


@pytest.mark.parametrize("status", ["suspended", "revoked"])
async def test_a_party_not_in_good_standing_gets_no_credential(
    identity_port: IdentityPort, status: str
) -> None:
    party = await make_party(identity_port.app, "carrier", status=status)
    key = await add_own_key(identity_port.app, party)
    async with unchanged(identity_port.app):
        response = await issue(identity_port, party_id=party.id, kid=jose.thumbprint(key))
        assert_problem(response, 409, "party_not_active")


async def test_an_unknown_kid_is_refused(identity_port: IdentityPort) -> None:
    assert_problem(
        await issue(identity_port, kid=jose.thumbprint(jose.generate_key())), 422, "key_not_found"
    )


async def test_a_key_of_another_party_is_refused(identity_port: IdentityPort) -> None:
    other = await make_party(identity_port.app, "carrier")
    other_key = await add_own_key(identity_port.app, other)
    async with unchanged(identity_port.app):
        assert_problem(
            await issue(identity_port, kid=jose.thumbprint(other_key)), 422, "key_of_other_party"
        )


async def test_a_retired_key_gets_no_new_credential(identity_port: IdentityPort) -> None:
    async with transaction(identity_port.app.state.sessions) as session:
        key = await session.get(PartyKey, identity_port.carrier_kid)
        assert key is not None
        key.status = KeyStatus.retired
        key.retired_at = utcnow()
        session.add(key)
    assert_problem(await issue(identity_port), 409, "key_not_active")


async def test_only_an_admin_issues_credentials(identity_port: IdentityPort) -> None:
    body = {"party_id": identity_port.carrier.id, "kid": identity_port.carrier_kid}
    async with unchanged(identity_port.app):
        response = await identity_port.client.post(
            "/v1/credentials", json=body, headers=identity_port.carrier_headers
        )
        assert_problem(response, 403, "admin_required")
        assert_problem(
            await identity_port.client.post("/v1/credentials", json=body), 401, "token_missing"
        )
        forged = bearer(jose.sign({"sub": "x"}, jose.generate_key(), typ="at+jwt"))
        assert (
            await identity_port.client.post("/v1/credentials", json=body, headers=forged)
        ).status_code == 401


# --- status list indexes -------------------------------------------------------------------------


async def test_twenty_concurrent_issuances_never_share_an_index(
    identity_port: IdentityPort,
) -> None:
    await issued(identity_port)  # the first list exists, as it does after the first issuance
    responses = await asyncio.gather(*(issue(identity_port) for _ in range(20)))
    assert [r.status_code for r in responses] == [201] * 20
    references = [(r.json()["status"]["uri"], r.json()["status"]["idx"]) for r in responses]
    assert len(set(references)) == 20
    assert {idx for _, idx in references} == set(range(1, 21))


async def test_concurrent_issuances_across_full_lists_never_share_an_entry(
    identity_port: IdentityPort,
) -> None:
    async def one() -> tuple[int, int]:
        credential = await issue_directly(identity_port, list_size=4)
        return credential.status_list_id, credential.status_index

    entries = await asyncio.gather(*(one() for _ in range(20)))
    assert len(set(entries)) == 20
    assert all(0 <= idx < 4 for _, idx in entries)
    async with transaction(identity_port.app.state.sessions) as session:
        lists = (await session.exec(select(StatusList))).all()
    assert all(s.next_index <= s.size == 4 and len(s.statuses) == 4 for s in lists)


async def test_a_new_list_is_opened_when_the_last_one_is_full(identity_port: IdentityPort) -> None:
    references = []
    for _ in range(7):
        credential = await issue_directly(identity_port, list_size=3)
        references.append((credential.status_list_id, credential.status_index))
    assert references == [(1, 0), (1, 1), (1, 2), (2, 0), (2, 1), (2, 2), (3, 0)]


# --- reading ------------------------------------------------------------------------------------


async def test_the_admin_and_the_party_read_a_credential_and_others_get_404(
    identity_port: IdentityPort,
) -> None:
    body = await issued(identity_port)
    path = f"/v1/credentials/{body['credential_id']}"
    for headers in (identity_port.admin, identity_port.carrier_headers):
        response = await identity_port.client.get(path, headers=headers)
        assert response.status_code == 200, response.text
        view = response.json()
        assert view["credential"] == body["credential"]
        assert view["status"] == "valid"
        assert view["status_list"] == body["status"]
        assert view["party_id"] == identity_port.carrier.id
        assert view["roles"] == ["carrier", "forwarder"]
    stranger = await make_party(identity_port.app, "carrier")
    response = await identity_port.client.get(
        path, headers=bearer(await client_token(identity_port.app, stranger))
    )
    assert_problem(response, 404, "credential_not_found")
    assert_problem(
        await identity_port.client.get(
            f"/v1/credentials/{uuid.uuid4()}", headers=identity_port.admin
        ),
        404,
        "credential_not_found",
    )
    assert_problem(
        await identity_port.client.get("/v1/credentials/not-a-uuid", headers=identity_port.admin),
        422,
        "invalid_request",
    )
    assert_problem(await identity_port.client.get(path), 401, "token_missing")


async def test_a_party_lists_its_own_credentials_newest_first(identity_port: IdentityPort) -> None:
    first = await issued(identity_port)
    second = await issued(identity_port, roles=["carrier"])
    path = f"/v1/parties/{identity_port.carrier.id}/credentials"
    for headers in (identity_port.admin, identity_port.carrier_headers):
        response = await identity_port.client.get(path, headers=headers)
        assert response.status_code == 200, response.text
        ids = [c["credential_id"] for c in response.json()["credentials"]]
        assert set(ids) == {first["credential_id"], second["credential_id"]}
    stranger = await make_party(identity_port.app, "carrier")
    response = await identity_port.client.get(
        path, headers=bearer(await client_token(identity_port.app, stranger))
    )
    assert_problem(response, 404, "party_not_found")
    response = await identity_port.client.get(
        f"/v1/parties/{new_eori()}/credentials", headers=identity_port.admin
    )
    assert_problem(response, 404, "party_not_found")
    response = await identity_port.client.get(
        f"/v1/parties/{'x' * 65}/credentials", headers=identity_port.admin
    )
    assert_problem(response, 422, "invalid_request")


async def test_credentials_of_one_party_are_listed_newest_first(
    identity_port: IdentityPort,
) -> None:
    for day in (1, 3, 2):
        await issue_directly(identity_port, now=datetime(2026, 1, day, tzinfo=UTC))
    response = await identity_port.client.get(
        f"/v1/parties/{identity_port.carrier.id}/credentials", headers=identity_port.admin
    )
    issued_at = [c["issued_at"][:10] for c in response.json()["credentials"]]
    assert issued_at == ["2026-01-03", "2026-01-02", "2026-01-01"]


# --- suspend, reinstate, revoke ---------------------------------------------------------------


async def test_suspension_and_reinstatement_flip_the_entry(identity_port: IdentityPort) -> None:
    credential_id = (await issued(identity_port))["credential_id"]
    suspended = await act(identity_port, credential_id, "suspend")
    assert suspended.status_code == 200, suspended.text
    assert (suspended.json()["status"], suspended.json()["suspended"]) == ("suspended", True)
    assert await entry(identity_port.app, credential_id) == CredentialStatus.suspended
    assert_problem(
        await act(identity_port, credential_id, "suspend"), 409, "credential_already_suspended"
    )

    reinstated = await act(identity_port, credential_id, "reinstate")
    assert reinstated.status_code == 200, reinstated.text
    assert reinstated.json()["status"] == "valid"
    assert await entry(identity_port.app, credential_id) == CredentialStatus.valid
    assert_problem(
        await act(identity_port, credential_id, "reinstate"), 409, "credential_not_suspended"
    )

    events = await audit_events(identity_port.app, "credential.suspended") + await audit_events(
        identity_port.app, "credential.reinstated"
    )
    assert [(e["from"], e["to"]) for e in events] == [
        ("valid", "suspended"),
        ("suspended", "valid"),
    ]
    assert all(
        e["actor"].startswith("client:") and e["credential_id"] == credential_id for e in events
    )


async def test_revocation_is_final(identity_port: IdentityPort) -> None:
    credential_id = (await issued(identity_port))["credential_id"]
    assert (await act(identity_port, credential_id, "suspend")).status_code == 200
    revoked = await act(identity_port, credential_id, "revoke")
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["status"] == "invalid"
    before = await snapshot(identity_port.app)
    for action in ("revoke", "suspend", "reinstate"):
        assert_problem(await act(identity_port, credential_id, action), 409, "credential_revoked")
    assert await set_party(identity_port.app, identity_port.carrier.id, PartyStatus.suspended) == 0
    assert await set_party(identity_port.app, identity_port.carrier.id, PartyStatus.active) == 0
    assert await entry(identity_port.app, credential_id) == CredentialStatus.invalid
    after = await snapshot(identity_port.app)
    assert after["credentials"] == before["credentials"] and after["lists"] == before["lists"]


async def test_status_changes_need_an_admin_and_a_known_credential(
    identity_port: IdentityPort,
) -> None:
    credential_id = (await issued(identity_port))["credential_id"]
    async with unchanged(identity_port.app):
        for action in ("suspend", "reinstate", "revoke"):
            response = await identity_port.client.post(
                f"/v1/credentials/{credential_id}/{action}", headers=identity_port.carrier_headers
            )
            assert_problem(response, 403, "admin_required")
            assert_problem(
                await act(identity_port, str(uuid.uuid4()), action), 404, "credential_not_found"
            )
            assert_problem(await act(identity_port, "nope", action), 422, "invalid_request")


# --- following the party ------------------------------------------------------------------------


async def test_a_party_suspension_suspends_its_valid_credentials_and_reinstatement_lifts_it(
    identity_port: IdentityPort,
) -> None:
    first = (await issued(identity_port))["credential_id"]
    second = (await issued(identity_port))["credential_id"]
    revoked = (await issued(identity_port))["credential_id"]
    assert (await act(identity_port, revoked, "revoke")).status_code == 200
    other_party_credential = await make_party(identity_port.app, "carrier")
    other_key = await add_own_key(identity_port.app, other_party_credential)
    other = (
        await issued(
            identity_port, party_id=other_party_credential.id, kid=jose.thumbprint(other_key)
        )
    )["credential_id"]

    assert await set_party(identity_port.app, identity_port.carrier.id, PartyStatus.suspended) == 2
    assert [await entry(identity_port.app, c) for c in (first, second, revoked, other)] == [
        2,
        2,
        1,
        0,
    ]
    changes = await audit_events(identity_port.app, "credential.status_changed")
    assert {(e["credential_id"], e["from"], e["to"], e["cause"]) for e in changes} == {
        (first, "valid", "suspended", "party.suspended"),
        (second, "valid", "suspended", "party.suspended"),
    }

    assert await set_party(identity_port.app, identity_port.carrier.id, PartyStatus.active) == 2
    assert [await entry(identity_port.app, c) for c in (first, second, revoked, other)] == [
        0,
        0,
        1,
        0,
    ]


async def test_lifting_a_party_suspension_keeps_a_credential_suspended_on_its_own(
    identity_port: IdentityPort,
) -> None:
    alone = (await issued(identity_port))["credential_id"]
    other = (await issued(identity_port))["credential_id"]
    assert (await act(identity_port, alone, "suspend")).status_code == 200
    assert await set_party(identity_port.app, identity_port.carrier.id, PartyStatus.suspended) == 1
    # While the party is suspended, its credential cannot be reinstated on its own.
    assert_problem(await act(identity_port, alone, "reinstate"), 409, "party_not_active")
    assert await set_party(identity_port.app, identity_port.carrier.id, PartyStatus.active) == 1
    assert [await entry(identity_port.app, c) for c in (alone, other)] == [2, 0]
    assert (await act(identity_port, alone, "reinstate")).status_code == 200
    assert await entry(identity_port.app, alone) == 0


async def test_a_credential_suspended_with_its_party_is_not_reinstated_alone(
    identity_port: IdentityPort,
) -> None:
    credential_id = (await issued(identity_port))["credential_id"]
    await set_party(identity_port.app, identity_port.carrier.id, PartyStatus.suspended)
    assert_problem(
        await act(identity_port, credential_id, "reinstate"), 409, "credential_not_suspended"
    )
    # An admin may still suspend it on its own, so that reinstating the party keeps it off.
    assert (await act(identity_port, credential_id, "suspend")).status_code == 200
    await set_party(identity_port.app, identity_port.carrier.id, PartyStatus.active)
    assert await entry(identity_port.app, credential_id) == CredentialStatus.suspended


async def test_a_party_revocation_invalidates_every_credential_for_good(
    identity_port: IdentityPort,
) -> None:
    valid = (await issued(identity_port))["credential_id"]
    suspended = (await issued(identity_port))["credential_id"]
    assert (await act(identity_port, suspended, "suspend")).status_code == 200
    assert await set_party(identity_port.app, identity_port.carrier.id, PartyStatus.revoked) == 2
    assert [await entry(identity_port.app, c) for c in (valid, suspended)] == [1, 1]
    assert await set_party(identity_port.app, identity_port.carrier.id, PartyStatus.active) == 0
    assert [await entry(identity_port.app, c) for c in (valid, suspended)] == [1, 1]


async def test_a_party_without_credentials_changes_nothing(identity_port: IdentityPort) -> None:
    assert await set_party(identity_port.app, identity_port.carrier.id, PartyStatus.suspended) == 0
    assert await audit_events(identity_port.app, "credential.status_changed") == []


# --- CLI -----------------------------------------------------------------------------------------


async def test_the_cli_issues_a_credential_and_prints_it(
    identity_port: IdentityPort, cli_env: None
) -> None:
    result = await invoke_cli(
        cli,
        [
            "issue",
            identity_port.carrier.id,
            "--kid",
            identity_port.carrier_kid,
            "--role",
            "carrier",
        ],
    )
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    header, claims = jose.peek(token)
    assert header["typ"] == "ketenpas-credential+jwt"
    assert (claims["sub"], claims["roles"]) == (identity_port.carrier.id, ["carrier"])
    async with transaction(identity_port.app.state.sessions) as session:
        stored = (
            await session.exec(select(Credential).where(col(Credential.token) == token))
        ).one()
    assert stored.party_id == identity_port.carrier.id
    [event] = await audit_events(identity_port.app, "credential.issued")
    assert event["actor"].startswith("cli:")


async def test_the_cli_refuses_with_the_problem_code_and_changes_nothing(
    identity_port: IdentityPort, cli_env: None
) -> None:
    async with unchanged(identity_port.app):
        result = await invoke_cli(cli, ["issue", identity_port.carrier.id, "--kid", "unknown"])
        assert result.exit_code == 1
        assert "refused (key_not_found)" in result.stderr
        result = await invoke_cli(
            cli,
            [
                "issue",
                identity_port.carrier.id,
                "--kid",
                identity_port.carrier_kid,
                "--role",
                "customs",
            ],
        )
        assert result.exit_code == 1
        assert "refused (roles_not_held)" in result.stderr
