"""What the release service knows of the identity service, fetched over HTTP and cached.

The release service never reads the identity service's tables: it verifies with the
published keys (`/.well-known/jwks.json`) and status lists (`/v1/status-lists/{id}`). Each
is refreshed after `refresh_seconds`; when the identity service is away, the last copy
keeps serving until it is `max_staleness_seconds` old, and past that bound every check
fails closed with `identity_unavailable`, so a gate never decides on stale revocations.

A party's credentials come from the public directory
(`/v1/directory/parties/{id}/credentials`) through the same cache; each is verified here
with the service's keys, so the directory is trusted for nothing but delivery. Their time
and status are judged later (`shared.credentials.check_credential`) against the moment a
link was signed, with the status lists gathered in `Evidence`.

**Bounded work for strangers.** Everything held has a bound: at most `max_entries`
documents, the least recently used forgotten first, so party ids chosen by a caller cannot
grow the cache for ever (the app owns the directory; `clear` resets it). A kid that no held
copy knows (a key certified or rotated since the last fetch) fetches that document again,
but at most once per `recheck_seconds`: until then the answer "not there" is reused, so a
burst of made-up kids costs one request, not one each. The chain service asks only for
parties that a verified signature or the release itself vouches for.

`IdentityApi` is the other kind of call: made on behalf of a caller, with his bearer
token, never cached. The identity service's refusals reach the caller with their own code;
anything else that goes wrong there is `identity_unavailable`.
"""

import asyncio
import math
import re
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import quote

import httpx
import structlog
from joserfc.jwk import Key

from services.release.chain.verify import Evidence
from shared import jose
from shared.credentials import (
    CredentialError,
    StatusListView,
    VerifiedCredential,
    decode_status_list_token,
    read_credential,
)
from shared.problems import PROBLEM_MEDIA_TYPE, Problem

logger = structlog.get_logger(__name__)


class IdentityUnavailable(Problem):
    """503: the identity service cannot be reached and what we hold is too old to trust."""

    status = 503


@dataclass
class _Fetched:
    value: object
    fetched_at: float
    body: bytes = b""
    basis: object = None  # what the value was parsed with besides the body (see _fetch)


# `basis` of a value that may not be reused even when the body comes back unchanged (a
# status list: its parse also judges its expiry against the clock).
_ALWAYS_PARSE = object()
# `basis` of a value that depends on the body alone (the published keys).
_BODY_ALONE = object()


# The identity service's answer for a party it does not know: an answer, not an outage.
_NO_SUCH_PARTY = ("party_not_found", ())
_NO_SUCH_PERSON = ("person_not_found", ())


def _is_person_id(value: str) -> bool:
    """Whether an id is a person's (a UUID in canonical form) rather than a party's (EORI)."""
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


