"""Threat: someone other than the terminal says what is in its yard, or who may release it.

A corrupt operator at one terminal announcing containers at another, changing or withdrawing
another terminal's entries, or a shipping line granting itself the release right, would make
the yard entry worthless; each is refused and changes nothing.
"""

from tests.helpers import assert_problem
from tests.release.port import Port, announce, new_container, unchanged


async def test_a_terminal_cannot_announce_a_container_at_another_terminal(port: Port) -> None:
    body = {
        "container": new_container(),
        "shipping_line": port["line"].id,
        "terminal": port["terminal"].id,
    }
    async with unchanged(port.release):
        response = await port.client.post(
            "/v1/yard/entries", json=body, headers=port["other_terminal"].headers
        )
    assert_problem(response, 403, "yard_not_your_terminal")


async def test_a_terminal_cannot_correct_or_withdraw_another_terminals_entry(port: Port) -> None:
    entry = await announce(port, new_container())
    path = f"/v1/yard/entries/{entry['entry_id']}"
    intruder = await port.person_headers("other_terminal", "operator")
    async with unchanged(port.release):
        corrected = await port.client.patch(
            path, json={"shipping_line": port["other_line"].id}, headers=intruder
        )
        withdrawn = await port.client.delete(path, headers=intruder)
    assert_problem(corrected, 404, "yard_entry_not_found")
    assert_problem(withdrawn, 404, "yard_entry_not_found")


async def test_a_shipping_line_cannot_grant_itself_the_release_right(port: Port) -> None:
    body = {"container": new_container(), "shipping_line": port["other_line"].id}
    async with unchanged(port.release):
        by_client = await port.client.post(
            "/v1/yard/entries", json=body, headers=port["other_line"].headers
        )
        by_dispatcher = await port.client.post(
            "/v1/yard/entries", json=body, headers=await port.person_headers("other_line")
        )
    assert_problem(by_client, 403, "role_required")
    assert_problem(by_dispatcher, 403, "role_required")


async def test_a_terminal_person_without_the_gate_role_cannot_announce(port: Port) -> None:
    body = {"container": new_container(), "shipping_line": port["line"].id}
    async with unchanged(port.release):
        response = await port.client.post(
            "/v1/yard/entries", json=body, headers=await port.person_headers("terminal", "officer")
        )
    assert_problem(response, 403, "scope_required")
