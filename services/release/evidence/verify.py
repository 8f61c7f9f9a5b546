"""The evidence bundle's verifier: pure (no database, no network, no clock), offline.

A bundle (docs/evidence.md) is RFC 8785 canonical JSON in which every value is one of

- a **signed artifact**: the release log's checkpoint (a signed note), links and
  acknowledgements, credentials and status-list tokens (compact JWS);
- an **event committed to the log**: its canonical text and salt, whose commitment has an
  inclusion proof to the bundle's checkpoint;
- something the verifier **recomputes** or compares with a trust anchor: the identity keys
  (each equal to the anchor's key of that kid), the draws' consistency proofs.

So an altered byte anywhere either breaks the canonical form or the member schema, or a
signature, a hash or a proof. The verifier is given its trust anchors by the caller: the
log's note verifier key, the identity service's JWKS and, optionally, the inspection VRF
public keys. Checks run in a fixed order and the first failure ends the run
(`EvidenceFailed` names it); `EvidenceReport` lists what passed and what was skipped.

The chain itself is judged by the release service's own verifier
(`services.release.chain.verify.verify_chain`) with what the bundle proves: the release's
terms and each link's receipt from the logged events, the credentials and status lists from
the identity service's signatures. Moment of judgement: the release's last gate decision
that let the container go (`release` or `inspect`), else the newest event of the bundle.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import rfc8785
from joserfc.jwk import Key

from services.release.chain.verify import (
    ACCEPTED,
    ASSIGNMENT,
    DEFAULT_MAX_IAT_AGE,
    DEFAULT_MAX_LIFETIME,
    LINK_TYP,
    PENDING,
    ChainReport,
    Evidence,
    ReleaseFacts,
    StoredLink,
    link_hash,
    parties_needed,
    verify_chain,
)
from services.release.inspections.keys import key_id_of
from services.release.inspections.verifier import DrawCheckFailed, check_draw
from shared import jose, strict_json
from shared.audit.events import commitment
from shared.credentials import (
    LEEWAY,
    CredentialError,
    StatusListView,
    VerifiedCredential,
    decode_status_list_token,
    read_credential,
    token_sha256,
)
from shared.tlog import merkle
from shared.tlog.checkpoint import Checkpoint, CheckpointError, open_checkpoint
from shared.tlog.cosignature import CosignatureVerifier, require_quorum
from shared.tlog.note import (
    NoteError,
    Verifier,
    b64decode_strict,
    parse_verifier_key,
    split_note,
)
from shared.verifier_cache import VerifierCache

__all__ = [
    "BUNDLE_TYPE",
    "BUNDLE_VERSION",
    "MEDIA_TYPE",
    "EvidenceFailed",
    "EvidenceReport",
    "verify_bundle",
]

BUNDLE_TYPE: Final = "ketenpas-evidence"
# Version 2 added `judged_status_lists`; a version 1 bundle (without it) still verifies,
# but no decision of it may name a status list (its chain is judged with the export's lists).
BUNDLE_VERSION: Final = 2
MEDIA_TYPE: Final = "application/vnd.ketenpas.evidence+json"

_TOP: Final = frozenset(
    {
        "type",
        "v",
        "release_id",
        "checkpoint",
        "events",
        "links",
        "credentials",
        "status_lists",
        "identity_keys",
        "draws",
    }
)
_TOP_V2: Final = _TOP | {"judged_status_lists"}
_EVENT: Final = frozenset({"event", "salt", "index", "proof"})
_LINK: Final = frozenset({"jws", "ack"})
_DRAW: Final = frozenset({"event_id", "consistency"})
_SALT_BYTES: Final = 32
# A decision that let the container go: the chain counted at that moment.
_LETTING_GO: Final = frozenset({"release", "inspect"})


class EvidenceFailed(Exception):
    """The bundle does not verify: `check` names the check that failed first, `passed` the
    checks that passed before it."""

    def __init__(self, check: str, reason: str) -> None:
        super().__init__(f"{check}: {reason}")
        self.check = check
        self.reason = reason
        self.passed: list[str] = []


@dataclass
class EvidenceReport:
    """The checks that passed, in order, and those that could not be made."""

    passed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    chain: ChainReport | None = None


# --- reading the file ----------------------------------------------------------------------


def _canonical_object(data: bytes, check: str, what: str) -> dict[str, Any]:
    """A JSON object whose bytes are its own RFC 8785 form; EvidenceFailed otherwise."""
    try:
        value = strict_json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):
        raise EvidenceFailed(check, f"{what} is not JSON (UTF-8, no duplicate members)") from None
    if not isinstance(value, dict):
        raise EvidenceFailed(check, f"{what} is not a JSON object")
    try:
        canonical = rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, ValueError, TypeError):
        raise EvidenceFailed(check, f"{what} cannot be canonicalised") from None
    if canonical != data:
        raise EvidenceFailed(check, f"{what} is not RFC 8785 canonical JSON")
    return value


def _members(value: object, expected: frozenset[str], check: str, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise EvidenceFailed(check, f"{what} must be an object")
    if set(value) != expected:
        unknown = sorted(set(value) - expected)
        missing = sorted(expected - set(value))
        raise EvidenceFailed(check, f"{what}: unknown members {unknown}, missing {missing}")
    return value


def _text(value: object, check: str, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise EvidenceFailed(check, f"{what} must be a non-empty string")
    return value


def _count(value: object, check: str, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise EvidenceFailed(check, f"{what} must be a non-negative integer")
    return value


def _list(value: object, check: str, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise EvidenceFailed(check, f"{what} must be an array")
    return value


def _hashes(value: object, check: str, what: str) -> list[bytes]:
    hashes = []
    for item in _list(value, check, what):
        try:
            digest = b64decode_strict(_text(item, check, what))
        except ValueError:
            raise EvidenceFailed(check, f"{what} holds a value that is not base64") from None
        if len(digest) != merkle.HASH_SIZE:
            raise EvidenceFailed(check, f"{what} holds a value that is not a SHA-256 hash")
        hashes.append(digest)
    return hashes


def _sorted_unique(items: Sequence[str], check: str, what: str) -> None:
    """Lists of tokens are sorted and free of repeats, so a bundle has one spelling."""
    if list(items) != sorted(set(items)):
        raise EvidenceFailed(check, f"{what} must be sorted, each once")


def _moment(text: object, check: str, what: str) -> float:
    try:
        moment = datetime.fromisoformat(_text(text, check, what))
    except ValueError:
        raise EvidenceFailed(check, f"{what} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise EvidenceFailed(check, f"{what} has no offset")
    return moment.timestamp()


# --- the log -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Event:
    index: int
    text: str
    body: dict[str, Any]

    @property
    def type(self) -> str:
        return str(self.body["type"])

    @property
    def at(self) -> float:
        return _moment(self.body.get("at"), "events", f"event {self.index}: at")


@dataclass(frozen=True)
class _Witnessed:
    """The bundle's checkpoint, who cosigned it, and how many lines no given key checks."""

    checkpoint: Checkpoint
    cosigned_by: dict[str, int]
    unchecked: int


