"""The chain verifier: a pure function from a release's links and evidence to a report.

No database, no clock, no network: the caller loads the links, fetches the credentials
of `parties_needed` and the current status lists, and passes `now`. The same verifier
serves link submission, the web views and the gate's hot path.

**What is checked** (docs/design.md, Invariants 2, Wire formats), link by link in seq order;
the first failure is reported with a stable code and every later link is ``not_checked``:

1. a link never follows an assignment, and is stored at its position (``seq``);
2. the compact JWS is well formed and its header passes shared.jose's rules for
   ``ketenpas-link+jwt`` (typ, the per-typ alg allow-list, no ``none`` or HMAC, no
   key-carrying members, ``crit``); the ``from`` it claims is the holder (the shipping
   line at 0, the previous link's ``to`` later); its ``kid`` names a key bound by a
   credential of that party, and the signature verifies under that key. ``from`` is
   read before the signature only to refuse a link not from the holder and to choose the
   key: once the signature verifies, the party whose credential holds the key has said
   it. Only parties vouched for are looked up (see ``Evidence``);
3. the claims have the contract's form (docs/design.md, Wire formats);
4. continuity: the release and container of the facts, ``seq`` equal to the position,
   the kind (``release`` at 0, ``handover`` or ``assignment`` later); the times, judged
   at the link's **receipt** (``StoredLink.received_at``, a moment the signer does not
   choose): ``iat`` not after it (30 s leeway) nor more than ``max_iat_age`` before it,
   ``exp - iat`` at most ``max_lifetime``, ``exp`` not passed now (30 s leeway); then the
   signer's credential (valid at the receipt, neither revoked nor suspended now) and its
   role, ``prev`` equal to the hash of the previous link, the release terms at 0, and a
   ``jti`` used once in the chain;
5. the receiver: ``receiver_party`` is ``to`` and held a forwarder or carrier
   credential at the receipt, not revoked or suspended now, or, for an assignment, is
   the carrier that signed it;
6. acceptance: every link accepted, except that an incomplete chain may end in one
   pending link; a complete chain ends in an accepted assignment, whose acceptance is
   signed by the driver's own device key (a ``driver`` credential whose subject is the
   person the assignment names), never by a key of his carrier (``ack_not_by_driver``).

**Why only the last accepted link's acceptance is verified.** A chain is a sequence of
signatures each of which commits to its predecessor: link n+1 is signed by link n's
``to`` (its ``from`` must equal it) and names link n by hash (``prev``). The receiver of
link n can only make link n+1 by taking the right that link n gave it, which is an
acceptance in itself, signed with a key of a valid credential of that party. So for
every link that has a successor, the successor proves the acceptance more strongly than
the stored ack does, and each ack was verified in full when it was submitted. Only the
last accepted link has no successor to speak for its receiver: its ack is the sole
evidence that the receiver (for an assignment, the driver's party) took the right, so it
is verified here every time. Verifying the other acks would cost one Ed25519
verification per link on the gate's hot path and establish nothing new.

**Speed.** The gate verifies whole chains, so each link should cost little more than its
Ed25519 verification. Signatures go through the app's `shared.verifier_cache.VerifierCache`
(its contract is written there): a header judged once with a key object goes straight to
the signature check for the next token with that header and key. Parsing is always strict
(``shared.jose.peek``: canonical base64url, no duplicate JSON members), so the first sight
and the remembered path accept exactly the same tokens.

**Shape.** `verify_chain` walks the links; `_check_link` runs one link's stages in the
order above (place, signature, claims, continuity, times, signer, terms, receiver,
acceptance), each a small function that reads what the links before established (`_Walk`)
and either passes or raises `_Refused`; the walk advances only after a link passed.
"""

from __future__ import annotations

import base64
import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final, Literal

from joserfc.jwk import OKPKey

from shared import jose
from shared.credentials import (
    LEEWAY,
    CredentialError,
    CredentialErrorCode,
    StatusListView,
    VerifiedCredential,
    check_credential,
)
from shared.verifier_cache import VerifierCache

__all__ = [
    "ACK_TYP",
    "LINK_TYP",
    "ChainErrorCode",
    "ChainFailure",
    "ChainReport",
    "Evidence",
    "LinkResult",
    "ReleaseFacts",
    "StoredLink",
    "link_hash",
    "parties_needed",
    "verify_chain",
]

