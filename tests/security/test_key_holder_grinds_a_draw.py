"""Threat: an operator who holds the VRF key (or changes the service's code) tries inputs
until one draws `release` for the container he wants through, keeping only that draw.

The input leaves him nothing to choose: it names the release and its visit number (the
n-th draw of that release), the container, terminal, policy version and risk factors, and
the log's checkpoint; not the decision's id, which the service picks freely. A second draw
for the same visit of a release is refused by the database, and the verifier refuses
repeated or skipped visit numbers.
"""

import uuid

import pytest
from sqlalchemy.exc import IntegrityError

from services.release.inspections.models import Draw
from shared.db import transaction
from tests.release.chains import ask_gate, full_chain, gate_pass, ok
from tests.release.port import Port

PERIOD = {"since": "2000-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"}


async def test_a_draws_input_holds_nothing_the_service_picks(port: Port) -> None:
    chain = await full_chain(port, path=("forwarder", "carrier"))
    assert chain.driver is not None
    token = await gate_pass(port, "carrier", chain.driver)
    decision = await ask_gate(port, chain.container, gate_pass=token)
    [draw] = ok(
        await port.client.get(
            "/v1/inspections/draws", params=PERIOD, headers=port["security"].headers
        )
    )["draws"]
    subject = draw["alpha_object"]["subject"]
    assert set(subject) == {"release", "visit", "container", "terminal", "policy", "factors"}
    assert decision["decision_id"] not in draw["alpha"]
    assert (subject["release"], subject["visit"]) == (str(chain.release_id), 1)

    # Storing another draw for the same visit of the release is refused.
    async with transaction(port.release.state.sessions) as session:
        stored = await session.get(Draw, uuid.UUID(draw["draw_id"]))
        assert stored is not None
        fresh = {"id": uuid.uuid4(), "decision_id": uuid.uuid4(), "event_id": uuid.uuid4()}
        second = Draw(**{**stored.model_dump(), **fresh})
    with pytest.raises(IntegrityError):
        async with transaction(port.release.state.sessions) as session:
            session.add(second)
