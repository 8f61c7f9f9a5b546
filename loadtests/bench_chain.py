"""Whole-chain verification against raw Ed25519 verification, in one run (issue 4).

Run: `.venv/bin/python -m loadtests.bench_chain [--seconds S] [--rounds N]`

- raw: `cryptography`'s Ed25519PublicKey.verify over the very signing inputs and
  signatures of the chain below, six per call: the crypto limit for a six-link chain;
- ours: `services.release.chain.verify.verify_chain` on a realistic six-link chain
  (release, four handovers, an assignment, all accepted) of parties with freshly
  generated keys, whose credentials (signed by a throwaway issuer key and read once, as
  the release service reads them at fetch time) point into a Status List of 32,768
  two-bit entries. Each call checks seven signatures (six links and the last
  acceptance), every claim, every signer's credential and role at its link's `iat` and
  its status now, and the receivers' roles;
- cold: the same chain with the header memo emptied before every call, as on the first
  sight of each party's key (one round, also paired with raw).

The raw and ours loops alternate in batches, so that a busy machine slows both alike;
the round with the median ratio is reported. Target: chains/s at least 50% of the
crypto limit (raw verifications/s divided by six).
"""

import argparse
import statistics
import sys
import time
import uuid

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from joserfc.jwk import Key, OKPKey
from joserfc.util import urlsafe_b64decode

from loadtests.harness import paired_rates
from services.identity.credentials.service import credential_claims
from services.identity.credentials.statuslist import LIST_SIZE, sign_status_list, status_list_uri
from services.release.chain.verify import (
    ACK_TYP,
    LINK_TYP,
    Evidence,
    ReleaseFacts,
    StoredLink,
    link_hash,
    parties_needed,
    verify_chain,
)
from shared import jose
from shared.credentials import CREDENTIAL_TYP, decode_status_list_token, read_credential
from shared.verifier_cache import VerifierCache

ISSUER = "https://identity.ketenpas.example"
TARGET = 0.50
LINKS = 6  # release, four handovers, assignment
BATCH = 16


def build_chain(now: int, cache: VerifierCache) -> tuple[ReleaseFacts, list[StoredLink], Evidence]:
    """A six-link chain of six parties with fresh keys, and the evidence to verify it."""
    issuer_key = jose.generate_key()
    issuer_public = jose.import_key(jose.public_jwk(issuer_key))
    issuer_kid = jose.thumbprint(issuer_key)

    def resolve(kid: str) -> Key | None:
        return issuer_public if kid == issuer_kid else None

    uri = status_list_uri(ISSUER, 1)
    statuses = bytearray(LIST_SIZE)
    statuses[1::17] = bytes([1]) * len(statuses[1::17])  # some revoked neighbours
    view = decode_status_list_token(
        sign_status_list(bytes(statuses), issuer=ISSUER, uri=uri, now=now, ttl=300, key=issuer_key),
        resolve_key=resolve,
        issuer=ISSUER,
        now=now,
    )

    parties = [
        ("EU.EORI.NL100000001", ["shipping_line"]),
        ("EU.EORI.NL100000002", ["forwarder"]),
        ("EU.EORI.NL100000003", ["forwarder"]),
        ("EU.EORI.NL100000004", ["carrier", "forwarder"]),
        ("EU.EORI.NL100000005", ["carrier"]),
        ("EU.EORI.NL100000006", ["carrier"]),
    ]
    # The driver's own device key: a credential whose subject is the person
    # (docs/design.md, Domain).
    driver = str(uuid.uuid4())
    keys: dict[str, OKPKey] = {}
    credentials = {}
    for n, (party, roles) in enumerate([*parties, (driver, ["driver"])]):
        keys[party] = jose.generate_key()
        token = jose.sign(
            credential_claims(
                issuer=ISSUER,
                party_id=party,
                roles=roles,
                holder_key=keys[party],
                issued=now - 86400,
                expires=now + 365 * 86400,
                credential_id=uuid.uuid4(),
                idx=2 + 17 * n,
                uri=uri,
            ),
            issuer_key,
            typ=CREDENTIAL_TYP,
        )
        credentials[party] = [
            read_credential(token, cache=cache, resolve_key=resolve, issuer=ISSUER)
        ]

    names = [party for party, _ in parties]
    facts = ReleaseFacts(
        release_id=str(uuid.uuid4()),
        container="MSCU1234566",
        terminal="EU.EORI.NL200000001",
        shipping_line=names[0],
        first_party=names[1],
        valid_until=now + 7 * 86400,
        reference="BL-2024-000123",
    )
    links: list[StoredLink] = []
    prev: str | None = None
    for seq in range(LINKS):
        kind = "release" if seq == 0 else "assignment" if seq == LINKS - 1 else "handover"
        sender = names[seq]
        receiver = driver if kind == "assignment" else names[seq + 1]
        claims: dict[str, object] = {
            "release_id": facts.release_id,
            "container": facts.container,
            "seq": seq,
            "kind": kind,
            "from": sender,
            "to": receiver,
            "iat": now - 3600 + seq * 60,
            "exp": now + 86400,
            "jti": str(uuid.uuid4()),
        }
        if prev is not None:
            claims["prev"] = prev
        if kind == "release":
            claims |= {
                "terminal": facts.terminal,
                "valid_until": facts.valid_until,
                "reference": facts.reference,
            }
        jws = jose.sign(claims, keys[sender], typ=LINK_TYP)
        receiver_party = sender if kind == "assignment" else receiver
        ack_claims = {
            "link": link_hash(jws),
            "iat": now - 3000 + seq * 60,
            "jti": str(uuid.uuid4()),
        }
        if kind == "assignment":
            ack_claims["sub"] = driver
        acceptor = driver if kind == "assignment" else receiver_party
        ack = jose.sign(ack_claims, keys[acceptor], typ=ACK_TYP)
        # Each received half a minute after it was signed: a stored link and its acceptance
        # are judged at their receipt.
        received_at = now - 3600 + seq * 60 + 30
        ack_received_at = now - 3000 + seq * 60 + 30
        links.append(
            StoredLink(seq, jws, "accepted", ack, receiver_party, received_at, ack_received_at)
        )
        prev = link_hash(jws)

    needed = parties_needed(facts, links)
    evidence = Evidence(
        credentials={party: credentials[party] for party in needed},
        status_lists={uri: view},
    )
    return facts, links, evidence


