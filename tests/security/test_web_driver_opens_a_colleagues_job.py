"""A driver tries his colleague's job through the web: he cannot see it, nor accept it in
his colleague's name, and the pages of dispatchers and the gate are not his."""

from tests.release.chains import accept, create_release, hand_over
from tests.web.port import WebPort, csrf_of


async def test_a_driver_cannot_open_or_accept_a_colleagues_job(web_port: WebPort) -> None:
    port = web_port.port
    chain = await create_release(port, to="carrier")
    carrier = await web_port.browser()
    await web_port.sign_in(carrier, await web_port.person("carrier", "dispatcher"))
    release = f"/dispatch/releases/{chain.release_id}"
    page = (await carrier.get(release)).text
    await carrier.post(f"{release}/links/0/accept", data={"csrf": csrf_of(page)})
    colleague = await port.driver("carrier")
    page = (await carrier.get(release)).text
    assigned = await carrier.post(
        f"{release}/assign", data={"csrf": csrf_of(page), "driver": str(colleague.id)}
    )
    assert assigned.status_code == 303

    snooper = await port.driver("carrier")
    phone = await web_port.browser()
    await web_port.sign_in(phone, snooper)
    assert chain.container not in (await phone.get("/driver")).text
    job = await phone.get(f"/driver/jobs/{chain.release_id}")
    assert job.status_code in (403, 404)
    assert chain.container not in job.text
    # His own signature over the colleague's assignment is refused by the release service.
    token = csrf_of((await phone.get("/driver")).text)
    view = await port.client.get(
        f"/v1/releases/{chain.release_id}", headers=port["carrier"].headers
    )
    link_hash = view.json()["links"][1]["link_hash"]
    answer = await phone.post(
        f"/driver/jobs/{chain.release_id}/links/1/accept",
        data={"csrf": token, "ack": port.device_ack(snooper, link_hash)},
    )
    assert answer.status_code in (403, 404, 409, 422)
    after = await port.client.get(
        f"/v1/releases/{chain.release_id}", headers=port["carrier"].headers
    )
    assert after.json()["links"][1]["status"] == "pending"


async def test_the_web_gives_a_driver_no_other_pages(web_port: WebPort) -> None:
    port = web_port.port
    chain = await create_release(port, to="forwarder")
    await accept(port, chain, 0, "forwarder", custodial=True)
    await hand_over(port, chain, "forwarder", "carrier", custodial=True)
    phone = await web_port.browser()
    await web_port.sign_in(phone, await port.driver("carrier"))
    token = csrf_of((await phone.get("/driver")).text)
    for path in ("/dispatch", f"/dispatch/releases/{chain.release_id}", "/gate", "/security"):
        assert (await phone.get(path)).status_code == 403, path
    for action, form in (
        (f"/dispatch/releases/{chain.release_id}/assign", {"driver": "x"}),
        ("/gate/decide", {"container": chain.container, "gate_pass": "x"}),
    ):
        assert (await phone.post(action, data={"csrf": token, **form})).status_code == 403