LINK_TYP: Final = "ketenpas-link+jwt"
ACK_TYP: Final = "ketenpas-ack+jwt"

RELEASE: Final = "release"
HANDOVER: Final = "handover"
ASSIGNMENT: Final = "assignment"

PENDING: Final = "pending"
ACCEPTED: Final = "accepted"

NOT_CHECKED: Final = "not_checked"
OK: Final = "ok"

#: Who may sign each kind of link (roles of the signer's credential).
SIGNER_ROLES: Final[Mapping[str, frozenset[str]]] = {
    RELEASE: frozenset({"shipping_line"}),
    HANDOVER: frozenset({"forwarder", "carrier"}),
    ASSIGNMENT: frozenset({"carrier"}),
}
#: Who may receive a release or a handover.
RECEIVER_ROLES: Final = frozenset({"forwarder", "carrier"})
#: The role of a driver's device credential: only it accepts an assignment.
DRIVER_ROLE: Final = "driver"

ChainErrorCode = Literal[
    jose.TokenErrorCode,
    CredentialErrorCode,
    "chain_empty",
    "chain_too_long",
    "chain_incomplete",
    "link_key_unknown",
    "link_bad_signature",
    "link_claims_invalid",
    "link_wrong_release",
    "link_wrong_container",
    "link_wrong_seq",
    "link_wrong_kind",
    "link_after_assignment",
    "link_not_from_holder",
    "link_terms_mismatch",
    "link_prev_mismatch",
    "link_not_yet_valid",
    "link_expired",
    "link_backdated",
    "link_lifetime_too_long",
    "ack_backdated",
    "party_not_fetched",
    "link_jti_reused",
    "link_receiver_mismatch",
    "link_not_accepted",
    "signer_wrong_role",
    "receiver_wrong_role",
    "assignment_not_own_driver",
    "ack_missing",
    "ack_key_unknown",
    "ack_bad_signature",
    "ack_claims_invalid",
    "ack_not_yet_valid",
    "ack_wrong_link",
    "ack_wrong_subject",
    "ack_not_by_driver",
]

# A credential failure as the report names the signer credential's state.
_CREDENTIAL_STATES: Final[Mapping[str, str]] = {
    "credential_revoked": "revoked",
    "credential_suspended": "suspended",
    "credential_expired": "expired",
    "credential_not_yet_valid": "not_yet_valid",
}


def link_hash(jws: str) -> str:
    """base64url (no padding) of the SHA-256 of a compact JWS's ASCII text: ``prev``, ``link``."""
    digest = hashlib.sha256(jws.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True, slots=True)
class ReleaseFacts:
    """What the release service recorded when the release was made: seq 0 must say the same."""

    release_id: str
    container: str
    terminal: str
    shipping_line: str
    first_party: str
    valid_until: int
    reference: str | None


@dataclass(frozen=True, slots=True)
class StoredLink:
    """One live link as stored: ``status`` is pending or accepted, ``ack`` set once accepted.

    ``receiver_party`` is ``to`` for a release or handover, and for an assignment the
    driver's party as checked at submission.
    """

    seq: int
    jws: str
    status: str
    ack: str | None
    receiver_party: str
    # When the release service received the link (NumericDate seconds, `links.created_at`);
    # None for a link being received now, judged at `now`.
    received_at: float | None = None
    # When the acceptance was received (`links.decided_at`); None: being received now.
    ack_received_at: float | None = None


@dataclass(frozen=True, slots=True)
class Evidence:
    """Credentials by party id (signatures checked by read_credential; any status or time)
    and the current status lists by URI.

    A party absent from ``credentials`` was not fetched (an empty tuple: it has none): the
    verifier then names it in ``ChainReport.unfetched`` once a verified signature vouches
    for it, and the caller fetches it and verifies again.
    """

    credentials: Mapping[str, Sequence[VerifiedCredential]]
    status_lists: Mapping[str, StatusListView]

    def holds_valid_credential(self, party_id: str, now: float) -> bool:
        """Whether the party holds a credential valid now (not expired, suspended or
        revoked): every caller's party must (`deps.get_caller`), and a party told of events
        too (webhooks' dispatcher)."""
        return self.valid_roles(party_id, now) is not None

    def valid_roles(self, party_id: str, now: float) -> frozenset[str] | None:
        """The roles the party's credentials valid now give it; None if it holds none."""
        roles: frozenset[str] | None = None
        for credential in self.credentials.get(party_id, ()):
            try:
                check_credential(credential, at=now, status_lists=self.status_lists, now=now)
            except CredentialError:
                continue
            roles = credential.roles if roles is None else roles | credential.roles
        return roles


