"""The evidence bundle of a release: exported by port security, verified offline."""

from tests.release.evidence_bundles import anchors, export, picked_up
from tests.release.port import Port


async def test_the_bundle_of_a_picked_up_container_verifies_offline(port: Port) -> None:
    chain = await picked_up(port)
    bundle = await export(port, chain)
    report = (await anchors(port)).verify(bundle)
    print(report)
    assert chain.driver is not None
    assert report.chain is not None and report.chain.driver == str(chain.driver.id)
