"""What the release service does when it cannot trust what it knows: an identity service away
past the staleness bound, a revoked caller, an expired release."""

from datetime import timedelta

from sqlmodel import col, update

from services.identity.parties import service as parties
from services.release.releases.models import Release
from shared.db import transaction
from shared.models import utcnow
from tests.conftest import SettingsFactory
from tests.helpers import assert_problem
from tests.release.chains import ask_gate, create_release, full_chain, gate_pass, ok
from tests.release.port import make_port, release_body, unchanged


async def test_the_gate_fails_closed_when_the_identity_service_is_away_too_long(
    make_settings: SettingsFactory,
) -> None:
    async with make_port(
        make_settings, identity_refresh_seconds=0, identity_max_staleness_seconds=0.001
    ) as port:
        chain = await full_chain(port, path=("forwarder", "carrier"))
        assert chain.driver is not None
        token = await gate_pass(port, "carrier", chain.driver)
        port.identity_line.up = False
        async with unchanged(port.release):
            response = await port.client.post(
                "/v1/gate/decisions",
                json={"container": chain.container, "gate_pass": token},
                headers=port["terminal"].headers,
            )
        assert_problem(response, 503, "identity_unavailable")
        port.identity_line.up = True
        decision = await ask_gate(port, chain.container, gate_pass=token)
        assert decision["decision"] == "release"


async def test_a_short_outage_is_bridged_by_what_is_held(make_settings: SettingsFactory) -> None:
    async with make_port(make_settings, identity_refresh_seconds=0) as port:
        chain = await full_chain(port, path=("forwarder", "carrier"))
        assert chain.driver is not None
        token = await gate_pass(port, "carrier", chain.driver)
        # The terminal has been seen before (its credentials are held).
        ok(
            await port.client.get(
                f"/v1/releases/{chain.release_id}", headers=port["terminal"].headers
            )
        )
        port.identity_line.up = False
        decision = await ask_gate(port, chain.container, gate_pass=token)
        assert decision["decision"] == "release"


async def test_a_revoked_partys_tokens_stop_working(make_settings: SettingsFactory) -> None:
    async with make_port(make_settings, identity_refresh_seconds=0) as port:
        chain = await create_release(port)
        path = f"/v1/releases/{chain.release_id}"
        ok(await port.client.get(path, headers=port["forwarder"].headers))
        async with transaction(port.identity.state.sessions) as session:
            await parties.revoke_party(
                session, party_id=port["forwarder"].id, actor="test", now=utcnow()
            )
        assert_problem(
            await port.client.get(path, headers=port["forwarder"].headers), 401, "party_not_active"
        )


async def test_an_expired_release_is_denied_and_makes_room_for_a_new_one(
    make_settings: SettingsFactory,
) -> None:
    async with make_port(make_settings) as port:
        chain = await full_chain(port, path=("forwarder", "carrier"))
        assert chain.driver is not None
        async with transaction(port.release.state.sessions) as session:
            await session.exec(
                update(Release)
                .where(col(Release.id) == chain.release_id)
                .values(valid_until=utcnow() - timedelta(minutes=1))
            )
        decision = await ask_gate(
            port, chain.container, gate_pass=await gate_pass(port, "carrier", chain.driver)
        )
        assert "release_expired" in [reason["code"] for reason in decision["reasons"]]
        view = ok(
            await port.client.get(f"/v1/releases/{chain.release_id}", headers=port["line"].headers)
        )
        assert (view["status"], view["lights"]["commercial"]) == ("expired", "red")
        again = await port.client.post(
            "/v1/releases",
            json=release_body(port, chain.container),
            headers=await port.person_headers("line"),
        )
        assert again.status_code == 201, again.text
        old = ok(
            await port.client.get(f"/v1/releases/{chain.release_id}", headers=port["line"].headers)
        )
        assert old["status"] == "expired" and old["closed_at"] is not None