@dataclass(frozen=True, slots=True)
class LinkResult:
    """The verdict on one link.

    ``kid`` is what the header names once it parsed; ``kind``, ``from_party`` and ``to``
    are filled only from verified claims. ``credential_status`` is that of the signer's
    credential (valid at ``iat`` and not revoked or suspended now), or ``unknown``.
    ``result`` is ``ok``, a failure code, or ``not_checked``.
    """

    seq: int
    kind: str | None
    from_party: str | None
    to: str | None
    kid: str | None
    credential_id: str | None
    credential_status: str
    result: str
    detail: str


@dataclass(frozen=True, slots=True)
class ChainFailure:
    """The first failure of a chain: at which position, with which code."""

    seq: int
    code: str
    detail: str


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The verdict on a chain.

    ``holder`` (the ``to`` of the last accepted link) and ``driver`` (that ``to`` when the
    link is an assignment) are set only when the chain verified: a failed chain names
    nobody.
    """

    links: tuple[LinkResult, ...]
    failure: ChainFailure | None
    holder: str | None
    driver: str | None
    # With failure ``party_not_fetched``: the party whose credentials the caller must fetch.
    unfetched: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the chain verified."""
        return self.failure is None


class _Refused(Exception):
    def __init__(self, code: ChainErrorCode, detail: str, *, unfetched: str | None = None) -> None:
        super().__init__(f"{code}: {detail}")
        self.code: ChainErrorCode = code
        self.detail = detail
        self.unfetched = unfetched


# --- signatures ----------------------------------------------------------------------------


def _verify_signature(
    token: str, *, typ: str, kid: object, key: OKPKey | None, cache: VerifierCache
) -> None:
    """Verify ``token`` (already parsed strictly by jose.peek) under ``key``, the key that the
    signer's credential binds to ``kid``; jose.TokenError if not."""

    cache.verify_under(token, typ=typ, kid=kid, key=key)


# --- claims ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Link:
    release_id: str
    container: str
    seq: int
    kind: str
    from_party: str
    to: str
    prev: str | None
    iat: float
    exp: float
    jti: str
    terms_well_formed: bool  # for a release: terminal, valid_until and reference
    terminal: object
    valid_until: float | None
    reference: object


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _numeric_date(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            seconds = float(value)
        except OverflowError:  # an integer beyond any float
            return None
        if math.isfinite(seconds):
            return seconds
    return None


def _read_link(claims: Mapping[str, Any]) -> _Link:
    def invalid(detail: str) -> _Refused:
        return _Refused("link_claims_invalid", detail)

    texts: dict[str, str] = {}
    for name in ("release_id", "container", "kind", "from", "to", "jti"):
        value = claims.get(name)
        if not isinstance(value, str) or not value:
            raise invalid(f"{name} must be a non-empty string")
        texts[name] = value
    seq = claims.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int):
        raise invalid("seq must be an integer")
    prev = claims.get("prev")
    if "prev" in claims and not isinstance(prev, str):
        raise invalid("prev must be a string")
    iat = _numeric_date(claims.get("iat"))
    exp = _numeric_date(claims.get("exp"))
    if iat is None or exp is None:
        raise invalid("iat and exp must be NumericDates")
    if exp <= iat:
        raise invalid("exp must be after iat")
    # The release terms are judged where a release may stand (seq 0), so that a
    # "release" anywhere else is refused for its kind, whatever terms it carries.
    terminal = claims.get("terminal")
    valid_until = _numeric_date(claims.get("valid_until"))
    reference = claims.get("reference")
    terms_well_formed = (
        isinstance(terminal, str)
        and valid_until is not None
        and ("reference" not in claims or isinstance(reference, str))
    )
    return _Link(
        release_id=texts["release_id"],
        container=texts["container"],
        seq=seq,
        kind=texts["kind"],
        from_party=texts["from"],
        to=texts["to"],
        prev=prev if isinstance(prev, str) else None,
        iat=iat,
        exp=exp,
        jti=texts["jti"],
        terms_well_formed=terms_well_formed,
        terminal=terminal,
        valid_until=valid_until,
        reference=reference,
    )


