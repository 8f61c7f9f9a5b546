"""Port security's "verify the whole log": the page recomputes the release service's log
from its tiles against the log key and says so; the answer names what it trusted."""

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.tlog.note import verifier_key
from tests.audit_helpers import integrate_all
from tests.release.chains import create_release
from tests.web.port import WebPort, csrf_of


async def test_the_log_verifies_and_the_page_says_which_key_it_trusted(web_port: WebPort) -> None:
    await create_release(web_port.port)
    await integrate_all(web_port.port.release)
    officer = await web_port.browser()
    await web_port.sign_in(officer, await web_port.person("security", "officer"))
    page = await officer.get("/security/log")
    assert page.status_code == 200 and "release-log" in page.text
    verified = await officer.post("/security/log/verify", data={"csrf": csrf_of(page.text)})
    assert verified.status_code == 200, verified.text
    assert "The log verifies: every entry up to size" in verified.text
    # No trusted key is configured in this test (development): the page says so.
    assert "Checked against the key the service publishes itself" in verified.text


async def test_a_wrong_trusted_key_is_reported_not_verified(web_port: WebPort) -> None:
    await integrate_all(web_port.port.release)
    # A well-formed key of the log's name, but not the log's own key.
    stranger = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    web_port.app.state.settings.release_log_key = verifier_key(
        "ketenpas.localhost/release-log", stranger
    )
    officer = await web_port.browser()
    await web_port.sign_in(officer, await web_port.person("security", "officer"))
    page = await officer.get("/security/log")
    answer = await officer.post("/security/log/verify", data={"csrf": csrf_of(page.text)})
    assert answer.status_code == 200, answer.text
    assert "The log does not verify" in answer.text
    assert "publishes itself" not in answer.text
