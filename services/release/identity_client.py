"""What the release service knows of the identity service, fetched over HTTP and cached.

The release service never reads the identity service's tables: it verifies with the
published keys (`/.well-known/jwks.json`) and status lists (`/v1/status-lists/{id}`). Each
is refreshed after `refresh_seconds`; when the identity service is away, the last copy
keeps serving until it is `max_staleness_seconds` old, and past that bound every check
fails closed with `identity_unavailable`, so a gate never decides on stale revocations.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from joserfc.jwk import Key

from shared import jose
from shared.credentials import CredentialError, StatusListView, decode_status_list_token
from shared.problems import Problem


class IdentityUnavailable(Problem):
    """503: the identity service cannot be reached and what we hold is too old to trust."""

    status = 503


@dataclass
class _Fetched:
    value: object
    fetched_at: float


class IdentityDirectory:
    """The identity service's keys and status lists, as of at most a bounded time ago."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        issuer: str,
        refresh_seconds: float = 60.0,
        max_staleness_seconds: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._issuer = issuer.rstrip("/")
        self._refresh = refresh_seconds
        self._max_staleness = max_staleness_seconds
        self._clock = clock
        self._cache: dict[str, _Fetched] = {}

    async def service_keys(self, *, force: bool = False) -> dict[str, Key]:
        """The identity service's published signing keys, by kid."""
        value = await self._get("/.well-known/jwks.json", self._parse_jwks, force=force)
        assert isinstance(value, dict)
        return value

    async def resolver(self, kid: str) -> Callable[[str], Key | None]:
        """A key resolver for `shared.jose.verify`; an unknown kid refreshes the keys once
        (a rotation the cache has not seen yet)."""
        keys = await self.service_keys()
        if kid not in keys:
            keys = await self.service_keys(force=True)
        return keys.get

    async def status_list(self, uri: str) -> StatusListView:
        """A verified status list, by the URI a credential names."""
        if not uri.startswith(self._issuer + "/v1/status-lists/"):
            raise Problem(
                "status_list_foreign", "the status list is not the identity service's", status=422
            )
        path = uri.removeprefix(self._issuer)
        keys = await self.service_keys()

        def parse(response: httpx.Response) -> object:
            return decode_status_list_token(
                response.text, resolve_key=keys.get, issuer=self._issuer, now=self._clock()
            )

        value = await self._get(path, parse)
        assert isinstance(value, StatusListView)
        return value

    def _parse_jwks(self, response: httpx.Response) -> object:
        return {jwk["kid"]: jose.import_key(jwk) for jwk in response.json()["keys"]}

    async def _get(
        self, path: str, parse: Callable[[httpx.Response], object], *, force: bool = False
    ) -> object:
        now = self._clock()
        held = self._cache.get(path)
        if held is not None and not force and now - held.fetched_at < self._refresh:
            return held.value
        try:
            response = await self._client.get(path)
            response.raise_for_status()
            value = parse(response)
        except (
            httpx.HTTPError,
            ValueError,
            KeyError,
            TypeError,
            jose.TokenError,
            CredentialError,
        ) as exc:
            # Unreachable, or an answer that does not verify: either way, not to be trusted.
            if held is not None and now - held.fetched_at <= self._max_staleness:
                return held.value
            raise IdentityUnavailable(
                "identity_unavailable",
                f"the identity service's {path} cannot be fetched and no copy younger than "
                f"{self._max_staleness:g} s is held",
            ) from exc
        self._cache[path] = _Fetched(value, now)
        return value
