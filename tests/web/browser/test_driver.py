"""The driver's path on his phone: he registers the phone's own key (made by WebCrypto in
the browser), a dispatcher assigns him a container, he opens the job and accepts it (the
browser signs the acknowledgement with that key), and his gate pass shows as a QR code.
Another driver cannot open his job."""

import base64
import hashlib
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import pytest
from playwright.sync_api import Page, Request, expect

from tests.web.browser.checks import PhoneFactory, Watch, check_page, sign_in
from tests.web.browser.harness import Stack, api_call, assign_to_driver, container_of

DRIVER = "maasvlakte.driver1"
CARRIER = "maasvlakte.dispatch"
ADMIN = "admin.admin"


def _b64(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def _thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 thumbprint of an Ed25519 public JWK (the kid a key is known by)."""
    canonical = json.dumps(
        {"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"]}, separators=(",", ":")
    )
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _device_kids(stack: Stack, username: str) -> set[str]:
    """The kids of a driver's device keys, as the port's administrator reads them."""
    person = stack.person(username)
    answer: Any = api_call(
        "get",
        f"{stack.identity}/v1/people/{person['person_id']}/device-keys",
        token=stack.token(ADMIN),
    )
    keys = answer if isinstance(answer, list) else answer.get("keys", [])
    return {str(key["kid"]) for key in keys}


def register_phone(page: Page, stack: Stack) -> str:
    """Register the phone's key on the device page; the kid of the public key it sent."""
    page.goto(f"{stack.web}/driver/device")
    with page.expect_request(_post_to("/driver/device")) as sent:
        page.get_by_role("button", name="Register this phone").click()
    public = json.loads(_fields(sent.value)["jwk"])
    assert set(public) == {"kty", "crv", "x"}, "only the public half leaves the phone"
    assert (public["kty"], public["crv"]) == ("OKP", "Ed25519")
    expect(page).to_have_url(f"{stack.web}/driver")
    expect(page.get_by_role("status")).to_have_text("This phone can now accept jobs.")
    return _thumbprint(public)


def test_driver_registers_his_phone_and_shows_his_gate_pass(page: Page, stack: Stack) -> None:
    sign_in(page, stack, DRIVER)
    expect(page).to_have_url(f"{stack.web}/driver")
    page.goto(f"{stack.web}/driver/device")
    check_page(page, "driver-device")

    kid = register_phone(page, stack)
    assert kid in _device_kids(stack, DRIVER), "the identity service holds the phone's key"
    check_page(page, "driver-jobs-registered")

    # The page's timers run on a clock the test moves (Playwright's), so the renewal that
    # comes shortly before the pass expires is seen now rather than waited for.
    page.clock.install()
    page.get_by_role("link", name="Show my gate pass").click()
    expect(page).to_have_url(f"{stack.web}/driver/pass")
    qr = page.locator("figure.js-pass svg")
    expect(qr).to_have_count(1)
    box = qr.bounding_box()
    assert box is not None and box["width"] >= 150, "a QR code a gate's scanner can read"
    check_page(page, "driver-pass")

    modules = page.locator("figure.js-pass svg path")
    first = modules.first.get_attribute("d") or ""
    lifetime = int(page.locator("figure.js-pass").get_attribute("data-expires-in") or "0")
    assert first and lifetime > 0
    with page.expect_response(lambda r: _post_to("/driver/pass")(r.request)) as renewed:
        page.clock.run_for(lifetime * 1000)
    assert renewed.value.status == 200
    # A fresh pass, not the same code again, in place of the old one.
    expect(modules.first).not_to_have_attribute("d", first)
    expect(qr).to_have_count(1)


def test_driver_accepts_his_job_signed_on_his_phone(page: Page, stack: Stack) -> None:
    sign_in(page, stack, DRIVER)
    kid = register_phone(page, stack)

    # A dispatcher of his carrier assigns him a container (through the APIs).
    release_id = assign_to_driver(stack, carrier=CARRIER, driver=DRIVER)
    page.reload()
    job = page.locator(f"a[href='/driver/jobs/{release_id}']")
    expect(job).to_be_visible()
    check_page(page, "driver-jobs-assigned")
    job.click()
    expect(page).to_have_url(f"{stack.web}/driver/jobs/{release_id}")
    container = container_of(stack, release_id, CARRIER)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Job: {container}")
    check_page(page, "driver-job")

    # He accepts; the browser signs the acknowledgement with the phone's key.
    with page.expect_request(_post_to("/accept")) as sent:
        page.get_by_role("button", name="Accept").click()
    ack = _fields(sent.value)["ack"]
    header = json.loads(_b64(ack.split(".")[0]))
    assert header == {"alg": "Ed25519", "typ": "ketenpas-ack+jwt", "kid": kid}
    expect(page).to_have_url(f"{stack.web}/driver/jobs/{release_id}")
    expect(page.get_by_role("status")).to_have_text("Accepted.")
    expect(page.get_by_role("button", name="Accept")).to_have_count(0)
    check_page(page, "driver-job-accepted")

    # The release service holds the assignment accepted, under his phone's signature.
    chain = api_call(
        "get", f"{stack.release}/v1/releases/{release_id}/chain", token=stack.token(CARRIER)
    )
    assignment = next(link for link in chain["links"] if link["kind"] == "assignment")
    assert assignment["status"] == "accepted"
    assert chain["verified"] is True


@pytest.mark.parametrize(
    "intruder", ["maasvlakte.driver2", "waalhaven.driver1"], ids=["colleague", "other-carrier"]
)
def test_a_driver_cannot_open_another_drivers_job(
    new_phone: PhoneFactory, stack: Stack, watch: Watch, intruder: str
) -> None:
    release_id = assign_to_driver(stack, carrier=CARRIER, driver=DRIVER)
    watch.expect_status(403, 404)
    page = new_phone()
    sign_in(page, stack, intruder)
    expect(page).to_have_url(f"{stack.web}/driver")
    expect(page.locator(f"a[href='/driver/jobs/{release_id}']")).to_have_count(0)

    page.goto(f"{stack.web}/driver/jobs/{release_id}")
    # Refused, and nothing of the job shown: neither its container nor its chain.
    expect(page.get_by_role("heading", level=1)).to_have_text("Something is not right")
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.locator("main")).not_to_contain_text(container_of(stack, release_id, CARRIER))
    expect(page.locator("ol.chain")).to_have_count(0)
    expect(page.locator("form.js-ack")).to_have_count(0)
    expect(page.get_by_role("button", name="Decline")).to_have_count(0)
    check_page(page, f"driver-job-refused-{intruder.split('.')[0]}")


def _post_to(suffix: str) -> Callable[[Request], bool]:
    return lambda request: request.method == "POST" and request.url.endswith(suffix)


def _fields(request: Request) -> dict[str, str]:
    """The fields of a posted form."""
    return dict(parse_qsl(request.post_data or "", keep_blank_values=True))
