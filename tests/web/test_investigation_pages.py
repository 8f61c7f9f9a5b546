"""The investigator's and the employer's pages: "who knew?" of a container and a party's
exposure report, each the release service's answer, for those it answers alone."""

from datetime import UTC, datetime

from tests.release.chains import create_release
from tests.web.port import WebPort


async def test_port_security_sees_who_looked_a_container_up(web_port: WebPort) -> None:
    port = web_port.port
    chain = await create_release(port)
    # The terminal's system reads the release: that read is what the page must show.
    read = await port.client.get(
        "/v1/releases", params={"container": chain.container}, headers=port["terminal"].headers
    )
    assert read.status_code == 200, read.text
    officer = await web_port.browser()
    await web_port.sign_in(officer, await web_port.person("security", "officer"))
    page = await officer.get("/security/who-knew", params={"container": chain.container})
    assert page.status_code == 200, page.text
    assert f"client:{port['terminal'].party.id}" in page.text
    assert "GET /v1/releases" in page.text


async def test_an_administrator_sees_his_own_partys_exposure_only(web_port: WebPort) -> None:
    port = web_port.port
    admin = await web_port.browser()
    await web_port.sign_in(admin, await web_port.person("carrier", "admin"))
    own = await admin.get("/exposure")
    assert own.status_code == 200, own.text
    assert port["carrier"].party.id in own.text
    # Naming another party changes nothing for him: the page shows his own.
    other = await admin.get("/exposure", params={"party": port["forwarder"].party.id})
    assert port["carrier"].party.id in other.text
    assert port["forwarder"].party.id not in other.text


async def test_port_security_reads_any_partys_exposure(web_port: WebPort) -> None:
    port = web_port.port
    officer = await web_port.browser()
    await web_port.sign_in(officer, await web_port.person("security", "officer"))
    page = await officer.get("/exposure", params={"party": port["carrier"].party.id})
    assert page.status_code == 200, page.text
    assert port["carrier"].party.id in page.text


async def test_a_dispatcher_gets_neither_page(web_port: WebPort) -> None:
    chain = await create_release(web_port.port)
    dispatcher = await web_port.browser()
    await web_port.sign_in(dispatcher, await web_port.person("carrier", "dispatcher"))
    assert (
        await dispatcher.get("/security/who-knew", params={"container": chain.container})
    ).status_code == 403
    assert (await dispatcher.get("/exposure")).status_code == 403


async def test_port_security_downloads_each_services_yearly_figures(web_port: WebPort) -> None:
    officer = await web_port.browser()
    await web_port.sign_in(officer, await web_port.person("security", "officer"))
    page = await officer.get("/security/figures")
    assert page.status_code == 200
    year = datetime.now(UTC).year
    for service in ("release", "identity"):
        answer = await officer.get(f"/security/figures/{service}/{year}.csv")
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("text/csv")
        assert "attachment" in answer.headers["content-disposition"]
        assert answer.text.splitlines()[0].startswith("year,figure")


async def test_a_dispatcher_downloads_no_figures(web_port: WebPort) -> None:
    dispatcher = await web_port.browser()
    await web_port.sign_in(dispatcher, await web_port.person("carrier", "dispatcher"))
    year = datetime.now(UTC).year
    assert (await dispatcher.get(f"/security/figures/release/{year}.csv")).status_code == 403
