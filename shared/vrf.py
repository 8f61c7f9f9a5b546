"""ECVRF-EDWARDS25519-SHA512-TAI: the elliptic-curve VRF of RFC 9381, suite string 0x03.

A VRF is a keyed hash with a proof: the holder of an Ed25519 seed ``sk`` computes, for an
input ``alpha``, a proof ``pi`` (80 bytes); anyone with the public key checks ``pi`` and
gets the same output ``beta`` (64 bytes) that the holder gets, and nobody else can compute
``beta`` for an ``alpha`` the holder has not proved. The API:

- ``public_key(sk)``: the 32-byte public key of a 32-byte Ed25519 seed (RFC 8032 key
  expansion, as RFC 9381 §5.1 step 1 and §5.5 say, so it equals the Ed25519 public key);
- ``prove(sk, alpha)``: ``pi`` (RFC 9381 §5.1);
- ``proof_to_hash(pi)``: ``beta`` (§5.2), without verifying ``pi``;
- ``verify(pk, pi, alpha)``: ``beta`` of a valid proof (§5.3), else ``VrfError``.

What the suite fixes (RFC 9381 §5.5): encode_to_curve is try-and-increment (§5.4.1.1,
with the public key as salt), the nonce is made as in RFC 8032 (§5.4.2.2), the challenge
hashes the five points Y, H, Gamma, U, V (§5.4.3) and keeps 16 bytes, and ``beta`` hashes
cofactor * Gamma (§5.2), so that a torsion part planted in Gamma does not change it.

Refusals, each a ``VrfError`` with a stable ``code``:

- ``bad_public_key``: not 32 bytes, or not a point in RFC 8032 §5.1.3's strict decoding:
  y >= p (a non-canonical encoding), no x for that y, or x = 0 with the sign bit set;
- ``weak_public_key``: a public key of small order (cofactor * Y is the identity), which
  RFC 9381 §5.4.5 (ECVRF_validate_key) refuses; ``verify`` always runs that check. Full
  validation (Y in the prime-order subgroup) is not required there, so, as in the RFC, a
  key with a torsion component beside a prime-order part is accepted;
- ``bad_proof``: ``pi`` not 80 bytes, Gamma not a point (same strict decoding), or the
  scalar s not below the group order q (§5.4.4, ECVRF_decode_proof);
- ``proof_mismatch``: a well-formed proof whose recomputed challenge differs from c
  (a wrong key, a wrong alpha, or a forged or damaged proof);
- ``bad_secret_key``: a seed that is not 32 bytes.

Why it is written here: no maintained Python package implements the standard suite.
Searching the PyPI name index for "vrf" found ``vrf`` (1.0.7, 2024, "VRF with ability to
validate"), ``python-ecvrf-4o`` (0.1.1, a single early release "designed for Omne"),
``aleph-vrf`` and ``aimarket-oracle-sortes`` (VRF services of one network or oracle),
``py-ark-vrf``, ``bandersnatch-vrfs`` and ``dot-ring`` (Bandersnatch VRFs, another curve
and scheme) and ``titon-network-fortuna-sdk`` (threshold BLS); none is a maintained
library for RFC 9381's Ed25519 suite. The protocol is a few hashes around group
operations, so it is written here on a maintained primitive library: libsodium's Ed25519
point and scalar operations through PyNaCl (``nacl.bindings``).

What libsodium cannot do, written here with Python integers or built from its additions:

- decoding (string_to_point): libsodium's point functions either reject more than the
  RFC does (``crypto_core_ed25519_is_valid_point`` and the scalar multiplications also
  refuse small-order points and points outside the prime-order subgroup) or decode less
  strictly (``crypto_core_ed25519_add`` reduces a y >= p and takes x = 0 with the sign bit
  set). So what the addition lets through is refused here first with integers (a y >= p;
  the sign bit set on y = 1 or y = p - 1, the only points with x = 0), and the rest of
  RFC 8032 §5.1.3 (is there an x for this y?) is the addition's own decoding, adding the
  identity: only canonical encodings of points on the curve are handed on to libsodium.
  (The square root in Python integers took about 100 µs a decoding, the addition 15 µs.)
- the cofactor multiplication (try-and-increment's candidates, the key check,
  proof_to_hash) is three doublings with ``crypto_core_ed25519_add``, which takes any
  point on the curve;
- scalar multiples of a point with a torsion component (a public key or a Gamma that the
  RFC accepts but libsodium's scalar multiplication refuses): the point is split into its
  prime-order part, found as (8^-1 mod q) * (8 * P), and its torsion part, whose multiples
  are a few additions; libsodium also refuses a zero scalar or an identity result, which
  a hostile proof can bring about (c = 0, s = 0), so those cases give the identity here.

Timing: the secret scalar and the nonce only meet libsodium's scalar and point operations
(and SHA-512); the Python code around them is not written to be constant-time, and the
verification side works on public values only.
"""

