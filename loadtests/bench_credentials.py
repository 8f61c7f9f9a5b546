"""Credential-plus-status verification against raw Ed25519 verification, in one run.

Run: `.venv/bin/python -m loadtests.bench_credentials [--seconds S] [--rounds N]`

- raw: `cryptography`'s Ed25519PublicKey.verify over the very signing inputs and
  signatures of the credentials below — the floor no verifier can beat;
- ours: `shared.credentials.verify_credential` on realistic credentials (the identity
  service's own claims, `credential_claims`, for 256 parties with their own keys,
  signed by the service key) against a Status List Token of 65,536 two-bit entries
  (about 5% revoked or suspended), decoded once with `decode_status_list_token` as the
  release service holds it. Each call checks the header, the signature, issuer, times,
  roles, the holder key and the status entry.

The two loops alternate in batches of 64 calls, so that a busy machine slows both alike;
the round with the median ratio is reported. Target: ours at least 80% of raw.
"""

import argparse
import random
import statistics
import sys
import time
import uuid

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from joserfc.jwk import Key
from joserfc.util import urlsafe_b64decode

from loadtests.harness import paired_rates
from services.identity.credentials.service import credential_claims
from services.identity.credentials.statuslist import sign_status_list, status_list_uri
from shared import jose
from shared.credentials import CREDENTIAL_TYP, decode_status_list_token, verify_credential
from shared.status_list import StatusValue
from shared.verifier_cache import VerifierCache

ISSUER = "https://identity.ketenpas.example"
ENTRIES = 65_536
PARTIES = 256
TARGET = 0.80


def main() -> int:
    """Print raw and credential-plus-status verifications per second, and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    rng = random.Random(7800)
    now = int(time.time())
    service_key = jose.generate_key()
    service_public = jose.import_key(jose.public_jwk(service_key))
    service_kid = jose.thumbprint(service_key)

    def resolve(kid: str) -> Key | None:
        return service_public if kid == service_kid else None

    uri = status_list_uri(ISSUER, 1)
    statuses = bytearray(ENTRIES)
    for idx in rng.sample(range(ENTRIES), ENTRIES // 20):
        statuses[idx] = rng.choice((StatusValue.INVALID, StatusValue.SUSPENDED))
    list_token = sign_status_list(
        bytes(statuses), issuer=ISSUER, uri=uri, now=now, ttl=300, key=service_key
    )
    view = decode_status_list_token(list_token, resolve_key=resolve, issuer=ISSUER, now=now)
    status_lists = {uri: view}

    valid_indexes = [i for i in range(ENTRIES) if statuses[i] == StatusValue.VALID]
    credentials = []
    for n in range(PARTIES):
        claims = credential_claims(
            issuer=ISSUER,
            party_id=f"EU.EORI.NL{100000000 + n}",
            roles=["carrier", "forwarder"],
            holder_key=jose.generate_key(),
            issued=now - 3600,
            expires=now + 365 * 86400,
            credential_id=uuid.uuid4(),
            idx=rng.choice(valid_indexes),
            uri=uri,
        )
        credentials.append(jose.sign(claims, service_key, typ=CREDENTIAL_TYP))

    raw_public = service_public.public_key
    assert isinstance(raw_public, Ed25519PublicKey)
    raw_inputs = []
    for token in credentials:
        signing_input, _, signature = token.rpartition(".")
        raw_inputs.append(
            (urlsafe_b64decode(signature.encode("ascii")), signing_input.encode("ascii"))
        )

    def raw(i: int) -> None:
        signature, message = raw_inputs[i % PARTIES]
        raw_public.verify(signature, message)

    cache = VerifierCache()  # an app's

    def ours(i: int) -> None:
        verify_credential(
            credentials[i % PARTIES],
            cache=cache,
            resolve_key=resolve,
            issuer=ISSUER,
            status_lists=status_lists,
            now=now,
        )

    for i in range(PARTIES):  # warm up, and prove every credential verifies
        ours(i)

    print(
        f"credential {len(credentials[0])} chars; status list token {len(list_token)} chars,"
        f" {view.size} entries; {PARTIES} parties; {args.rounds} rounds of {args.seconds:g} s",
        file=sys.stderr,
    )
    results = []
    for round_number in range(1, args.rounds + 1):
        raw_rate, ours_rate = paired_rates(raw, ours, args.seconds)
        results.append((ours_rate / raw_rate, raw_rate, ours_rate))
        print(
            f"round {round_number}: raw {raw_rate:,.0f}/s, ours {ours_rate:,.0f}/s"
            f" ({ours_rate / raw_rate:.1%})",
            file=sys.stderr,
        )

    ratio, raw_rate, ours_rate = statistics.median_low(results)
    print(f"raw Ed25519 verifications (cryptography)    {raw_rate:>10,.0f} /s")
    print(f"credential + status verifications (ours)    {ours_rate:>10,.0f} /s")
    print(
        f"ratio (median round)                        {ratio:>10.1%}"
        f"  (target >= {TARGET:.0%}: {'met' if ratio >= TARGET else 'NOT met'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
