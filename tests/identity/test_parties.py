"""Parties: EORI identifiers, registration, visibility, status changes and their CLI."""

import asyncio
import re
import string
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.identity.cli_support import cli_actor
from services.identity.credentials import service as credentials_service
from services.identity.parties.cli import cli
from services.identity.parties.models import Party, PartyStatus
from shared.eori import COUNTRY_CODES, InvalidEori, is_valid_eori, parse_eori
from shared.problems import Conflict
from tests.helpers import assert_problem, invoke_cli
from tests.identity.assertions import audit_events, get_row, snapshot, unchanged
from tests.identity.factories import (
    admin_headers,
    bearer,
    client_token,
    make_party,
    new_eori,
    party_client,
    person_headers,
)

# --- EORI identifiers --------------------------------------------------------------------

# An independent statement of the rule, to test the parser against.
ORACLE = re.compile(r"EU\.EORI\.(?:NL[0-9]{9}|(?!NL)([A-Z]{2})[A-Z0-9]{1,15})")


@pytest.mark.parametrize(
    "party_id",
    [
        "EU.EORI.NL123456789",
        "EU.EORI.NL000000000",
        "EU.EORI.DE1234567",
        "EU.EORI.DE123456789012345",
        "EU.EORI.BE0123456789",
        "EU.EORI.GB123456789000",
        "EU.EORI.XI123456789000",
        "EU.EORI.FRABC123",
    ],
)
def test_valid_eori_identifiers_are_accepted(party_id: str) -> None:
    assert parse_eori(party_id) == party_id


@pytest.mark.parametrize(
    "party_id",
    [
        "NL123456789",  # no scheme prefix
        "EU.EORI.",  # nothing after it
        "eu.eori.NL123456789",  # the prefix is upper case
        "EU.EORI.nl123456789",  # so is the country code
        "EU.EORI.NL12345678",  # NL: exactly nine digits
        "EU.EORI.NL1234567890",
        "EU.EORI.NL12345678A",
        "EU.EORI.NLABCDEFGHI",
        "EU.EORI.UK123456789",  # UK is not an ISO 3166-1 code (GB is)
        "EU.EORI.EU123456789",
        "EU.EORI.XX123",
        "EU.EORI.DE",  # no national part
        "EU.EORI.DE1234567890123456",  # sixteen characters
        "EU.EORI.DE12 34",
        "EU.EORI.DE12-34",
        "EU.EORI.De1234",
        "EU.EORI.DEabc",
        # Arabic-Indic digits are digits to Python, not to EORI
        "EU.EORI.DE\u0661\u0662\u0663\u0664",
        "EU.EORI.\uff24\uff251234",  # full-width letters
        "EU.EORI.NL123456789\n",
        " EU.EORI.NL123456789",
        "EU.EORI.NL123456789 ",
        "EU:EORI:NL123456789",
        "",
    ],
)
def test_invalid_eori_identifiers_are_refused(party_id: str) -> None:
    with pytest.raises(InvalidEori):
        parse_eori(party_id)
    assert not is_valid_eori(party_id)


def test_the_country_list_is_iso_3166_alpha_2_plus_northern_ireland() -> None:
    assert len(COUNTRY_CODES) == 250
    assert {"NL", "DE", "BE", "GB", "XI", "GR", "SS", "CW", "SX", "BQ"} <= COUNTRY_CODES
    assert not {"UK", "EU", "EL", "AN", "XX"} & COUNTRY_CODES


_NATIONAL = st.text(alphabet=string.ascii_uppercase + string.digits, min_size=1, max_size=15)


@given(country=st.sampled_from(sorted(COUNTRY_CODES - {"NL"})), national=_NATIONAL)
def test_any_country_code_with_up_to_fifteen_alphanumerics_is_valid(
    country: str, national: str
) -> None:
    party_id = f"EU.EORI.{country}{national}"
    assert parse_eori(party_id) == party_id


