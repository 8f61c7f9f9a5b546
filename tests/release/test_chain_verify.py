"""The pure chain verifier: a valid chain to a driver, and every refusal by a real attack."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, get_args

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc.jwk import Key, OKPKey

from services.release.chain.verify import (
    ACK_TYP,
    LINK_TYP,
    ChainErrorCode,
    ChainReport,
    Evidence,
    ReleaseFacts,
    StoredLink,
    link_hash,
    parties_needed,
    verify_chain,
)
from shared import jose
from shared.credentials import CREDENTIAL_TYP, StatusListView, VerifiedCredential, read_credential
from shared.status_list import StatusValue
from shared.verifier_cache import VerifierCache
from tests.helpers import b64url

NOW = 1_750_000_000
MINUTE, HOUR, DAY = 60, 3600, 86400
ISSUER = "https://identity.ketenpas.test"
STATUS_URI = f"{ISSUER}/v1/status-lists/1"
ISSUER_KEY = jose.generate_key()

SHIPPING_LINE = "EU.EORI.NL100000001"
FORWARDER = "EU.EORI.NL100000002"
FORWARDER_2 = "EU.EORI.NL100000003"
CARRIER = "EU.EORI.NL100000004"
SUBCONTRACTOR = "EU.EORI.NL100000005"
OTHER_CARRIER = "EU.EORI.NL100000006"
TERMINAL = "EU.EORI.NL200000001"
DRIVER = "6f1c2a4e-9b1d-4c55-8a43-2f1e0d9c7b10"
OTHER_DRIVER = "0b7d9e2c-41aa-4f0e-9c3d-5e8f7a6b1c22"

DROP = object()  # a claim to leave out


def _flatten(codes: object) -> set[str]:
    found: set[str] = set()
    for arg in get_args(codes):
        found |= {arg} if isinstance(arg, str) else _flatten(arg)
    return found


KNOWN_CODES = _flatten(ChainErrorCode)


# --- factories --------------------------------------------------------------------------------


ISSUER_PUBLIC = jose.import_key(jose.public_jwk(ISSUER_KEY))


def resolve_issuer(kid: str) -> Key | None:
    """The identity service's key, as the release service resolves it."""
    return ISSUER_PUBLIC if kid == jose.thumbprint(ISSUER_PUBLIC) else None


class World:
    """Parties with keys and credentials, and one status list, as the identity service has them."""

    def __init__(self) -> None:
        self.keys: dict[str, OKPKey] = {}
        self.credentials: dict[str, list[VerifiedCredential]] = {}
        self.statuses = bytearray(64)
        self.list_expires_at = NOW + 300
        self.next_idx = 3
        # The verifier cache a release app would own: one per world, so one per test.
        self.cache = VerifierCache()

    def enrol(
        self,
        party: str,
        *roles: str,
        key: OKPKey | None = None,
        issued: int = NOW - 30 * DAY,
        expires: int = NOW + 365 * DAY,
        status: StatusValue = StatusValue.VALID,
    ) -> VerifiedCredential:
        """Issue `party` a credential for `key` (its first key when not given)."""
        key = key or self.keys.get(party) or jose.generate_key()
        self.keys.setdefault(party, key)
        idx, self.next_idx = self.next_idx, self.next_idx + 2
        self.statuses[idx] = status
        claims = {
            "iss": ISSUER,
            "sub": party,
            "jti": str(uuid.uuid4()),
            "roles": list(roles),
            "cnf": {"jwk": {**jose.public_jwk(key), "kid": jose.thumbprint(key)}},
            "iat": issued,
            "nbf": issued,
            "exp": expires,
            "status": {"status_list": {"idx": idx, "uri": STATUS_URI}},
        }
        token = jose.sign(claims, ISSUER_KEY, typ=CREDENTIAL_TYP)
        credential = read_credential(
            token, cache=self.cache, resolve_key=resolve_issuer, issuer=ISSUER
        )
        self.credentials.setdefault(party, []).append(credential)
        return credential

    def set_status(self, credential: VerifiedCredential, status: StatusValue) -> None:
        """Revoke, suspend or reinstate a credential in the status list."""
        self.statuses[credential.status_idx] = status

    def status_list(self) -> StatusListView:
        """The current status list, as decode_status_list_token would give it."""
        return StatusListView(
            uri=STATUS_URI,
            issuer=ISSUER,
            bits=2,
            statuses=bytes(self.statuses),
            issued_at=NOW - 60,
            expires_at=self.list_expires_at,
            ttl=300,
        )


def make_world() -> World:
    """A port's parties: a shipping line, two forwarders, three carriers and a terminal."""
    world = World()
    world.enrol(SHIPPING_LINE, "shipping_line")
    world.enrol(FORWARDER, "forwarder")
    world.enrol(FORWARDER_2, "forwarder")
    world.enrol(CARRIER, "carrier")
    world.enrol(SUBCONTRACTOR, "carrier")
    world.enrol(OTHER_CARRIER, "carrier")
    world.enrol(TERMINAL, "terminal")
    # The drivers' own device keys: credentials whose subject is the person.
    world.enrol(DRIVER, "driver")
    world.enrol(OTHER_DRIVER, "driver")
    return world


@pytest.fixture
def world() -> World:
    """A fresh port (fresh keys: every test starts with nothing remembered)."""
    return make_world()


def release_facts(**changes: Any) -> ReleaseFacts:
    """The release as the release service recorded it."""
    facts = ReleaseFacts(
        release_id="3d6f4b1e-8c2a-4e7f-9a10-5b4c3d2e1f00",
        container="MSCU1234566",
        terminal=TERMINAL,
        shipping_line=SHIPPING_LINE,
        first_party=FORWARDER,
        valid_until=NOW + 14 * DAY,
        reference="BL-ROT-2025-0042",
    )
    return replace(facts, **changes)


FACTS = release_facts()


@dataclass(frozen=True)
class Step:
    """One intended link: kind, signer, `to`, and the receiver's party."""

    kind: str
    sender: str
    to: str
    receiver_party: str


# shipping line -> forwarder -> forwarder -> carrier -> subcontractor carrier -> driver
STEPS = (
    Step("release", SHIPPING_LINE, FORWARDER, FORWARDER),
    Step("handover", FORWARDER, FORWARDER_2, FORWARDER_2),
    Step("handover", FORWARDER_2, CARRIER, CARRIER),
    Step("handover", CARRIER, SUBCONTRACTOR, SUBCONTRACTOR),
    Step("assignment", SUBCONTRACTOR, DRIVER, SUBCONTRACTOR),
)


