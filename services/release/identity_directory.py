"""What the release service knows of the identity service: keys, status lists, credentials.

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

How documents are held (refresh-ahead, staleness, bounds, rechecks) is
`services.release.fetched_documents`; calls made for a caller are `services.release.identity_api`.
"""

import copy
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Final
from urllib.parse import quote

import httpx
import structlog
from joserfc.jwk import Key

from services.release.chain.verify import Evidence
from services.release.fetched_documents import BODY_ALONE, FetchedDocuments
from shared import jose
from shared.credentials import (
    CredentialError,
    StatusListView,
    VerifiedCredential,
    decode_status_list_token,
    read_credential,
)
from shared.problems import Problem
from shared.verifier_cache import VerifierCache

logger = structlog.get_logger(__name__)

Credentials = tuple[VerifiedCredential, ...]

# The identity service's answer for a party it does not know: an answer, not an outage.
_NO_SUCH_PARTY: Final[tuple[str, Credentials]] = ("party_not_found", ())
_NO_SUCH_PERSON: Final[tuple[str, Credentials]] = ("person_not_found", ())


def _is_person_id(value: str) -> bool:
    """Whether an id is a person's (a UUID in canonical form) rather than a party's (EORI)."""
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


class IdentityDirectory:
    """The identity service's keys, status lists and party credentials, at most so old.

    Credentials are verified through `verifier_cache` (the app's), which also makes the
    same JWK the same key object for the chain verifier.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        issuer: str,
        verifier_cache: VerifierCache,
        refresh_seconds: float = 60.0,
        max_staleness_seconds: float = 300.0,
        recheck_seconds: float = 10.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._issuer = issuer.rstrip("/")
        self.verifier_cache = verifier_cache
        self._documents = FetchedDocuments(
            client,
            refresh_seconds=refresh_seconds,
            max_staleness_seconds=max_staleness_seconds,
            recheck_seconds=recheck_seconds,
            max_entries=max_entries,
            clock=clock,
        )
        self._max_entries = max_entries
        # The status lists the last `evidence` call of a `judging()` view gave, by URI.
        self._judged: dict[str, StatusListView] | None = None
        # Hashes of status-list tokens committed to the database as judged at the gate
        # (`services.release.gate.repository.keep_judged`): a warm gate writes none.
        self.kept_status_lists: set[str] = set()

    def judging(self) -> "IdentityDirectory":
        """A view sharing everything held that also remembers the status lists its last
        `evidence` call gave (`judged_status_lists`): those a verification judged with."""
        view = copy.copy(self)
        view._judged = {}
        return view

    @property
    def judged_status_lists(self) -> tuple[StatusListView, ...]:
        """The status lists the last `evidence` call of this `judging()` view gave."""
        return tuple(self._judged.values()) if self._judged is not None else ()

    def remember_kept(self, hashes: Iterable[str]) -> None:
        """Note status-list tokens the database holds now (bounded: forgotten at the bound)."""
        if len(self.kept_status_lists) >= self._max_entries:
            self.kept_status_lists.clear()
        self.kept_status_lists.update(hashes)

    def __len__(self) -> int:
        """How many documents are held."""
        return len(self._documents)

    def clear(self) -> None:
        """Forget everything held (tests; an operator's reset)."""
        self._documents.clear()
        self.kept_status_lists.clear()

    async def settled(self) -> None:
        """Wait for the refreshes running beside requests."""
        await self._documents.settled()

    async def close(self) -> None:
        """Stop the refreshes running beside requests (at shutdown)."""
        await self._documents.close()

    async def service_keys(self, *, force: bool = False) -> dict[str, Key]:
        """The identity service's published signing keys, by kid."""
        return await self._documents.get(
            "/.well-known/jwks.json", _parse_jwks, force=force, basis=BODY_ALONE
        )

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

        def parse(response: httpx.Response) -> StatusListView:
            return decode_status_list_token(
                response.text,
                resolve_key=keys.get,
                issuer=self._issuer,
                now=self._documents.clock(),
            )

        return await self._documents.get(path, parse)

    async def party_credentials(self, party_id: str, *, force: bool = False) -> Credentials:
        """The party's credentials, verified but not judged (`check_credential`); () if unknown."""
        path = f"/v1/directory/parties/{quote(party_id, safe='')}/credentials"
        return await self._credentials(path, party_id, force=force, absent=_NO_SUCH_PARTY)

    async def person_credentials(self, person_id: str, *, force: bool = False) -> Credentials:
        """A person's device credentials (`sub`: the person), verified but not judged; () if
        the identity service knows no such person."""
        path = f"/v1/directory/people/{quote(person_id, safe='')}/credentials"
        return await self._credentials(path, person_id, force=force, absent=_NO_SUCH_PERSON)

    async def _credentials(
        self, path: str, holder: str, *, force: bool, absent: tuple[str, Credentials]
    ) -> Credentials:
        keys = await self.service_keys()

        def parse(response: httpx.Response) -> Credentials:
            return self._read_credentials(holder, response.json()["credentials"], keys)

        return await self._documents.get(path, parse, force=force, absent=absent, basis=keys)

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
        if self._judged is not None:
            self._judged = dict(status_lists)
        return Evidence(credentials=credentials, status_lists=status_lists)

    def _status_list_path(self, uri: str) -> str | None:
        """The path of one of the identity service's status lists; None for another host's."""
        if not uri.startswith(self._issuer + "/v1/status-lists/"):
            return None
        return uri.removeprefix(self._issuer)

    def _read_credentials(
        self, party_id: str, tokens: object, keys: Mapping[str, Key]
    ) -> Credentials:
        """The tokens that are the service's checkable credentials of this party."""
        if not isinstance(tokens, list):
            raise TypeError("credentials must be a list")
        read = []
        for token in tokens:
            try:
                if not isinstance(token, str):
                    raise CredentialError("token_malformed", "a credential is a compact JWS")
                credential = read_credential(
                    token, cache=self.verifier_cache, resolve_key=keys.get, issuer=self._issuer
                )
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


def _parse_jwks(response: httpx.Response) -> dict[str, Key]:
    return {jwk["kid"]: jose.import_key(jwk) for jwk in response.json()["keys"]}