from __future__ import annotations

import hashlib
from typing import Final, Literal

from nacl.bindings import (
    crypto_core_ed25519_add,
    crypto_core_ed25519_is_valid_point,
    crypto_core_ed25519_scalar_add,
    crypto_core_ed25519_scalar_mul,
    crypto_core_ed25519_scalar_reduce,
    crypto_core_ed25519_sub,
    crypto_scalarmult_ed25519_base_noclamp,
    crypto_scalarmult_ed25519_noclamp,
)
from nacl.exceptions import RuntimeError as CryptoRuntimeError

__all__ = [
    "BETA_BYTES",
    "PROOF_BYTES",
    "PUBLIC_KEY_BYTES",
    "SECRET_KEY_BYTES",
    "SUITE_STRING",
    "VrfError",
    "VrfErrorCode",
    "proof_to_hash",
    "prove",
    "public_key",
    "verify",
]

SUITE_STRING: Final = b"\x03"  # ECVRF-EDWARDS25519-SHA512-TAI (RFC 9381 §5.5)
SECRET_KEY_BYTES: Final = 32
PUBLIC_KEY_BYTES: Final = 32
PROOF_BYTES: Final = 80  # ptLen + cLen + qLen = 32 + 16 + 32
BETA_BYTES: Final = 64  # hLen of SHA-512

_PT_LEN: Final = 32
_C_LEN: Final = 16
_Q_LEN: Final = 32

# The field prime of edwards25519 (RFC 8032 §5.1).
_P: Final = 2**255 - 19
# The order q of the prime-order subgroup, and the inverse of the cofactor 8 modulo q.
_Q: Final = 2**252 + 27742317777372353535851937790883648493
_INV8: Final = pow(8, -1, _Q).to_bytes(32, "little")
_IDENTITY: Final = b"\x01" + bytes(31)
# The y of the only two points with x = 0 (the identity, and the point of order 2).
_X_IS_ZERO: Final = frozenset({1, _P - 1})

VrfErrorCode = Literal[
    "bad_secret_key", "bad_public_key", "weak_public_key", "bad_proof", "proof_mismatch"
]


class VrfError(ValueError):
    """A refused key or proof; ``code`` says which refusal (see the module docstring)."""

    def __init__(self, code: VrfErrorCode, message: str) -> None:
        super().__init__(message)
        self.code: VrfErrorCode = code


# --- points ---------------------------------------------------------------------------


def _string_to_point(data: bytes) -> bytes | None:
    """RFC 8032 §5.1.3 decoding; the canonical encoding back, or None where it fails.

    libsodium has no function that decodes exactly this way (see the module docstring):
    the encodings its decoding takes but the RFC refuses are refused here first, then
    libsodium decodes (and checks the point is on the curve) while adding the identity.
    The point itself stays in its encoding: the group operations are libsodium's.
    """
    if len(data) != _PT_LEN:
        return None
    value = int.from_bytes(data, "little")
    y = value & ((1 << 255) - 1)
    if y >= _P:
        return None  # not canonical: libsodium would reduce it
    if value >> 255 and y in _X_IS_ZERO:
        return None  # x = 0 has no negative: libsodium would take it
    try:
        crypto_core_ed25519_add(data, _IDENTITY)
    except CryptoRuntimeError:
        return None  # no x for this y
    return data


def _times_cofactor(point: bytes) -> bytes:
    """8 * point for any point on the curve, as three doublings."""
    for _ in range(3):
        point = crypto_core_ed25519_add(point, point)
    return point