def link_claims(facts: ReleaseFacts, seq: int, step: Step, prev: str | None) -> dict[str, Any]:
    """The claims a well-behaved signer puts in link `seq`."""
    claims: dict[str, Any] = {
        "release_id": facts.release_id,
        "container": facts.container,
        "seq": seq,
        "kind": step.kind,
        "from": step.sender,
        "to": step.to,
        "iat": NOW - DAY + seq * HOUR,
        "exp": NOW + 7 * DAY,
        "jti": str(uuid.uuid4()),
    }
    if prev is not None:
        claims["prev"] = prev
    if step.kind == "release":
        claims |= {"terminal": facts.terminal, "valid_until": facts.valid_until}
        if facts.reference is not None:
            claims["reference"] = facts.reference
    return claims


def edited(claims: Mapping[str, Any], changes: Mapping[str, object]) -> dict[str, Any]:
    """`claims` with `changes` applied; DROP removes a claim."""
    result = dict(claims)
    for name, value in changes.items():
        if value is DROP:
            result.pop(name, None)
        else:
            result[name] = value
    return result


def sign_ack(
    world: World, jws: str, party: str, *, key: OKPKey | None = None, **changes: object
) -> str:
    """The acceptance of `jws` by `party`; of an assignment, by the driver's device key."""
    _, claims = jose.peek(jws)
    signed = claims.get("iat")
    iat = signed + 10 * MINUTE if isinstance(signed, int) else NOW - HOUR
    ack: dict[str, Any] = {"link": link_hash(jws), "iat": iat}
    ack["jti"] = str(uuid.uuid4())
    signer = world.keys[party]
    if claims["kind"] == "assignment":
        ack["sub"] = claims["to"]
        signer = world.keys.get(claims["to"], signer)
    return jose.sign(edited(ack, changes), key or signer, typ=ACK_TYP)


def build(
    world: World,
    facts: ReleaseFacts = FACTS,
    steps: Sequence[Step] = STEPS,
    *,
    edits: Mapping[int, Mapping[str, object]] | None = None,
    signers: Mapping[int, OKPKey] | None = None,
    pending: Sequence[int] = (),
    received: Mapping[int, float] | None = None,
) -> list[StoredLink]:
    """Sign `steps` as a chain (each link's prev the hash of the one before) and accept them.

    Each link was received (`received_at`) a minute after the `iat` it carries, unless
    `received` says when; each acceptance a minute after its own `iat`.
    """
    links: list[StoredLink] = []
    prev: str | None = None
    for seq, step in enumerate(steps):
        claims = edited(link_claims(facts, seq, step, prev), (edits or {}).get(seq, {}))
        key = (signers or {}).get(seq) or world.keys[step.sender]
        jws = jose.sign(claims, key, typ=LINK_TYP)
        iat = claims.get("iat")
        default = iat + MINUTE if isinstance(iat, int | float) else NOW - DAY
        received_at = (received or {}).get(seq, default)
        if seq in pending:
            links.append(StoredLink(seq, jws, "pending", None, step.receiver_party, received_at))
        else:
            ack = sign_ack(world, jws, step.receiver_party)
            links.append(
                StoredLink(
                    seq, jws, "accepted", ack, step.receiver_party, received_at, ack_receipt(ack)
                )
            )
        prev = link_hash(jws)
    return links


def ack_receipt(ack: str) -> float | None:
    """When an acceptance was received: a minute after its `iat` (None when it has none)."""
    _, claims = jose.peek(ack)
    iat = claims.get("iat")
    return iat + MINUTE if isinstance(iat, int | float) else None


def swap(links: Sequence[StoredLink], position: int, /, **changes: Any) -> list[StoredLink]:
    """The links with the stored link at `position` changed."""
    result = list(links)
    result[position] = replace(result[position], **changes)
    return result


def resign(world: World, links: Sequence[StoredLink], seq: int, **changes: object) -> str:
    """Link `seq` signed again by its signer with `changes` to its claims."""
    _, claims = jose.peek(links[seq].jws)
    return jose.sign(edited(claims, changes), world.keys[claims["from"]], typ=LINK_TYP)


def tamper(jws: str, **changes: object) -> str:
    """`jws` with its payload edited and the original header and signature kept."""
    header, _, signature = jws.split(".")
    _, claims = jose.peek(jws)
    new_payload = b64url(json.dumps(edited(claims, changes)).encode())
    return f"{header}.{new_payload}.{signature}"


def handmade(header: Mapping[str, Any], claims: Mapping[str, Any], key: OKPKey | None) -> str:
    """A compact JWS with any header, Ed25519-signed by `key` (empty signature without one)."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    signature = b""
    if key is not None:
        private = key.private_key
        assert isinstance(private, Ed25519PrivateKey)
        signature = private.sign(signing_input.encode())
    return f"{signing_input}.{b64url(signature)}"


def evidence_for(world: World, facts: ReleaseFacts, links: Sequence[StoredLink]) -> Evidence:
    """What the caller gathers: the credentials of parties_needed, and the status list."""
    return Evidence(
        credentials={
            party: tuple(world.credentials.get(party, ())) for party in parties_needed(facts, links)
        },
        status_lists={STATUS_URI: world.status_list()},
    )


def check(
    world: World,
    links: Sequence[StoredLink],
    *,
    facts: ReleaseFacts = FACTS,
    complete: bool = True,
    now: float = NOW,
    max_links: int = 8,
    cache: VerifierCache | None = None,
) -> ChainReport:
    """verify_chain as the release service calls it, with the evidence it would gather;
    with the world's cache unless another is given."""
    evidence = evidence_for(world, facts, links)
    return verify_chain(
        facts,
        links,
        evidence=evidence,
        now=now,
        max_links=max_links,
        complete=complete,
        cache=world.cache if cache is None else cache,
    )


