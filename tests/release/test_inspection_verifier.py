"""`ketenpas inspections verify`: a period's draws checked from the outside, and every way an
insider with the database (and even the VRF key) could bend them caught."""

import base64
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, update
from sqlmodel import col

from services.release.gate.models import GateDecision
from services.release.inspections import service
from services.release.inspections.draws import alpha_bytes, u_of
from services.release.inspections.keys import DrawingKey
from services.release.inspections.models import Draw, InspectionPolicy
from services.release.inspections.risk import probability_of
from services.release.inspections.verifier import (
    DrawCheckFailed,
    _check_release_visits,
    verify_draws,
)
from shared import vrf
from shared.audit import repository as audit_log
from shared.db import transaction
from tests.audit_helpers import integrate_all
from tests.conftest import SettingsFactory
from tests.release.chains import ask_gate, full_chain, gate_pass
from tests.release.port import Port, make_port, new_container

SINCE = datetime(2000, 1, 1, tzinfo=UTC)
UNTIL = datetime(2100, 1, 1, tzinfo=UTC)


@pytest.fixture
async def port(make_settings: SettingsFactory) -> AsyncIterator[Port]:
    """Half of the releasing decisions select their container, on average."""
    async with make_port(make_settings, inspect_probability=0.5) as port:
        yield port


async def decide_some(port: Port) -> list[dict[str, Any]]:
    """Three releasing-or-selecting decisions and a deny, all under a signed checkpoint."""
    decisions = []
    for _ in range(3):
        chain = await full_chain(port, path=("forwarder", "carrier"))
        assert chain.driver is not None
        proof = await gate_pass(port, "carrier", chain.driver)
        decisions.append(await ask_gate(port, chain.container, gate_pass=proof))
    denied = await ask_gate(port, new_container(), gate_pass=proof)
    assert denied["decision"] == "deny" and denied["draw_id"] is None
    await integrate_all(port.release)
    return decisions


async def check(port: Port, *, keys: list[str] | None = None) -> Any:
    key: DrawingKey = port.release.state.drawing_key
    trusted = keys or [base64.urlsafe_b64encode(key.public_key).rstrip(b"=").decode()]
    token = port["security"].headers["Authorization"].removeprefix("Bearer ")
    return await verify_draws(
        "http://testserver",
        trusted_keys=trusted,
        log_key=port.release.state.audit_log.verifier_key,
        token=token,
        since=SINCE,
        until=UNTIL,
        transport=httpx.ASGITransport(app=port.release),
    )


async def refused(port: Port, draw_id: str | None, words: str) -> None:
    with pytest.raises(DrawCheckFailed) as caught:
        await check(port)
    assert words in caught.value.reason, caught.value.reason
    if draw_id is not None:
        assert caught.value.draw == draw_id


async def edit_draw(port: Port, draw_id: str, **values: Any) -> None:
    async with transaction(port.release.state.sessions) as session:
        await session.exec(update(Draw).where(col(Draw.id) == uuid.UUID(draw_id)).values(**values))


async def test_an_honest_period_verifies(port: Port) -> None:
    decisions = await decide_some(port)
    report = await check(port)
    assert report.draws == 3 and report.decisions == 4
    assert report.selected == sum(d["decision"] == "inspect" for d in decisions)


async def test_a_draw_under_an_untrusted_key_is_refused(port: Port) -> None:
    decisions = await decide_some(port)
    stranger = base64.urlsafe_b64encode(vrf.public_key(bytes(32))).rstrip(b"=").decode()
    with pytest.raises(DrawCheckFailed) as caught:
        await check(port, keys=[stranger])
    assert "not trusted" in caught.value.reason
    assert caught.value.draw == decisions[0]["draw_id"]


async def test_a_dropped_draw_is_caught(port: Port) -> None:
    decisions = await decide_some(port)
    async with transaction(port.release.state.sessions) as session:
        await session.exec(delete(Draw).where(col(Draw.id) == uuid.UUID(decisions[1]["draw_id"])))
    await refused(port, decisions[1]["draw_id"], "not published")


async def test_an_altered_result_is_caught(port: Port) -> None:
    decisions = await decide_some(port)
    target = decisions[2]
    await edit_draw(port, target["draw_id"], selected=target["decision"] == "release")
    await refused(port, target["draw_id"], "does not follow")


