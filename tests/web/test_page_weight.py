"""Small pages for a cheap phone on a weak signal: each page with its stylesheet and
scripts stays under 30 KB (counted uncompressed, more than goes over the wire)."""

import re

import httpx

from tests.release.chains import full_chain
from tests.web.port import WebPort

BUDGET = 30_000


async def weight(browser: httpx.AsyncClient, path: str) -> int:
    """The page's bytes plus those of every stylesheet and script it loads."""
    page = await browser.get(path)
    assert page.status_code == 200, (path, page.text[:300])
    total = len(page.content)
    for asset in re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text):
        answer = await browser.get(asset)
        assert answer.status_code == 200, asset
        total += len(answer.content)
    return total


async def test_every_page_is_under_its_budget(web_port: WebPort) -> None:
    port = web_port.port
    chain = await full_chain(port, path=("forwarder", "carrier"))
    assert chain.driver is not None
    pages: dict[str, list[str]] = {
        "forwarder": ["/dispatch", f"/dispatch/releases/{chain.release_id}"],
        "terminal": ["/gate"],
        "security": [
            f"/security?container={chain.container}",
            "/security/log",
            "/security/inspections",
        ],
    }
    weights: dict[str, int] = {}
    anonymous = await web_port.browser()
    weights["/signin"] = await weight(anonymous, "/signin")
    roles = {"forwarder": "dispatcher", "terminal": "operator", "security": "officer"}
    for member, paths in pages.items():
        browser = await web_port.browser()
        await web_port.sign_in(browser, await web_port.person(member, roles[member]))
        for path in paths:
            weights[path] = await weight(browser, path)
    phone = await web_port.browser()
    await web_port.sign_in(phone, chain.driver)
    for path in ("/driver", f"/driver/jobs/{chain.release_id}", "/driver/device", "/driver/pass"):
        weights[path] = await weight(phone, path)
    print(weights)  # shown with -s: the figures docs/web.md quotes
    heavy = {path: size for path, size in weights.items() if size >= BUDGET}
    assert heavy == {}, weights
