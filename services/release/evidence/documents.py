"""The identity service's documents as signed, byte for byte, for an evidence bundle.

The directory (`services.release.identity_directory`) keeps what documents *mean*, for
the gate's speed; a bundle needs the tokens themselves, so that a court can check the
identity service's signatures without us. They are fetched when a bundle is exported:
the credentials of the parties and drivers of the chain, the status lists they name, and
the identity service's published keys (only those that signed one of them are kept). A
credential signed by a key the identity service no longer publishes is left out: the
release service could not verify it either.
"""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from services.release.identity_errors import IdentityUnavailable
from shared import jose


@dataclass(frozen=True)
class IdentityDocuments:
    """Credentials, status-list tokens and the keys that signed them, each sorted."""

    credentials: list[str]
    status_lists: list[str]
    keys: list[dict[str, Any]]


def _is_person_id(value: str) -> bool:
    """Person ids are UUIDs in canonical form, party ids EORI numbers."""
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


def _unavailable(path: str) -> IdentityUnavailable:
    return IdentityUnavailable(
        "identity_unavailable", f"the identity service's {path} cannot be fetched now"
    )


async def _get(
    client: httpx.AsyncClient, path: str, *, absent_ok: bool = False
) -> httpx.Response | None:
    try:
        response = await client.get(path)
    except httpx.HTTPError as exc:
        raise _unavailable(path) from exc
    if absent_ok and response.status_code == httpx.codes.NOT_FOUND:
        return None
    if response.status_code != httpx.codes.OK:
        raise _unavailable(path)
    return response


def _claims(token: str) -> dict[str, Any]:
    try:
        _, claims = jose.peek(token)
    except jose.TokenError:
        return {}
    return claims


def _kid(token: str) -> object:
    try:
        header, _ = jose.peek(token)
    except jose.TokenError:
        return None
    return header.get("kid")


async def fetch(
    client: httpx.AsyncClient, *, holders: Iterable[str], issuer: str, judged: Iterable[str] = ()
) -> IdentityDocuments:
    """The signed credentials of these parties and people, their status lists and keys (also
    the keys of the `judged` status-list tokens, those the gate decided with)."""
    answer = await _get(client, "/.well-known/jwks.json")
    try:
        published = {jwk["kid"]: jwk for jwk in answer.json()["keys"]} if answer else {}
    except (ValueError, KeyError, TypeError) as exc:
        raise _unavailable("/.well-known/jwks.json") from exc
    credentials: set[str] = set()
    for holder in sorted(set(holders)):
        kind = "people" if _is_person_id(holder) else "parties"
        path = f"/v1/directory/{kind}/{quote(holder, safe='')}/credentials"
        answer = await _get(client, path, absent_ok=True)
        if answer is None:
            continue
        try:
            tokens = answer.json()["credentials"]
        except (ValueError, KeyError, TypeError) as exc:
            raise _unavailable(path) from exc
        credentials.update(
            token for token in tokens if isinstance(token, str) and _kid(token) in published
        )
    prefix = issuer.rstrip("/") + "/v1/status-lists/"
    uris = set()
    for token in credentials:
        status = _claims(token).get("status")
        reference = status.get("status_list") if isinstance(status, dict) else None
        uri = reference.get("uri") if isinstance(reference, dict) else None
        if isinstance(uri, str) and uri.startswith(prefix):
            uris.add(uri)
    status_lists = []
    for uri in sorted(uris):
        path = uri.removeprefix(issuer.rstrip("/"))
        answer = await _get(client, path)
        status_lists.append(answer.text.strip() if answer else "")
    used = {_kid(token) for token in (*credentials, *status_lists, *judged)}
    return IdentityDocuments(
        credentials=sorted(credentials),
        status_lists=sorted(status_lists),
        keys=[published[kid] for kid in sorted(published) if kid in used],
    )