def assert_refused(report: ChainReport, seq: int, code: str) -> None:
    """The chain failed first at `seq` with `code`; nothing after it was judged."""
    assert report.failure is not None, "the chain was accepted"
    assert (report.failure.seq, report.failure.code) == (seq, code), report.failure
    assert not report.ok and report.holder is None and report.driver is None
    assert code in KNOWN_CODES
    if report.links:
        assert report.links[seq].result == code
        assert all(link.result == "ok" for link in report.links[:seq])
        assert all(link.result == "not_checked" for link in report.links[seq + 1 :])


# --- the valid chain ------------------------------------------------------------------------


def test_a_chain_from_shipping_line_to_driver_verifies(world: World) -> None:
    links = build(world)
    report = check(world, links)
    assert report.ok and report.failure is None
    assert report.holder == DRIVER and report.driver == DRIVER
    assert [link.result for link in report.links] == ["ok"] * 5
    assert [link.kind for link in report.links] == [
        "release",
        "handover",
        "handover",
        "handover",
        "assignment",
    ]
    assert [link.from_party for link in report.links] == [step.sender for step in STEPS]
    assert [link.to for link in report.links] == [step.to for step in STEPS]
    assert all(link.credential_status == "valid" for link in report.links)
    assert report.links[2].kid == jose.thumbprint(world.keys[FORWARDER_2])
    assert report.links[2].credential_id == world.credentials[FORWARDER_2][0].credential_id


def test_the_remembered_path_gives_the_same_report_as_the_first_sight(world: World) -> None:
    links = build(world)
    cache = VerifierCache()
    cold = check(world, links, cache=cache)
    warm = check(world, links, cache=cache)
    assert cold == warm and warm.ok


def test_an_incomplete_chain_names_the_holder_before_a_pending_last_link(world: World) -> None:
    links = build(world, pending=(4,))
    report = check(world, links, complete=False)
    assert report.ok
    assert report.holder == SUBCONTRACTOR and report.driver is None
    assert report.links[4].result == "ok" and report.links[4].to == DRIVER


def test_a_pending_release_alone_has_no_holder(world: World) -> None:
    report = check(world, build(world, steps=STEPS[:1], pending=(0,)), complete=False)
    assert report.ok and report.holder is None and report.driver is None


def test_a_chain_that_ends_in_an_accepted_handover_names_that_receiver(world: World) -> None:
    report = check(world, build(world, steps=STEPS[:3]), complete=False)
    assert report.ok and report.holder == CARRIER and report.driver is None


def test_the_older_alg_name_eddsa_is_accepted(world: World) -> None:
    links = build(world, steps=STEPS[:1])
    _, claims = jose.peek(links[0].jws)
    key = world.keys[SHIPPING_LINE]
    header = {"alg": "EdDSA", "typ": LINK_TYP, "kid": jose.thumbprint(key)}
    jws = handmade(header, claims, key)
    ack = sign_ack(world, jws, FORWARDER)
    links = [StoredLink(0, jws, "accepted", ack, FORWARDER, links[0].received_at, ack_receipt(ack))]
    assert check(world, links, complete=False).ok


def test_a_signer_credential_that_expired_after_the_link_was_signed_still_counts(
    world: World,
) -> None:
    # The carrier rotated keys: link 3 was signed with its old key, whose credential has
    # expired since; its new credential makes it a valid receiver now.
    old_key = world.keys[CARRIER]
    world.credentials[CARRIER].clear()
    world.enrol(CARRIER, "carrier", key=old_key, issued=NOW - 60 * DAY, expires=NOW - HOUR)
    world.enrol(CARRIER, "carrier", key=jose.generate_key())
    report = check(world, build(world))
    assert report.ok, report.failure
    assert report.links[3].credential_status == "valid"


def test_a_shipping_line_credential_expired_since_the_release_still_counts(world: World) -> None:
    world.credentials[SHIPPING_LINE].clear()
    world.enrol(SHIPPING_LINE, "shipping_line", expires=NOW - 10 * MINUTE)
    assert check(world, build(world)).ok


def test_one_valid_credential_among_several_for_the_key_is_enough(world: World) -> None:
    first = world.credentials[FORWARDER_2][0]
    world.set_status(first, StatusValue.INVALID)
    world.enrol(FORWARDER_2, "forwarder")  # reissued for the same key
    assert check(world, build(world)).ok


def test_acceptances_of_earlier_links_are_proved_by_the_next_link(world: World) -> None:
    # Only the last accepted link's ack is judged: link 2 was signed by link 1's receiver.
    links = swap(build(world), 1, ack="not even a token")
    assert check(world, links).ok


def test_times_within_the_leeway_are_accepted(world: World) -> None:
    links = build(world, edits={1: {"exp": NOW - 29}, 2: {"iat": NOW + 29}})
    assert check(world, links).ok


# --- chain-level refusals -------------------------------------------------------------------


def test_an_empty_chain_is_refused(world: World) -> None:
    report = check(world, [])
    assert_refused(report, 0, "chain_empty")
    assert report.links == ()


def test_a_chain_longer_than_the_limit_is_refused_before_any_signature(world: World) -> None:
    links = swap(build(world), 0, jws="garbage")
    report = check(world, links, max_links=4)
    assert report.failure is not None
    assert (report.failure.seq, report.failure.code) == (4, "chain_too_long")
    assert [link.result for link in report.links] == ["not_checked"] * 4 + ["chain_too_long"]


def test_a_complete_chain_must_end_in_an_assignment(world: World) -> None:
    assert_refused(check(world, build(world, steps=STEPS[:4])), 3, "chain_incomplete")


def test_a_complete_chain_must_end_in_an_accepted_assignment(world: World) -> None:
    assert_refused(check(world, build(world, pending=(4,))), 4, "link_not_accepted")


# --- forged and tampered links ----------------------------------------------------------------


def test_a_link_signed_by_an_unknown_key_is_refused(world: World) -> None:
    links = build(world, signers={1: jose.generate_key()})
    assert_refused(check(world, links), 1, "link_key_unknown")


def test_a_link_signed_by_another_party_claiming_the_holder_is_refused(world: World) -> None:
    # The second forwarder writes itself a handover "from" the first forwarder.
    links = build(world, signers={1: world.keys[FORWARDER_2]})
    report = check(world, links)
    assert_refused(report, 1, "link_key_unknown")
    assert report.links[1].kid == jose.thumbprint(world.keys[FORWARDER_2])
    assert report.links[1].from_party is None  # unverified claims are not reported