# --- credentials ----------------------------------------------------------------------------


def _credentials_of(evidence: Evidence, party: object) -> Sequence[VerifiedCredential]:
    if not isinstance(party, str):
        return ()
    # Filtered by party as well as by key: evidence filed under the wrong party must not
    # lend one party's key to another.
    return [c for c in evidence.credentials.get(party, ()) if c.party_id == party]


def _vouched_credentials_of(evidence: Evidence, party: str) -> Sequence[VerifiedCredential]:
    """The credentials of a party a verified signature (or the release itself) vouches for.

    Only such parties are looked up at the identity service, so a value nobody signed never
    costs an outbound request: an unfetched one is handed back to the caller to fetch.
    """
    if party not in evidence.credentials:
        raise _Refused(
            "party_not_fetched", "the credentials of a party were not fetched", unfetched=party
        )
    return _credentials_of(evidence, party)


def _key_of(credentials: Sequence[VerifiedCredential], kid: object) -> OKPKey | None:
    for credential in credentials:
        if credential.kid == kid:
            return credential.key
    return None


def _judge(
    candidates: Sequence[VerifiedCredential],
    *,
    at: float,
    roles: frozenset[str] | None,
    evidence: Evidence,
    now: float,
) -> tuple[VerifiedCredential | None, CredentialError | None, bool]:
    """The credential that vouches for a signature at ``at``: (credential, error, has_role).

    Any candidate that passes with a role in ``roles`` is enough; otherwise the best one
    is reported: a credential with the right role before one without, a passing one
    before a failing one, the most recently issued first.
    """
    best: VerifiedCredential | None = None
    best_error: CredentialError | None = None
    best_rank: tuple[bool, bool, float] | None = None
    for credential in candidates:
        error: CredentialError | None = None
        try:
            check_credential(credential, at=at, status_lists=evidence.status_lists, now=now)
        except CredentialError as exc:
            error = exc
        has_role = roles is None or not roles.isdisjoint(credential.roles)
        if error is None and has_role:
            return credential, None, True
        rank = (has_role, error is None, credential.iat)
        if best_rank is None or rank > best_rank:
            best, best_error, best_rank = credential, error, rank
    return best, best_error, best_rank is not None and best_rank[0]


def _receiver_refusal(evidence: Evidence, party: str, *, at: float, now: float) -> _Refused | None:
    """None if the receiver held a forwarder or carrier credential when the link was received
    that is not revoked or suspended now; else why not (a revoked receiver says so)."""
    refusal: _Refused | None = None
    for credential in _vouched_credentials_of(evidence, party):
        if RECEIVER_ROLES.isdisjoint(credential.roles):
            continue
        try:
            check_credential(credential, at=at, status_lists=evidence.status_lists, now=now)
        except CredentialError as exc:
            refusal = refusal or _Refused(exc.code, f"receiver: {exc.detail}")
            continue
        return None
    return refusal or _Refused(
        "receiver_wrong_role", "the receiver holds no forwarder or carrier role"
    )


# --- the walk -------------------------------------------------------------------------------


class _Seen:
    """What has been learnt about one link so far, for its LinkResult."""

    __slots__ = ("credential_id", "credential_status", "from_party", "kid", "kind", "to")

    def __init__(self) -> None:
        self.kind: str | None = None
        self.from_party: str | None = None
        self.to: str | None = None
        self.kid: str | None = None
        self.credential_id: str | None = None
        self.credential_status = "unknown"

    def result(self, seq: int, result: str, detail: str) -> LinkResult:
        return LinkResult(
            seq=seq,
            kind=self.kind,
            from_party=self.from_party,
            to=self.to,
            kid=self.kid,
            credential_id=self.credential_id,
            credential_status=self.credential_status,
            result=result,
            detail=detail,
        )


