"""A browser left open at a gate office, or a copied cookie: an idle session ends, a cookie
changed by one byte is no session, and signing out ends the session everywhere, a copy of
its cookie included."""

from tests.web.port import WebPort, csrf_of


async def test_an_idle_session_ends(web_port: WebPort) -> None:
    browser = await web_port.browser()
    await web_port.sign_in(browser, await web_port.person("carrier", "dispatcher"))
    assert (await browser.get("/dispatch")).status_code == 200
    web_port.clock.now += web_port.app.state.settings.session_idle_seconds + 1
    ended = await browser.get("/dispatch")
    assert ended.status_code == 303 and ended.headers["location"] == "/signin"
    page = (await browser.get("/signin")).text
    assert "Your session has ended" in page
    assert (await browser.get("/dispatch")).headers["location"] == "/signin"


async def test_activity_keeps_a_session_alive(web_port: WebPort) -> None:
    browser = await web_port.browser()
    await web_port.sign_in(browser, await web_port.person("carrier", "dispatcher"))
    for _ in range(3):
        web_port.clock.now += web_port.app.state.settings.session_idle_seconds - 5
        assert (await browser.get("/dispatch")).status_code == 200


async def test_an_altered_cookie_is_no_session(web_port: WebPort) -> None:
    browser = await web_port.browser()
    await web_port.sign_in(browser, await web_port.person("carrier", "dispatcher"))
    name = web_port.app.state.cookie.name
    value = browser.cookies[name]
    flipped = value[:-2] + ("A" if value[-2] != "A" else "B") + value[-1]
    browser.cookies.set(name, flipped, domain="web.test")
    assert (await browser.get("/dispatch")).headers["location"] == "/signin"


async def test_a_cookie_copied_before_sign_out_is_signed_out_too(web_port: WebPort) -> None:
    browser = await web_port.browser()
    await web_port.sign_in(browser, await web_port.person("carrier", "dispatcher"))
    name = web_port.app.state.cookie.name
    copied = browser.cookies[name]
    token = csrf_of((await browser.get("/dispatch")).text)
    await browser.post("/signout", data={"csrf": token})
    thief = await web_port.browser()
    thief.cookies.set(name, copied, domain="web.test")
    answer = await thief.get("/dispatch")
    assert answer.status_code == 303 and answer.headers["location"] == "/signin"


async def test_signing_out_forgets_the_person(web_port: WebPort) -> None:
    browser = await web_port.browser()
    await web_port.sign_in(browser, await web_port.person("carrier", "dispatcher"))
    token = csrf_of((await browser.get("/dispatch")).text)
    out = await browser.post("/signout", data={"csrf": token})
    assert out.headers["location"] == "/signin"
    assert (await browser.get("/dispatch")).headers["location"] == "/signin"


async def test_the_cookie_is_http_only_and_same_site(web_port: WebPort) -> None:
    browser = await web_port.browser()
    answer = await browser.get("/signin")
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