def test_credentials_filed_under_the_wrong_party_lend_no_key(world: World) -> None:
    links = build(world, signers={1: world.keys[FORWARDER_2]})
    evidence = evidence_for(world, FACTS, links)
    misfiled = {
        **evidence.credentials,
        FORWARDER: (*world.credentials[FORWARDER], *world.credentials[FORWARDER_2]),
    }
    report = verify_chain(
        FACTS,
        links,
        evidence=replace(evidence, credentials=misfiled),
        now=NOW,
        max_links=8,
        cache=world.cache,
        complete=True,
    )
    assert_refused(report, 1, "link_key_unknown")


def test_a_tampered_payload_is_refused(world: World) -> None:
    links = build(world)
    links = swap(links, 2, jws=tamper(links[2].jws, exp=NOW + 365 * DAY))
    assert_refused(check(world, links), 2, "link_bad_signature")


def test_a_link_retargeted_after_signing_is_refused(world: World) -> None:
    links = build(world)
    links = swap(links, 3, jws=tamper(links[3].jws, to=OTHER_CARRIER))
    assert_refused(check(world, links), 3, "link_bad_signature")


@pytest.mark.parametrize("warm", [False, True])
def test_a_damaged_signature_is_refused(world: World, warm: bool) -> None:
    links = build(world)
    if warm:
        assert check(world, links).ok  # the headers are remembered now
    header, payload, signature = links[1].jws.split(".")
    damaged = bytearray(base64.urlsafe_b64decode(signature + "=="))
    damaged[10] ^= 1
    links = swap(links, 1, jws=f"{header}.{payload}.{b64url(bytes(damaged))}")
    assert_refused(check(world, links), 1, "link_bad_signature")


@pytest.mark.parametrize("warm", [False, True])
def test_a_truncated_signature_is_refused(world: World, warm: bool) -> None:
    links = build(world)
    if warm:
        assert check(world, links).ok
    header, payload, signature = links[1].jws.split(".")
    shorter = b64url(base64.urlsafe_b64decode(signature + "==")[:-3])
    links = swap(links, 1, jws=f"{header}.{payload}.{shorter}")
    assert_refused(check(world, links), 1, "link_bad_signature")


def test_a_stored_receiver_that_is_not_the_links_to_is_refused(world: World) -> None:
    # The row says the subcontractor received link 3 (and accepted it), the link says the
    # other carrier: the acceptance must come from whom the signer named.
    links = build(world, steps=STEPS[:4])
    links = swap(links, 2, receiver_party=OTHER_CARRIER)
    assert_refused(check(world, links, complete=False), 2, "link_receiver_mismatch")


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"jti": DROP}, "link_claims_invalid"),
        ({"jti": ""}, "link_claims_invalid"),
        ({"seq": "1"}, "link_claims_invalid"),
        ({"seq": True}, "link_claims_invalid"),
        ({"to": 42}, "link_claims_invalid"),
        ({"iat": "yesterday"}, "link_claims_invalid"),
        ({"exp": 10**400}, "link_claims_invalid"),
        ({"exp": NOW - DAY}, "link_claims_invalid"),  # exp before iat
        ({"prev": None}, "link_claims_invalid"),
        ({"kind": None}, "link_claims_invalid"),
    ],
)
def test_malformed_claims_are_refused(world: World, changes: dict[str, object], code: str) -> None:
    assert_refused(check(world, build(world, edits={1: changes})), 1, code)


@pytest.mark.parametrize(
    "changes",
    [{"terminal": DROP}, {"valid_until": "soon"}, {"reference": None}, {"reference": 7}],
)
def test_a_release_link_without_its_terms_is_malformed(
    world: World, changes: dict[str, object]
) -> None:
    assert_refused(check(world, build(world, edits={0: changes})), 0, "link_claims_invalid")


def test_a_link_without_from_is_malformed(world: World) -> None:
    assert_refused(check(world, build(world, edits={1: {"from": DROP}})), 1, "link_claims_invalid")


# --- replayed, reordered and misplaced links --------------------------------------------------


def test_a_link_replayed_from_another_release_is_refused(world: World) -> None:
    other = release_facts(release_id=str(uuid.uuid4()))
    stolen = build(world, other)[1]  # the forwarder's handover of another release
    links = swap(build(world), 1, jws=stolen.jws, ack=stolen.ack)
    assert_refused(check(world, links), 1, "link_wrong_release")


def test_a_link_for_another_container_is_refused(world: World) -> None:
    links = build(world, edits={2: {"container": "MAEU7654320"}})
    assert_refused(check(world, links), 2, "link_wrong_container")


def test_reordered_links_are_refused(world: World) -> None:
    links = build(world)
    reordered = [links[0], links[2], links[1], links[3], links[4]]
    reordered = [replace(link, seq=seq) for seq, link in enumerate(reordered)]
    assert_refused(check(world, reordered), 1, "link_wrong_seq")


def test_links_passed_out_of_their_stored_order_are_refused(world: World) -> None:
    links = build(world)
    assert_refused(check(world, [links[0], links[2], links[1]]), 1, "link_wrong_seq")


def test_a_link_stored_under_another_seq_is_refused(world: World) -> None:
    # The row and the signed claim disagree: the caller's order cannot be trusted.
    links = swap(build(world), 1, seq=2)
    report = check(world, links)
    assert_refused(report, 1, "link_wrong_seq")
    assert report.links[1].kid is None  # refused before the token was read


def test_a_first_link_that_is_not_a_release_is_refused(world: World) -> None:
    links = build(world, edits={0: {"kind": "handover"}})
    assert_refused(check(world, links), 0, "link_wrong_kind")


@pytest.mark.parametrize("kind", ["release", "gift"])
def test_a_later_link_of_another_kind_is_refused(world: World, kind: str) -> None:
    links = build(world, edits={1: {"kind": kind}})
    assert_refused(check(world, links), 1, "link_wrong_kind")


def test_nothing_may_follow_an_assignment(world: World) -> None:
    steps = (*STEPS, Step("handover", SUBCONTRACTOR, OTHER_CARRIER, OTHER_CARRIER))
    assert_refused(check(world, build(world, steps=steps)), 5, "link_after_assignment")


def test_a_party_that_does_not_hold_the_right_cannot_hand_it_over(world: World) -> None:
    # The second forwarder, with its own valid key, hands over what the first one holds.
    steps = (STEPS[0], Step("handover", FORWARDER_2, CARRIER, CARRIER))
    assert_refused(
        check(world, build(world, steps=steps), complete=False), 1, "link_not_from_holder"
    )