@given(digits=st.text(alphabet=string.digits, min_size=9, max_size=9))
def test_dutch_numbers_of_nine_digits_are_valid(digits: str) -> None:
    assert is_valid_eori(f"EU.EORI.NL{digits}")


@given(national=_NATIONAL.filter(lambda n: not re.fullmatch(r"[0-9]{9}", n)))
def test_dutch_numbers_other_than_nine_digits_are_refused(national: str) -> None:
    assert not is_valid_eori(f"EU.EORI.NL{national}")


@given(
    value=st.one_of(
        st.text(max_size=40),
        st.builds(lambda tail: "EU.EORI." + tail, st.text(max_size=20)),
        st.builds(
            lambda country, tail: f"EU.EORI.{country}{tail}",
            st.sampled_from(sorted(COUNTRY_CODES)),
            st.text(max_size=20),
        ),
    )
)
def test_the_parser_agrees_with_the_rule_on_any_text(value: str) -> None:
    match = ORACLE.fullmatch(value)
    expected = match is not None and (match.group(1) or "NL") in COUNTRY_CODES
    try:
        assert parse_eori(value) == value
        accepted = True
    except InvalidEori:
        accepted = False
    assert accepted == expected


# --- registration --------------------------------------------------------------------------


def _party_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": new_eori(),
        "name": "Rotterdam Haulage B.V.",
        "roles": ["carrier"],
    }
    body.update(overrides)
    return body


async def test_an_admin_registers_a_party(identity_app: Any) -> None:
    app, client = identity_app
    admin, headers = await admin_headers(app)
    body = _party_body(roles=["carrier", "forwarder"])

    response = await client.post("/v1/parties", json=body, headers=headers)

    assert response.status_code == 201, response.text
    view = response.json()
    assert view["id"] == body["id"]
    assert view["roles"] == ["carrier", "forwarder"]
    assert view["status"] == "active"
    assert response.headers["location"] == f"/v1/parties/{body['id']}"
    stored = await get_row(app, Party, body["id"])
    assert stored.name == body["name"] and stored.status == PartyStatus.active
    [event] = await audit_events(app, "party.created")
    assert event["party_id"] == body["id"]
    assert event["actor"] == f"client:{admin.id}"


async def test_a_name_is_stored_without_surrounding_whitespace(identity_app: Any) -> None:
    app, client = identity_app
    _, headers = await admin_headers(app)
    body = _party_body(name="  Maasvlakte Terminal  ", roles=["terminal"])
    response = await client.post("/v1/parties", json=body, headers=headers)
    assert response.status_code == 201
    assert response.json()["name"] == "Maasvlakte Terminal"


async def test_registering_an_id_twice_is_a_conflict_and_changes_nothing(
    identity_app: Any,
) -> None:
    app, client = identity_app
    _, headers = await admin_headers(app)
    body = _party_body()
    assert (await client.post("/v1/parties", json=body, headers=headers)).status_code == 201

    async with unchanged(app):
        again = await client.post("/v1/parties", json={**body, "name": "Impostor"}, headers=headers)

        assert_problem(again, 409, "party_exists")


async def test_concurrent_registrations_of_one_id_make_one_party(identity_app: Any) -> None:
    app, client = identity_app
    _, headers = await admin_headers(app)
    body = _party_body()

    responses = await asyncio.gather(
        *(client.post("/v1/parties", json=body, headers=headers) for _ in range(4))
    )

    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409]
    for response in responses:
        if response.status_code == 409:
            assert_problem(response, 409, "party_exists")
    assert len(await audit_events(app, "party.created")) == 1


