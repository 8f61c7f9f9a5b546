"""The verifier's fast path: judgements of signed tokens remembered for the life of an app.

The gate verifies a whole chain of links and the credentials behind them on every
decision, so each signature should cost little more than its Ed25519 verification. A
`VerifierCache` remembers, within bounds, what is the same from one token to the next:

- **Header judgements.** The first time a header segment is seen for a ``typ``, the token
  gets `shared.jose.verify`'s full check (every header rule, the key's suitability, the
  signature). The header is then remembered with the key *object* it was judged with and
  its Ed25519 public half. A later token with the same ``typ`` and header segment whose
  kid resolves to *that same object* goes straight to the signature check; a different
  object (a key fetched again, another party's key) gets the full check again.
- **Holder keys.** `holder_key` imports a JWK once and hands back the same key object for
  the same JWK, which is what lets header judgements hit for keys bound by credentials.
- **Readings.** `readings` remembers what a token's payload says, by the payload's text,
  once its signature has verified; callers decide what a reading is.
- **Verified held-key tokens.** `verify_under` (a chain link under its signer's key)
  remembers each token it verified, by its whole text, typ and kid, with the key object
  it verified under. The same text under that same object verifies the same way (Ed25519
  is deterministic in what it accepts), so it is not checked again: a gate-out verifies
  the chain its decision verified a moment before, and each link's signature was most of
  that (half the release service's Ed25519 work at the gate). One changed character is
  another text, checked in full; a key fetched again is another object. The release
  service's access-token memo (`services.release.deps.VerifiedTokens`) rests on the same
  reasoning.

The contract, written once here: a signature's result is remembered only for the very
token text and key object it was checked with (`verify_under`), every other call checks
it; what is remembered is decided by the token's bytes and the identity of the key
object, never by what the token claims; strict parsing is the same on the first
sight and the remembered path (canonical base64url signatures, one spelling each); every
table is bounded (`limit`) and, when full, forgotten whole, so an attacker can make us
forget and redo work, never remember without end.

Each app creates one cache (release: handed to its identity directory; tests: a fresh one
per test through a fixture); nothing lives in module globals. Written here because no
JOSE library offers a verification cache; the cryptography is `cryptography`'s Ed25519.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final, Generic, TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from joserfc.jwk import Key, OKPKey
from joserfc.util import urlsafe_b64decode

from shared import jose

__all__ = ["DEFAULT_LIMIT", "BoundedMemo", "VerifierCache", "signature_bytes"]

#: A few service keys, a few hundred parties and their credentials in practice.
DEFAULT_LIMIT: Final = 4096

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_ED25519_SIGNATURE_CHARS: Final = 86  # 64 bytes in unpadded base64url
_CANONICAL_SIGNATURE_ENDINGS: Final = frozenset("AQgw")  # the last character holds 2 bits
# URL-safe to standard base64 (a bytes table: str.translate would cost more than the rest
# of the check); "+" and "/" themselves become "!", which strict decoding refuses.
_TO_STANDARD_ALPHABET: Final = bytes.maketrans(b"-_+/", b"+/!!")


class BoundedMemo(Generic[K, V]):
    """A dictionary that forgets everything when it reaches ``limit`` entries."""

    __slots__ = ("_entries", "limit")

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        if limit < 1:
            raise ValueError("a memo must hold at least one entry")
        self.limit = limit
        self._entries: dict[K, V] = {}

    def get(self, key: K) -> V | None:
        return self._entries.get(key)

    def put(self, key: K, value: V) -> V:
        if len(self._entries) >= self.limit:
            self._entries.clear()
        self._entries[key] = value
        return value

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


@dataclass(frozen=True, slots=True)
class _JudgedHeader:
    kid: str
    key: Key
    public: Ed25519PublicKey


def signature_bytes(segment: str) -> bytes:
    """An Ed25519 signature segment, as strictly as shared.jose reads it (canonical
    base64url: one spelling per signature), with the same error codes."""
    if len(segment) == _ED25519_SIGNATURE_CHARS and segment[-1] in _CANONICAL_SIGNATURE_ENDINGS:
        try:
            standard = segment.encode("ascii").translate(_TO_STANDARD_ALPHABET) + b"=="
            return binascii.a2b_base64(standard, strict_mode=True)
        except (binascii.Error, ValueError):  # UnicodeEncodeError is a ValueError
            raise jose.TokenError(
                "token_malformed", "signature is not canonical base64url"
            ) from None
    try:  # the uncommon shapes, decoded as shared.jose does to answer with its code
        urlsafe_b64decode(segment.encode("ascii"))
    except ValueError:
        raise jose.TokenError("token_malformed", "signature is not canonical base64url") from None
    raise jose.TokenError("token_bad_signature", "signature has the wrong length")


class VerifierCache:
    """Remembered header judgements, holder keys and readings for one app (see module)."""

    __slots__ = ("_headers", "_holder_keys", "_parsed_headers", "_verified", "readings")

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self._headers: BoundedMemo[tuple[str, str], _JudgedHeader] = BoundedMemo(limit)
        self._verified: BoundedMemo[tuple[str, object, str], Key] = BoundedMemo(limit)
        self._holder_keys: BoundedMemo[frozenset[tuple[str, Any]], OKPKey] = BoundedMemo(limit)
        self._parsed_headers: BoundedMemo[str, Mapping[str, Any]] = BoundedMemo(limit)
        #: What verified payloads say, by (kind of reading, payload segment); see module.
        self.readings: BoundedMemo[tuple[str, str], Any] = BoundedMemo(limit)

    def clear(self) -> None:
        """Forget everything, as after a restart."""
        self._headers.clear()
        self._holder_keys.clear()
        self._parsed_headers.clear()
        self._verified.clear()
        self.readings.clear()

    def verify_under(self, token: str, *, typ: str, kid: object, key: Key | None) -> None:
        """`verify` for a caller that already holds the one key ``kid`` may name (a chain
        link's signer credential): the same checks, without a resolver on the hot path; a
        token verified before under this very key object is not checked again (see module)."""
        # A kid that is no string (the header is the signer's JSON) is never remembered.
        remembered = (typ, kid, token) if key is not None and isinstance(kid, str) else None
        if remembered is not None and self._verified.get(remembered) is key:
            return
        judged = self._headers.get((typ, token.partition(".")[0])) if key is not None else None
        if judged is None or judged.key is not key or judged.kid != kid:

            def resolve(requested: str) -> Key | None:
                return key if requested == kid else None

            self.verify(token, typ=typ, resolve_key=resolve)
            if remembered is not None and key is not None:
                self._verified.put(remembered, key)
            return
        signing_input, _, signature_segment = token.rpartition(".")
        if (
            token.count(".") != 2
            or not token.isascii()
            or len(token) > jose.MAX_TOKEN_LENGTH
            or signing_input.endswith(".")  # detached (empty) payload, refused as jose does
        ):
            raise jose.TokenError("token_malformed", "not a compact JWS")
        try:
            judged.public.verify(signature_bytes(signature_segment), signing_input.encode("ascii"))
        except InvalidSignature:
            raise jose.TokenError("token_bad_signature", "signature does not verify") from None
        if remembered is not None:
            self._verified.put(remembered, key)

    def verify(
        self, token: str, *, typ: str, resolve_key: Callable[[str], Key | None]
    ) -> dict[str, Any] | None:
        """Verify ``token``'s header and signature as `shared.jose.verify` does.

        Returns the claims on a first sight (jose.verify parsed them), None on the
        remembered path (the caller parses or looks up the payload). jose.TokenError when
        refused.
        """
        if (
            isinstance(token, str)
            and len(token) <= jose.MAX_TOKEN_LENGTH
            and token.count(".") == 2
            and token.isascii()
        ):
            signing_input, _, signature_segment = token.rpartition(".")
            header_segment, _, payload_segment = signing_input.partition(".")
            judged = self._headers.get((typ, header_segment))
            if judged is not None and payload_segment and resolve_key(judged.kid) is judged.key:
                signature = signature_bytes(signature_segment)
                try:
                    judged.public.verify(signature, signing_input.encode("ascii"))
                except InvalidSignature:
                    raise jose.TokenError(
                        "token_bad_signature", "signature does not verify"
                    ) from None
                return None
        # Any other shape is jose.verify's to refuse, with its codes.

        verified = jose.verify(token, typ=typ, resolve_key=resolve_key)
        public = verified.key.public_key
        kid = verified.header.get("kid")
        # jose.verify accepts Ed25519 keys named by kid only; anything else is not remembered.
        if isinstance(public, Ed25519PublicKey) and isinstance(kid, str):
            header_segment = token.partition(".")[0]
            self._headers.put((typ, header_segment), _JudgedHeader(kid, verified.key, public))
        return verified.claims

    def peek(self, token: str) -> tuple[Mapping[str, Any], dict[str, Any]]:
        """`shared.jose.peek`, as strict, with the header parsed once per header segment
        (the same few headers recur on every chain); the header is read-only."""
        header_segment, payload_segment, _ = jose.split_compact(token)
        header = self._parsed_headers.get(header_segment)
        if header is None:
            parsed = jose.parse_segment(header_segment, "header")
            header = self._parsed_headers.put(header_segment, MappingProxyType(parsed))
        return header, jose.parse_segment(payload_segment, "claims")

    def holder_key(self, jwk: Mapping[str, Any]) -> OKPKey | None:
        """The key object imported earlier for this very JWK, if remembered."""
        try:
            return self._holder_keys.get(frozenset(jwk.items()))
        except TypeError:  # a member that is a list or an object: not hashable, never stored
            return None

    def remember_holder_key(self, jwk: Mapping[str, Any], key: OKPKey) -> OKPKey:
        """Remember ``key`` as the one object for ``jwk`` (its members must be hashable)."""
        return self._holder_keys.put(frozenset(jwk.items()), key)