def test_a_release_by_another_shipping_line_is_refused(world: World) -> None:
    world.enrol("EU.EORI.NL300000001", "shipping_line")
    steps = (Step("release", "EU.EORI.NL300000001", FORWARDER, FORWARDER),)
    assert_refused(
        check(world, build(world, steps=steps), complete=False), 0, "link_not_from_holder"
    )


def test_a_double_handover_spliced_into_the_chain_is_refused(world: World) -> None:
    # The first forwarder also handed the container to another carrier; that link is put
    # in place of the real one, but the second forwarder signed what followed.
    links = build(world)
    rival = resign(world, links, 1, to=OTHER_CARRIER, jti=str(uuid.uuid4()))
    links = swap(links, 1, jws=rival, receiver_party=OTHER_CARRIER)
    assert_refused(check(world, links), 2, "link_not_from_holder")


@pytest.mark.parametrize(
    "changes",
    [
        {"to": FORWARDER_2},
        {"terminal": "EU.EORI.NL200000002"},
        {"valid_until": NOW + 90 * DAY},
        {"reference": "BL-OTHER"},
        {"reference": DROP},
    ],
)
def test_a_release_link_with_other_terms_is_refused(
    world: World, changes: dict[str, object]
) -> None:
    links = build(world, steps=STEPS[:1], edits={0: changes})
    assert_refused(check(world, links, complete=False), 0, "link_terms_mismatch")


def test_a_release_without_reference_matches_facts_without_one(world: World) -> None:
    facts = release_facts(reference=None)
    links = build(world, facts, steps=STEPS[:1])
    assert check(world, links, facts=facts, complete=False).ok
    links = build(world, facts, steps=STEPS[:1], edits={0: {"reference": "BL-X"}})
    assert_refused(check(world, links, facts=facts, complete=False), 0, "link_terms_mismatch")


def test_a_link_pointing_at_another_predecessor_is_refused(world: World) -> None:
    links = build(world)
    links = swap(links, 2, jws=resign(world, links, 2, prev=link_hash(links[0].jws)))
    assert_refused(check(world, links), 2, "link_prev_mismatch")


def test_a_link_after_a_withdrawn_one_that_still_points_at_it_is_refused(world: World) -> None:
    first = build(world)
    # Link 1 was withdrawn and made again; link 2 still names the old one.
    links = build(world)
    links = swap(links, 2, jws=resign(world, links, 2, prev=link_hash(first[1].jws)))
    assert_refused(check(world, links), 2, "link_prev_mismatch")


def test_a_release_link_with_a_prev_is_refused(world: World) -> None:
    links = build(world, edits={0: {"prev": b64url(hashlib.sha256(b"x").digest())}})
    assert_refused(check(world, links), 0, "link_prev_mismatch")


def test_a_link_issued_in_the_future_is_refused(world: World) -> None:
    # Later than its receipt (here: now) by more than the leeway.
    links = build(world, edits={3: {"iat": NOW + 31}}, received={3: NOW})
    assert_refused(check(world, links), 3, "link_not_yet_valid")


def test_an_expired_link_is_refused(world: World) -> None:
    links = build(world, edits={1: {"exp": NOW - 31}})
    assert_refused(check(world, links), 1, "link_expired")


def test_a_reused_jti_is_refused(world: World) -> None:
    links = build(world)
    jti = jose.peek(links[1].jws)[1]["jti"]
    links = build(world, edits={1: {"jti": jti}, 3: {"jti": jti}})
    assert_refused(check(world, links), 3, "link_jti_reused")


# --- credentials and roles ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "state"),
    [
        (StatusValue.INVALID, "credential_revoked", "revoked"),
        (StatusValue.SUSPENDED, "credential_suspended", "suspended"),
        (3, "credential_status_unknown", "unknown"),
    ],
)
def test_a_signer_whose_credential_is_withdrawn_now_is_refused(
    world: World, status: int, code: str, state: str
) -> None:
    # The shipping line, judged only as a signer, loses its credential after the release.
    links = build(world)
    world.statuses[world.credentials[SHIPPING_LINE][0].status_idx] = status
    report = check(world, links)
    assert_refused(report, 0, code)
    assert report.links[0].credential_status == state
    assert report.links[0].credential_id == world.credentials[SHIPPING_LINE][0].credential_id


def test_a_revoked_party_no_longer_holds_what_it_received(world: World) -> None:
    links = build(world, steps=STEPS[:2], pending=(1,))
    world.set_status(world.credentials[FORWARDER][0], StatusValue.INVALID)
    report = check(world, links, complete=False)
    # Judged as receiver of link 0 first: a revoked party holds nothing, and says why.
    assert_refused(report, 0, "credential_revoked")
    assert report.failure is not None and report.failure.detail.startswith("receiver:")


def test_a_receiver_judged_at_the_links_iat_and_now(world: World) -> None:
    # A receiver whose only credential expired after it received the release still holds it.
    world.credentials[FORWARDER].clear()
    world.enrol(FORWARDER, "forwarder", key=world.keys[FORWARDER], expires=NOW + 60)
    links = build(world, steps=STEPS[:1], pending=(0,))
    assert check(world, links, complete=False, now=NOW + 120).ok


def test_a_link_signed_when_the_credential_had_expired_is_refused(world: World) -> None:
    # The credential ended at NOW - 3 h; the link claims to be signed at NOW - 1 h.
    old_key = world.keys[FORWARDER_2]
    world.credentials[FORWARDER_2].clear()
    world.enrol(FORWARDER_2, "forwarder", key=old_key, expires=NOW - 3 * HOUR)
    world.enrol(FORWARDER_2, "forwarder", key=jose.generate_key())
    links = build(world, edits={2: {"iat": NOW - HOUR}})
    report = check(world, links)
    assert_refused(report, 2, "credential_expired")
    assert report.links[2].credential_status == "expired"


def test_a_link_signed_before_the_credential_existed_is_refused(world: World) -> None:
    # The shipping line's credential was issued an hour ago; its link was received a day ago.
    world.credentials[SHIPPING_LINE].clear()
    world.enrol(SHIPPING_LINE, "shipping_line", key=world.keys[SHIPPING_LINE], issued=NOW - HOUR)
    report = check(world, build(world))
    assert_refused(report, 0, "credential_not_yet_valid")
    assert report.links[0].credential_status == "not_yet_valid"


