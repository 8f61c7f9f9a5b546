"""The cache away: the front end cannot tell whether a signed-in session was signed out
elsewhere (only the cache knows), so it shows no page of a signed-in person, says "try
again" (503, never a 500), keeps the session for when the cache is back, and says
`degraded` on /readyz; the sign-in page, static files and the probes still answer."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError

from tests.web.port import WebPort


class AwayCache:
    """A cache whose server does not answer (what redis-py raises then)."""

    def __init__(self, real: Any) -> None:
        self.real = real

    async def get(self, key: str) -> str | None:
        raise RedisConnectionError("Connection refused")

    async def set_if_absent(self, *args: Any, **kwargs: Any) -> bool:
        raise RedisConnectionError("Connection refused")

    async def ping(self) -> bool:
        return False

    async def close(self) -> None:
        await self.real.close()


@contextmanager
def cache_away(web_port: WebPort) -> Iterator[None]:
    real = web_port.app.state.cache
    web_port.app.state.cache = AwayCache(real)
    try:
        yield
    finally:
        web_port.app.state.cache = real


async def test_a_signed_in_page_says_try_again_and_the_session_outlives_the_outage(
    web_port: WebPort,
) -> None:
    browser = await web_port.browser()
    await web_port.sign_in(browser, await web_port.person("security", "officer"))
    before = await browser.get("/security/log")
    assert before.status_code == 200, before.text
    with cache_away(web_port):
        during = await browser.get("/security/log")
        assert during.status_code == 503
        assert "did not answer. Try again in a moment." in during.text
        assert during.headers["cache-control"] == "no-store"
        assert "frame-ancestors 'none'" in during.headers["content-security-policy"]
        assert "set-cookie" not in during.headers  # the session is neither ended nor renewed
        signed_out = await browser.post("/signout", data={"csrf": "x"})
        assert signed_out.status_code == 503  # nothing is done without the cache
        anonymous = await web_port.browser()
        assert (await anonymous.get("/signin")).status_code == 200
        assert (await anonymous.get("/static/app.css")).status_code == 200
        assert (await anonymous.get("/healthz")).status_code == 200
        ready = await anonymous.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"status": "degraded", "checks": {"cache": False}}
    after = await browser.get("/security/log")
    assert after.status_code == 200 and "release-log" in after.text
    ready = await browser.get("/readyz")
    assert ready.json() == {"status": "ready", "checks": {"cache": True}}