@pytest.mark.parametrize(
    "party_id",
    ["NL123456789", "EU.EORI.NL12345678", "EU.EORI.UK123456789", "eu.eori.nl123456789"],
)
async def test_a_bad_eori_number_is_refused_with_invalid_eori(
    identity_app: Any, party_id: str
) -> None:
    app, client = identity_app
    _, headers = await admin_headers(app)
    async with unchanged(app):
        response = await client.post("/v1/parties", json=_party_body(id=party_id), headers=headers)
        assert_problem(response, 422, "invalid_eori")


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"roles": ["carrier", "carrier"]}, "duplicate_roles"),
        ({"roles": []}, "invalid_request"),
        ({"roles": ["pirate"]}, "invalid_request"),
        ({"roles": "carrier"}, "invalid_request"),
        ({"name": ""}, "invalid_request"),
        ({"name": "   "}, "invalid_request"),
        ({"name": "x" * 201}, "invalid_request"),
        ({"name": "Evil\u0000Corp"}, "invalid_request"),
        ({"name": "Evil\u202eCorp"}, "invalid_request"),
        ({"name": 42}, "invalid_request"),
        ({"id": 123456789}, "invalid_request"),
        ({"status": "active"}, "invalid_request"),
        ({"id": "EU.EORI.NL" + "1" * 60}, "invalid_request"),
    ],
)
async def test_bad_party_bodies_are_refused_without_state_change(
    identity_app: Any, overrides: dict[str, Any], code: str
) -> None:
    app, client = identity_app
    _, headers = await admin_headers(app)
    async with unchanged(app):
        response = await client.post("/v1/parties", json=_party_body(**overrides), headers=headers)
        assert_problem(response, 422, code)


@pytest.mark.parametrize(
    "content",
    [
        b'{"id": "EU.EORI.NL123456789", "name": ',  # malformed JSON
        b"[]",
        b'"a string"',
        b"null",
        b'{"id": "EU.EORI.NL123456789", "name": "A", "roles": ["carrier"], "roles": NaN}',
        b'{"id": "EU.EORI.NL123456789", "name": "\\ud800", "roles": ["carrier"]}',
        b'{"\\ud800": 1, "id": "EU.EORI.NL123456789", "name": "A", "roles": ["carrier"]}',
        b'{"id": "EU.EORI.NL123456789", "name": "A", "roles": ["carrier"]' + b"}" * 3,
    ],
)
async def test_malformed_bodies_are_problem_documents_without_state_change(
    identity_app: Any, content: bytes
) -> None:
    app, client = identity_app
    _, headers = await admin_headers(app)
    async with unchanged(app):
        response = await client.post(
            "/v1/parties", content=content, headers={**headers, "content-type": "application/json"}
        )
        assert 400 <= response.status_code < 500, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"]


async def test_an_oversize_body_is_refused_with_413(identity_app: Any) -> None:
    app, client = identity_app
    _, headers = await admin_headers(app)
    body = _party_body(name="x" * (app.state.settings.max_body_bytes + 1))
    async with unchanged(app):
        response = await client.post("/v1/parties", json=body, headers=headers)
        assert_problem(response, 413, "body_too_large")


async def test_only_an_admin_registers_parties(identity_app: Any) -> None:
    app, client = identity_app
    carrier, carrier_headers = await party_client(app, "carrier")
    admin_party = await make_party(app, "admin")
    before = await snapshot(app)

    as_client = await client.post("/v1/parties", json=_party_body(), headers=carrier_headers)
    as_person = await client.post(
        "/v1/parties", json=_party_body(), headers=await person_headers(app, carrier)
    )
    # A person of the admin party is an administrator only with the admin role.
    as_driver = await client.post(
        "/v1/parties", json=_party_body(), headers=await person_headers(app, admin_party, "driver")
    )
    anonymous = await client.post("/v1/parties", json=_party_body())
    bad_token = await client.post("/v1/parties", json=_party_body(), headers=bearer("x.y.z"))

    assert_problem(as_client, 403, "admin_required")
    assert_problem(as_person, 403, "admin_required")
    assert_problem(as_driver, 403, "admin_required")
    assert_problem(anonymous, 401, "token_missing")
    assert bad_token.status_code == 401
    snap = await snapshot(app)
    assert snap["parties"] == before["parties"]