def test_without_the_status_list_no_signer_is_trusted(world: World) -> None:
    links = build(world)
    evidence = replace(evidence_for(world, FACTS, links), status_lists={})
    report = verify_chain(
        FACTS, links, evidence=evidence, now=NOW, max_links=8, complete=True, cache=world.cache
    )
    assert_refused(report, 0, "status_list_unknown")


def test_an_outdated_status_list_is_refused(world: World) -> None:
    world.list_expires_at = NOW - 31
    assert_refused(check(world, build(world)), 0, "status_list_expired")


def test_a_release_signed_without_the_shipping_line_role_is_refused(world: World) -> None:
    world.credentials[SHIPPING_LINE].clear()
    world.enrol(SHIPPING_LINE, "forwarder")
    assert_refused(check(world, build(world)), 0, "signer_wrong_role")


def test_an_assignment_by_a_forwarder_is_refused(world: World) -> None:
    steps = (*STEPS[:2], Step("assignment", FORWARDER_2, DRIVER, FORWARDER_2))
    assert_refused(check(world, build(world, steps=steps)), 2, "signer_wrong_role")


def test_the_best_credential_is_reported(world: World) -> None:
    # A valid terminal credential and a revoked shipping-line one for the same key: the
    # shipping line hears that its credential was revoked, not that it lacks the role.
    key = world.keys[SHIPPING_LINE]
    world.credentials[SHIPPING_LINE].clear()
    world.enrol(SHIPPING_LINE, "terminal", key=key)
    world.enrol(SHIPPING_LINE, "shipping_line", key=key, status=StatusValue.INVALID)
    assert_refused(check(world, build(world)), 0, "credential_revoked")


def test_a_handover_to_a_terminal_is_refused(world: World) -> None:
    steps = (*STEPS[:2], Step("handover", FORWARDER_2, TERMINAL, TERMINAL))
    assert_refused(
        check(world, build(world, steps=steps), complete=False), 2, "receiver_wrong_role"
    )


def test_a_handover_to_a_party_without_credentials_is_refused(world: World) -> None:
    steps = (
        *STEPS[:2],
        Step("handover", FORWARDER_2, "EU.EORI.NL999999999", "EU.EORI.NL999999999"),
    )
    report = check(world, build(world, steps=steps, pending=(2,)), complete=False)
    assert_refused(report, 2, "receiver_wrong_role")


def test_an_assignment_to_another_carriers_driver_is_refused(world: World) -> None:
    steps = (*STEPS[:4], Step("assignment", SUBCONTRACTOR, OTHER_DRIVER, OTHER_CARRIER))
    assert_refused(check(world, build(world, steps=steps)), 4, "assignment_not_own_driver")


# --- acceptance ---------------------------------------------------------------------------------


def test_a_pending_link_in_the_middle_is_refused(world: World) -> None:
    links = build(world, pending=(2,))
    assert_refused(check(world, links, complete=False), 2, "link_not_accepted")


def test_a_declined_link_is_not_accepted(world: World) -> None:
    links = swap(build(world, steps=STEPS[:3]), 2, status="declined")
    assert_refused(check(world, links, complete=False), 2, "link_not_accepted")


def test_an_accepted_link_without_its_ack_is_refused(world: World) -> None:
    links = swap(build(world), 4, ack=None)
    assert_refused(check(world, links), 4, "ack_missing")


def test_the_ack_before_a_pending_last_link_is_judged(world: World) -> None:
    links = swap(build(world, pending=(4,)), 3, ack=None)
    assert_refused(check(world, links, complete=False), 3, "ack_missing")


def test_an_ack_of_another_link_is_refused(world: World) -> None:
    # The driver's acceptance of the carrier's handover, offered for the assignment.
    links = build(world)
    other = sign_ack(world, links[3].jws, SUBCONTRACTOR, key=world.keys[DRIVER])
    links = swap(links, 4, ack=other, ack_received_at=ack_receipt(other))
    assert_refused(check(world, links), 4, "ack_wrong_link")


def test_an_ack_forged_by_the_sender_is_refused(world: World) -> None:
    links = build(world, steps=STEPS[:3])
    forged = sign_ack(world, links[2].jws, FORWARDER_2)  # the forwarder "accepts" for the carrier
    links = swap(links, 2, ack=forged)
    assert_refused(check(world, links, complete=False), 2, "ack_key_unknown")


def test_an_ack_signed_by_an_unknown_key_is_refused(world: World) -> None:
    links = build(world)
    links = swap(
        links, 4, ack=sign_ack(world, links[4].jws, SUBCONTRACTOR, key=jose.generate_key())
    )
    assert_refused(check(world, links), 4, "ack_key_unknown")


def test_a_tampered_ack_is_refused(world: World) -> None:
    links = build(world)
    links = swap(links, 4, ack=tamper(links[4].ack or "", sub=OTHER_DRIVER))
    assert_refused(check(world, links), 4, "ack_bad_signature")


def test_an_ack_naming_another_driver_is_refused(world: World) -> None:
    links = build(world)
    links = swap(links, 4, ack=sign_ack(world, links[4].jws, SUBCONTRACTOR, sub=OTHER_DRIVER))
    assert_refused(check(world, links), 4, "ack_wrong_subject")


@pytest.mark.parametrize("changes", [{"link": DROP}, {"iat": DROP}, {"jti": ""}, {"sub": 5}])
def test_a_malformed_ack_is_refused(world: World, changes: dict[str, Any]) -> None:
    links = build(world)
    links = swap(links, 4, ack=sign_ack(world, links[4].jws, SUBCONTRACTOR, **changes))
    assert_refused(check(world, links), 4, "ack_claims_invalid")


def test_an_assignment_accepted_with_a_key_of_the_carrier_is_refused(world: World) -> None:
    links = build(world)
    carriers = sign_ack(world, links[4].jws, SUBCONTRACTOR, key=world.keys[SUBCONTRACTOR])
    assert_refused(check(world, swap(links, 4, ack=carriers)), 4, "ack_not_by_driver")