def _open_checkpoint(
    note: object,
    log_key: str,
    witnesses: Sequence[CosignatureVerifier] = (),
    min_witnesses: int = 0,
) -> _Witnessed:
    check = "checkpoint"
    text = _text(note, check, "checkpoint")
    try:
        verifier: Verifier = parse_verifier_key(log_key)
    except (NoteError, ValueError) as exc:
        raise EvidenceFailed(check, f"--log-key is not a note verifier key ({exc})") from None
    # Besides the log's one signature a checkpoint carries the witnesses' cosignatures (C2SP
    # tlog-cosignature): those of the witnesses given are checked, and must number at least
    # `min_witnesses`; lines of keys not given cannot be checked, and the report says so.
    try:
        _, lines = split_note(text)
    except NoteError as exc:
        raise EvidenceFailed(check, f"not a signed note ({exc})") from None
    own = [(name, kid) for name, kid, _ in lines if (name, kid) == (verifier.name, verifier.key_id)]
    if len(own) != 1:
        raise EvidenceFailed(check, "the checkpoint must carry exactly one signature of the log")
    try:
        checkpoint = open_checkpoint(text, verifier, verifier.name)
    except (NoteError, CheckpointError, ValueError) as exc:
        raise EvidenceFailed(check, f"not signed by the log key given ({exc})") from None
    try:
        cosigned = require_quorum(text, witnesses, min_witnesses) if witnesses else {}
    except NoteError as exc:
        raise EvidenceFailed("witnesses", str(exc)) from None
    if min_witnesses and not witnesses:
        raise EvidenceFailed("witnesses", f"{min_witnesses} cosignatures asked for, no --witness")
    known = {(w.name, w.key_id) for w in witnesses}
    unchecked = sum(1 for name, kid, _ in lines if (name, kid) not in known) - 1
    return _Witnessed(checkpoint, cosigned, unchecked)


