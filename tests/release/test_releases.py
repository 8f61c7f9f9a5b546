"""Releases: made by a shipping line (pre-signed or custodial), refused when wrong, cancelled,
held."""

import uuid

import pytest

from tests.helpers import assert_problem
from tests.release.chains import accept, create_release, hand_over, ok
from tests.release.port import (
    Port,
    announce,
    audit_types,
    in_days,
    new_container,
    release_body,
    release_link,
    sign_link,
    unchanged,
)


async def test_a_pre_signed_release_is_opened_with_green_lights(port: Port) -> None:
    container = new_container()
    await announce(port, container)
    release_id = uuid.uuid4()
    valid_until = in_days(2)
    link = release_link(
        port,
        release_id=release_id,
        container=container,
        valid_until=valid_until,
        reference="BL-1",
    )
    body = release_body(port, container, valid_until=valid_until, reference="BL-1", link=link)
    response = await port.client.post("/v1/releases", json=body, headers=port["line"].headers)
    view = ok(response, 201)
    assert response.headers["location"] == f"/v1/releases/{release_id}"
    assert view["release_id"] == str(release_id)
    assert (view["container"], view["reference"], view["status"]) == (container, "BL-1", "open")
    assert view["lights"] == {"commercial": "green", "customs": "green", "terminal": "green"}
    assert [(link["seq"], link["kind"], link["status"]) for link in view["links"]] == [
        (0, "release", "pending")
    ]
    assert view["holder"] is None
    assert await audit_types(port.release) == ["yard.announced", "release.created"]


async def test_a_person_of_the_shipping_line_releases_with_the_custodial_key(port: Port) -> None:
    container = new_container()
    await announce(port, container)
    response = await port.client.post(
        "/v1/releases",
        json=release_body(port, container),
        headers=await port.person_headers("line"),
    )
    view = ok(response, 201)
    assert view["links"][0]["from"] == port["line"].id


async def test_a_client_without_a_pre_signed_link_is_refused(port: Port) -> None:
    async with unchanged(port.release):
        response = await port.client.post(
            "/v1/releases",
            json=release_body(port, new_container()),
            headers=port["line"].headers,
        )
    assert_problem(response, 422, "link_required")


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("container", "CSQU3054384", "invalid_container"),
        ("container", "CSQU305438", "invalid_container"),
        ("terminal", "EU.EORI.XX1", "invalid_party_id"),
        ("release_to", "not a party", "invalid_party_id"),
        ("valid_until", "2020-01-01T00:00:00Z", "valid_until_past"),
        ("valid_until", "2030-01-01T00:00:00", "invalid_request"),
        ("reference", "x" * 101, "invalid_request"),
        ("surprise", 1, "invalid_request"),
    ],
)
async def test_bad_release_bodies_are_refused_and_change_nothing(
    port: Port, field: str, value: object, code: str
) -> None:
    body = release_body(port, new_container())
    body[field] = value
    async with unchanged(port.release):
        response = await port.client.post(
            "/v1/releases", json=body, headers=await port.person_headers("line")
        )
    assert_problem(response, 422, code)


@pytest.mark.parametrize(
    ("field", "code"),
    [
        ("container", "link_wrong_container"),
        ("terminal", "link_terms_mismatch"),
        ("release_to", "link_terms_mismatch"),
        ("valid_until", "link_terms_mismatch"),
        ("reference", "link_terms_mismatch"),
    ],
)
async def test_a_pre_signed_link_must_agree_with_the_body(
    port: Port, field: str, code: str
) -> None:
    container = new_container()
    await announce(port, container)
    valid_until = in_days(2)
    link = release_link(
        port,
        release_id=uuid.uuid4(),
        container=container,
        valid_until=valid_until,
        reference="BL-1",
    )
    body = release_body(port, container, valid_until=valid_until, reference="BL-1", link=link)
    other = new_container()
    body[field] = {
        "container": other,
        "terminal": port["other_terminal"].id,
        "release_to": port["forwarder2"].id,
        "valid_until": in_days(3).isoformat(),
        "reference": "BL-2",
    }[field]
    # The line holds the right for the body's terms too: only the link disagrees.
    if field == "container":
        await announce(port, other)
    if field == "terminal":
        await announce(port, container, terminal="other_terminal")
    async with unchanged(port.release):
        response = await port.client.post("/v1/releases", json=body, headers=port["line"].headers)
    assert_problem(response, 422, code)


async def test_a_release_link_signed_with_another_partys_key_is_refused(port: Port) -> None:
    container, valid_until = new_container(), in_days(2)
    await announce(port, container)
    forged = sign_link(
        port["other_line"],
        **{"from": port["line"].id},
        release_id=str(uuid.uuid4()),
        container=container,
        seq=0,
        kind="release",
        to=port["forwarder"].id,
        terminal=port["terminal"].id,
        valid_until=int(valid_until.timestamp()),
    )
    body = release_body(port, container, valid_until=valid_until, reference=None, link=forged)
    async with unchanged(port.release):
        response = await port.client.post("/v1/releases", json=body, headers=port["line"].headers)
    assert_problem(response, 422, "link_key_unknown")


