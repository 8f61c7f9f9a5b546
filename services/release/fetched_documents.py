"""Documents fetched over HTTP and held for a while: refreshed ahead, bounded, failing closed.

The release service's copy of the identity service's public documents (keys, status
lists, party credentials) lives here; what each document *means* is the directory's
business (`services.release.identity_directory`), which hands `get` a parser.

- A copy younger than `refresh_seconds` is handed out as is; one younger than twice that
  is handed out while a fetch runs beside the request (refresh-ahead), so a gate question
  never waits for the identity service; anything older is fetched before answering.
- When a fetch fails (unreachable, or an answer that does not parse or verify) the held
  copy keeps serving until it is `max_staleness_seconds` old; past that every read fails
  closed with `identity_unavailable`, so nothing is decided on stale revocations.
- At most `max_entries` documents, the least recently used forgotten first, so paths
  chosen by a caller cannot grow the cache for ever.
- A forced fetch (a kid that no held copy knows) happens at most once per
  `recheck_seconds` per path: until then the answer held stands, so a burst of made-up
  kids costs one request, not one each.
- An answer whose body is the one held, parsed on the same `basis`, keeps the value held,
  so the objects in it (keys) stay the same from one refresh to the next and the
  verifier cache's judgements under them stay remembered.
"""

import asyncio
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, TypeVar, cast

import httpx
import structlog

from services.release.identity_errors import IdentityUnavailable, problem_code
from shared import jose
from shared.credentials import CredentialError
from shared.observability import metrics

logger = structlog.get_logger(__name__)

T = TypeVar("T")

#: `basis` of a value that may not be reused even when the body comes back unchanged (a
#: status list: its parse also judges its expiry against the clock).
ALWAYS_PARSE: Final = object()
#: `basis` of a value that depends on the body alone (the published keys).
BODY_ALONE: Final = object()


@dataclass
class _Fetched:
    value: Any  # what the path's parser made of `body`; `get` gives it back typed
    fetched_at: float
    body: bytes = b""
    basis: object = None  # what the value was parsed with besides the body


class FetchedDocuments:
    """Documents by path, fetched with `client` and held as described in the module."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        refresh_seconds: float = 60.0,
        max_staleness_seconds: float = 300.0,
        recheck_seconds: float = 10.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._refresh = refresh_seconds
        self._max_staleness = max_staleness_seconds
        self._recheck = recheck_seconds
        self._max_entries = max(max_entries, 1)
        self.clock = clock
        # path -> what was fetched; least recently used first.
        self._held: OrderedDict[str, _Fetched] = OrderedDict()
        # path -> when a fetch was last forced (an unknown kid): at most one per recheck.
        self._forced_at: dict[str, float] = {}
        self._refreshing: dict[str, asyncio.Task[None]] = {}

    def __len__(self) -> int:
        """How many documents are held."""
        return len(self._held)

    def clear(self) -> None:
        """Forget everything held (tests; an operator's reset)."""
        self._held.clear()
        self._forced_at.clear()

    async def get(
        self,
        path: str,
        parse: Callable[[httpx.Response], T],
        *,
        force: bool = False,
        absent: tuple[str, T] | None = None,
        basis: object = ALWAYS_PARSE,
    ) -> T:
        """The held or fetched value of `path`, as `parse` makes it.

        `absent` is (problem code, value): a 404 with that code is an answer, held as that
        value, not an outage. `basis` is what `parse` depends on besides the body. One
        path is always read with one parser, so the value held has its type.
        """
        now = self.clock()
        held = self._held.get(path)
        if held is not None:
            self._held.move_to_end(path)
        if held is not None and force:
            if now - self._forced_at.get(path, -math.inf) < self._recheck:
                # Forced again within the recheck time: the answer held (that an unknown kid
                # is not there) stands, as an ordinary, unforced read.
                force = False
            else:
                self._forced_at[path] = now
        if held is not None and not force:
            age = now - held.fetched_at
            if age < self._refresh:
                return cast(T, held.value)
            if age < 2 * self._refresh:
                self._refresh_beside(path, parse, absent, basis)
                return cast(T, held.value)
        return await self._fetch(path, parse, absent, held, now, basis)

    async def settled(self) -> None:
        """Wait for the refreshes running beside requests."""
        await asyncio.gather(*self._refreshing.values(), return_exceptions=True)

    async def close(self) -> None:
        """Stop the refreshes running beside requests (at shutdown)."""
        for task in self._refreshing.values():
            task.cancel()
        await self.settled()

    def _refresh_beside(
        self,
        path: str,
        parse: Callable[[httpx.Response], T],
        absent: tuple[str, T] | None,
        basis: object,
    ) -> None:
        if path in self._refreshing:
            return

        async def refresh() -> None:
            try:
                await self._fetch(path, parse, absent, self._held.get(path), self.clock(), basis)
            except IdentityUnavailable:
                logger.warning("identity_refresh_failed", path=path)
            finally:
                self._refreshing.pop(path, None)

        self._refreshing[path] = asyncio.create_task(refresh())

    async def _fetch(
        self,
        path: str,
        parse: Callable[[httpx.Response], T],
        absent: tuple[str, T] | None,
        held: _Fetched | None,
        now: float,
        basis: object,
    ) -> T:
        value: T
        try:
            response = await self._client.get(path)
            if absent is not None and problem_code(response, 404) == absent[0]:
                value = absent[1]
            elif (
                held is not None
                and basis is not ALWAYS_PARSE
                and held.basis is basis
                and response.status_code == httpx.codes.OK
                and held.body == response.content
            ):
                value = cast(T, held.value)
            else:
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
            metrics.identity_fetched(ok=False)
            if held is not None and now - held.fetched_at <= self._max_staleness:
                return cast(T, held.value)
            metrics.identity_failed_closed()
            raise IdentityUnavailable(
                "identity_unavailable",
                f"the identity service's {path} cannot be fetched and no copy younger than "
                f"{self._max_staleness:g} s is held",
            ) from exc
        metrics.identity_fetched(ok=True)
        self._store(path, _Fetched(value, now, response.content, basis))
        return value

    def _store(self, path: str, fetched: _Fetched) -> None:
        """Hold a fetched document, forgetting the least recently used beyond the bound."""
        self._held[path] = fetched
        self._held.move_to_end(path)
        while len(self._held) > self._max_entries:
            forgotten, _ = self._held.popitem(last=False)
            self._forced_at.pop(forgotten, None)