class _Walk:
    """The state carried from one link to the next."""

    __slots__ = ("holder", "jtis", "previous_hash", "previous_kind")

    def __init__(self, shipping_line: str) -> None:
        self.holder = shipping_line
        self.previous_hash: str | None = None
        self.previous_kind: str | None = None
        self.jtis: set[str] = set()

    def advance(self, link: _Link, link_hash_: str) -> None:
        """The right passes to the link's receiver; the next link must name this one."""
        self.holder = link.to
        self.previous_hash = link_hash_
        self.previous_kind = link.kind
        self.jtis.add(link.jti)


def _not_checked(seq: int) -> LinkResult:
    return _Seen().result(seq, NOT_CHECKED, "")


def _token_refusal(
    error: jose.TokenError, *, unknown: ChainErrorCode, bad: ChainErrorCode, what: str
) -> _Refused:
    if error.code == "token_kid_unknown":
        return _Refused(unknown, f"{what}: no credential of the signer holds this kid")
    if error.code == "token_bad_signature":
        return _Refused(bad, f"{what}: {error.detail}")
    return _Refused(error.code, f"{what}: {error.detail}")


@dataclass(frozen=True, slots=True)
class _Context:
    """What every link of one verification is judged against."""

    facts: ReleaseFacts
    evidence: Evidence
    now: float
    limits: _Limits
    cache: VerifierCache


@dataclass(frozen=True, slots=True)
class _Checked:
    """A link that passed every check: what the walk carries on to the next one."""

    link: _Link
    hash: str


def _check_link(
    position: int,
    stored: StoredLink,
    context: _Context,
    walk: _Walk,
    seen: _Seen,
    *,
    pending_allowed: bool,
    verify_ack: bool,
) -> _Checked:
    """Every check of one link, stage by stage; _Refused at the first that fails.

    ``walk`` (what the links before established) is only read here; ``seen`` records what
    has been learnt of this link, for its LinkResult whatever the outcome.
    """
    _check_place(position, stored, walk)
    kid, claims = _verified_link_token(stored, context, walk, seen)
    link = _read_link(claims)
    seen.kind, seen.from_party, seen.to = link.kind, link.from_party, link.to
    _check_continuity(link, position, context.facts, walk)
    received = _check_link_times(link, stored, context)
    _check_signer(link, kid, received, context, seen)
    _check_terms(link, position, context.facts, walk)
    _check_receiver(link, stored, received, context)
    this_hash = link_hash(stored.jws)
    if stored.status != ACCEPTED and not (pending_allowed and stored.status == PENDING):
        raise _Refused("link_not_accepted", f"the link is {stored.status!r}")
    if verify_ack:
        _check_ack(stored, link=link, link_hash_=this_hash, context=context)
    return _Checked(link=link, hash=this_hash)


def _check_place(position: int, stored: StoredLink, walk: _Walk) -> None:
    """The link stands where a link may: after no assignment, at its stored position."""
    if walk.previous_kind == ASSIGNMENT:
        raise _Refused("link_after_assignment", "nothing may follow an assignment")
    if stored.seq != position:
        raise _Refused("link_wrong_seq", f"stored at seq {stored.seq}, found at {position}")


def _verified_link_token(
    stored: StoredLink, context: _Context, walk: _Walk, seen: _Seen
) -> tuple[object, dict[str, Any]]:
    """The link's kid and claims, once its header and signature verify under a key that a
    credential of the party it claims to be ``from`` binds."""
    evidence = context.evidence
    try:
        header, claims = context.cache.peek(stored.jws)
    except jose.TokenError as exc:
        raise _Refused(exc.code, f"link: {exc.detail}") from None
    kid = header.get("kid")
    if isinstance(kid, str):
        seen.kid = kid
    from_party = claims.get("from")
    if from_party == walk.holder:
        # The holder is vouched for (by the release, or by the signature of the link before):
        # its credentials are fetched if they were not.
        signer_credentials = _vouched_credentials_of(evidence, walk.holder)
    elif isinstance(from_party, str) and from_party not in evidence.credentials:
        # A party nobody vouches for is never looked up: the header is judged as for any
        # link, then the link is refused for not coming from the holder.
        signer_credentials = ()
    else:
        signer_credentials = _credentials_of(evidence, from_party)
    try:
        _verify_signature(
            stored.jws,
            typ=LINK_TYP,
            kid=kid,
            key=_key_of(signer_credentials, kid),
            cache=context.cache,
        )
    except jose.TokenError as exc:
        if exc.code == "token_kid_unknown" and not isinstance(from_party, str):
            raise _Refused("link_claims_invalid", "from must be a party id") from None
        if exc.code == "token_kid_unknown" and from_party not in evidence.credentials:
            raise _Refused("link_not_from_holder", "the signer does not hold the right") from None
        raise _token_refusal(
            exc, unknown="link_key_unknown", bad="link_bad_signature", what="link"
        ) from None
    return kid, claims