def _read_events(items: object, release_id: str, checkpoint: Checkpoint) -> dict[str, _Event]:
    """Every event, each proved in the checkpoint's tree; by event id."""
    check = "events"
    events: dict[str, _Event] = {}
    last = -1
    for item in _list(items, check, "events"):
        member = _members(item, _EVENT, check, "an event")
        index = _count(member["index"], check, "index")
        where = f"event {index}"
        if index <= last:
            raise EvidenceFailed(check, f"{where}: events must be in log order, each once")
        last = index
        text = _text(member["event"], check, f"{where}: event")
        body = _canonical_object(text.encode("utf-8"), check, f"{where}: the event")
        for name in ("id", "type", "at"):
            _text(body.get(name), check, f"{where}: {name}")
        if release_id not in text:
            raise EvidenceFailed(check, f"{where} does not name the release")
        try:
            salt = b64decode_strict(_text(member["salt"], check, f"{where}: salt"))
        except ValueError:
            raise EvidenceFailed(check, f"{where}: salt is not base64") from None
        if len(salt) != _SALT_BYTES:
            raise EvidenceFailed(check, f"{where}: salt must be {_SALT_BYTES} bytes")
        proof = _hashes(member["proof"], check, f"{where}: proof")
        if index >= checkpoint.size:
            raise EvidenceFailed(check, f"{where} lies beyond the checkpoint")
        leaf = merkle.leaf_hash(commitment(salt, text.encode("utf-8")))
        if not merkle.verify_inclusion(leaf, index, checkpoint.size, proof, checkpoint.root_hash):
            raise EvidenceFailed(check, f"{where} is not in the log under the checkpoint")
        event = _Event(index=index, text=text, body=body)
        if event.body["id"] in events:
            raise EvidenceFailed(check, f"{where}: its id is in the bundle twice")
        events[event.body["id"]] = event
    return events


# --- the identity service ------------------------------------------------------------------


def _anchor_keys(identity_jwks: bytes) -> dict[str, dict[str, Any]]:
    check = "identity keys"
    try:
        document = strict_json.loads(identity_jwks.decode("utf-8"))
        keys = document["keys"]
        anchored = {jwk["kid"]: jwk for jwk in keys if isinstance(jwk, dict)}
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise EvidenceFailed(check, "--identity-jwks is not a JWKS document") from None
    return anchored


def _identity_keys(items: object, anchors: Mapping[str, Mapping[str, Any]]) -> dict[str, Key]:
    """The bundle's identity keys, each the very key the trust anchor has under its kid."""
    check = "identity keys"
    keys: dict[str, Key] = {}
    kids = []
    for jwk in _list(items, check, "identity_keys"):
        if not isinstance(jwk, dict):
            raise EvidenceFailed(check, "a key must be a JWK object")
        kid = _text(jwk.get("kid"), check, "kid")
        if anchors.get(kid) != jwk:
            raise EvidenceFailed(check, f"key {kid} is not in --identity-jwks as given")
        try:
            key = jose.import_key(jwk)
        except (ValueError, TypeError, KeyError):
            raise EvidenceFailed(check, f"key {kid} is not an Ed25519 key") from None
        if jose.thumbprint(key) != kid:
            raise EvidenceFailed(check, f"key {kid}: kid is not the key's thumbprint")
        keys[kid] = key
        kids.append(kid)
    _sorted_unique(kids, check, "identity_keys (by kid)")
    return keys


def _kid(token: str, check: str) -> str:
    try:
        header, _ = jose.peek(token)
    except jose.TokenError as exc:
        raise EvidenceFailed(check, f"a token is malformed ({exc.detail})") from None
    return str(header.get("kid"))


def _issuer(tokens: Sequence[str], check: str) -> str:
    """The one issuer every identity token of the bundle names."""
    issuers = set()
    for token in tokens:
        try:
            _, claims = jose.peek(token)
        except jose.TokenError as exc:
            raise EvidenceFailed(check, f"a token is malformed ({exc.detail})") from None
        issuers.add(claims.get("iss"))
    if len(issuers) != 1 or not isinstance(next(iter(issuers)), str):
        raise EvidenceFailed(check, "the identity tokens do not name one issuer")
    return str(next(iter(issuers)))


def _status_list(
    token: str, *, resolve: Callable[[str], Key | None], issuer: str, check: str
) -> StatusListView:
    """A status-list token, verified as of its own issue: the signature, issuer and form hold
    whenever it is read; when its statuses count is the caller's matter."""
    try:
        _, claims = jose.peek(token)
        issued = claims.get("iat")
        if not isinstance(issued, int | float) or isinstance(issued, bool):
            raise EvidenceFailed(check, "a status list has no iat")
        return decode_status_list_token(
            token, resolve_key=resolve, issuer=issuer, now=float(issued)
        )
    except (jose.TokenError, CredentialError) as exc:
        code = getattr(exc, "code", "token_malformed")
        raise EvidenceFailed(check, f"a status list does not verify ({code})") from None