def test_an_assignment_accepted_with_another_drivers_device_key_is_refused(world: World) -> None:
    links = build(world)
    colleagues = sign_ack(world, links[4].jws, SUBCONTRACTOR, key=world.keys[OTHER_DRIVER])
    assert_refused(check(world, swap(links, 4, ack=colleagues)), 4, "ack_key_unknown")


def test_an_assignment_accepted_by_a_suspended_device_credential_is_refused(
    world: World,
) -> None:
    links = build(world)
    world.set_status(world.credentials[DRIVER][0], StatusValue.SUSPENDED)
    assert_refused(check(world, links), 4, "credential_suspended")


def test_an_ack_from_the_future_is_refused(world: World) -> None:
    links = build(world)
    links = swap(links, 4, ack=sign_ack(world, links[4].jws, SUBCONTRACTOR, iat=NOW + 31))
    assert_refused(check(world, links), 4, "ack_not_yet_valid")


def test_an_ack_by_a_revoked_receiver_is_refused(world: World) -> None:
    # The carrier accepted the second forwarder's handover with a key whose credential
    # (its second, not the one that makes it a carrier) has since been revoked.
    ack_key = jose.generate_key()
    world.set_status(world.enrol(CARRIER, "carrier", key=ack_key), StatusValue.INVALID)
    links = build(world, steps=STEPS[:3])
    links = swap(links, 2, ack=sign_ack(world, links[2].jws, CARRIER, key=ack_key))
    assert_refused(check(world, links, complete=False), 2, "credential_revoked")


def test_an_ack_signed_when_the_receivers_credential_had_expired_is_refused(
    world: World,
) -> None:
    key = world.keys[FORWARDER_2]
    world.credentials[FORWARDER_2].clear()
    world.enrol(FORWARDER_2, "forwarder", key=key, expires=NOW - 2 * HOUR)
    world.enrol(FORWARDER_2, "forwarder", key=jose.generate_key())
    links = build(world, steps=STEPS[:2])
    late = sign_ack(world, links[1].jws, FORWARDER_2, iat=NOW - HOUR)
    links = swap(links, 1, ack=late, ack_received_at=ack_receipt(late))
    assert_refused(check(world, links, complete=False), 1, "credential_expired")


def test_an_ack_dated_back_before_its_receipt_is_refused(world: World) -> None:
    # A receiver whose key expired an hour ago dates his acceptance back into its validity.
    key = world.keys[FORWARDER_2]
    world.credentials[FORWARDER_2].clear()
    world.enrol(FORWARDER_2, "forwarder", key=key, expires=NOW - HOUR)
    links = build(world, steps=STEPS[:2])
    backdated = sign_ack(world, links[1].jws, FORWARDER_2, iat=NOW - 2 * HOUR)
    links = swap(links, 1, ack=backdated, ack_received_at=NOW)
    assert_refused(check(world, links, complete=False), 1, "ack_backdated")


# --- refused headers and garbage ---------------------------------------------------------------


