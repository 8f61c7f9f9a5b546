"""Every read of a container's release, chain, gate decision, inspection or webhook
deliveries is in the access log, with the endpoint it came through."""

import uuid

from tests.conftest import SettingsFactory
from tests.helpers import assert_problem
from tests.release.chains import ask_gate, create_release, full_chain, gate_pass, ok
from tests.release.port import Port, access_log, make_port
from tests.release.webhooks import READER_TYPES, Receiver, deliver, manager_headers, subscribe


async def test_each_read_names_the_endpoint_it_came_through(port: Port) -> None:
    chain = await create_release(port)
    headers = port["forwarder"].headers
    ok(await port.client.get(f"/v1/releases/{chain.release_id}", headers=headers))
    ok(await port.client.get(f"/v1/releases/{chain.release_id}/chain", headers=headers))
    ok(
        await port.client.get(
            "/v1/releases", params={"container": chain.container}, headers=headers
        )
    )
    ok(await port.client.get("/v1/releases/work", headers=headers))
    reads = [
        (entry.action, entry.endpoint)
        for entry in await access_log(port.release)
        if entry.party_id == port["forwarder"].id
    ]
    assert reads == [
        ("release.read", "GET /v1/releases/{release_id}"),
        ("chain.read", "GET /v1/releases/{release_id}/chain"),
        ("release.search", "GET /v1/releases"),
        ("release.work", "GET /v1/releases/work"),
    ]


async def test_reading_a_gate_decision_is_a_logged_read(port: Port) -> None:
    chain = await full_chain(port)
    assert chain.driver is not None
    decision = await ask_gate(
        port, chain.container, gate_pass=await gate_pass(port, "sub", chain.driver)
    )
    path = "/v1/gate/decisions/{}"
    ok(
        await port.client.get(
            path.format(decision["decision_id"]), headers=port["terminal"].headers
        )
    )
    response = await port.client.get(path.format(uuid.uuid4()), headers=port["terminal"].headers)
    assert_problem(response, 404, "decision_not_found")
    response = await port.client.get(
        path.format(decision["decision_id"]), headers=port["other_terminal"].headers
    )
    assert_problem(response, 404, "decision_not_found")
    reads = [
        (entry.party_id, entry.container, entry.outcome, entry.endpoint)
        for entry in await access_log(port.release)
        if entry.action == "gate.decision"
    ]
    endpoint = "GET /v1/gate/decisions/{decision_id}"
    assert reads == [
        (port["terminal"].id, chain.container, "shown", endpoint),
        (port["terminal"].id, None, "not_found", endpoint),
        (port["other_terminal"].id, None, "not_found", endpoint),
    ]


async def test_reading_inspections_is_a_logged_read_per_container(
    make_settings: SettingsFactory,
) -> None:
    async with make_port(make_settings, inspect_probability=1.0) as port:
        chain = await full_chain(port)
        assert chain.driver is not None
        decision = await ask_gate(
            port, chain.container, gate_pass=await gate_pass(port, "sub", chain.driver)
        )
        assert decision["decision"] == "inspect", decision
        terminal = port["terminal"].headers
        listed = ok(await port.client.get("/v1/inspections", headers=terminal))
        assert [item["container"] for item in listed["inspections"]] == [chain.container]
        one = f"/v1/inspections/{decision['inspection_id']}"
        ok(await port.client.get(one, headers=terminal))
        response = await port.client.get(one, headers=port["other_terminal"].headers)
        assert response.status_code == 404
        ok(await port.client.get("/v1/inspections", headers=port["other_terminal"].headers))
        reads = [
            (entry.action, entry.party_id, entry.container, entry.outcome)
            for entry in await access_log(port.release)
            if entry.action.startswith("inspection")
        ]
        assert reads == [
            ("inspections.list", port["terminal"].id, chain.container, "shown"),
            ("inspection.read", port["terminal"].id, chain.container, "shown"),
            ("inspection.read", port["other_terminal"].id, None, "not_found"),
            ("inspections.list", port["other_terminal"].id, None, "not_found"),
        ]


async def test_listing_deliveries_is_a_logged_read_of_each_release_named(
    make_settings: SettingsFactory,
) -> None:
    async with make_port(make_settings, webhook_allow_private=True) as port:
        receiver = Receiver()
        async with receiver.running():
            made = await subscribe(port, "line", receiver.url, READER_TYPES)
            headers = await manager_headers(port, "line")
            path = f"/v1/subscriptions/{made['id']}/deliveries"
            empty = ok(await port.client.get(path, headers=headers))
            assert empty["deliveries"] == []
            chain = await create_release(port, to="forwarder")
            ok(
                await port.client.post(
                    f"/v1/releases/{chain.release_id}/cancel", headers=port["line"].headers
                )
            )
            await deliver(port)
            listed = ok(await port.client.get(path, headers=headers))
        assert {d["release_id"] for d in listed["deliveries"]} == {str(chain.release_id)}
        assert len(listed["deliveries"]) >= 2  # several events of the one release
        reads = [
            (entry.party_id, entry.release_id, entry.container, entry.outcome, entry.endpoint)
            for entry in await access_log(port.release)
            if entry.action == "webhooks.deliveries"
        ]
        # One row for the release the page named, none for the empty page before.
        assert reads == [
            (
                port["line"].id,
                chain.release_id,
                chain.container,
                "shown",
                "GET /v1/subscriptions/{subscription_id}/deliveries",
            )
        ]