def _status_lists(
    tokens: list[str], *, resolve: Callable[[str], Key | None], issuer: str
) -> dict[str, StatusListView]:
    check = "status lists"
    views: dict[str, StatusListView] = {}
    for token in tokens:
        view = _status_list(token, resolve=resolve, issuer=issuer, check=check)
        if view.uri in views:
            raise EvidenceFailed(check, f"{view.uri} is in the bundle twice")
        views[view.uri] = view
    return views


def _decisions(events: Sequence[_Event], release_id: str) -> list[_Event]:
    return [
        e for e in events if e.type == "gate.decided" and e.body.get("release_id") == release_id
    ]


def _named_lists(event: _Event, check: str) -> list[str]:
    """The status-list hashes a decision names (none for one logged before it named them)."""
    named = event.body.get("status_lists", [])
    if not isinstance(named, list) or not all(isinstance(h, str) for h in named):
        raise EvidenceFailed(check, f"decision of event {event.index}: status_lists malformed")
    return named


def _judged_status_lists(
    tokens: list[str],
    decisions: Sequence[_Event],
    *,
    resolve: Callable[[str], Key | None],
    issuer: str,
) -> dict[str, dict[str, StatusListView]]:
    """The status lists each decision was judged with, by decision event id, then by URI.

    Every hash a decision names must be a token of the bundle, signed by the identity
    service and issued before the decision; every token of the bundle must be named by a
    decision. Whether a list was still fresh enough is the chain's check
    (`status_list_expired`), as at the gate."""
    check = "judged status lists"
    by_hash = {token_sha256(token): token for token in tokens}
    judged: dict[str, dict[str, StatusListView]] = {}
    named_anywhere: set[str] = set()
    for event in decisions:
        lists: dict[str, StatusListView] = {}
        for digest in _named_lists(event, check):
            where = f"decision of event {event.index}"
            token = by_hash.get(digest)
            if token is None:
                raise EvidenceFailed(check, f"{where}: status list {digest} is not in the bundle")
            view = _status_list(token, resolve=resolve, issuer=issuer, check=check)
            if view.issued_at > event.at + LEEWAY:
                raise EvidenceFailed(check, f"{where}: status list {digest} is of a later time")
            if view.uri in lists:
                raise EvidenceFailed(check, f"{where} names two lists of {view.uri}")
            lists[view.uri] = view
            named_anywhere.add(digest)
        judged[str(event.body["id"])] = lists
    if set(by_hash) - named_anywhere:
        raise EvidenceFailed(check, "the bundle holds a status list no decision names")
    return judged


def _credentials(
    tokens: list[str],
    *,
    resolve: Callable[[str], Key | None],
    issuer: str,
    status_lists: Mapping[str, StatusListView],
    cache: VerifierCache,
) -> tuple[dict[str, list[VerifiedCredential]], dict[str, str]]:
    """Verified credentials by holder (party id, or person id for a device credential), and
    the party of each person that holds a device credential."""
    check = "credentials"
    held: dict[str, list[VerifiedCredential]] = {}
    parties_of_people: dict[str, str] = {}
    for token in tokens:
        try:
            credential = read_credential(token, cache=cache, resolve_key=resolve, issuer=issuer)
        except CredentialError as exc:
            raise EvidenceFailed(check, f"a credential does not verify ({exc.code})") from None
        if credential.status_uri not in status_lists:
            raise EvidenceFailed(
                check, f"credential {credential.credential_id}: its status list is not here"
            )
        _, claims = jose.peek(token)
        party = claims.get("party")
        if isinstance(party, str):
            parties_of_people[credential.party_id] = party
        held.setdefault(credential.party_id, []).append(credential)
    return held, parties_of_people


# --- the release and its chain -------------------------------------------------------------


def _field(event: _Event, name: str, check: str) -> Any:
    if name not in event.body:
        raise EvidenceFailed(check, f"event {event.index} ({event.type}) lacks {name}")
    return event.body[name]


def _facts(events: Sequence[_Event], release_id: str) -> tuple[ReleaseFacts, _Event]:
    check = "release"
    created = [
        e for e in events if e.type == "release.created" and e.body.get("release_id") == release_id
    ]
    if len(created) != 1:
        raise EvidenceFailed(check, "the bundle must hold the release's one release.created")
    event = created[0]
    reference = _field(event, "reference", check)
    valid_until = _field(event, "valid_until", check)
    if not isinstance(valid_until, int) or isinstance(valid_until, bool):
        raise EvidenceFailed(check, "valid_until must be an integer")
    facts = ReleaseFacts(
        release_id=release_id,
        container=_text(_field(event, "container", check), check, "container"),
        terminal=_text(_field(event, "terminal", check), check, "terminal"),
        shipping_line=_text(_field(event, "shipping_line", check), check, "shipping_line"),
        first_party=_text(_field(event, "release_to", check), check, "release_to"),
        valid_until=valid_until,
        reference=reference if isinstance(reference, str) else None,
    )
    return facts, event