def main() -> int:
    """Print raw Ed25519 verifications/s, the crypto limit, chains/s and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    now = int(time.time())
    cache = VerifierCache()  # the release app's
    facts, links, evidence = build_chain(now, cache)

    def ours() -> None:
        verify_chain(
            facts, links, evidence=evidence, now=now, max_links=8, complete=True, cache=cache
        )

    def cold() -> None:
        # The first sight of every header, as after a restart: a cache with nothing in it.
        verify_chain(
            facts,
            links,
            evidence=evidence,
            now=now,
            max_links=8,
            complete=True,
            cache=VerifierCache(),
        )

    report = verify_chain(
        facts, links, evidence=evidence, now=now, max_links=8, complete=True, cache=cache
    )
    assert report.ok and report.driver is not None, report.failure

    raw_inputs: list[tuple[Ed25519PublicKey, bytes, bytes]] = []
    for stored in links:
        # The key each link is signed with: the signer's credential, as the verifier finds it.
        _, claims = jose.peek(stored.jws)
        public = evidence.credentials[claims["from"]][0].key.public_key
        assert isinstance(public, Ed25519PublicKey)
        signing_input, _, signature = stored.jws.rpartition(".")
        raw_inputs.append(
            (public, urlsafe_b64decode(signature.encode("ascii")), signing_input.encode("ascii"))
        )

    def raw() -> None:
        for public, signature, message in raw_inputs:  # six verifications
            public.verify(signature, message)

    print(
        f"{LINKS}-link chain, links {min(len(s.jws) for s in links)}-"
        f"{max(len(s.jws) for s in links)} chars; {args.rounds} rounds of {args.seconds:g} s",
        file=sys.stderr,
    )
    results = []
    for round_number in range(1, args.rounds + 1):
        raw_calls, chains = paired_rates(lambda _: raw(), lambda _: ours(), args.seconds, BATCH)
        raw_rate = raw_calls * LINKS
        ratio = chains / (raw_rate / LINKS)
        results.append((ratio, raw_rate, chains))
        print(
            f"round {round_number}: raw {raw_rate:,.0f} verifications/s,"
            f" chains {chains:,.0f}/s ({ratio:.1%} of the crypto limit)",
            file=sys.stderr,
        )
    ratio, raw_rate, chains = statistics.median_low(results)

    # Paired with raw as well, so that its share of the limit is measured under one load.
    cold_raw_calls, cold_rate = paired_rates(lambda _: raw(), lambda _: cold(), args.seconds, BATCH)
    cold_ratio = cold_rate / cold_raw_calls

    limit = raw_rate / LINKS
    print(f"raw Ed25519 verifications (cryptography)    {raw_rate:>10,.0f} /s")
    print(f"crypto limit for a {LINKS}-link chain (raw / {LINKS})  {limit:>10,.0f} /s")
    print(f"chain verifications (ours, warm)            {chains:>10,.0f} /s")
    print(
        f"ratio to the limit (median round)           {ratio:>10.1%}"
        f"  (target >= {TARGET:.0%}: {'met' if ratio >= TARGET else 'NOT met'})"
    )
    print(
        f"chain verifications (cold, first sight)     {cold_rate:>10,.0f} /s"
        f"  ({cold_ratio:.1%} of the limit in its own paired round)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