def _small_multiple(n: int, point: bytes) -> bytes:
    """n * point by repeated addition, for the torsion part (0 <= n < 8)."""
    result = _IDENTITY
    for _ in range(n):
        result = crypto_core_ed25519_add(result, point)
    return result


def _scalar_mult(n: int, point: bytes) -> bytes:
    """n * point for a public n >= 0 and any point on the curve (canonical encoding).

    libsodium multiplies only points of the prime-order subgroup (not of small order), by
    a scalar that is not zero, with a result that is not the identity; the other cases
    are handled here (see the module docstring).
    """
    if n == 0 or point == _IDENTITY:
        return _IDENTITY
    reduced = n % _Q
    if reduced:
        # Tried first, as nearly every point is of the prime-order subgroup: libsodium
        # checks that itself (its check costs as much again as the multiplication, so it
        # is not made twice), and refuses a point outside it, which is split below.
        try:
            return crypto_scalarmult_ed25519_noclamp(reduced.to_bytes(32, "little"), point)
        except CryptoRuntimeError:
            pass
    elif crypto_core_ed25519_is_valid_point(point):
        return _IDENTITY
    # A torsion component: point = prime_part + torsion with 8 * torsion = identity.
    eight = _times_cofactor(point)
    prime_part = (
        _IDENTITY if eight == _IDENTITY else crypto_scalarmult_ed25519_noclamp(_INV8, eight)
    )
    torsion = crypto_core_ed25519_sub(point, prime_part)
    return crypto_core_ed25519_add(_scalar_mult(n, prime_part), _small_multiple(n % 8, torsion))


def _base_mult(n: int) -> bytes:
    """n * B for a public n >= 0 (libsodium refuses n = 0 mod q, whose result is the identity)."""
    reduced = n % _Q
    if reduced == 0:
        return _IDENTITY
    return crypto_scalarmult_ed25519_base_noclamp(reduced.to_bytes(32, "little"))


# --- the suite's pieces ---------------------------------------------------------------


def _expand_secret_key(sk: bytes) -> tuple[bytes, bytes]:
    """RFC 8032 §5.1.5: the secret scalar x (reduced mod q, 32 bytes) and the nonce prefix."""
    if not isinstance(sk, bytes) or len(sk) != SECRET_KEY_BYTES:
        raise VrfError("bad_secret_key", f"an Ed25519 seed is {SECRET_KEY_BYTES} bytes")
    digest = hashlib.sha512(sk).digest()
    clamped = bytearray(digest[:32])
    clamped[0] &= 248
    clamped[31] &= 127
    clamped[31] |= 64
    x = crypto_core_ed25519_scalar_reduce(bytes(clamped) + bytes(32))
    return x, digest[32:]


def _encode_to_curve(salt: bytes, alpha: bytes) -> bytes:
    """ECVRF_encode_to_curve_try_and_increment (RFC 9381 §5.4.1.1); H in canonical form."""
    for ctr in range(256):
        hash_string = hashlib.sha512(
            SUITE_STRING + b"\x01" + salt + alpha + bytes([ctr]) + b"\x00"
        ).digest()
        # interpret_hash_value_as_a_point: string_to_point of the first 32 bytes (§5.5).
        candidate = _string_to_point(hash_string[:32])
        if candidate is not None:
            return _times_cofactor(candidate)
    # Each try succeeds with probability about 1/2: 256 failures are not going to happen.
    raise RuntimeError("encode_to_curve found no point in 256 tries")  # pragma: no cover


def _nonce(expanded_prefix: bytes, h_string: bytes) -> bytes:
    """ECVRF_nonce_generation_RFC8032 (RFC 9381 §5.4.2.2): k as a 32-byte scalar."""
    return crypto_core_ed25519_scalar_reduce(hashlib.sha512(expanded_prefix + h_string).digest())


def _challenge(y: bytes, h: bytes, gamma: bytes, u: bytes, v: bytes) -> bytes:
    """ECVRF_challenge_generation (RFC 9381 §5.4.3): the 16-byte c_string."""
    digest = hashlib.sha512(SUITE_STRING + b"\x02" + y + h + gamma + u + v + b"\x00").digest()
    return digest[:_C_LEN]


