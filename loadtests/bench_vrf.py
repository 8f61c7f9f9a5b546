"""The inspection VRF against raw Ed25519 signing and verification, in one run (issue 12).

Run: `.venv/bin/python -m loadtests.bench_vrf [--seconds S] [--rounds N]`

- prove: `shared.vrf.prove` (RFC 9381, ECVRF-EDWARDS25519-SHA512-TAI), paired with PyNaCl's
  `SigningKey.sign` (libsodium's Ed25519, the library `shared.vrf` is built on) under the
  same 32-byte seed;
- verify: `shared.vrf.verify`, paired with PyNaCl's `VerifyKey.verify` under the same
  public key (the VRF public key of a seed is its Ed25519 public key);
- draw: what a gate decision's draw spends on the VRF (`prove`, then `proof_to_hash` for
  beta, as `services.release.inspections.draws.draw` does), paired with `sign` again; for
  information, no target.

Every operation works on the same messages: 64 alphas built as `draws.draw` builds them
(RFC 8785 canonical JSON of a gate decision's subject, with the terminal's policy version
and up to two risk factors, and a checkpoint of the release log), 349 to 386 bytes,
cycled. Each pair alternates in small batches, so that a busy machine slows both alike;
each round gives both rates and their ratio, and the median over the rounds is reported,
as µs per operation too. Targets (issue 12): prove at least a
third of the sign rate, verify at least a third of the raw verification rate. The CPU the
machine spent meanwhile (anyone's) and this process's share of one core are printed beside
the figures: a run on a machine busy with other work shows as such.
"""

import argparse
import base64
import hashlib
import os
import platform
import resource
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import nacl
from nacl.signing import SigningKey

from loadtests.harness import log, machine_busy_seconds, paired_rates
from services.release.inspections.draws import ALPHA_VERSION, alpha_bytes
from services.release.inspections.models import Purpose
from services.release.inspections.risk import RiskFactor
from shared import vrf

TARGET = 1 / 3
ALPHAS = 64
BATCH = 16
ORIGIN = "ketenpas.localhost/release-log"  # the release service's default log origin


def realistic_alphas(count: int) -> list[bytes]:
    """Alphas as a gate decision's draw makes them (`select_at_gate`): one decision, release
    and container each, at one of four terminals, under the terminal's policy version with
    the risk factors present, against a checkpoint of a log that grows between draws."""
    alphas = []
    for n in range(count):
        size = 1_000_000 + 37 * n
        subject = {
            "decision": str(uuid.uuid4()),
            "release": str(uuid.uuid4()),
            "container": f"MSCU{n:06d}{n % 10}",
            "terminal": f"EU.EORI.NL{100000010 + n % 4}",
            "policy": 1 + n % 3,
            "factors": sorted(RiskFactor)[: n % 3],
        }
        checkpoint = {
            "origin": ORIGIN,
            "size": size,
            "root": base64.b64encode(hashlib.sha256(str(size).encode()).digest()).decode("ascii"),
        }
        alpha = {
            "v": ALPHA_VERSION,
            "purpose": str(Purpose.container),
            "subject": subject,
            "checkpoint": checkpoint,
        }
        alphas.append(alpha_bytes(alpha))
    return alphas


@dataclass(frozen=True)
class Pair:
    """One of ours beside one raw operation, with the issue's target for the ratio."""

    ours: str
    raw: str
    run_ours: Callable[[int], object]
    run_raw: Callable[[int], object]
    target: float | None


@dataclass(frozen=True)
class Round:
    """One paired timing: calls per second of each."""

    ours: float
    raw: float

    @property
    def ratio(self) -> float:
        """Ours as a share of raw."""
        return self.ours / self.raw


