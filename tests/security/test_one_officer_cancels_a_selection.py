"""Threat: one official makes a selection go away ("checked by the dog" before the ship came).

Cancelling a selection takes two different officers who give the same reason code; the
first officer alone changes nothing at the gate, he cannot confirm his own request, the
person or client that asked for the gate decision can do neither, and port security sees
how many cancellations each officer asked for and confirmed.
"""

from typing import Any

from tests.conftest import SettingsFactory
from tests.helpers import assert_problem
from tests.release.chains import Chain, ask_gate, full_chain, gate_pass, ok
from tests.release.port import Port, make_port


async def ask(port: Port, chain: Chain) -> dict[str, Any]:
    assert chain.driver is not None
    return await ask_gate(
        port, chain.container, gate_pass=await gate_pass(port, "carrier", chain.driver)
    )


async def test_a_selection_is_cancelled_only_by_two_officers_agreeing(
    make_settings: SettingsFactory,
) -> None:
    async with make_port(make_settings, inspect_probability=1.0) as port:
        chain = await full_chain(port, path=("forwarder", "carrier"))
        selected = await ask(port, chain)
        path = f"/v1/inspections/{selected['inspection_id']}/cancel"
        first = await port.person_headers("customs", role="officer")
        second = await port.person_headers("security", role="officer")

        by_requester = await port.client.post(
            path, json={"reason": "selected_in_error"}, headers=port["terminal"].headers
        )
        assert by_requester.status_code == 403, by_requester.text
        asked = ok(
            await port.client.post(path, json={"reason": "selected_in_error"}, headers=first)
        )
        assert asked["status"] == "open" and asked["cancel_reason"] == "selected_in_error"
        # One officer alone changes nothing at the gate.
        assert (await ask(port, chain))["decision"] == "inspect"
        again = await port.client.post(path, json={"reason": "selected_in_error"}, headers=first)
        assert_problem(again, 409, "second_officer_required")
        otherwise = await port.client.post(path, json={"reason": "other"}, headers=second)
        assert_problem(otherwise, 409, "cancel_reason_differs")

        done = ok(
            await port.client.post(path, json={"reason": "selected_in_error"}, headers=second)
        )
        assert done["status"] == "cancelled"
        after = await ask(port, chain)
        assert after["decision"] == "release" and after["draw_id"] == selected["draw_id"]
        late = await port.client.post(path, json={"reason": "selected_in_error"}, headers=second)
        assert_problem(late, 409, "inspection_closed")

        counts = ok(
            await port.client.get(
                "/v1/inspections/cancellations",
                params={"since": "2000-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"},
                headers=port["security"].headers,
            )
        )
        tallies = {
            row["officer"]: (row["requested"], row["confirmed"]) for row in counts["officers"]
        }
        assert sorted(tallies.values()) == [(0, 1), (1, 0)]
        refused = await port.client.get(
            "/v1/inspections/cancellations",
            params={"since": "2000-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"},
            headers=port["customs"].headers,
        )
        assert refused.status_code == 403
