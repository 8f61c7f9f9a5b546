"""ECVRF-EDWARDS25519-SHA512-TAI (shared/vrf.py): RFC 9381's test vectors, then the refusals.

The vectors are RFC 9381 Appendix B.3 ("ECVRF-EDWARDS25519-SHA512-TAI"), Examples 16, 17
and 18, intermediate values included (x, H with the counter that found it, the 64-byte
k_string, U = k*B, V = k*H). Every check compares exact bytes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nacl.bindings import (
    crypto_core_ed25519_add,
    crypto_core_ed25519_scalar_add,
    crypto_core_ed25519_scalar_mul,
    crypto_core_ed25519_scalar_reduce,
    crypto_core_ed25519_sub,
    crypto_scalarmult_ed25519_base_noclamp,
    crypto_scalarmult_ed25519_noclamp,
    crypto_sign_seed_keypair,
)

from shared import vrf

P = 2**255 - 19
Q = 2**252 + 27742317777372353535851937790883648493
IDENTITY = bytes.fromhex("01" + "00" * 31)


@dataclass(frozen=True)
class Vector:
    name: str
    sk: str
    pk: str
    alpha: str
    x: str
    ctr: int
    h: str
    k: str
    u: str
    v: str
    pi: str
    beta: str


# RFC 9381, Appendix B.3, Examples 16-18 (hex as printed there, lines joined).
VECTORS = [
    Vector(
        name="example-16",
        sk="9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        pk="d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        alpha="",
        x="307c83864f2833cb427a2ef1c00a013cfdff2768d980c0a3a520f006904de94f",
        ctr=0,
        h="91bbed02a99461df1ad4c6564a5f5d829d0b90cfc7903e7a5797bd658abf3318",
        k="7100f3d9eadb6dc4743b029736ff283f5be494128df128df2817106f345b8594"
        "b6d6da2d6fb0b4c0257eb337675d96eab49cf39e66cc2c9547c2bf8b2a6afae4",
        u="aef27c725be964c6a9bf4c45ca8e35df258c1878b838f37d9975523f09034071",
        v="5016572f71466c646c119443455d6cb9b952f07d060ec8286d678615d55f954f",
        pi="8657106690b5526245a92b003bb079ccd1a92130477671f6fc01ad16f26f723f"
        "26f8a57ccaed74ee1b190bed1f479d97"
        "27d2d0f9b005a6e456a35d4fb0daab1268a1b0db10836d9826a528ca76567805",
        beta="90cf1df3b703cce59e2a35b925d411164068269d7b2d29f3301c03dd757876ff"
        "66b71dda49d2de59d03450451af026798e8f81cd2e333de5cdf4f3e140fdd8ae",
    ),
    Vector(
        name="example-17",
        sk="4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        pk="3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        alpha="72",
        x="68bd9ed75882d52815a97585caf4790a7f6c6b3b7f821c5e259a24b02e502e51",
        ctr=1,
        h="5b659fc3d4e9263fd9a4ed1d022d75eaacc20df5e09f9ea937502396598dc551",
        k="42589bbf0c485c3c91c1621bb4bfe04aed7be76ee48f9b00793b2342acb9c167"
        "cab856f9f9d4febc311330c20b0a8afd3743d05433e8be8d32522ecdc16cc5ce",
        u="1dcb0a4821a2c48bf53548228b7f170962988f6d12f5439f31987ef41f034ab3",
        v="fd03c0bf498c752161bae4719105a074630a2aa5f200ff7b3995f7bfb1513423",
        pi="f3141cd382dc42909d19ec5110469e4feae18300e94f304590abdced48aed593"
        "3bf0864a62558b3ed7f2fea45c92a465"
        "301b3bbf5e3e54ddf2d935be3b67926da3ef39226bbc355bdc9850112c8f4b02",
        beta="eb4440665d3891d668e7e0fcaf587f1b4bd7fbfe99d0eb2211ccec90496310eb"
        "5e33821bc613efb94db5e5b54c70a848a0bef4553a41befc57663b56373a5031",
    ),
    Vector(
        name="example-18",
        sk="c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        pk="fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        alpha="af82",
        x="909a8b755ed902849023a55b15c23d11ba4d7f4ec5c2f51b1325a181991ea95c",
        ctr=0,
        h="bf4339376f5542811de615e3313d2b36f6f53c0acfebb482159711201192576a",
        k="38b868c335ccda94a088428cbf3ec8bc7955bfaffe1f3bd2aa2c59fc31a0febc"
        "59d0e1af3715773ce11b3bbdd7aba8e3505d4b9de6f7e4a96e67e0d6bb6d6c3a",
        u="2bae73e15a64042fcebf062abe7e432b2eca6744f3e8265bc38e009cd577ecd5",
        v="88cba1cb0d4f9b649d9a86026b69de076724a93a65c349c988954f0961c5d506",
        pi="9bc0f79119cc5604bf02d23b4caede71393cedfbb191434dd016d30177ccbf80"
        "96bb474e53895c362d8628ee9f9ea3c0"
        "e52c7a5c691b6c18c9979866568add7a2d41b00b05081ed0f58ee5e31b3a970e",
        beta="645427e5d00c62a23fb703732fa5d892940935942101e456ecca7bb217c61c45"
        "2118fec1219202a0edcf038bb6373241578be7217ba85a2687f7a0310b2df19f",
    ),
]

vectors = pytest.mark.parametrize("vector", VECTORS, ids=[v.name for v in VECTORS])

# The eight points of small order (the torsion subgroup), canonically encoded: the
# identity, (0, -1) of order 2, the two points of order 4 (y = 0) and four of order 8.
SMALL_ORDER = [
    "0100000000000000000000000000000000000000000000000000000000000000",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0000000000000000000000000000000000000000000000000000000000000080",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
]
# A point of order 8, and one of order 2, to plant as torsion components.
ORDER_8 = bytes.fromhex(SMALL_ORDER[4])
ORDER_2 = bytes.fromhex(SMALL_ORDER[1])

# y = 3 is on the curve, of neither small nor prime order; 3 + p is a non-canonical y
# that a lax decoder reduces to the same point.
Y3 = (3).to_bytes(32, "little")
Y3_NON_CANONICAL = (3 + P).to_bytes(32, "little")
# The identity (y = 1, x = 0) with the sign bit set: RFC 8032 §5.1.3 refuses x = 0, sign 1.
IDENTITY_NEGATIVE_ZERO = (1 + (1 << 255)).to_bytes(32, "little")
# y = 2 has no x on the curve.
NOT_ON_CURVE = (2).to_bytes(32, "little")


def _bytes(hex_string: str) -> bytes:
    return bytes.fromhex(hex_string)


def _times8(point: bytes) -> bytes:
    for _ in range(3):
        point = crypto_core_ed25519_add(point, point)
    return point


def _code(excinfo: pytest.ExceptionInfo[vrf.VrfError]) -> str:
    return excinfo.value.code


# --- RFC 9381 Appendix B.3 -----------------------------------------------------------


@vectors
def test_public_key_is_the_ed25519_key_of_the_seed(vector: Vector) -> None:
    sk = _bytes(vector.sk)
    assert vrf.public_key(sk) == _bytes(vector.pk)
    # libsodium's own Ed25519 key generation agrees.
    assert crypto_sign_seed_keypair(sk)[0] == _bytes(vector.pk)
    # x as the RFC prints it is the clamped scalar; the module keeps it reduced mod q.
    x, _ = vrf._expand_secret_key(sk)
    assert int.from_bytes(x, "little") == int.from_bytes(_bytes(vector.x), "little") % Q


@vectors
def test_encode_to_curve_try_and_increment(vector: Vector) -> None:
    h = vrf._encode_to_curve(_bytes(vector.pk), _bytes(vector.alpha))
    assert h == _bytes(vector.h)
    # The counter the RFC reports is the first one whose hash decodes to a point.
    for ctr in range(vector.ctr + 1):
        digest = hashlib.sha512(
            b"\x03\x01" + _bytes(vector.pk) + _bytes(vector.alpha) + bytes([ctr]) + b"\x00"
        ).digest()
        decoded = vrf._string_to_point(digest[:32])
        assert (decoded is not None) == (ctr == vector.ctr)
        if decoded is not None:
            assert _times8(decoded) == h


@vectors
def test_nonce_and_commitments(vector: Vector) -> None:
    _, prefix = vrf._expand_secret_key(_bytes(vector.sk))
    h = _bytes(vector.h)
    assert hashlib.sha512(prefix + h).digest() == _bytes(vector.k)
    k = vrf._nonce(prefix, h)
    assert k == crypto_core_ed25519_scalar_reduce(_bytes(vector.k))
    assert crypto_scalarmult_ed25519_base_noclamp(k) == _bytes(vector.u)
    assert crypto_scalarmult_ed25519_noclamp(k, h) == _bytes(vector.v)


@vectors
def test_prove_gives_the_rfc_proof(vector: Vector) -> None:
    pi = vrf.prove(_bytes(vector.sk), _bytes(vector.alpha))
    assert len(pi) == vrf.PROOF_BYTES
    assert pi == _bytes(vector.pi)


@vectors
def test_proof_to_hash_gives_the_rfc_beta(vector: Vector) -> None:
    assert vrf.proof_to_hash(_bytes(vector.pi)) == _bytes(vector.beta)


@vectors
def test_verify_accepts_the_rfc_proof(vector: Vector) -> None:
    beta = vrf.verify(_bytes(vector.pk), _bytes(vector.pi), _bytes(vector.alpha))
    assert beta == _bytes(vector.beta)


# --- refusals: the proof -------------------------------------------------------------


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


@vectors
@pytest.mark.parametrize(("part", "start", "end"), [("gamma", 0, 32), ("c", 32, 48), ("s", 48, 80)])
def test_a_flipped_bit_anywhere_is_refused(vector: Vector, part: str, start: int, end: int) -> None:
    pk, pi, alpha = _bytes(vector.pk), _bytes(vector.pi), _bytes(vector.alpha)
    for byte in range(start, end):
        for bit in (byte * 8 + byte % 8, byte * 8 + 7):
            tampered = _flip(pi, bit)
            with pytest.raises(vrf.VrfError) as excinfo:
                vrf.verify(pk, tampered, alpha)
            if part == "c":
                assert _code(excinfo) == "proof_mismatch"
            elif part == "s" and bit == 79 * 8 + 7:
                # The top bit makes s >= q: refused while decoding.
                assert _code(excinfo) == "bad_proof"
            elif part == "s":
                assert _code(excinfo) == "proof_mismatch"
            else:
                # A changed Gamma may or may not still be a point.
                assert _code(excinfo) in {"bad_proof", "proof_mismatch"}
                expected = "proof_mismatch" if vrf._string_to_point(tampered[:32]) else "bad_proof"
                assert _code(excinfo) == expected


def test_the_proof_of_another_key_or_input_is_refused() -> None:
    first, second = VECTORS[0], VECTORS[1]
    with pytest.raises(vrf.VrfError) as excinfo:
        vrf.verify(_bytes(second.pk), _bytes(first.pi), _bytes(first.alpha))
    assert _code(excinfo) == "proof_mismatch"
    with pytest.raises(vrf.VrfError) as excinfo:
        vrf.verify(_bytes(first.pk), _bytes(first.pi), b"\x00")
    assert _code(excinfo) == "proof_mismatch"
    with pytest.raises(vrf.VrfError) as excinfo:
        vrf.verify(_bytes(second.pk), _bytes(second.pi), _bytes(second.alpha) + b"\x00")
    assert _code(excinfo) == "proof_mismatch"


@vectors
def test_a_non_canonical_scalar_is_refused(vector: Vector) -> None:
    pi = _bytes(vector.pi)
    s = int.from_bytes(pi[48:], "little")
    # s + q is the same scalar mod q: an implementation that reduced s would accept it.
    for bad_s in (s + Q, Q, 2**256 - 1):
        bad = pi[:48] + bad_s.to_bytes(32, "little")
        with pytest.raises(vrf.VrfError) as excinfo:
            vrf.verify(_bytes(vector.pk), bad, _bytes(vector.alpha))
        assert _code(excinfo) == "bad_proof"
        with pytest.raises(vrf.VrfError) as excinfo:
            vrf.proof_to_hash(bad)
        assert _code(excinfo) == "bad_proof"
    # Just below q is well formed (and wrong).
    below = pi[:48] + (Q - 1).to_bytes(32, "little")
    with pytest.raises(vrf.VrfError) as excinfo:
        vrf.verify(_bytes(vector.pk), below, _bytes(vector.alpha))
    assert _code(excinfo) == "proof_mismatch"


@pytest.mark.parametrize(
    "gamma",
    [Y3_NON_CANONICAL, IDENTITY_NEGATIVE_ZERO, NOT_ON_CURVE, P.to_bytes(32, "little")],
    ids=["y-plus-p", "negative-zero-x", "not-on-curve", "y-equals-p"],
)
def test_a_gamma_that_is_no_canonical_point_is_refused(gamma: bytes) -> None:
    vector = VECTORS[0]
    pi = gamma + _bytes(vector.pi)[32:]
    with pytest.raises(vrf.VrfError) as excinfo:
        vrf.proof_to_hash(pi)
    assert _code(excinfo) == "bad_proof"
    with pytest.raises(vrf.VrfError) as excinfo:
        vrf.verify(_bytes(vector.pk), pi, _bytes(vector.alpha))
    assert _code(excinfo) == "bad_proof"


def test_the_canonical_twin_of_a_refused_gamma_decodes() -> None:
    # Y3 is the point that Y3_NON_CANONICAL names: only the encoding is at fault above.
    vector = VECTORS[0]
    pi = Y3 + _bytes(vector.pi)[32:]
    assert len(vrf.proof_to_hash(pi)) == vrf.BETA_BYTES
    with pytest.raises(vrf.VrfError) as excinfo:
        vrf.verify(_bytes(vector.pk), pi, _bytes(vector.alpha))
    assert _code(excinfo) == "proof_mismatch"


@pytest.mark.parametrize("length", [0, 1, 79, 81, 160])
def test_a_proof_of_the_wrong_length_is_refused(length: int) -> None:
    vector = VECTORS[0]
    pi = (_bytes(vector.pi) * 2)[:length]
    with pytest.raises(vrf.VrfError) as excinfo:
        vrf.verify(_bytes(vector.pk), pi, _bytes(vector.alpha))
    assert _code(excinfo) == "bad_proof"
    with pytest.raises(vrf.VrfError) as excinfo:
        vrf.proof_to_hash(pi)
    assert _code(excinfo) == "bad_proof"


def test_zero_c_and_zero_s_are_refused_as_a_mismatch_not_a_crash() -> None:
    # libsodium refuses to multiply by zero; the module gives the identity instead.
    vector = VECTORS[0]
    pi = _bytes(vector.pi)[:32] + bytes(48)
    with pytest.raises(vrf.VrfError) as excinfo:
        vrf.verify(_bytes(vector.pk), pi, _bytes(vector.alpha))
    assert _code(excinfo) == "proof_mismatch"
    # Likewise with a small-order Gamma (the identity), whose multiples libsodium refuses.
    pi = IDENTITY + _bytes(vector.pi)[32:]
    with pytest.raises(vrf.VrfError) as excinfo:
        vrf.verify(_bytes(vector.pk), pi, _bytes(vector.alpha))
    assert _code(excinfo) == "proof_mismatch"


# --- refusals: the public key and the secret key --------------------------------------


def test_the_small_order_encodings_are_the_eight_torsion_points() -> None:
    points = {_bytes(encoding) for encoding in SMALL_ORDER}
    assert len(points) == 8
    for point in points:
        assert vrf._string_to_point(point) == point
        assert _times8(point) == IDENTITY


@pytest.mark.parametrize("encoding", SMALL_ORDER)
def test_a_small_order_public_key_is_refused(encoding: str) -> None:
    vector = VECTORS[0]
    with pytest.raises(vrf.VrfError) as excinfo:
        vrf.verify(_bytes(encoding), _bytes(vector.pi), _bytes(vector.alpha))
    assert _code(excinfo) == "weak_public_key"


@pytest.mark.parametrize(
    "pk",
    [
        Y3_NON_CANONICAL,
        IDENTITY_NEGATIVE_ZERO,
        NOT_ON_CURVE,
        P.to_bytes(32, "little"),
        (P + 1).to_bytes(32, "little"),
        b"",
        _bytes(VECTORS[0].pk)[:31],
        _bytes(VECTORS[0].pk) + b"\x00",
    ],
    ids=[
        "y-plus-p",
        "negative-zero-x",
        "not-on-curve",
        "y-equals-p",
        "identity-plus-p",
        "empty",
        "31-bytes",
        "33-bytes",
    ],
)
def test_a_public_key_that_is_no_canonical_point_is_refused(pk: bytes) -> None:
    vector = VECTORS[0]
    with pytest.raises(vrf.VrfError) as excinfo:
        vrf.verify(pk, _bytes(vector.pi), _bytes(vector.alpha))
    assert _code(excinfo) == "bad_public_key"


def test_the_canonical_twin_of_a_refused_public_key_is_a_key() -> None:
    # Y3 (not small order) passes the key checks; the proof is then simply not its own.
    vector = VECTORS[0]
    with pytest.raises(vrf.VrfError) as excinfo:
        vrf.verify(Y3, _bytes(vector.pi), _bytes(vector.alpha))
    assert _code(excinfo) == "proof_mismatch"


@pytest.mark.parametrize("length", [0, 31, 33, 64])
def test_a_seed_of_the_wrong_length_is_refused(length: int) -> None:
    with pytest.raises(vrf.VrfError) as excinfo:
        vrf.prove(bytes(length), b"alpha")
    assert _code(excinfo) == "bad_secret_key"
    with pytest.raises(vrf.VrfError) as excinfo:
        vrf.public_key(bytes(length))
    assert _code(excinfo) == "bad_secret_key"


def test_vrf_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="80 bytes"):
        vrf.proof_to_hash(b"")


# --- what RFC 9381 accepts although libsodium's scalar multiplication would not -------


def _prove_with_torsion(
    sk: bytes, alpha: bytes, key_torsion: bytes, gamma_torsion: bytes
) -> tuple[bytes, bytes, bytes]:
    """(pk', pi', x*H): a proof for pk' = Y + key_torsion with Gamma' = x*H + gamma_torsion.

    Only the key holder can make one, and only by guessing c mod 8 before c is known
    (U = k*B - g*T, V = k*H - g*T'): the verifier's U = s*B - c*pk' then matches when
    c = g mod 8. RFC 9381 accepts such proofs: it does not require full key validation,
    and decode_proof does not require Gamma in the prime-order subgroup; beta is the same
    as for x*H because proof_to_hash clears the cofactor.
    """
    x, prefix = vrf._expand_secret_key(sk)
    pk = crypto_core_ed25519_add(crypto_scalarmult_ed25519_base_noclamp(x), key_torsion)
    h = vrf._encode_to_curve(pk, alpha)
    honest_gamma = crypto_scalarmult_ed25519_noclamp(x, h)
    gamma = crypto_core_ed25519_add(honest_gamma, gamma_torsion)
    for attempt in range(256):
        k = crypto_core_ed25519_scalar_reduce(hashlib.sha512(prefix + bytes([attempt])).digest())
        guess = attempt % 8
        u = crypto_core_ed25519_sub(
            crypto_scalarmult_ed25519_base_noclamp(k), vrf._small_multiple(guess, key_torsion)
        )
        v = crypto_core_ed25519_sub(
            crypto_scalarmult_ed25519_noclamp(k, h), vrf._small_multiple(guess, gamma_torsion)
        )
        c = vrf._challenge(pk, h, gamma, u, v)
        if int.from_bytes(c, "little") % 8 == guess:
            s = crypto_core_ed25519_scalar_add(k, crypto_core_ed25519_scalar_mul(c + bytes(16), x))
            return pk, gamma + c + s, honest_gamma
    raise AssertionError("no guess of c mod 8 came true in 256 tries")


@pytest.mark.parametrize(
    ("key_torsion", "gamma_torsion"),
    [(ORDER_8, IDENTITY), (IDENTITY, ORDER_8), (ORDER_2, ORDER_8)],
    ids=["key", "gamma", "both"],
)
def test_torsion_components_are_accepted_and_do_not_change_beta(
    key_torsion: bytes, gamma_torsion: bytes
) -> None:
    sk, alpha = _bytes(VECTORS[2].sk), b"torsion"
    pk, pi, honest_gamma = _prove_with_torsion(sk, alpha, key_torsion, gamma_torsion)
    expected_beta = hashlib.sha512(b"\x03\x03" + _times8(honest_gamma) + b"\x00").digest()
    assert vrf.verify(pk, pi, alpha) == expected_beta
    assert vrf.proof_to_hash(pi) == expected_beta
    # The same proof with its challenge's parity flipped fails: the torsion is checked.
    with pytest.raises(vrf.VrfError) as excinfo:
        vrf.verify(pk, _flip(pi, 32 * 8), alpha)
    assert _code(excinfo) == "proof_mismatch"


# --- the property ---------------------------------------------------------------------


@given(sk=st.binary(min_size=32, max_size=32), alpha=st.binary(max_size=100))
def test_prove_then_verify_round_trips(sk: bytes, alpha: bytes) -> None:
    pk = vrf.public_key(sk)
    assert pk == crypto_sign_seed_keypair(sk)[0]
    pi = vrf.prove(sk, alpha)
    assert len(pi) == vrf.PROOF_BYTES
    beta = vrf.verify(pk, pi, alpha)
    assert len(beta) == vrf.BETA_BYTES
    assert beta == vrf.proof_to_hash(pi)
    # Deterministic: the same key and input give the same proof.
    assert vrf.prove(sk, alpha) == pi
    with pytest.raises(vrf.VrfError) as excinfo:
        vrf.verify(pk, pi, alpha + b"\x00")
    assert _code(excinfo) == "proof_mismatch"