def _check_continuity(link: _Link, position: int, facts: ReleaseFacts, walk: _Walk) -> None:
    """The link continues this release's chain: its release, container, place, kind and
    signer (the holder of the right)."""
    if link.release_id != facts.release_id:
        raise _Refused("link_wrong_release", "the link belongs to another release")
    if link.container != facts.container:
        raise _Refused("link_wrong_container", "the link names another container")
    if link.seq != position:
        raise _Refused("link_wrong_seq", f"the link claims another seq than {position}")
    if (link.kind == RELEASE) != (position == 0) or link.kind not in SIGNER_ROLES:
        # Neither this detail nor any other repeats what the signer wrote: it can be long.
        raise _Refused("link_wrong_kind", f"this kind of link cannot stand at seq {position}")
    if link.from_party != walk.holder:
        raise _Refused("link_not_from_holder", "the signer does not hold the right")


def _check_link_times(link: _Link, stored: StoredLink, context: _Context) -> float:
    """The link's times, judged at its receipt (returned), a moment the signer does not
    choose: a signer can date its link only within a small skew of it, so a key can vouch
    only while its credential is valid, however the link is dated (a stored link keeps the
    receipt time recorded)."""
    now, limits = context.now, context.limits
    received = now if stored.received_at is None else stored.received_at
    if received + LEEWAY < link.iat:
        raise _Refused("link_not_yet_valid", "the link was issued in the future")
    if link.iat < received - limits.max_iat_age:
        raise _Refused("link_backdated", "the link was issued too long before it was received")
    if link.exp - link.iat > limits.max_lifetime:
        raise _Refused("link_lifetime_too_long", "the link lives longer than is allowed")
    if now >= link.exp + LEEWAY:
        raise _Refused("link_expired", "the link has expired")
    return received


def _check_signer(
    link: _Link, kid: object, received: float, context: _Context, seen: _Seen
) -> None:
    """A credential of the signer binds the kid, was valid at the receipt, stands now, and
    carries a role that may sign this kind of link."""
    evidence = context.evidence
    signer_keys = [c for c in _credentials_of(evidence, link.from_party) if c.kid == kid]
    credential, error, has_role = _judge(
        signer_keys, at=received, roles=SIGNER_ROLES[link.kind], evidence=evidence, now=context.now
    )
    if credential is not None:
        seen.credential_id = credential.credential_id
        seen.credential_status = (
            "valid" if error is None else _CREDENTIAL_STATES.get(error.code, "unknown")
        )
    if error is not None:
        raise _Refused(error.code, f"signer: {error.detail}")
    if not has_role:
        raise _Refused("signer_wrong_role", f"a {link.kind} must be signed by another role")


def _check_terms(link: _Link, position: int, facts: ReleaseFacts, walk: _Walk) -> None:
    """The link names the link before by hash, the release link says the recorded terms,
    and no earlier link used its jti."""
    if link.prev != walk.previous_hash:
        raise _Refused("link_prev_mismatch", "prev is not the hash of the previous link")
    if position == 0 and not link.terms_well_formed:
        raise _Refused("link_claims_invalid", "a release needs terminal and valid_until")
    if position == 0 and (
        link.to != facts.first_party
        or link.terminal != facts.terminal
        or link.valid_until != facts.valid_until
        or link.reference != facts.reference
    ):
        raise _Refused("link_terms_mismatch", "the release link says other terms")
    if link.jti in walk.jtis:
        raise _Refused("link_jti_reused", "an earlier link of this chain has this jti")


