"""The identity service's rules: failed sign-ins and codes, and integrity matches."""

import uuid

import httpx
from fastapi import FastAPI

from tests.identity.factories import admin_headers, make_party, make_person
from tests.identity.screening_factories import person_body, register, suspend
from tests.monitoring.alerting import alerts, log, look, runner

App = tuple[FastAPI, httpx.AsyncClient]
DOCUMENT = ("NX4B12C39", "1984-03-12")


async def test_repeated_failed_sign_ins_of_one_person_raise_an_alert(identity_app: App) -> None:
    app, client = identity_app
    party = await make_party(app, "carrier")
    person = await make_person(app, party, "dispatcher")
    await look(app)
    for _ in range(5):
        refused = await client.post(
            "/v1/sessions",
            json={"username": person.username, "password": "wrong password", "otp": "000000"},
        )
        assert refused.status_code == 401, refused.text
    await look(app)
    [alert] = await alerts(app, "failed_sign_ins_person")
    assert alert.subject == f"person:{person.id}"
    assert alert.kind == "failed_sign_ins"
    assert len(alert.evidence) == 5 and all("audit_event" in e for e in alert.evidence)
    # One address, one person: the per-address threshold (20) is not reached.
    assert await alerts(app, "failed_sign_ins_address") == []


async def test_failed_sign_ins_from_one_address_for_many_names_raise_an_alert(
    identity_app: App,
) -> None:
    app, client = identity_app
    await look(app)
    for n in range(20):
        await client.post(
            "/v1/sessions",
            json={"username": f"guess-{n}", "password": "password123!", "otp": "123456"},
        )
    await look(app)
    [alert] = await alerts(app, "failed_sign_ins_address")
    assert alert.subject is not None and alert.subject.startswith("address:")
    assert alert.facts["count"] == 20


async def test_wrong_second_factor_codes_raise_an_alert(identity_app: App) -> None:
    app, _ = identity_app
    await look(app)
    person_id = str(uuid.uuid4())
    for event_type in ["person.totp_confirm_refused"] * 2 + ["gate_pass.refused"] * 3:
        await log(
            app,
            event_type,
            {"person_id": person_id, "reason": "otp_invalid", "address": "192.0.2.1"},
        )
    await log(app, "gate_pass.refused", {"person_id": person_id, "reason": "not_a_driver"})
    await look(app)
    [alert] = await alerts(app, "failed_second_factor")
    assert alert.subject == f"person:{person_id}"
    assert alert.facts["count"] == 5


async def test_each_integrity_match_is_a_high_alert_to_port_security(identity_app: App) -> None:
    app, _ = identity_app
    await look(app)
    person_id, earlier = str(uuid.uuid4()), str(uuid.uuid4())
    facts = {
        "person_id": person_id,
        "party_id": "EU.EORI.NL000000001",
        "matched_person_ids": [earlier],
        "matched_party_ids": ["EU.EORI.NL000000002"],
    }
    event_id = await log(app, "integrity.match_found", facts)
    await look(app)
    await runner(app).sweep()
    [alert] = await alerts(app, "integrity_re_registration")
    assert (alert.kind, alert.severity) == ("integrity.re_registration", "high")
    assert alert.subject == f"person:{person_id}"
    assert alert.facts["matched_person_ids"] == [earlier]
    assert alert.evidence == [{"audit_event": str(event_id)}]


async def test_the_sweep_runs_the_screening_and_its_match_becomes_an_alert(
    identity_app: App,
) -> None:
    app, client = identity_app
    _, admin = await admin_headers(app)
    first, second = await make_party(app, "carrier"), await make_party(app, "carrier")
    await look(app)
    # Hired at the second carrier while in good standing at the first, then dismissed at the
    # first for integrity: registration could not see it; the scheduled sweep does.
    hired = await register(client, admin, person_body(second.id, "p.hired", document=DOCUMENT))
    dismissed = await register(
        client, admin, person_body(first.id, "p.dismissed", document=DOCUMENT)
    )
    assert (await suspend(client, admin, dismissed["id"], "integrity")).status_code == 200
    await look(app)
    assert await alerts(app, "integrity_re_registration") == []

    await runner(app).sweep()
    await look(app)
    [alert] = await alerts(app, "integrity_re_registration")
    assert alert.subject == f"person:{hired['id']}"
    assert alert.facts["matched_person_ids"] == [dismissed["id"]]