def cpu_now() -> tuple[float, float, float]:
    """Wall clock, this process's CPU time, the whole machine's busy CPU time (seconds)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return time.monotonic(), usage.ru_utime + usage.ru_stime, machine_busy_seconds()


def main() -> int:
    """Print the operations per second of each pair, their ratio, and the verdicts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="per pair and round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if not 0.1 <= args.seconds <= 30 or not 1 <= args.rounds <= 50:
        parser.error("--seconds lies in [0.1, 30] and --rounds in [1, 50]")

    seed = os.urandom(vrf.SECRET_KEY_BYTES)
    signing_key = SigningKey(seed)
    verify_key = signing_key.verify_key
    public = vrf.public_key(seed)
    assert public == bytes(verify_key), "the VRF key of a seed is its Ed25519 key"
    alphas = realistic_alphas(ALPHAS)
    proofs = [vrf.prove(seed, alpha) for alpha in alphas]
    signatures = [signing_key.sign(alpha).signature for alpha in alphas]
    for alpha, pi, signature in zip(alphas, proofs, signatures, strict=True):
        # Every input is valid, so that each side does its whole work.
        assert vrf.verify(public, pi, alpha) == vrf.proof_to_hash(pi)
        verify_key.verify(alpha, signature)

    def prove(i: int) -> bytes:
        return vrf.prove(seed, alphas[i % ALPHAS])

    def sign(i: int) -> bytes:
        return signing_key.sign(alphas[i % ALPHAS]).signature

    def verify(i: int) -> bytes:
        n = i % ALPHAS
        return vrf.verify(public, proofs[n], alphas[n])

    def raw_verify(i: int) -> bytes:
        n = i % ALPHAS
        return verify_key.verify(alphas[n], signatures[n])

    def draw(i: int) -> bytes:
        return vrf.proof_to_hash(vrf.prove(seed, alphas[i % ALPHAS]))

    pairs = [
        Pair("vrf.prove", "Ed25519 sign", prove, sign, TARGET),
        Pair("vrf.verify", "Ed25519 verify", verify, raw_verify, TARGET),
        Pair("draw: prove + proof_to_hash", "Ed25519 sign", draw, sign, None),
    ]
    sizes = sorted({len(alpha) for alpha in alphas})
    size = f"{sizes[0]}" if len(sizes) == 1 else f"{sizes[0]}-{sizes[-1]}"
    log(
        f"{ALPHAS} alphas of {size} bytes; {args.rounds} rounds of "
        f"{args.seconds:g} s per pair; PyNaCl {nacl.__version__}"
    )
    rounds: dict[str, list[Round]] = {pair.ours: [] for pair in pairs}
    start = cpu_now()
    for number in range(1, args.rounds + 1):
        for pair in pairs:
            ours_rate, raw_rate = paired_rates(pair.run_ours, pair.run_raw, args.seconds, BATCH)
            rounds[pair.ours].append(Round(ours_rate, raw_rate))
            log(
                f"round {number}: {pair.ours} {ours_rate:,.0f}/s, {pair.raw} {raw_rate:,.0f}/s "
                f"({ours_rate / raw_rate:.1%})"
            )
    end = cpu_now()
    wall = end[0] - start[0]
    own_cpu = (end[1] - start[1]) / wall
    machine_cpu = (end[2] - start[2]) / wall

    print(
        f"inspection VRF (RFC 9381 ECVRF-EDWARDS25519-SHA512-TAI, shared/vrf.py) beside raw "
        f"Ed25519 (PyNaCl {nacl.__version__}, libsodium) in one run; alphas as draws.draw "
        f"builds them, {size} bytes; {platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} CPUs; median of {args.rounds} "
        f"rounds of {args.seconds:g} s per pair"
    )
    print(
        f"CPU during the run: this process {own_cpu:.0%} of one core; the whole machine "
        f"{machine_cpu:.0%} of one core ({os.cpu_count()} CPUs, anyone's work included); "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    header = (
        f"{'ours':<28}{'ops/s':>9}{'µs/op':>9}  {'beside':<16}{'ops/s':>9}{'µs/op':>9}"
        f"{'ratio':>9}{'range':>16}{'target':>9}  verdict"
    )
    print(header)
    for pair in pairs:
        measured = rounds[pair.ours]
        ours_rate = statistics.median(r.ours for r in measured)
        raw_rate = statistics.median(r.raw for r in measured)
        ratio = statistics.median(r.ratio for r in measured)
        low, high = min(r.ratio for r in measured), max(r.ratio for r in measured)
        if pair.target is None:
            target, verdict = "-", "(information)"
        else:
            target = f">= {pair.target:.3f}"
            verdict = "PASS" if ratio >= pair.target else "FAIL"
        print(
            f"{pair.ours:<28}{ours_rate:>9,.0f}{1e6 / ours_rate:>9.1f}  {pair.raw:<16}"
            f"{raw_rate:>9,.0f}{1e6 / raw_rate:>9.1f}{ratio:>9.3f}"
            f"{f'{low:.3f}-{high:.3f}':>16}{target:>9}  {verdict}"
        )
    print(
        "ratio: ours / raw operations per second (median of the rounds' ratios; 'range' is "
        "the lowest and highest round)"
    )
    return 0  # a missed target is a figure, not a failure of the run (as the other benchmarks)


if __name__ == "__main__":
    sys.exit(main())
