"""A page of another site (or a script) makes a signed-in person's browser post a form:
without the session's CSRF token, or from another origin, the front end refuses it and
nothing happens."""

from tests.release.chains import create_release
from tests.web.port import WEB, WebPort, csrf_of


async def _pending_forwarder(web_port: WebPort) -> tuple[str, str]:
    chain = await create_release(web_port.port)
    return str(chain.release_id), f"/dispatch/releases/{chain.release_id}/links/0/accept"


async def test_an_accept_without_the_token_is_refused_and_nothing_changes(
    web_port: WebPort,
) -> None:
    release_id, accept = await _pending_forwarder(web_port)
    browser = await web_port.browser()
    await web_port.sign_in(browser, await web_port.person("forwarder", "dispatcher"))
    for form in ({}, {"csrf": ""}, {"csrf": "guessed-token"}):
        refused = await browser.post(accept, data=form)
        assert refused.status_code == 403
        assert "form_refused" in refused.text
    page = (await browser.get(f"/dispatch/releases/{release_id}")).text
    assert f'action="{accept}"' in page  # still waiting for an answer


async def test_a_post_from_another_origin_is_refused_even_with_the_token(
    web_port: WebPort,
) -> None:
    _, accept = await _pending_forwarder(web_port)
    browser = await web_port.browser()
    await web_port.sign_in(browser, await web_port.person("forwarder", "dispatcher"))
    token = csrf_of((await browser.get("/dispatch")).text)
    refused = await browser.post(
        accept, data={"csrf": token}, headers={"Origin": "https://evil.example"}
    )
    assert refused.status_code == 403
    allowed = await browser.post(accept, data={"csrf": token}, headers={"Origin": WEB})
    assert allowed.status_code == 303


async def test_one_sessions_token_does_not_serve_another_session(web_port: WebPort) -> None:
    _, accept = await _pending_forwarder(web_port)
    attacker = await web_port.browser()
    await web_port.sign_in(attacker, await web_port.person("other_carrier", "dispatcher"))
    his_token = csrf_of((await attacker.get("/dispatch")).text)
    victim = await web_port.browser()
    await web_port.sign_in(victim, await web_port.person("forwarder", "dispatcher"))
    assert (await victim.post(accept, data={"csrf": his_token})).status_code == 403


async def test_sign_in_itself_needs_the_token(web_port: WebPort) -> None:
    browser = await web_port.browser()
    person = await web_port.person("forwarder", "dispatcher")
    refused = await browser.post("/signin", data={"username": person.username})
    assert refused.status_code == 403
    assert (await browser.get("/dispatch")).headers["location"] == "/signin"