def _check_receiver(link: _Link, stored: StoredLink, received: float, context: _Context) -> None:
    """The stored receiver is the link's: for an assignment, a driver of the signing carrier;
    otherwise its ``to``, holding a receiving role at the receipt and now."""
    if link.kind == ASSIGNMENT:
        if stored.receiver_party != link.from_party:
            raise _Refused("assignment_not_own_driver", "the driver works for another party")
        return
    if stored.receiver_party != link.to:
        raise _Refused("link_receiver_mismatch", "the stored receiver is not the link's to")
    refusal = _receiver_refusal(context.evidence, link.to, at=received, now=context.now)
    if refusal is not None:
        raise refusal


def _check_ack(stored: StoredLink, *, link: _Link, link_hash_: str, context: _Context) -> None:
    """The receiver's acceptance of the last accepted link, judged at its receipt as links are
    (a receiver whose key expired cannot date an acceptance back into its validity)."""
    evidence, limits, now = context.evidence, context.limits, context.now
    if stored.ack is None:
        raise _Refused("ack_missing", "the accepted link has no acceptance")
    try:
        header, claims = context.cache.peek(stored.ack)
    except jose.TokenError as exc:
        raise _Refused(exc.code, f"ack: {exc.detail}") from None
    kid = header.get("kid")
    if link.kind == ASSIGNMENT:
        # The driver accepts with his own device key (a credential whose subject is he,
        # docs/design.md, Domain, Wire formats), so that nobody at the carrier can accept in
        # his name: a key of the
        # carrier, its custodial key included, is no acceptance of an assignment. The
        # driver is vouched for by the assignment's verified signature.
        receiver_credentials: Sequence[VerifiedCredential] = [
            c for c in _vouched_credentials_of(evidence, link.to) if DRIVER_ROLE in c.roles
        ]
    else:
        receiver_credentials = _credentials_of(evidence, stored.receiver_party)
    try:
        _verify_signature(
            stored.ack,
            typ=ACK_TYP,
            kid=kid,
            key=_key_of(receiver_credentials, kid),
            cache=context.cache,
        )
    except jose.TokenError as exc:
        if (
            exc.code == "token_kid_unknown"
            and link.kind == ASSIGNMENT
            and _key_of(_credentials_of(evidence, stored.receiver_party), kid) is not None
        ):
            raise _Refused(
                "ack_not_by_driver", "an assignment is accepted with the driver's own device key"
            ) from None
        raise _token_refusal(
            exc, unknown="ack_key_unknown", bad="ack_bad_signature", what="ack"
        ) from None

    accepted = claims.get("link")
    iat = _numeric_date(claims.get("iat"))
    jti = claims.get("jti")
    subject = claims.get("sub")
    if (
        not isinstance(accepted, str)
        or iat is None
        or not isinstance(jti, str)
        or not jti
        or ("sub" in claims and not isinstance(subject, str))
    ):
        raise _Refused("ack_claims_invalid", "an acceptance needs link, iat and jti")
    received = now if stored.ack_received_at is None else stored.ack_received_at
    if received + LEEWAY < iat:
        raise _Refused("ack_not_yet_valid", "the acceptance was issued in the future")
    if iat < received - limits.max_iat_age:
        raise _Refused("ack_backdated", "the acceptance was issued too long before its receipt")

    candidates = [c for c in receiver_credentials if c.kid == kid]
    _, error, _ = _judge(candidates, at=received, roles=None, evidence=evidence, now=now)
    if error is not None:
        raise _Refused(error.code, f"ack: {error.detail}")
    if accepted != link_hash_:
        raise _Refused("ack_wrong_link", "the acceptance is of another link")
    if link.kind == ASSIGNMENT and subject is not None and subject != link.to:
        raise _Refused("ack_wrong_subject", "the acceptance names another driver")


# --- the public functions -------------------------------------------------------------------


