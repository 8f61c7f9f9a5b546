"""Status List Tokens as the identity service issues them (draft-ietf-oauth-status-list).

The codec itself (pack/unpack, ``lst`` encode/decode with its strict refusals) lives in
`shared.status_list`, because the release service decodes what this service encodes;
this module holds the issuing side's choices.

- 2 bits per entry: VALID, INVALID and SUSPENDED all occur.
- 32,768 entries per list. A list of statuses drawn at random still compresses to
  about 6.5 KB, so its token stays under `shared.jose.MAX_TOKEN_LENGTH` (16 KiB) even
  after the double base64 (``lst`` inside the base64url payload) — a 65,536-entry
  list would not, and a verifier would then refuse its own issuer's list under mass
  revocation. The whole list is always published, used or not, so its size says
  nothing about how many credentials exist.
- Indexes are handed out in order. The draft recommends random indexes against
  linking two presentations of one token; a Ketenpas credential names its party in
  ``sub`` anyway, so there is nothing to unlink.
"""

from typing import Any

from joserfc.jwk import OKPKey

from shared import jose
from shared.status_list import STATUS_LIST_TYP, encode_lst, pack

BITS = 2
LIST_SIZE = 32_768


def status_list_uri(issuer: str, list_id: int) -> str:
    """The URI of a status list: the `sub` of its token, the `uri` credentials point at."""
    return f"{issuer}/v1/status-lists/{list_id}"


def status_list_claims(
    statuses: bytes, *, issuer: str, uri: str, now: int, ttl: int
) -> dict[str, Any]:
    """The claims of a Status List Token over `statuses` (one value per byte)."""
    return {
        "iss": issuer,
        "sub": uri,
        "iat": now,
        "exp": now + ttl,
        "ttl": ttl,
        "status_list": {"bits": BITS, "lst": encode_lst(pack(statuses, BITS))},
    }


def sign_status_list(
    statuses: bytes, *, issuer: str, uri: str, now: int, ttl: int, key: OKPKey
) -> str:
    """A signed `statuslist+jwt` over `statuses`."""
    claims = status_list_claims(statuses, issuer=issuer, uri=uri, now=now, ttl=ttl)
    return jose.sign(claims, key, typ=STATUS_LIST_TYP)
