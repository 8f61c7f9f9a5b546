"""A link that switches the language and then sends the person to another site (a
phishing page that looks like Ketenpas) is refused: the front end only goes back to its
own pages."""

import pytest

from tests.web.port import WebPort, csrf_of


@pytest.mark.parametrize(
    "back", ["https://evil.example/signin", "//evil.example", "/\\evil.example", "javascript:x"]
)
async def test_back_to_another_site_goes_home_instead(web_port: WebPort, back: str) -> None:
    browser = await web_port.browser()
    token = csrf_of((await browser.get("/signin")).text)
    answer = await browser.post("/language", data={"csrf": token, "language": "nl", "back": back})
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    assert "Inloggen" in (await browser.get("/signin")).text


async def test_back_to_a_page_of_its_own_is_kept(web_port: WebPort) -> None:
    browser = await web_port.browser()
    token = csrf_of((await browser.get("/signin")).text)
    answer = await browser.post(
        "/language", data={"csrf": token, "language": "en", "back": "/signin"}
    )
    assert answer.headers["location"] == "/signin"