def _decode_proof(pi: bytes) -> tuple[bytes, int, int]:
    """ECVRF_decode_proof (RFC 9381 §5.4.4): (Gamma, c, s), or VrfError("bad_proof")."""
    if not isinstance(pi, bytes) or len(pi) != PROOF_BYTES:
        raise VrfError("bad_proof", f"a proof is {PROOF_BYTES} bytes")
    gamma = _string_to_point(pi[:_PT_LEN])
    if gamma is None:
        raise VrfError("bad_proof", "the proof's Gamma is not a canonical curve point")
    c = int.from_bytes(pi[_PT_LEN : _PT_LEN + _C_LEN], "little")
    s = int.from_bytes(pi[_PT_LEN + _C_LEN :], "little")
    if s >= _Q:
        raise VrfError("bad_proof", "the proof's scalar s is not below the group order")
    return gamma, c, s


def _gamma_to_hash(gamma: bytes) -> bytes:
    """ECVRF_proof_to_hash's hashing (RFC 9381 §5.2), with the cofactor cleared."""
    return hashlib.sha512(SUITE_STRING + b"\x03" + _times_cofactor(gamma) + b"\x00").digest()


# --- the API --------------------------------------------------------------------------


def public_key(sk: bytes) -> bytes:
    """The public key (32 bytes) of a 32-byte Ed25519 seed: x * B (RFC 9381 §5.1 step 1)."""
    x, _ = _expand_secret_key(sk)
    return crypto_scalarmult_ed25519_base_noclamp(x)


def prove(sk: bytes, alpha: bytes) -> bytes:
    """ECVRF_prove (RFC 9381 §5.1): the 80-byte proof pi for input ``alpha``."""
    x, prefix = _expand_secret_key(sk)
    y = crypto_scalarmult_ed25519_base_noclamp(x)
    h = _encode_to_curve(y, alpha)
    gamma = crypto_scalarmult_ed25519_noclamp(x, h)
    k = _nonce(prefix, h)
    u = crypto_scalarmult_ed25519_base_noclamp(k)
    v = crypto_scalarmult_ed25519_noclamp(k, h)
    c = _challenge(y, h, gamma, u, v)
    s = crypto_core_ed25519_scalar_add(k, crypto_core_ed25519_scalar_mul(c + bytes(32 - _C_LEN), x))
    return gamma + c + s


def proof_to_hash(pi: bytes) -> bytes:
    """ECVRF_proof_to_hash (RFC 9381 §5.2): beta (64 bytes). Does not verify ``pi``.

    Raises ``VrfError("bad_proof")`` where ``pi`` does not decode.
    """
    gamma, _, _ = _decode_proof(pi)
    return _gamma_to_hash(gamma)


def verify(pk: bytes, pi: bytes, alpha: bytes) -> bytes:
    """ECVRF_verify (RFC 9381 §5.3) with key validation: beta of a valid proof.

    Raises ``VrfError`` (``bad_public_key``, ``weak_public_key``, ``bad_proof`` or
    ``proof_mismatch``) otherwise.
    """
    if not isinstance(pk, bytes):
        raise VrfError("bad_public_key", "a public key is bytes")
    y = _string_to_point(pk)
    if y is None:
        raise VrfError("bad_public_key", "the public key is not a canonical curve point")
    # ECVRF_validate_key (§5.4.5): refuse a Y of small order.
    if _times_cofactor(y) == _IDENTITY:
        raise VrfError("weak_public_key", "the public key is a point of small order")
    gamma, c, s = _decode_proof(pi)
    h = _encode_to_curve(pk, alpha)
    u = crypto_core_ed25519_sub(_base_mult(s), _scalar_mult(c, y))
    v = crypto_core_ed25519_sub(_scalar_mult(s, h), _scalar_mult(c, gamma))
    if _challenge(y, h, gamma, u, v) != pi[_PT_LEN : _PT_LEN + _C_LEN]:
        raise VrfError("proof_mismatch", "the proof does not verify for this key and input")
    return _gamma_to_hash(gamma)