@dataclass
class _Submitted:
    seq: int
    received_at: float
    accepted: _Event | None = None


def _live_chain(
    events: Sequence[_Event], release_id: str, created: _Event
) -> tuple[list[str], dict[str, _Submitted]]:
    """Replay the release's chain events in log order: the live links' hashes in seq order,
    and what the log says of every link submitted."""
    check = "links"
    first = _text(_field(created, "link_hash", check), check, "link_hash")
    submitted = {
        first: _Submitted(0, _moment(_field(created, "received_at", check), check, "received_at"))
    }
    live: dict[int, str] = {0: first}
    for event in events:
        if event.body.get("release_id") != release_id:
            continue
        if event.type == "link.submitted":
            seq = _count(_field(event, "seq", check), check, "seq")
            digest = _text(_field(event, "link_hash", check), check, "link_hash")
            received = _moment(_field(event, "received_at", check), check, "received_at")
            submitted[digest] = _Submitted(seq, received)
            live[seq] = digest
        elif event.type == "link.accepted":
            digest = _text(_field(event, "link_hash", check), check, "link_hash")
            if digest not in submitted:
                raise EvidenceFailed(check, f"event {event.index} accepts a link never submitted")
            submitted[digest].accepted = event
        elif event.type == "link.declined":
            seq = _count(_field(event, "seq", check), check, "seq")
            if live.get(seq) == _field(event, "link_hash", check):
                del live[seq]
        elif event.type in ("link.withdrawn", "release.cancelled"):
            for seq in _list(_field(event, "withdrawn", check), check, "withdrawn"):
                live.pop(_count(seq, check, "withdrawn"), None)
    order = sorted(live)
    if order != list(range(len(order))):
        raise EvidenceFailed(check, "the logged chain has a gap")
    return [live[seq] for seq in order], submitted


def _stored_links(
    items: object,
    live: Sequence[str],
    submitted: Mapping[str, _Submitted],
    parties_of_people: Mapping[str, str],
) -> tuple[list[StoredLink], list[StoredLink]]:
    """Every link of the release, in the order the log received them: (the live chain in
    seq order, the links declined or withdrawn)."""
    check = "links"
    links = _list(items, check, "links")
    order = list(submitted)
    if len(links) != len(order):
        raise EvidenceFailed(
            check, f"the bundle holds {len(links)} links, the log names {len(order)}"
        )
    by_hash: dict[str, StoredLink] = {}
    for position, (item, digest) in enumerate(zip(links, order, strict=True)):
        where = f"link {position} (in the log's order)"
        member = _members(item, _LINK, check, where)
        jws = _text(member["jws"], check, f"{where}: jws")
        if link_hash(jws) != digest:
            raise EvidenceFailed(check, f"{where} is not the link the log names there")
        record = submitted[digest]
        ack = member["ack"]
        ack_received: float | None = None
        if record.accepted is None:
            if ack is not None:
                raise EvidenceFailed(check, f"{where}: an acceptance the log does not hold")
            status = PENDING
        else:
            ack = _text(ack, check, f"{where}: ack")
            if link_hash(ack) != _field(record.accepted, "ack_hash", check):
                raise EvidenceFailed(check, f"{where}: the acceptance is not the one logged")
            status, ack_received = ACCEPTED, record.accepted.at
        try:
            _, claims = jose.peek(jws)
        except jose.TokenError:
            claims = {}
        to = claims.get("to")
        receiver = to if isinstance(to, str) else ""
        if claims.get("kind") == ASSIGNMENT:
            # The driver's party, as his device credential (signed) says.
            receiver = parties_of_people.get(receiver, "")
        by_hash[digest] = StoredLink(
            seq=record.seq,
            jws=jws,
            status=status,
            ack=ack,
            receiver_party=receiver,
            received_at=record.received_at,
            ack_received_at=ack_received,
        )
    chain = [by_hash[digest] for digest in live]
    dead = [by_hash[digest] for digest in order if digest not in set(live)]
    return chain, dead


