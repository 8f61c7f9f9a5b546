"""The whole path through the pages, in process: the forwarder's dispatcher accepts and
hands over, the carrier's accepts and assigns a screened driver, the driver accepts (his
phone's signature, made here as the page's script makes it), shows his gate pass, the
terminal's operator asks the gate and records the gate-out, and port security finds the
container with every link verified. Every step is a form post with its CSRF token."""

import re

import httpx

from services.release.chain.verify import link_hash
from tests.audit_helpers import integrate_all
from tests.identity.factories import make_party, make_person
from tests.release.chains import create_release
from tests.release.evidence_bundles import anchors
from tests.web.port import WebPort, csrf_of


async def post(browser: httpx.AsyncClient, page: str, action: str, **fields: str) -> httpx.Response:
    """Post the form with `action` from `page`, as the browser would (token included)."""
    html = (await browser.get(page)).text
    assert f'action="{action}"' in html, f"{page} has no form posting to {action}"
    return await browser.post(action, data={"csrf": csrf_of(html), **fields})


async def test_the_whole_path(web_port: WebPort) -> None:
    port = web_port.port
    chain = await create_release(port)
    release = f"/dispatch/releases/{chain.release_id}"

    forwarder = await web_port.browser()
    assert (
        await web_port.sign_in(forwarder, await web_port.person("forwarder", "dispatcher"))
    ).headers["location"] == "/dispatch"
    work = (await forwarder.get("/dispatch")).text
    assert chain.container in work and "Waiting for your answer" in work
    accepted = await post(forwarder, release, f"{release}/links/0/accept")
    assert accepted.status_code == 303
    # The carrier is found by name, and handed the release.
    found = (await forwarder.get(release, params={"q": "carrier"})).text
    assert port["carrier"].id in found
    handed = await post(
        forwarder, f"{release}?q=carrier", f"{release}/handover", to=port["carrier"].id
    )
    assert handed.status_code == 303, handed.text

    carrier = await web_port.browser()
    await web_port.sign_in(carrier, await web_port.person("carrier", "dispatcher"))
    assert (await post(carrier, release, f"{release}/links/1/accept")).status_code == 303
    driver = await port.driver("carrier")
    page = (await carrier.get(release)).text
    assert f'<option value="{driver.id}">' in page  # a screened driver of the carrier is offered
    assigned = await post(carrier, release, f"{release}/assign", driver=str(driver.id))
    assert assigned.status_code == 303, assigned.text

    phone = await web_port.browser()
    assert (await web_port.sign_in(phone, driver)).headers["location"] == "/driver"
    assert chain.container in (await phone.get("/driver")).text
    job = (await phone.get(f"/driver/jobs/{chain.release_id}")).text
    to_sign = re.search(r'data-link-hash="([^"]+)"', job)
    assert to_sign is not None, job
    # What static/driver.js does with the phone's key: sign the link's hash.
    ack = port.device_ack(driver, to_sign.group(1))
    accept = await phone.post(
        f"/driver/jobs/{chain.release_id}/links/2/accept", data={"csrf": csrf_of(job), "ack": ack}
    )
    assert accept.status_code == 303, accept.text
    assert (await phone.get("/driver/gate")).json() is None  # no answer before the gate
    gate_pass_page = await phone.get("/driver/pass")
    assert gate_pass_page.status_code == 200 and "<svg" in gate_pass_page.text

    operator = await web_port.browser()
    await web_port.sign_in(operator, await web_port.person("terminal", "operator"))
    fresh = await phone.post("/driver/pass", headers={"X-CSRF-Token": csrf_of(gate_pass_page.text)})
    assert fresh.status_code == 200
    decision = await post(
        operator,
        "/gate",
        "/gate/decide",
        container=chain.container,
        gate_pass=fresh.json()["gate_pass"],
    )
    assert decision.status_code == 200, decision.text
    assert "Release: the driver may take the container" in decision.text
    # The driver's phone is told the gate's answer (the pass page's script asks for it).
    told = (await phone.get("/driver/gate")).json()
    assert (told["decision"], told["container"]) == ("release", chain.container)
    assert 'data-since="' in gate_pass_page.text
    complete = re.search(r'action="(/gate/decisions/[^"]+/complete)"', decision.text)
    assert complete is not None
    out = await operator.post(complete.group(1), data={"csrf": csrf_of(decision.text)})
    assert out.status_code == 303

    officer = await web_port.browser()
    await web_port.sign_in(officer, await web_port.person("security", "officer"))
    found_page = (await officer.get("/security", params={"container": chain.container})).text
    assert "every link verified" in found_page and "picked up" in found_page
    assert found_page.count("result-ok") == 3
    # The evidence bundle, downloaded from the page, verifies offline against the anchors.
    download = f"/security/releases/{chain.release_id}/evidence"
    assert f'href="{download}"' in found_page
    await integrate_all(port.release)
    bundle = await officer.get(download)
    assert bundle.status_code == 200, bundle.text
    assert bundle.headers["content-disposition"].startswith("attachment")
    report = (await anchors(port)).verify(bundle.content)
    assert any(check.startswith("chain") for check in report.passed), report
    assert report.skipped == [], report


async def test_the_link_hash_the_page_offers_is_the_chains(web_port: WebPort) -> None:
    port = web_port.port
    chain = await create_release(port)
    officer_view = await port.client.get(
        f"/v1/releases/{chain.release_id}/chain", headers=port["security"].headers
    )
    assert link_hash(officer_view.json()["links"][0]["jws"]) == chain.links[0]


async def test_a_person_whose_role_has_no_pages_is_told_so(web_port: WebPort) -> None:
    admin_party = await make_party(web_port.port.identity, "admin")
    admin = await make_person(web_port.port.identity, admin_party, "admin")
    browser = await web_port.browser()
    assert (await web_port.sign_in(browser, admin)).headers["location"] == "/account"
    page = await browser.get("/account")
    assert page.status_code == 200 and "no pages for your role" in page.text
    for elsewhere in ("/driver", "/dispatch", "/gate", "/security"):
        assert (await browser.get(elsewhere)).status_code == 403, elsewhere