class IdentityDirectory:
    """The identity service's keys, status lists and party credentials, at most so old."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        issuer: str,
        refresh_seconds: float = 60.0,
        max_staleness_seconds: float = 300.0,
        recheck_seconds: float = 10.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._issuer = issuer.rstrip("/")
        self._refresh = refresh_seconds
        self._max_staleness = max_staleness_seconds
        self._recheck = recheck_seconds
        self._max_entries = max(max_entries, 1)
        self._clock = clock
        # path -> what was fetched; least recently used first.
        self._cache: OrderedDict[str, _Fetched] = OrderedDict()
        # path -> when a fetch was last forced (an unknown kid): at most one per recheck.
        self._forced_at: dict[str, float] = {}
        self._refreshing: dict[str, asyncio.Task[None]] = {}

    def __len__(self) -> int:
        """How many documents are held."""
        return len(self._cache)

    def clear(self) -> None:
        """Forget everything held (tests; an operator's reset)."""
        self._cache.clear()
        self._forced_at.clear()

    async def service_keys(self, *, force: bool = False) -> dict[str, Key]:
        """The identity service's published signing keys, by kid."""
        value = await self._get(
            "/.well-known/jwks.json", self._parse_jwks, force=force, basis=_BODY_ALONE
        )
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
        path = self._status_list_path(uri)
        if path is None:
            raise Problem(
                "status_list_foreign", "the status list is not the identity service's", status=422
            )
        keys = await self.service_keys()

        def parse(response: httpx.Response) -> object:
            return decode_status_list_token(
                response.text, resolve_key=keys.get, issuer=self._issuer, now=self._clock()
            )

        value = await self._get(path, parse)
        assert isinstance(value, StatusListView)
        return value

    async def party_credentials(
        self, party_id: str, *, force: bool = False
    ) -> tuple[VerifiedCredential, ...]:
        """The party's credentials, verified but not judged (`check_credential`); () if unknown."""
        keys = await self.service_keys()

        def parse(response: httpx.Response) -> object:
            return self._read_credentials(party_id, response.json()["credentials"], keys)

        path = f"/v1/directory/parties/{quote(party_id, safe='')}/credentials"
        value = await self._get(path, parse, force=force, absent=_NO_SUCH_PARTY, basis=keys)
        assert isinstance(value, tuple)
        return value

    async def person_credentials(
        self, person_id: str, *, force: bool = False
    ) -> tuple[VerifiedCredential, ...]:
        """A person's device credentials (`sub`: the person), verified but not judged; () if
        the identity service knows no such person."""
        keys = await self.service_keys()

        def parse(response: httpx.Response) -> object:
            return self._read_credentials(person_id, response.json()["credentials"], keys)

        path = f"/v1/directory/people/{quote(person_id, safe='')}/credentials"
        value = await self._get(path, parse, force=force, absent=_NO_SUCH_PERSON, basis=keys)
        assert isinstance(value, tuple)
        return value

    async def evidence(
        self, party_ids: Iterable[str], *, kids: Iterable[tuple[str, str]] = ()
    ) -> Evidence:
        """The credentials of these parties (and of those named in `kids`) and their status
        lists. A (party id, kid) that none of the party's credentials carries refreshes that
        party once: the key may have been certified after our last fetch.

        A person id among them (a driver an assignment names: party ids are EORI numbers,
        person ids UUIDs) brings that person's device credentials, filed under his id; they
        are refreshed too when a kid stays unknown after its party's refresh (a driver's
        device key certified after our last fetch)."""
        wanted: dict[str, set[str]] = {party_id: set() for party_id in party_ids}
        for party_id, kid in kids:
            wanted.setdefault(party_id, set()).add(kid)
        credentials: dict[str, tuple[VerifiedCredential, ...]] = {}
        status_lists: dict[str, StatusListView] = {}
        unresolved = False
        # Parties first: whether a kid stayed unknown decides whether people are refreshed.
        for party_id, needed_kids in sorted(wanted.items(), key=lambda i: _is_person_id(i[0])):
            if _is_person_id(party_id):
                held = await self.person_credentials(party_id, force=unresolved)
            else:
                held = await self.party_credentials(party_id)
                if needed_kids - {credential.kid for credential in held}:
                    held = await self.party_credentials(party_id, force=True)
                    unresolved |= bool(needed_kids - {credential.kid for credential in held})
            for credential in held:
                if credential.status_uri not in status_lists:
                    status_lists[credential.status_uri] = await self.status_list(
                        credential.status_uri
                    )
            credentials[party_id] = held
        return Evidence(credentials=credentials, status_lists=status_lists)

    def _status_list_path(self, uri: str) -> str | None:
        """The path of one of the identity service's status lists; None for another host's."""
        if not uri.startswith(self._issuer + "/v1/status-lists/"):
            return None
        return uri.removeprefix(self._issuer)

    def _parse_jwks(self, response: httpx.Response) -> object:
        return {jwk["kid"]: jose.import_key(jwk) for jwk in response.json()["keys"]}

    def _read_credentials(
        self, party_id: str, tokens: object, keys: Mapping[str, Key]
    ) -> tuple[VerifiedCredential, ...]:
        """The tokens that are the service's checkable credentials of this party."""
        if not isinstance(tokens, list):
            raise TypeError("credentials must be a list")
        read = []
        for token in tokens:
            try:
                if not isinstance(token, str):
                    raise CredentialError("token_malformed", "a credential is a compact JWS")
                credential = read_credential(token, resolve_key=keys.get, issuer=self._issuer)
            except CredentialError as exc:
                reason: str = exc.code
            else:
                if credential.party_id != party_id:
                    reason = "credential_of_other_party"
                elif self._status_list_path(credential.status_uri) is None:
                    reason = "status_list_foreign"  # its revocation could never be seen
                else:
                    read.append(credential)
                    continue
            # One bad entry must not hide the party's good ones; but it is worth a look.
            logger.warning("identity_credential_dropped", party_id=party_id, reason=reason)
        return tuple(read)

    async def _get(
        self,
        path: str,
        parse: Callable[[httpx.Response], object],
        *,
        force: bool = False,
        absent: tuple[str, object] | None = None,
        basis: object = _ALWAYS_PARSE,
    ) -> object:
        """The cached or fetched value of `path`; `absent` is (problem code, value): a 404
        with that code is an answer, cached as that value, not an outage. `basis` is what
        `parse` depends on besides the body (see `_fetch`).

        Refresh-ahead: a copy older than `refresh_seconds` is still handed out while a fetch
        runs beside the request, so a gate question never waits for the identity service;
        only a copy older than twice that (or none) is fetched before answering.
        """
        now = self._clock()
        held = self._cache.get(path)
        if held is not None:
            self._cache.move_to_end(path)
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
                return held.value
            if age < 2 * self._refresh:
                self._refresh_beside(path, parse, absent, basis)
                return held.value
        return await self._fetch(path, parse, absent, held, now, basis)

    def _refresh_beside(
        self,
        path: str,
        parse: Callable[[httpx.Response], object],
        absent: tuple[str, object] | None,
        basis: object,
    ) -> None:
        if path in self._refreshing:
            return

        async def refresh() -> None:
            try:
                await self._fetch(path, parse, absent, self._cache.get(path), self._clock(), basis)
            except IdentityUnavailable:
                logger.warning("identity_refresh_failed", path=path)
            finally:
                self._refreshing.pop(path, None)

        self._refreshing[path] = asyncio.create_task(refresh())

    async def settled(self) -> None:
        """Wait for the refreshes running beside requests."""
        await asyncio.gather(*self._refreshing.values(), return_exceptions=True)

    async def close(self) -> None:
        """Stop the refreshes running beside requests (at shutdown)."""
        for task in self._refreshing.values():
            task.cancel()
        await self.settled()

    async def _fetch(
        self,
        path: str,
        parse: Callable[[httpx.Response], object],
        absent: tuple[str, object] | None,
        held: "_Fetched | None",
        now: float,
        basis: object,
    ) -> object:
        """Fetch and parse `path`. An answer whose body is the one held, parsed with the same
        `basis` (the very key objects a credential was verified with), keeps the value held:
        the same text under the same keys reads the same way. Key objects then stay the same
        from one refresh to the next, so what was verified under them stays remembered
        (`VerifiedTokens`, the chain verifier's memo) instead of being verified again by
        every request after each refresh."""
        try:
            response = await self._client.get(path)
            if absent is not None and _problem_code(response, 404) == absent[0]:
                value = absent[1]
            elif (
                held is not None
                and basis is not _ALWAYS_PARSE
                and held.basis is basis
                and response.status_code == httpx.codes.OK
                and held.body == response.content
            ):
                value = held.value
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
            if held is not None and now - held.fetched_at <= self._max_staleness:
                return held.value
            raise IdentityUnavailable(
                "identity_unavailable",
                f"the identity service's {path} cannot be fetched and no copy younger than "
                f"{self._max_staleness:g} s is held",
            ) from exc
        self._store(path, _Fetched(value, now, response.content, basis))
        return value

    def _store(self, path: str, fetched: _Fetched) -> None:
        """Hold a fetched document, forgetting the least recently used beyond the bound."""
        self._cache[path] = fetched
        self._cache.move_to_end(path)
        while len(self._cache) > self._max_entries:
            forgotten, _ = self._cache.popitem(last=False)
            self._forced_at.pop(forgotten, None)


@dataclass(frozen=True)
class PersonInfo:
    """What the release service needs of a person (the identity service's `PersonView`)."""

    person_id: uuid.UUID
    party_id: str
    role: str
    status: str
    screened_until: date | None


class IdentityApi:
    """The identity service's API, called on behalf of a caller with his own bearer token."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def sign(self, token: str, *, typ: str, claims: dict[str, Any]) -> str:
        """A JWS over `claims`, by the caller's party's custodial key (`POST /v1/sign`)."""
        body = await self._call("POST", "/v1/sign", token, {"typ": typ, "claims": claims})
        return _text(body, "jws")

    async def person(self, token: str, person_id: uuid.UUID) -> PersonInfo | None:
        """A person the caller may see; None for one he may not see, or who does not exist."""
        try:
            body = await self._call("GET", f"/v1/people/{person_id}", token)
        except Problem as exc:
            if (exc.status, exc.code) == (404, "person_not_found"):
                return None
            raise
        try:
            screened = body["screened_until"]
            return PersonInfo(
                person_id=uuid.UUID(body["id"]),
                party_id=_text(body, "party_id"),
                role=_text(body, "role"),
                status=_text(body, "status"),
                screened_until=None if screened is None else date.fromisoformat(screened),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise _unavailable("person", "an answer of the wrong form") from exc

    async def kiosk_gate_pass(self, token: str, person_id: uuid.UUID, otp: str) -> str:
        """A gate pass for a driver who typed his TOTP code at a terminal's kiosk."""
        body = await self._call("POST", f"/v1/people/{person_id}/gate-pass", token, {"otp": otp})
        return _text(body, "gate_pass")

    async def _call(
        self, method: str, path: str, token: str, json: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The JSON object of a 2xx answer; a 4xx problem is raised with its own code and
        status; anything else is `identity_unavailable`."""
        try:
            response = await self._client.request(
                method, path, json=json, headers={"Authorization": f"Bearer {token}"}
            )
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
            raise _unavailable(path, type(exc).__name__) from exc
        if response.is_success:
            try:
                body = response.json()
            except ValueError:
                body = None
            if not isinstance(body, dict):
                raise _unavailable(path, "an answer that is not a JSON object")
            return body
        code = _problem_code(response, response.status_code)
        if code is None or not 400 <= response.status_code < 500:
            raise _unavailable(path, f"HTTP {response.status_code}")
        detail = response.json().get("detail")
        extensions: dict[str, Any] = {}
        if response.status_code == 429:
            retry_after = _retry_after(response)
            if retry_after is not None:
                extensions["retry_after"] = retry_after
        raise Problem(
            code,
            detail if isinstance(detail, str) else "refused by the identity service",
            status=response.status_code,
            **extensions,
        )


# The identity service's codes are snake_case words; anything else is not passed on.
_PROBLEM_CODE = re.compile(r"[a-z][a-z0-9_]{0,63}")


def _problem_code(response: httpx.Response, status: int) -> str | None:
    """The `code` of an RFC 9457 answer with this status; None for any other answer."""
    media_type = response.headers.get("content-type", "")
    if response.status_code != status or not media_type.startswith(PROBLEM_MEDIA_TYPE):
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, str) and _PROBLEM_CODE.fullmatch(code) else None


def _retry_after(response: httpx.Response) -> int | None:
    """The delay of a `Retry-After` in seconds (the header, else the problem's member)."""
    header = response.headers.get("retry-after", "")
    if header.isascii() and header.isdigit():
        return int(header)
    member = response.json().get("retry_after")
    return member if isinstance(member, int) and not isinstance(member, bool) else None


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise _unavailable(name, f"an answer without {name}")
    return value


def _unavailable(call: str, reason: str) -> IdentityUnavailable:
    # The caller learns only that the identity service cannot answer; the log says why.
    logger.warning("identity_call_failed", call=call, reason=reason)
    return IdentityUnavailable("identity_unavailable", "the identity service cannot answer now")