def _check_dead_links(
    dead: Sequence[StoredLink],
    release_id: str,
    held: Mapping[str, Sequence[VerifiedCredential]],
    cache: VerifierCache,
) -> None:
    """A declined or withdrawn link is kept as evidence: it must be of this release and
    signed by a key a credential of the party it claims to be from binds (its times and
    roles mattered only while it was live)."""
    check = "links"
    for link in dead:
        where = f"the declined or withdrawn link at seq {link.seq}"
        try:
            header, claims = cache.peek(link.jws)
        except jose.TokenError as exc:
            raise EvidenceFailed(check, f"{where} is malformed ({exc.code})") from None
        if claims.get("release_id") != release_id:
            raise EvidenceFailed(check, f"{where} is of another release")
        kid = header.get("kid")
        signer = claims.get("from")
        keys = [c.key for c in held.get(str(signer), ()) if c.kid == kid and c.party_id == signer]
        try:
            cache.verify_under(link.jws, typ=LINK_TYP, kid=kid, key=keys[0] if keys else None)
        except jose.TokenError as exc:
            raise EvidenceFailed(
                check, f"{where} is not signed by its signer ({exc.code})"
            ) from None


def _judged_at(events: Sequence[_Event], release_id: str) -> tuple[float, _Event | None]:
    """The moment the chain is judged at, and the decision that let the container go."""
    let_go = [e for e in _decisions(events, release_id) if e.body.get("decision") in _LETTING_GO]
    if let_go:
        return let_go[-1].at, let_go[-1]
    return max(e.at for e in events), None


# --- draws ---------------------------------------------------------------------------------


def _inspection_keys(keys: Sequence[bytes]) -> dict[str, bytes]:
    check = "draws"
    trusted: dict[str, bytes] = {}
    for text in keys:
        value = text.decode("utf-8", "replace").strip()
        try:
            if value.startswith("{"):
                published = json.loads(value)["keys"]
                raw = [_b64url(item["public_key"]) for item in published]
            else:
                raw = [_b64url(value)]
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise EvidenceFailed(check, "--inspection-key is not a public key") from None
        for public in raw:
            if len(public) != 32:
                raise EvidenceFailed(check, "--inspection-key is not a 32-byte public key")
            trusted[key_id_of(public)] = public
    return trusted


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _check_draws(
    items: object,
    events: Sequence[_Event],
    release_id: str,
    checkpoint: Checkpoint,
    trusted: Mapping[str, bytes],
) -> int:
    check = "draws"
    drawn = [e for e in events if e.type == "inspection.drawn"]
    entries = _list(items, check, "draws")
    if len(entries) != len(drawn):
        raise EvidenceFailed(check, "the bundle must hold one entry per draw event")
    for event, item in zip(drawn, entries, strict=True):
        member = _members(item, _DRAW, check, "a draw")
        if member["event_id"] != event.body["id"]:
            raise EvidenceFailed(check, f"draw of event {event.index}: another event named")
        alpha_text = _text(_field(event, "alpha", check), check, "alpha")
        alpha = _canonical_object(alpha_text.encode("utf-8"), check, "alpha")
        draw = {
            "draw_id": event.body.get("draw_id"),
            "release_id": release_id,
            "alpha_object": alpha,
            **{
                name: event.body.get(name)
                for name in ("purpose", "alpha", "key_id", "pi", "beta", "u", "probability")
            },
            "selected": event.body.get("selected"),
        }
        cited = alpha.get("checkpoint")
        if not isinstance(cited, dict) or cited.get("origin") != checkpoint.origin:
            raise EvidenceFailed(check, f"draw of event {event.index} cites another log")
        size = _count(cited.get("size"), check, "the cited size")
        try:
            root = b64decode_strict(_text(cited.get("root"), check, "the cited root"))
        except ValueError:
            raise EvidenceFailed(check, "the cited root is not base64") from None
        if size > event.index:
            raise EvidenceFailed(check, f"draw of event {event.index} cites a later checkpoint")
        proof = _hashes(member["consistency"], check, "consistency")
        if (
            (proof or root != merkle.EMPTY_ROOT)
            if size == 0  # the empty tree is a prefix of every tree
            else not merkle.verify_consistency(
                size, checkpoint.size, root, checkpoint.root_hash, proof
            )
        ):
            raise EvidenceFailed(
                check, f"draw of event {event.index}: its checkpoint is not a prefix of the log"
            )
        if trusted:  # without a trusted key the proof is not checked (the verdict says so)
            try:
                check_draw(draw, trusted)
            except DrawCheckFailed as exc:
                raise EvidenceFailed(check, f"draw of event {event.index}: {exc.reason}") from None
        subject = alpha.get("subject")
        if alpha.get("purpose") != "container" or not isinstance(subject, dict):
            raise EvidenceFailed(check, f"draw of event {event.index} is not a container draw")
        if subject.get("release") != release_id:
            raise EvidenceFailed(check, f"draw of event {event.index} is of another release")
    return len(drawn)


