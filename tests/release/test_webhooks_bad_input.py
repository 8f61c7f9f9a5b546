"""Bad subscriptions are 4xx problems with stable codes, listed in the OpenAPI document;
nothing is stored. Who may manage subscriptions at all."""

import pytest

from tests.conftest import SettingsFactory
from tests.helpers import assert_problem
from tests.identity.factories import bearer, client_token
from tests.release.port import Port, make_port
from tests.release.webhooks import READER_TYPES, manager_headers

CARRIER_WORK = ["releases:read", "chain:write"]

BAD_BODIES = [
    ({"url": "http://tos.example.com/hook", "event_types": READER_TYPES}, "endpoint_not_https"),
    ({"url": "https://10.0.0.7/hook", "event_types": READER_TYPES}, "endpoint_private_address"),
    ({"url": "https://127.0.0.1/hook", "event_types": READER_TYPES}, "endpoint_private_address"),
    (
        {"url": "https://169.254.169.254/latest/meta-data", "event_types": READER_TYPES},
        "endpoint_private_address",
    ),
    (
        {"url": "https://user:pw@tos.example.com/hook", "event_types": READER_TYPES},
        "endpoint_has_credentials",
    ),
    ({"url": "not a url", "event_types": READER_TYPES}, "endpoint_invalid"),
    (
        {"url": "https://tos.example.com/hook", "event_types": ["nl.ketenpas.release.eaten"]},
        "event_type_unknown",
    ),
    (
        {"url": "https://tos.example.com/hook", "event_types": ["nl.ketenpas.alert.raised"]},
        "event_type_not_allowed",
    ),
    (
        {"url": "https://tos.example.com/hook", "event_types": ["nl.ketenpas.gate.decided"]},
        "event_type_not_allowed",
    ),
    ({"url": "https://tos.example.com/hook", "event_types": []}, "invalid_request"),
    ({"url": "https://tos.example.com/hook"}, "invalid_request"),
    ({"url": "https://tos.example.com/hook", "event_types": "all"}, "invalid_request"),
    (
        {"url": "https://tos.example.com/" + "a" * 2001, "event_types": READER_TYPES},
        "invalid_request",
    ),
    (
        {"url": "https://tos.example.com/hook", "event_types": READER_TYPES, "secret": "mine"},
        "invalid_request",
    ),
]


@pytest.mark.parametrize(("body", "code"), BAD_BODIES)
async def test_a_bad_subscription_is_a_422_problem(
    port: Port, body: dict[str, object], code: str
) -> None:
    headers = await manager_headers(port, "carrier")
    response = await port.client.post("/v1/subscriptions", json=body, headers=headers)
    assert_problem(response, 422, code)
    listed = await port.client.get("/v1/subscriptions", headers=headers)
    assert listed.json() == {"subscriptions": []}


async def test_bad_ids_and_cursors_are_problems(port: Port) -> None:
    headers = await manager_headers(port, "carrier")
    assert_problem(
        await port.client.get("/v1/subscriptions/not-a-uuid", headers=headers),
        422,
        "invalid_request",
    )
    made = await port.client.post(
        "/v1/subscriptions",
        json={"url": "https://tos.example.com/hook", "event_types": READER_TYPES},
        headers=headers,
    )
    assert made.status_code == 201, made.text
    path = f"/v1/subscriptions/{made.json()['id']}"
    assert_problem(
        await port.client.get(f"{path}/deliveries", params={"cursor": "%%%"}, headers=headers),
        422,
        "cursor_invalid",
    )
    assert_problem(
        await port.client.post(f"{path}/replay", json={"since": "yesterday"}, headers=headers),
        422,
        "invalid_request",
    )
    assert_problem(
        await port.client.post(
            f"{path}/replay", json={"since": "2026-12-06T10:00:00"}, headers=headers
        ),
        422,
        "invalid_request",
    )


async def test_only_a_partys_admin_or_its_client_with_the_scope_manages_them(
    port: Port,
) -> None:
    body = {"url": "https://tos.example.com/hook", "event_types": READER_TYPES}
    # Its client with the scopes of its work but not `subscriptions:manage`.
    without = await client_token(port.identity, port["carrier"].party, CARRIER_WORK)
    for headers in (bearer(without), await port.person_headers("carrier", "dispatcher")):
        response = await port.client.post("/v1/subscriptions", json=body, headers=headers)
        assert_problem(response, 403, "subscription_manager_required")
        listed = await port.client.get("/v1/subscriptions", headers=headers)
        assert_problem(listed, 403, "subscription_manager_required")
    with_scope = bearer(
        await client_token(
            port.identity, port["carrier"].party, [*CARRIER_WORK, "subscriptions:manage"]
        )
    )
    by_client = await port.client.post("/v1/subscriptions", json=body, headers=with_scope)
    assert by_client.status_code == 201, by_client.text
    admin = await port.person_headers("carrier", "admin")
    made = await port.client.post("/v1/subscriptions", json=body, headers=admin)
    assert made.status_code == 201, made.text
    assert made.json()["secret"].startswith("whsec_")
    shown = await port.client.get(f"/v1/subscriptions/{made.json()['id']}", headers=admin)
    assert "secret" not in shown.json()


async def test_the_openapi_document_lists_the_problems(port: Port) -> None:
    spec = (await port.client.get("/openapi.json")).json()
    operations = spec["paths"]["/v1/subscriptions"]
    assert {"401", "403", "409", "422"} <= set(operations["post"]["responses"])
    replay = spec["paths"]["/v1/subscriptions/{subscription_id}/deliveries/{delivery_id}/replay"]
    assert {"404", "409", "422"} <= set(replay["post"]["responses"])
    for path in (
        "/v1/subscriptions/{subscription_id}",
        "/v1/subscriptions/{subscription_id}/deliveries",
    ):
        assert "404" in spec["paths"][path]["get"]["responses"]


async def test_a_deployment_without_a_webhook_key_takes_no_subscriptions(
    make_settings: SettingsFactory,
) -> None:
    async with make_port(make_settings) as port:
        port.release.state.settings.environment = "production"  # as if: no key, no demo
        response = await port.client.post(
            "/v1/subscriptions",
            json={"url": "https://tos.example.com/hook", "event_types": READER_TYPES},
            headers=await manager_headers(port, "carrier"),
        )
        assert_problem(response, 503, "webhooks_not_configured")