async def test_an_admin_person_registers_parties(identity_app: Any) -> None:
    app, client = identity_app
    admin_party = await make_party(app, "admin")
    headers = await person_headers(app, admin_party, "admin")
    response = await client.post("/v1/parties", json=_party_body(), headers=headers)
    assert response.status_code == 201
    [event] = await audit_events(app, "party.created")
    assert event["actor"].startswith("person:")


# --- reading -----------------------------------------------------------------------------------


async def test_a_party_sees_itself_and_others_see_the_same_404_as_for_unknown_ids(
    identity_app: Any,
) -> None:
    app, client = identity_app
    carrier, carrier_headers = await party_client(app, "carrier")
    _, other_headers = await party_client(app, "forwarder")
    _, admin = await admin_headers(app)

    own = await client.get(f"/v1/parties/{carrier.id}", headers=carrier_headers)
    own_person = await client.get(
        f"/v1/parties/{carrier.id}", headers=await person_headers(app, carrier, "driver")
    )
    by_admin = await client.get(f"/v1/parties/{carrier.id}", headers=admin)
    by_other = await client.get(f"/v1/parties/{carrier.id}", headers=other_headers)
    unknown = await client.get(f"/v1/parties/{new_eori()}", headers=other_headers)
    unknown_by_admin = await client.get(f"/v1/parties/{new_eori()}", headers=admin)

    assert own.status_code == own_person.status_code == by_admin.status_code == 200
    assert own.json()["id"] == carrier.id
    assert_problem(by_other, 404, "party_not_found")
    assert_problem(unknown, 404, "party_not_found")
    assert by_other.json() == unknown.json()
    assert_problem(unknown_by_admin, 404, "party_not_found")


async def test_an_admin_lists_parties_page_by_page(identity_app: Any) -> None:
    app, client = identity_app
    _, headers = await admin_headers(app)
    for _ in range(4):
        await make_party(app, "carrier")

    seen: list[str] = []
    after: str | None = None
    for _ in range(10):
        params: dict[str, Any] = {"limit": 2} | ({"after": after} if after else {})
        response = await client.get("/v1/parties", params=params, headers=headers)
        assert response.status_code == 200
        page = response.json()
        assert len(page["items"]) <= 2
        seen.extend(item["id"] for item in page["items"])
        after = page["next_after"]
        if after is None:
            break

    assert len(seen) == 5  # four carriers and the admin party
    assert seen == sorted(seen)
    assert len(set(seen)) == len(seen)


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 201}, {"limit": "many"}])
async def test_bad_page_sizes_are_refused(identity_app: Any, params: dict[str, Any]) -> None:
    app, client = identity_app
    _, headers = await admin_headers(app)
    response = await client.get("/v1/parties", params=params, headers=headers)
    assert_problem(response, 422, "invalid_request")


async def test_only_an_admin_lists_parties(identity_app: Any) -> None:
    app, client = identity_app
    _, headers = await party_client(app, "carrier")
    assert_problem(await client.get("/v1/parties", headers=headers), 403, "admin_required")


# --- status changes ------------------------------------------------------------------------------


@pytest.fixture
def party_status_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, PartyStatus]]:
    """Records every call of the credentials area's set_party_status (which still runs)."""
    calls: list[tuple[str, PartyStatus]] = []
    original = credentials_service.set_party_status

    async def spy(session: Any, *, party_id: str, status: PartyStatus, now: datetime) -> int:
        calls.append((party_id, status))
        return await original(session, party_id=party_id, status=status, now=now)

    monkeypatch.setattr(credentials_service, "set_party_status", spy)
    return calls