def _header_attack(world: World, header: dict[str, Any], *, sign: str = "ed25519") -> str:
    links = build(world, steps=STEPS[:2])
    _, claims = jose.peek(links[1].jws)
    key = world.keys[FORWARDER]
    if sign == "hmac":
        signing_input = (
            f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
        )
        mac = hmac.new(b"public-x-as-secret", signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{b64url(mac)}"
    return handmade(header, claims, None if sign == "none" else key)


@pytest.mark.parametrize(
    ("header_of", "sign", "code"),
    [
        (lambda kid: {"alg": "none", "typ": LINK_TYP, "kid": kid}, "none", "token_alg_refused"),
        (lambda kid: {"alg": "HS256", "typ": LINK_TYP, "kid": kid}, "hmac", "token_alg_refused"),
        (lambda kid: {"alg": "ES256", "typ": LINK_TYP, "kid": kid}, "ed25519", "token_alg_refused"),
        (lambda kid: {"alg": "Ed25519", "typ": ACK_TYP, "kid": kid}, "ed25519", "token_bad_type"),
        (lambda kid: {"alg": "Ed25519", "kid": kid}, "ed25519", "token_bad_type"),
        (lambda kid: {"alg": "Ed25519", "typ": LINK_TYP}, "ed25519", "token_kid_missing"),
        (
            lambda kid: {"alg": "Ed25519", "typ": LINK_TYP, "kid": kid, "jwk": {"kty": "OKP"}},
            "ed25519",
            "token_header_refused",
        ),
        (
            lambda kid: {"alg": "Ed25519", "typ": LINK_TYP, "kid": kid, "crit": ["exp"]},
            "ed25519",
            "token_crit_unsupported",
        ),
    ],
)
def test_refused_headers_are_reported_with_the_jose_code(
    world: World, header_of: Any, sign: str, code: str
) -> None:
    links = build(world, steps=STEPS[:2])
    assert check(world, links, complete=False).ok  # the real header is remembered
    header = header_of(jose.thumbprint(world.keys[FORWARDER]))
    links = swap(links, 1, jws=_header_attack(world, header, sign=sign))
    assert_refused(check(world, links, complete=False), 1, code)


def test_an_ack_offered_as_a_link_is_refused(world: World) -> None:
    links = build(world)
    links = swap(links, 1, jws=links[0].ack or "")
    assert_refused(check(world, links), 1, "token_bad_type")


def test_an_alg_none_ack_is_refused(world: World) -> None:
    links = build(world)
    kid = jose.thumbprint(world.keys[SUBCONTRACTOR])
    ack = handmade(
        {"alg": "none", "typ": ACK_TYP, "kid": kid},
        {"link": link_hash(links[4].jws), "iat": NOW - HOUR, "jti": "x"},
        None,
    )
    assert_refused(check(world, swap(links, 4, ack=ack)), 4, "token_alg_refused")


@pytest.mark.parametrize(
    "garbage",
    ["", "garbage", "a.b.c", "..", "e30..", "ünïcödé.x.y", "a" * 20_000, "e30.e30.e30.e30"],
)
def test_garbage_links_and_acks_are_malformed(world: World, garbage: str) -> None:
    links = build(world)
    assert_refused(check(world, swap(links, 2, jws=garbage)), 2, "token_malformed")
    assert_refused(check(world, swap(links, 4, ack=garbage)), 4, "token_malformed")


def test_duplicate_claims_are_refused(world: World) -> None:
    links = build(world, steps=STEPS[:2])
    assert check(world, links, complete=False).ok
    key = world.keys[FORWARDER]
    header = b64url(
        json.dumps({"alg": "Ed25519", "typ": LINK_TYP, "kid": jose.thumbprint(key)}).encode()
    )
    body = jose.peek(links[1].jws)[1]
    text = json.dumps(body)[:-1] + f', "to": "{OTHER_CARRIER}"' + "}"
    signing_input = f"{header}.{b64url(text.encode())}"
    private = key.private_key
    assert isinstance(private, Ed25519PrivateKey)
    jws = f"{signing_input}.{b64url(private.sign(signing_input.encode()))}"
    assert_refused(check(world, swap(links, 1, jws=jws), complete=False), 1, "token_malformed")


# --- parties_needed ---------------------------------------------------------------------------


def test_parties_needed_names_the_shipping_line_signers_and_receivers(world: World) -> None:
    steps = (*STEPS[:4], Step("assignment", SUBCONTRACTOR, OTHER_DRIVER, OTHER_CARRIER))
    links = build(world, steps=steps)
    # ... and the driver of the accepted assignment, whose device key accepted it.
    assert parties_needed(FACTS, links) == {
        SHIPPING_LINE,
        FORWARDER,
        FORWARDER_2,
        CARRIER,
        SUBCONTRACTOR,
        OTHER_CARRIER,
        OTHER_DRIVER,
    }
    assert OTHER_DRIVER not in parties_needed(FACTS, swap(links, 4, status="pending", ack=None))


def test_parties_needed_skips_what_cannot_be_read(world: World) -> None:
    links = build(world, steps=STEPS[:2])
    links = swap(links, 1, jws="not.a.token")
    assert parties_needed(FACTS, links) == {SHIPPING_LINE, FORWARDER, FORWARDER_2}
    evil = handmade({"alg": "none"}, {"from": ["x"]}, None)
    assert parties_needed(FACTS, swap(links, 1, jws=evil)) == {
        SHIPPING_LINE,
        FORWARDER,
        FORWARDER_2,
    }


# --- properties --------------------------------------------------------------------------------


@functools.cache
def sample() -> tuple[World, tuple[StoredLink, ...]]:
    """One valid chain, built once for the property tests."""
    world = make_world()
    return world, tuple(build(world))


def _report(links: Sequence[StoredLink]) -> ChainReport:
    world, _ = sample()
    return check(world, links)


def _refused_alike(links: Sequence[StoredLink]) -> None:
    """Refused with a known code, and the same with or without remembered headers."""
    assert _report(sample()[1]).ok  # every header of the valid chain is remembered now
    warm = _report(links)
    cold = check(sample()[0], links, cache=VerifierCache())
    assert warm == cold
    assert cold.failure is not None
    assert cold.failure.code in KNOWN_CODES


def test_the_sample_chain_verifies() -> None:
    _, links = sample()
    assert _report(links).ok


@settings(max_examples=150, deadline=None)
@given(seq=st.integers(0, 4), text=st.text(max_size=300))
def test_random_text_as_a_link_is_refused(seq: int, text: str) -> None:
    _, links = sample()
    _refused_alike(swap(links, seq, jws=text))


@settings(max_examples=150, deadline=None)
@given(seq=st.integers(0, 4), data=st.binary(max_size=300))
def test_random_bytes_as_a_link_or_an_ack_are_refused(seq: int, data: bytes) -> None:
    _, links = sample()
    text = data.decode("latin-1")
    _refused_alike(swap(links, seq, jws=text))
    _refused_alike(swap(links, 4, ack=text))


@settings(max_examples=300, deadline=None)
@given(
    seq=st.integers(0, 4),
    which=st.sampled_from(["jws", "ack"]),
    data=st.data(),
)
def test_a_mutated_token_is_refused(seq: int, which: str, data: st.DataObject) -> None:
    _, links = sample()
    if which == "ack":
        seq = 4  # earlier acks are not judged, by design
    token = getattr(links[seq], which)
    assert isinstance(token, str)
    position = data.draw(st.integers(0, len(token) - 1))
    operation = data.draw(st.sampled_from(["replace", "delete", "insert"]))
    char = data.draw(st.characters(codec="utf-8"))
    if operation == "replace":
        mutated = token[:position] + char + token[position + 1 :]
    elif operation == "delete":
        mutated = token[:position] + token[position + 1 :]
    else:
        mutated = token[:position] + char + token[position:]
    if mutated == token:
        return
    _refused_alike(swap(links, seq, **{which: mutated}))


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(
    seq=st.integers(0, 4),
    header=st.none()
    | st.dictionaries(st.sampled_from(["alg", "typ", "kid", "crit", "b64", "x"]), json_values),
    claims=st.dictionaries(
        st.sampled_from(["from", "to", "seq", "kind", "jti", "iat", "exp"]) | st.text(max_size=8),
        json_values,
        max_size=12,
    ),
)
def test_signed_random_headers_and_claims_are_refused(
    seq: int, header: dict[str, Any] | None, claims: dict[str, Any]
) -> None:
    world, links = sample()
    key = world.keys[STEPS[seq].sender]
    if header is None:  # the signer's own header, over any claims
        header = {"alg": "Ed25519", "typ": LINK_TYP, "kid": jose.thumbprint(key)}
    _refused_alike(swap(links, seq, jws=handmade(header, claims, key)))


@settings(max_examples=150, deadline=None)
@given(
    seq=st.integers(0, 4),
    changes=st.dictionaries(
        st.sampled_from(
            [
                "release_id",
                "container",
                "seq",
                "kind",
                "from",
                "to",
                "prev",
                "iat",
                "exp",
                "jti",
                "terminal",
                "valid_until",
                "reference",
            ]
        ),
        json_values,
        min_size=1,
    ),
)
def test_links_signed_by_the_holder_with_other_claims_are_refused(
    seq: int, changes: dict[str, Any]
) -> None:
    world, links = sample()
    _, claims = jose.peek(links[seq].jws)
    resigned = jose.sign({**claims, **changes}, world.keys[STEPS[seq].sender], typ=LINK_TYP)
    if resigned == links[seq].jws:
        return  # the same claims: the same (deterministic) signature
    # Whatever it says, the next link names the original by prev, or the ack does.
    _refused_alike(swap(links, seq, jws=resigned))