async def test_a_forged_proof_is_caught(port: Port) -> None:
    decisions = await decide_some(port)
    await edit_draw(port, decisions[0]["draw_id"], pi=bytes(80))
    await refused(port, decisions[0]["draw_id"], "proof does not verify")


async def stored_draw(port: Port, draw_id: str) -> Draw:
    async with transaction(port.release.state.sessions) as session:
        found = await session.get(Draw, uuid.UUID(draw_id))
    assert found is not None
    return found


async def replace_with(port: Port, draw: Draw, alpha: dict[str, Any]) -> None:
    """Draw again with the service's own key for `alpha`, and put it in the draw's place."""
    key: DrawingKey = port.release.state.drawing_key
    text = alpha_bytes(alpha)
    pi = key.prove(text)
    beta = vrf.proof_to_hash(pi)
    u = u_of(beta)
    await edit_draw(
        port,
        str(draw.id),
        alpha=text.decode(),
        pi=pi,
        beta=beta,
        u=u,
        selected=u < draw.probability,
    )


async def test_a_redraw_with_the_key_put_in_place_of_the_first_is_caught(port: Port) -> None:
    # An insider with the database and the VRF key draws again for the same decision under
    # a later checkpoint (another result, a valid proof, a checkpoint the log really had)
    # and puts the new draw in the first one's place.
    decisions = await decide_some(port)
    first = await stored_draw(port, decisions[0]["draw_id"])
    async with transaction(port.release.state.sessions) as session:
        latest = await audit_log.latest_checkpoint(session)
    assert latest is not None
    alpha = json.loads(first.alpha)
    assert alpha["checkpoint"]["size"] < latest.size
    alpha["checkpoint"] = {
        "origin": alpha["checkpoint"]["origin"],
        "size": latest.size,
        "root": base64.b64encode(latest.root_hash).decode(),
    }
    await replace_with(port, first, alpha)
    await refused(port, str(first.id), "differs from the one logged")


async def test_a_checkpoint_the_log_never_had_is_caught(port: Port) -> None:
    # Even re-proved with the key, a draw citing a made-up checkpoint does not match the log.
    decisions = await decide_some(port)
    first = await stored_draw(port, decisions[1]["draw_id"])
    alpha = json.loads(first.alpha)
    alpha["checkpoint"]["root"] = base64.b64encode(bytes(32)).decode()
    await replace_with(port, first, alpha)
    with pytest.raises(DrawCheckFailed) as caught:
        await check(port)
    assert caught.value.draw == str(first.id)


async def test_a_decision_pointed_at_another_draw_is_caught(port: Port) -> None:
    decisions = await decide_some(port)
    async with transaction(port.release.state.sessions) as session:
        await session.exec(
            update(GateDecision)
            .where(col(GateDecision.id) == uuid.UUID(decisions[0]["decision_id"]))
            .values(draw_id=uuid.UUID(decisions[1]["draw_id"]))
        )
    with pytest.raises(DrawCheckFailed):
        await check(port)


async def test_a_draw_weighted_below_its_policy_is_caught(
    port: Port, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The service itself (its code changed by an insider) draws with half the probability
    # its policy gives: table and log agree, yet the probability does not follow.
    monkeypatch.setattr(
        service, "probability_of", lambda policy, factors: probability_of(policy, factors) / 2
    )
    decisions = await decide_some(port)
    await refused(port, decisions[0]["draw_id"], "not what its policy gives")


async def test_a_policy_version_removed_from_the_table_is_caught(port: Port) -> None:
    decisions = await decide_some(port)
    async with transaction(port.release.state.sessions) as session:
        await session.exec(delete(InspectionPolicy))
    await refused(port, decisions[0]["draw_id"], "does not publish")


def container_draw(release: str, visit: int) -> dict[str, Any]:
    return {
        "purpose": "container",
        "alpha_object": {"subject": {"release": release, "visit": visit}},
    }


def test_a_releases_visits_are_drawn_once_each_and_none_skipped() -> None:
    honest = {f"d{n}": container_draw("r", n) for n in (1, 2, 3)}
    _check_release_visits(honest)
    with pytest.raises(DrawCheckFailed, match="drawn twice"):
        _check_release_visits({**honest, "again": container_draw("r", 2)})
    with pytest.raises(DrawCheckFailed, match="missing"):
        _check_release_visits({"d1": container_draw("r", 1), "d4": container_draw("r", 4)})
    # Other releases' numbers are their own.
    _check_release_visits({**honest, "other": container_draw("s", 1)})