async def test_a_release_link_of_another_shipping_line_is_refused(port: Port) -> None:
    container, valid_until = new_container(), in_days(2)
    await announce(port, container)
    theirs = release_link(
        port,
        release_id=uuid.uuid4(),
        container=container,
        valid_until=valid_until,
        line="other_line",
    )
    body = release_body(port, container, valid_until=valid_until, reference=None, link=theirs)
    async with unchanged(port.release):
        response = await port.client.post("/v1/releases", json=body, headers=port["line"].headers)
    assert_problem(response, 422, "link_not_from_holder")


async def test_only_a_shipping_line_releases(port: Port) -> None:
    async with unchanged(port.release):
        response = await port.client.post(
            "/v1/releases",
            json=release_body(port, new_container()),
            headers=await port.person_headers("forwarder"),
        )
    assert_problem(response, 403, "role_required")


async def test_no_token_is_401(port: Port) -> None:
    response = await port.client.post("/v1/releases", json=release_body(port, new_container()))
    assert_problem(response, 401, "token_missing")
    garbage = await port.client.get(
        f"/v1/releases/{uuid.uuid4()}", headers={"Authorization": "Bearer not.a.token"}
    )
    assert garbage.status_code == 401


async def test_a_container_has_one_open_release_and_a_release_id_is_used_once(
    port: Port,
) -> None:
    chain = await create_release(port)
    async with unchanged(port.release):
        again = await port.client.post(
            "/v1/releases",
            json=release_body(port, chain.container),
            headers=await port.person_headers("line"),
        )
    assert_problem(again, 409, "release_open_for_container")
    valid_until = in_days(2)
    container = new_container()
    await announce(port, container)
    same_id = release_link(
        port, release_id=chain.release_id, container=container, valid_until=valid_until
    )
    body = release_body(port, container, valid_until=valid_until, reference=None, link=same_id)
    async with unchanged(port.release):
        response = await port.client.post("/v1/releases", json=body, headers=port["line"].headers)
    assert_problem(response, 409, "release_exists")


async def test_the_same_pre_signed_release_link_is_accepted_once(port: Port) -> None:
    container, valid_until = new_container(), in_days(2)
    await announce(port, container)
    link = release_link(port, release_id=uuid.uuid4(), container=container, valid_until=valid_until)
    body = release_body(port, container, valid_until=valid_until, reference=None, link=link)
    ok(await port.client.post("/v1/releases", json=body, headers=port["line"].headers), 201)
    async with unchanged(port.release):
        replay = await port.client.post("/v1/releases", json=body, headers=port["line"].headers)
    assert replay.status_code == 409


async def test_cancelling_withdraws_every_live_link(port: Port) -> None:
    chain = await create_release(port)
    await accept(port, chain, 0, "forwarder")
    await hand_over(port, chain, "forwarder", "carrier")
    path = f"/v1/releases/{chain.release_id}/cancel"
    assert_problem(
        await port.client.post(path, headers=await port.person_headers("forwarder")),
        403,
        "role_required",
    )
    assert_problem(
        await port.client.post(path, headers=port["other_line"].headers), 404, "release_not_found"
    )
    view = ok(await port.client.post(path, headers=port["line"].headers))
    assert view["status"] == "cancelled"
    assert view["lights"]["commercial"] == "red"
    assert view["links"] == []
    assert_problem(
        await port.client.post(path, headers=port["line"].headers), 409, "release_cancelled"
    )
    assert (await audit_types(port.release))[-1] == "release.cancelled"


async def test_customs_and_the_terminal_hold_and_lift(port: Port) -> None:
    chain = await create_release(port)
    holds = f"/v1/releases/{chain.release_id}/holds"
    customs = await port.person_headers("customs", "officer")
    view = ok(await port.client.put(f"{holds}/customs", json={"reason": "X-ray"}, headers=customs))
    assert view["lights"]["customs"] == "red"
    assert view["holds"][0]["reason"] == "X-ray"
    again = ok(await port.client.put(f"{holds}/customs", headers=customs))
    assert len(again["holds"]) == 1
    ok(await port.client.put(f"{holds}/terminal", headers=port["terminal"].headers))
    seen_by_carrier = ok(
        await port.client.get(f"/v1/releases/{chain.release_id}", headers=port["forwarder"].headers)
    )
    assert seen_by_carrier["lights"] == {"commercial": "green", "customs": "red", "terminal": "red"}
    assert all(hold.get("reason") is None for hold in seen_by_carrier["holds"])

    assert_problem(
        await port.client.put(f"{holds}/terminal", headers=customs), 403, "hold_not_allowed"
    )
    assert_problem(
        await port.client.put(f"{holds}/customs", headers=port["terminal"].headers),
        403,
        "hold_not_allowed",
    )
    assert_problem(
        await port.client.put(f"{holds}/terminal", headers=port["other_terminal"].headers),
        404,
        "release_not_found",
    )
    assert_problem(
        await port.client.put(f"{holds}/customs", headers=port["forwarder"].headers),
        403,
        "role_required",
    )
    assert_problem(await port.client.put(f"{holds}/other", headers=customs), 422, "invalid_request")

    lifted = ok(await port.client.delete(f"{holds}/customs", headers=customs))
    assert lifted["lights"]["customs"] == "green"
    assert_problem(
        await port.client.delete(f"{holds}/customs", headers=customs), 404, "hold_not_found"
    )
    types = await audit_types(port.release)
    assert types.count("hold.placed") == 2 and types.count("hold.lifted") == 1