def _check_gate(events: Sequence[_Event], release_id: str) -> tuple[int, int]:
    """The gate's events hold together: every draw a decision names and every decision a
    gate-out names is in the bundle, and the release's draws are its visits 1, 2, ..."""
    check = "gate"
    mine = [e for e in events if e.body.get("release_id") == release_id]
    decided = {e.body.get("decision_id"): e for e in mine if e.type == "gate.decided"}
    drawn = [e for e in events if e.type == "inspection.drawn"]
    draw_ids = {e.body.get("draw_id") for e in drawn}
    for event in decided.values():
        draw_id = event.body.get("draw_id")
        if draw_id is not None and draw_id not in draw_ids:
            raise EvidenceFailed(check, f"decision of event {event.index}: its draw is missing")
    completed = [e for e in mine if e.type == "gate.completed"]
    for event in completed:
        if event.body.get("decision_id") not in decided:
            raise EvidenceFailed(check, f"gate-out of event {event.index}: its decision is missing")
    visits = []
    for event in drawn:
        alpha = json.loads(str(event.body.get("alpha")))
        visits.append(alpha.get("subject", {}).get("visit"))
    if visits != list(range(1, len(visits) + 1)):
        raise EvidenceFailed(check, "the release's draws are not its visits 1, 2, ... in order")
    return len(decided), len(completed)


# --- the whole -----------------------------------------------------------------------------


def verify_bundle(
    data: bytes,
    *,
    log_key: str,
    identity_jwks: bytes,
    inspection_keys: Sequence[bytes] = (),
    witnesses: Sequence[CosignatureVerifier] = (),
    min_witnesses: int = 0,
) -> EvidenceReport:
    """Check a bundle against the trust anchors; EvidenceFailed at the first failure.

    `witnesses`, `min_witnesses`: the checkpoint must carry valid cosignatures of at least
    that many of these witnesses, so a log that showed the court a view its witnesses never
    saw (a fork, a rollback) is refused.
    """
    report = EvidenceReport()
    try:
        _verify(report, data, log_key, identity_jwks, inspection_keys, witnesses, min_witnesses)
    except EvidenceFailed as failure:
        failure.passed = list(report.passed)
        raise
    return report