async def test_suspension_and_reinstatement_follow_through_to_credentials_and_callers(
    identity_app: Any, party_status_calls: list[tuple[str, PartyStatus]]
) -> None:
    app, client = identity_app
    admin, headers = await admin_headers(app)
    carrier, carrier_headers = await party_client(app, "carrier")

    suspended = await client.post(f"/v1/parties/{carrier.id}/suspend", headers=headers)
    refused = await client.get(f"/v1/parties/{carrier.id}", headers=carrier_headers)
    reinstated = await client.post(f"/v1/parties/{carrier.id}/reinstate", headers=headers)
    allowed = await client.get(f"/v1/parties/{carrier.id}", headers=carrier_headers)

    assert suspended.status_code == 200 and suspended.json()["status"] == "suspended"
    assert_problem(refused, 401, "party_not_active")
    assert reinstated.status_code == 200 and reinstated.json()["status"] == "active"
    assert allowed.status_code == 200
    assert party_status_calls == [
        (carrier.id, PartyStatus.suspended),
        (carrier.id, PartyStatus.active),
    ]
    events = await audit_events(app)
    changes = [
        (e["type"], e.get("from"), e.get("to")) for e in events if e["type"] != "party.created"
    ]
    assert ("party.suspended", "active", "suspended") in changes
    assert ("party.reinstated", "suspended", "active") in changes
    assert all(e["actor"] == f"client:{admin.id}" for e in events if e["type"].startswith("party."))


async def test_revocation_is_final(
    identity_app: Any, party_status_calls: list[tuple[str, PartyStatus]]
) -> None:
    app, client = identity_app
    _, headers = await admin_headers(app)
    carrier = await make_party(app, "carrier")
    await client.post(f"/v1/parties/{carrier.id}/suspend", headers=headers)
    revoked = await client.post(f"/v1/parties/{carrier.id}/revoke", headers=headers)
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"

    async with unchanged(app):
        for action in ("reinstate", "suspend", "revoke"):
            response = await client.post(f"/v1/parties/{carrier.id}/{action}", headers=headers)
            assert_problem(response, 409, "party_revoked")
    assert party_status_calls[-1] == (carrier.id, PartyStatus.revoked)
    assert len(party_status_calls) == 2


async def test_concurrent_revocation_and_reinstatement_never_undo_the_revocation(
    identity_app: Any,
) -> None:
    app, client = identity_app
    _, headers = await admin_headers(app)
    carrier = await make_party(app, "carrier", status="suspended")

    revoke, reinstate = await asyncio.gather(
        client.post(f"/v1/parties/{carrier.id}/revoke", headers=headers),
        client.post(f"/v1/parties/{carrier.id}/reinstate", headers=headers),
    )

    assert revoke.status_code == 200
    # Either the reinstatement came first (and the revocation followed) or it was refused.
    assert reinstate.status_code == 200 or reinstate.json()["code"] == "party_revoked"
    assert (await get_row(app, Party, carrier.id)).status == PartyStatus.revoked


async def test_status_changes_that_do_not_apply_are_conflicts(identity_app: Any) -> None:
    app, client = identity_app
    _, headers = await admin_headers(app)
    active = await make_party(app, "carrier")
    suspended = await make_party(app, "carrier", status="suspended")

    async with unchanged(app):
        not_suspended = await client.post(f"/v1/parties/{active.id}/reinstate", headers=headers)
        twice = await client.post(f"/v1/parties/{suspended.id}/suspend", headers=headers)

        assert_problem(not_suspended, 409, "party_not_suspended")
        assert_problem(twice, 409, "party_already_suspended")


async def test_status_changes_need_an_admin_and_a_known_party(identity_app: Any) -> None:
    app, client = identity_app
    carrier, carrier_headers = await party_client(app, "carrier")
    _, headers = await admin_headers(app)

    async with unchanged(app):
        own = await client.post(f"/v1/parties/{carrier.id}/suspend", headers=carrier_headers)
        unknown = await client.post(f"/v1/parties/{new_eori()}/revoke", headers=headers)

        assert_problem(own, 403, "admin_required")
        assert_problem(unknown, 404, "party_not_found")