def parties_needed(facts: ReleaseFacts, links: Sequence[StoredLink]) -> set[str]:
    """The parties whose credentials verify_chain will consult that something vouches for:
    the shipping line, and the signers and receivers of stored links (each verified when it
    was received). The receiver of a link being received now is not among them: until its
    signature verifies nothing vouches for it, and verify_chain names it in ``unfetched``.
    """
    parties = {facts.shipping_line}
    for stored in links:
        if stored.received_at is None:
            continue
        parties.add(stored.receiver_party)
        try:
            _, claims = jose.peek(stored.jws)
        except jose.TokenError:
            continue
        from_party = claims.get("from")
        if isinstance(from_party, str):
            parties.add(from_party)
        driver = claims.get("to")
        if (
            claims.get("kind") == ASSIGNMENT
            and stored.status == ACCEPTED
            and isinstance(driver, str)
        ):
            # The driver whose device key accepted it (his device credentials, by person id).
            parties.add(driver)
    return parties


#: How long before its receipt a link may say it was signed (a signer's clock and the way
#: to us), and how long a link may live at most (``exp - iat``).
DEFAULT_MAX_IAT_AGE: Final = 120.0
DEFAULT_MAX_LIFETIME: Final = 30 * 86400.0


@dataclass(frozen=True, slots=True)
class _Limits:
    max_iat_age: float
    max_lifetime: float


def verify_chain(
    facts: ReleaseFacts,
    links: Sequence[StoredLink],
    *,
    evidence: Evidence,
    now: float,
    max_links: int,
    complete: bool,
    cache: VerifierCache,
    max_iat_age: float = DEFAULT_MAX_IAT_AGE,
    max_lifetime: float = DEFAULT_MAX_LIFETIME,
) -> ChainReport:
    """Verify a release's live links in seq order; the report names the first failure.

    A link is judged at its ``received_at`` (``now`` when None): its ``iat`` at most
    ``max_iat_age`` seconds before it (and not in its future), ``exp - iat`` at most
    ``max_lifetime``, its signer's and receiver's credentials valid then and not revoked or
    suspended now; its ``exp`` is judged at ``now``. ``cache`` is the app's verifier cache.
    """
    if not links:
        return ChainReport(
            links=(),
            failure=ChainFailure(seq=0, code="chain_empty", detail="the release has no links"),
            holder=None,
            driver=None,
        )
    count = len(links)
    if count > max_links:
        # Refused before any signature is checked: length bounds the work.
        over = max(max_links, 0)
        detail = f"{count} links, at most {max_links} allowed"
        unchecked = [_not_checked(seq) for seq in range(count)]
        unchecked[over] = _Seen().result(over, "chain_too_long", detail)
        return ChainReport(
            links=tuple(unchecked),
            failure=ChainFailure(seq=over, code="chain_too_long", detail=detail),
            holder=None,
            driver=None,
        )

    last = count - 1
    last_accepted = last if links[last].status == ACCEPTED else last - 1
    walk = _Walk(facts.shipping_line)
    limits = _Limits(max_iat_age=max_iat_age, max_lifetime=max_lifetime)
    context = _Context(facts=facts, evidence=evidence, now=now, limits=limits, cache=cache)
    results: list[LinkResult] = []
    failure: ChainFailure | None = None
    unfetched: str | None = None
    for position, stored in enumerate(links):
        if failure is not None:
            results.append(_not_checked(position))
            continue
        seen = _Seen()
        try:
            checked = _check_link(
                position,
                stored,
                context,
                walk,
                seen,
                pending_allowed=position == last and not complete,
                verify_ack=position == last_accepted,
            )
        except _Refused as refusal:
            failure = ChainFailure(seq=position, code=refusal.code, detail=refusal.detail)
            unfetched = refusal.unfetched
            results.append(seen.result(position, refusal.code, refusal.detail))
        else:
            walk.advance(checked.link, checked.hash)
            results.append(seen.result(position, OK, ""))

    if failure is None and complete and walk.previous_kind != ASSIGNMENT:
        detail = "the chain does not end in an accepted assignment"
        failure = ChainFailure(seq=last, code="chain_incomplete", detail=detail)
        results[last] = replace(results[last], result="chain_incomplete", detail=detail)

    holder = driver = None
    if failure is None and last_accepted >= 0:
        accepted = results[last_accepted]
        holder = accepted.to
        driver = holder if accepted.kind == ASSIGNMENT else None
    return ChainReport(
        links=tuple(results), failure=failure, holder=holder, driver=driver, unfetched=unfetched
    )
