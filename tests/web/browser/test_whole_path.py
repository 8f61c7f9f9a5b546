"""The whole path in the browser, each person on his own phone: the forwarder's dispatcher
accepts the release and nominates a carrier found by name, the carrier accepts and
subcontracts, the subcontractor accepts and assigns his screened driver, the driver
registers his phone and accepts with it and shows his gate pass, the terminal's operator
pastes the pass (as a scanner would) and records the gate-out, and port security finds the
container with every link verified, downloads the evidence bundle and it verifies offline
against the anchors the services publish."""

import time

import httpx
from playwright.sync_api import Page, expect

from services.release.evidence.verify import verify_bundle
from tests.web.browser.checks import PhoneFactory, check_page, sign_in
from tests.web.browser.harness import Stack, release_to
from tests.web.browser.test_driver import register_phone

GATE = "ect.gate"
FORWARDER, CARRIER, SUBCONTRACTOR = "rijnmond.desk", "waalhaven.dispatch", "botlek.dispatch"
DRIVER, SECURITY = "botlek.driver1", "security.officer"
SEQUENCED_SECONDS = 30


def _party_name(stack: Stack, username: str) -> str:
    """The name of a demo person's party, as a dispatcher would search for it."""
    party_id = stack.person(username)["party_id"]
    return str(next(p["name"] for p in stack.document["parties"] if p["party_id"] == party_id))


def _open_release(page: Page, container: str) -> None:
    page.get_by_role("link", name=container).first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(container)


def _accept_and_hand_over(page: Page, stack: Stack, who: str, container: str, to: str) -> None:
    """A dispatcher accepts what he was offered and hands it to the party named `to`."""
    sign_in(page, stack, who)
    expect(page).to_have_url(f"{stack.web}/dispatch")
    _open_release(page, container)
    with page.expect_navigation():
        page.get_by_role("button", name="Accept").click()
    expect(page.get_by_role("status")).to_have_text("Accepted.")
    name = _party_name(stack, to)
    page.get_by_label("Search a party by name or EORI").fill(name.split()[0])
    with page.expect_navigation():
        page.get_by_role("button", name="Search").click()
    page.get_by_label(name, exact=False).check()
    with page.expect_navigation():
        page.get_by_role("button", name="Hand over").click()
    expect(page.get_by_role("status")).to_have_text("Handed over: waiting for the party to accept.")
    check_page(page, f"path-{who.split('.')[0]}-handed-over")


def test_the_whole_path_in_the_browser(new_phone: PhoneFactory, stack: Stack) -> None:
    _, container = release_to(stack, FORWARDER)
    _accept_and_hand_over(new_phone(), stack, FORWARDER, container, CARRIER)
    _accept_and_hand_over(new_phone(), stack, CARRIER, container, SUBCONTRACTOR)

    subcontractor = new_phone()
    sign_in(subcontractor, stack, SUBCONTRACTOR)
    _open_release(subcontractor, container)
    with subcontractor.expect_navigation():
        subcontractor.get_by_role("button", name="Accept").click()
    driver = stack.person(DRIVER)
    subcontractor.get_by_label("Driver (screened)").select_option(driver["person_id"])
    with subcontractor.expect_navigation():
        subcontractor.get_by_role("button", name="Assign").click()
    expect(subcontractor.get_by_role("status")).to_have_text(
        "Assigned: waiting for the driver to accept."
    )

    phone = new_phone()
    sign_in(phone, stack, DRIVER)
    register_phone(phone, stack)
    phone.get_by_role("link", name=container).click()
    with phone.expect_navigation():
        phone.get_by_role("button", name="Accept").click()
    expect(phone.get_by_role("status")).to_have_text("Accepted.")
    phone.goto(f"{stack.web}/driver/pass")
    expect(phone.locator(".js-pass svg")).to_be_visible()
    check_page(phone, "path-driver-gate-pass")
    # What the operator's scanner reads off the QR code: the pass itself.
    gate_pass = phone.evaluate(
        """async () => {
            const csrf = document.querySelector('meta[name="csrf-token"]').content;
            const answer = await fetch("/driver/pass", {method: "POST",
                headers: {"X-CSRF-Token": csrf, "Accept": "application/json"}});
            return (await answer.json()).gate_pass;
        }"""
    )

    gate = new_phone()
    sign_in(gate, stack, GATE)
    gate.get_by_label("Container number").fill(container)
    gate.get_by_label("Gate pass (scan, or paste the code)").fill(gate_pass)
    with gate.expect_navigation():
        gate.get_by_role("button", name="Decide").click()
    expect(gate.get_by_role("heading", level=1)).to_have_text(
        "Release: the driver may take the container"
    )
    check_page(gate, "path-gate-decision")
    # The driver's phone, still on its gate pass, shows the gate's answer when it comes.
    expect(phone.locator(".js-gate-answer")).to_have_text(
        "The gate says: you may take the container.", timeout=20_000
    )
    with gate.expect_navigation():
        gate.get_by_role("button", name="Record the gate-out").click()
    expect(gate.get_by_role("status")).to_have_text("Gate-out recorded.")

    officer = new_phone()
    sign_in(officer, stack, SECURITY)
    officer.get_by_label("Container number").fill(container)
    with officer.expect_navigation():
        officer.get_by_role("button", name="Search").click()
    expect(officer.get_by_text("every link verified")).to_be_visible()
    expect(officer.locator(".result-ok")).to_have_count(4)
    check_page(officer, "path-security-container")
    link = officer.get_by_role("link", name="Download the evidence bundle")
    bundle = _download(officer, f"{stack.web}{link.get_attribute('href')}")
    report = verify_bundle(
        bundle,
        log_key=httpx.get(f"{stack.release}/log/key").text.strip(),
        identity_jwks=httpx.get(f"{stack.identity}/.well-known/jwks.json").content,
        inspection_keys=[httpx.get(f"{stack.release}/v1/inspections/key").content],
    )
    assert any(check.startswith("chain") for check in report.passed), report
    assert report.skipped == [], report


def _download(page: Page, url: str) -> bytes:
    """The bundle, fetched with the officer's own session as the link's download fetches it.

    Until the sequencer (every 0.2 s) has put the release's newest events under a signed
    checkpoint the export answers 409 `evidence_not_sequenced`: asked again (bounded), not
    after a fixed wait. (Each export logs an event of its own, so asking through the API
    first would only make the next export wait again.)
    """
    deadline = time.monotonic() + SEQUENCED_SECONDS
    while True:
        answer = page.request.get(url)
        if answer.status != 409:
            break
        assert time.monotonic() < deadline, "the log did not take the release's events"
        time.sleep(0.2)
    assert answer.status == 200, answer.text()
    assert answer.headers["content-disposition"].startswith("attachment")
    return answer.body()
