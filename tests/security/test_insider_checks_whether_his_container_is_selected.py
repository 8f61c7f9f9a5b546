"""Threat: the criminal's man inside a forwarder keeps looking at a container to learn
whether the gate selected it for inspection (and so whether to send the truck or let it
stand). He may read it, it is his chain; but looking again and again at a container under
inspection raises an alert for port security, naming each read.
"""

from tests.conftest import SettingsFactory
from tests.monitoring.alerting import alerts, runner
from tests.release.chains import ask_gate, full_chain, gate_pass, ok
from tests.release.port import make_port


async def test_repeated_reads_of_a_selected_container_raise_an_alert(
    make_settings: SettingsFactory,
) -> None:
    async with make_port(make_settings, inspect_probability=1.0) as port:
        chain = await full_chain(port, path=("forwarder", "carrier"))
        assert chain.driver is not None
        decided = await ask_gate(
            port, chain.container, gate_pass=await gate_pass(port, "carrier", chain.driver)
        )
        assert decided["decision"] == "inspect"
        await runner(port.release).step()
        insider = await port.person_headers("forwarder")
        for _ in range(3):
            ok(await port.client.get(f"/v1/releases/{chain.release_id}", headers=insider))
        await runner(port.release).step()

        [alert] = await alerts(port.release, "watched_container_lookups")
        assert alert.subject == f"person:{port['forwarder'].people['dispatcher'].id}"
        assert alert.facts["containers"] == [chain.container]
        assert len(alert.evidence) == 3