async def test_a_status_change_and_its_credential_update_are_one_transaction(
    identity_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, client = identity_app
    _, headers = await admin_headers(app)
    carrier = await make_party(app, "carrier")

    async def failing(session: Any, *, party_id: str, status: PartyStatus, now: datetime) -> int:
        raise Conflict("status_list_busy", "the status list could not be updated")

    monkeypatch.setattr(credentials_service, "set_party_status", failing)
    async with unchanged(app):
        response = await client.post(f"/v1/parties/{carrier.id}/suspend", headers=headers)

        assert_problem(response, 409, "status_list_busy")


# --- CLI ---------------------------------------------------------------------------------------


async def test_the_cli_registers_suspends_reinstates_and_revokes_a_party(
    identity_app: Any, cli_env: None, party_status_calls: list[tuple[str, PartyStatus]]
) -> None:
    app, _ = identity_app
    party_id = new_eori()

    created = await invoke_cli(
        cli,
        [
            "create",
            party_id,
            "--name",
            "Waalhaven Forwarding",
            "--role",
            "forwarder",
            "--role",
            "carrier",
        ],
    )
    assert created.exit_code == 0, created.output
    assert (await get_row(app, Party, party_id)).roles == ["forwarder", "carrier"]
    for command in ("suspend", "reinstate"):
        result = await invoke_cli(cli, [command, party_id])
        assert result.exit_code == 0, result.output
    revoked = await invoke_cli(cli, ["revoke", party_id, "--yes"])
    assert revoked.exit_code == 0, revoked.output

    assert (await get_row(app, Party, party_id)).status == PartyStatus.revoked
    events = [e for e in await audit_events(app) if e["type"].startswith("party.")]
    assert [e["type"] for e in events] == [
        "party.created",
        "party.suspended",
        "party.reinstated",
        "party.revoked",
    ]
    assert {e["actor"] for e in events} == {cli_actor()}
    assert [status for _, status in party_status_calls] == [
        PartyStatus.suspended,
        PartyStatus.active,
        PartyStatus.revoked,
    ]


async def test_the_cli_refuses_with_the_problem_code_and_changes_nothing(
    identity_app: Any, cli_env: None
) -> None:
    app, _ = identity_app
    revoked = await make_party(app, "carrier", status="revoked")

    async with unchanged(app):
        bad_id = await invoke_cli(
            cli, ["create", "EU.EORI.NL123", "--name", "X", "--role", "carrier"]
        )
        final = await invoke_cli(cli, ["reinstate", revoked.id])
        unknown = await invoke_cli(cli, ["suspend", new_eori()])

        assert bad_id.exit_code == 1 and "invalid_eori" in bad_id.output
        assert final.exit_code == 1 and "party_revoked" in final.output
        assert unknown.exit_code == 1 and "party_not_found" in unknown.output


async def test_the_cli_asks_before_revoking(identity_app: Any, cli_env: None) -> None:
    app, _ = identity_app
    carrier = await make_party(app, "carrier")

    declined = await invoke_cli(cli, ["revoke", carrier.id], input="n\n")

    assert declined.exit_code == 1
    assert (await get_row(app, Party, carrier.id)).status == PartyStatus.active
    confirmed = await invoke_cli(cli, ["revoke", carrier.id], input="y\n")
    assert confirmed.exit_code == 0
    assert (await get_row(app, Party, carrier.id)).status == PartyStatus.revoked


async def test_client_tokens_of_a_new_party_work(identity_app: Any) -> None:
    app, client = identity_app
    _, headers = await admin_headers(app)
    body = _party_body()
    await client.post("/v1/parties", json=body, headers=headers)
    party = await get_row(app, Party, body["id"])
    own = bearer(await client_token(app, party))
    assert (await client.get(f"/v1/parties/{party.id}", headers=own)).status_code == 200