def _verify(
    report: EvidenceReport,
    data: bytes,
    log_key: str,
    identity_jwks: bytes,
    inspection_keys: Sequence[bytes],
    witnesses: Sequence[CosignatureVerifier] = (),
    min_witnesses: int = 0,
) -> None:
    """The checks in order, each appended to `report` as it passes."""
    value = _canonical_object(data, "format", "the bundle")
    version = value.get("v")
    if value.get("type") != BUNDLE_TYPE or version not in (1, BUNDLE_VERSION):
        raise EvidenceFailed("format", f"not a {BUNDLE_TYPE} bundle of version 1 or 2")
    bundle = _members(value, _TOP if version == 1 else _TOP_V2, "format", "the bundle")
    release_id = _text(bundle["release_id"], "format", "release_id")
    report.passed.append("format: RFC 8785 canonical JSON, every member known")

    witnessed = _open_checkpoint(bundle["checkpoint"], log_key, witnesses, min_witnesses)
    checkpoint = witnessed.checkpoint
    report.passed.append(
        f"checkpoint: signed by {checkpoint.origin}, tree of {checkpoint.size} entries"
    )
    if witnessed.cosigned_by:
        report.passed.append(
            f"witnesses: cosigned by {len(witnessed.cosigned_by)} of the {len(witnesses)} given"
            f" ({', '.join(sorted(witnessed.cosigned_by))}), at least {min_witnesses} required"
        )
    if witnessed.unchecked:
        report.skipped.append(
            f"checkpoint: {witnessed.unchecked} cosignature line(s) of keys not given (--witness)"
        )

    by_id = _read_events(bundle["events"], release_id, checkpoint)
    events = list(by_id.values())
    if not events:
        raise EvidenceFailed("events", "the bundle holds no event")
    report.passed.append(f"events: {len(events)} events of the release, each in the log")

    anchors = _anchor_keys(identity_jwks)
    keys = _identity_keys(bundle["identity_keys"], anchors)
    credential_tokens = [
        _text(t, "credentials", "a credential")
        for t in _list(bundle["credentials"], "credentials", "credentials")
    ]
    status_tokens = [
        _text(t, "status lists", "a status list")
        for t in _list(bundle["status_lists"], "status lists", "status_lists")
    ]
    judged_tokens = [
        _text(t, "judged status lists", "a status list")
        for t in _list(
            bundle.get("judged_status_lists", []), "judged status lists", "judged_status_lists"
        )
    ]
    _sorted_unique(credential_tokens, "credentials", "credentials")
    _sorted_unique(status_tokens, "status lists", "status_lists")
    _sorted_unique(judged_tokens, "judged status lists", "judged_status_lists")
    identity_tokens = (*credential_tokens, *status_tokens, *judged_tokens)
    used = {_kid(token, "identity keys") for token in identity_tokens}
    if set(keys) != used:
        raise EvidenceFailed("identity keys", "the keys must be exactly those that signed")
    report.passed.append(f"identity keys: {len(keys)}, each in --identity-jwks")

    if not status_tokens:
        raise EvidenceFailed("status lists", "the bundle holds no status list")
    issuer = _issuer(identity_tokens, "status lists")
    status_lists = _status_lists(status_tokens, resolve=keys.get, issuer=issuer)
    report.passed.append(f"status lists: {len(status_lists)}, signed by {issuer}")
    judged = _judged_status_lists(
        judged_tokens, _decisions(events, release_id), resolve=keys.get, issuer=issuer
    )
    report.passed.append(
        f"judged status lists: {len(judged_tokens)}, each one a decision names,"
        f" signed by {issuer} and issued before it"
    )
    cache = VerifierCache()
    held, parties_of_people = _credentials(
        credential_tokens, resolve=keys.get, issuer=issuer, status_lists=status_lists, cache=cache
    )
    report.passed.append(f"credentials: {len(credential_tokens)}, signed by {issuer}")

    facts, created = _facts(events, release_id)
    report.passed.append(
        f"release: {facts.container} at {facts.terminal}, by {facts.shipping_line}"
    )
    live, submitted = _live_chain(events, release_id, created)
    stored, dead = _stored_links(bundle["links"], live, submitted, parties_of_people)
    _check_dead_links(dead, release_id, held, cache)
    report.passed.append(
        f"links: the {len(stored)} live and {len(dead)} declined or withdrawn links the log"
        " names, in its order, acceptances as logged"
    )

    judged_at, letting_go = _judged_at(events, release_id)
    let_go = letting_go is not None
    # At the decision that let the container go, the statuses are those the gate judged
    # with; a decision logged before decisions named their lists is judged with the export's.
    as_judged = judged.get(str(letting_go.body["id"]), {}) if letting_go is not None else {}
    cancelled = any(
        e.type == "release.cancelled" and e.body.get("release_id") == release_id for e in events
    )
    if not stored and cancelled:
        report.passed.append("chain: none live, the release was cancelled")
        _finish(report, bundle, events, release_id, checkpoint, inspection_keys)
        return
    holders = parties_needed(facts, stored) | set(held)
    chain = verify_chain(
        facts,
        stored,
        evidence=Evidence(
            credentials={holder: tuple(held.get(holder, ())) for holder in holders},
            status_lists={**status_lists, **as_judged},
        ),
        now=judged_at,
        max_links=max(len(stored), 1),
        complete=let_go,
        cache=cache,
        max_iat_age=DEFAULT_MAX_IAT_AGE,
        max_lifetime=DEFAULT_MAX_LIFETIME,
    )
    report.chain = chain
    if chain.failure is not None:
        raise EvidenceFailed(
            "chain", f"link {chain.failure.seq}: {chain.failure.code} ({chain.failure.detail})"
        )
    moment = datetime.fromtimestamp(judged_at, UTC).isoformat()
    statuses = (
        f"statuses as the gate judged them ({len(as_judged)} lists)"
        if as_judged
        else "statuses as exported"
    )
    report.passed.append(
        f"chain: verified as at {moment}, {statuses}"
        + (f", ending at driver {chain.driver}" if chain.driver else ", incomplete")
    )

    _finish(report, bundle, events, release_id, checkpoint, inspection_keys)


def _finish(
    report: EvidenceReport,
    bundle: Mapping[str, Any],
    events: Sequence[_Event],
    release_id: str,
    checkpoint: Checkpoint,
    inspection_keys: Sequence[bytes],
) -> None:
    """The checks after the chain's: the draws, then the gate's events."""
    trusted = _inspection_keys(inspection_keys)
    count = _check_draws(bundle["draws"], events, release_id, checkpoint, trusted)
    report.passed.append(f"draws: {count}, each citing a checkpoint of this log")
    if count and not trusted:
        report.skipped.append("draws: the VRF proofs (no --inspection-key given)")
    elif count:
        report.passed.append("draws: each VRF proof verifies under a trusted key")

    # After the draws: their inputs are known to be canonical objects with a subject.
    decisions, completions = _check_gate(events, release_id)
    report.passed.append(
        f"gate: {decisions} decisions and {completions} gate-outs, each with what it names"
    )
