"""A `requests` session whose requests reach an app running in another thread's event loop.

schemathesis sends its cases through `requests`; the port under test (both services, their
database pools, the release service's line to the identity service) lives in one event loop
run by an anyio portal, so every request crosses into that loop rather than starting another.
"""

import io
from typing import Any

import httpx
import requests
import requests.adapters
import urllib3
from anyio.from_thread import BlockingPortal

BASE_URL = "http://testserver"


class _PortalAdapter(requests.adapters.HTTPAdapter):
    """Hands each prepared request to an httpx client in the portal's loop."""

    def __init__(self, portal: BlockingPortal, client: httpx.AsyncClient) -> None:
        super().__init__()
        self.portal = portal
        self.client = client

    def send(
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        answer = self.portal.call(self._send, request)
        raw = urllib3.HTTPResponse(
            body=io.BytesIO(answer.content),
            headers=urllib3.HTTPHeaderDict(answer.headers.multi_items()),
            status=answer.status_code,
            reason=answer.reason_phrase,
            preload_content=False,
            decode_content=False,
            request_method=request.method,
        )
        return self.build_response(request, raw)

    async def _send(self, request: requests.PreparedRequest) -> httpx.Response:
        body = request.body
        # schemathesis hands `requests` whole bodies, never streams.
        assert body is None or isinstance(body, str | bytes)
        headers = {
            name: value if isinstance(value, str) else value.decode("latin-1")
            for name, value in request.headers.items()
        }
        return await self.client.request(
            request.method or "GET",
            str(request.url),
            headers=headers,
            content=body.encode() if isinstance(body, str) else body,
        )


def bridged_session(portal: BlockingPortal, client: httpx.AsyncClient) -> requests.Session:
    """A session for `case.call(session=...)` that reaches `client`'s app through `portal`."""
    session = requests.Session()
    adapter = _PortalAdapter(portal, client)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
