"""The Token Status List codec and Status List Tokens (draft-ietf-oauth-status-list).

Test vectors are the draft's own: the 16-entry 1-bit example (0xB9 0xA3), the 12-entry
2-bit example (0xC9 0x44 0xF9), and the two 2^20-entry lists of its test-vector
appendix. Compressed output depends on the zlib build and level, so for the long lists
the published ``lst`` is decoded and our own encoding is checked by round trip; for the
short examples zlib at level 9 reproduces the published ``lst`` byte for byte.
"""

import gzip
import json
import random
import zlib
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from joserfc.jwk import Key, OKPKey

from services.identity.credentials.statuslist import (
    BITS,
    LIST_SIZE,
    sign_status_list,
    status_list_uri,
)
from shared import jose
from shared.credentials import CredentialError, decode_status_list_token
from shared.status_list import (
    MAX_STATUS_LIST_BYTES,
    StatusListError,
    decode_lst,
    encode_lst,
    pack,
    unpack,
)
from tests.helpers import b64url

ONE_BIT_STATUSES = [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1]
ONE_BIT_BYTES = bytes([0xB9, 0xA3])
ONE_BIT_LST = "eNrbuRgAAhcBXQ"

TWO_BIT_STATUSES = [1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3]
TWO_BIT_BYTES = bytes([0xC9, 0x44, 0xF9])
TWO_BIT_LST = "eNo76fITAAPfAgc"

LONG_ONE_BIT_LST = (
    "eNrt3AENwCAMAEGogklACtKQPg9LugC9k_ACvreiogEAAKkeCQAAAAAAAAAAAAAAAAAAAIBylgQAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAXG9IAAAAAAAAAPwsJAAAAAAAAAAAAAAAvhsSAAAA"
    "AAAAAAAA7KpLAAAAAAAAAAAAAAAAAAAAAJsLCQAAAAAAAAAAADjelAAAAAAAAAAAKjDMAQAAAACAZC8L2AEb"
)
LONG_ONE_BIT_SET = {
    0: 1,
    1993: 1,
    25460: 1,
    159495: 1,
    495669: 1,
    554353: 1,
    645645: 1,
    723232: 1,
    854545: 1,
    934534: 1,
    1000345: 1,
}
LONG_TWO_BIT_LST = (
    "eNrt2zENACEQAEEuoaBABP5VIO01fCjIHTMStt9ovGVIAAAAAABAbiEBAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAEB5WwIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAID0ugQAAAAAAAAAAAAAAAAAQG12SgAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAOCSIQEAAAAAAAAAAAAAAAAAAAAAAAD8ExIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAwJEuAQAAAAAAAAAAAAAAAAAAAAAAAMB9SwIAAAAAAAAAAAAAAAAAAACoYUoAAAAAAAAAAAAAAEBqH81g"
    "AQw"
)
LONG_TWO_BIT_SET = {
    0: 1,
    1993: 2,
    25460: 1,
    159495: 3,
    495669: 1,
    554353: 1,
    645645: 2,
    723232: 1,
    854545: 1,
    934534: 2,
    1000345: 3,
}


# --- the draft's vectors --------------------------------------------------------------------------


def test_one_bit_example_packs_to_the_published_bytes_and_lst() -> None:
    assert pack(bytes(ONE_BIT_STATUSES), 1) == ONE_BIT_BYTES
    assert encode_lst(ONE_BIT_BYTES) == ONE_BIT_LST
    assert decode_lst(ONE_BIT_LST) == ONE_BIT_BYTES
    assert list(unpack(ONE_BIT_BYTES, 1)) == ONE_BIT_STATUSES


def test_two_bit_example_packs_to_the_published_bytes_and_lst() -> None:
    assert pack(bytes(TWO_BIT_STATUSES), 2) == TWO_BIT_BYTES
    assert encode_lst(TWO_BIT_BYTES) == TWO_BIT_LST
    assert decode_lst(TWO_BIT_LST) == TWO_BIT_BYTES
    assert list(unpack(TWO_BIT_BYTES, 2)) == TWO_BIT_STATUSES


@pytest.mark.parametrize(
    ("lst", "bits", "expected"),
    [(LONG_ONE_BIT_LST, 1, LONG_ONE_BIT_SET), (LONG_TWO_BIT_LST, 2, LONG_TWO_BIT_SET)],
    ids=["1-bit", "2-bit"],
)
def test_published_long_lists_decode_to_their_statuses(
    lst: str, bits: int, expected: dict[int, int]
) -> None:
    statuses = unpack(decode_lst(lst), bits)
    assert len(statuses) == 2**20
    assert {i: v for i, v in enumerate(statuses) if v} == expected
    # Our own encoding of the same list decodes to the same bytes (its compressed form
    # may differ from the published one: zlib output depends on build and level).
    assert decode_lst(encode_lst(pack(statuses, bits))) == decode_lst(lst)


def test_bits_fill_each_byte_from_the_least_significant_end() -> None:
    assert pack(bytes([1]), 1) == b"\x01"
    assert pack(bytes([0, 0, 0, 0, 0, 0, 0, 1]), 1) == b"\x80"
    assert pack(bytes([2, 0, 0, 0]), 2) == b"\x02"
    assert pack(bytes([0, 0, 0, 2]), 2) == b"\x80"
    assert pack(bytes([0xA, 0x5]), 4) == b"\x5a"
    assert pack(bytes([0xAB]), 8) == b"\xab"


def test_a_list_not_filling_its_last_byte_is_padded_with_valid_entries() -> None:
    assert pack(bytes([2, 1, 1]), 2) == bytes([0b00010110])
    assert list(unpack(pack(bytes([2, 1, 1]), 2), 2)) == [2, 1, 1, 0]


# --- round trips (property tests) -----------------------------------------------------------------


@st.composite
def lists(draw: st.DrawFn) -> tuple[int, bytes]:
    bits = draw(st.sampled_from([1, 2, 4, 8]))
    values = draw(st.lists(st.integers(0, (1 << bits) - 1), min_size=1, max_size=300))
    return bits, bytes(values)


@given(lists())
def test_pack_then_unpack_gives_the_statuses_back(case: tuple[int, bytes]) -> None:
    bits, statuses = case
    unpacked = unpack(pack(statuses, bits), bits)
    assert unpacked[: len(statuses)] == statuses
    assert not any(unpacked[len(statuses) :])
    assert len(unpacked) - len(statuses) < 8 // bits


@given(st.binary(min_size=1, max_size=2000))
def test_encode_then_decode_gives_the_bytes_back(packed: bytes) -> None:
    assert decode_lst(encode_lst(packed)) == packed


@given(st.text(max_size=200))
def test_decoding_arbitrary_text_refuses_or_succeeds_but_never_crashes(text: str) -> None:
    try:
        decode_lst(text)
    except StatusListError as exc:
        assert exc.code in {"status_list_malformed", "status_list_too_large"}


@given(st.binary(max_size=200))
def test_decoding_arbitrary_bytes_as_lst_never_crashes(data: bytes) -> None:
    try:
        decode_lst(b64url(data))
    except StatusListError as exc:
        assert exc.code in {"status_list_malformed", "status_list_too_large"}


# --- strict decoding ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lst",
    [
        TWO_BIT_LST + "=",  # padding
        "eNo76fITAAPfAgc=",
        TWO_BIT_LST.replace("_", "/") + "+",  # the standard alphabet
        "eNo76fITAAPfAgd",  # the last character carries bits that must be zero
        "eNo76fIT AAPfAgc",  # whitespace
        "eNo76fITAAPfAg",  # truncated base64 (bad length)
        "",
        "ÄNo76fITAAPfAgc",
    ],
)
def test_non_canonical_base64url_is_refused(lst: str) -> None:
    with pytest.raises(StatusListError) as refused:
        decode_lst(lst)
    assert refused.value.code == "status_list_malformed"


def test_a_non_string_lst_is_refused() -> None:
    with pytest.raises(StatusListError):
        decode_lst(12345)


def test_raw_deflate_without_the_zlib_wrapper_is_refused() -> None:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    raw = compressor.compress(TWO_BIT_BYTES) + compressor.flush()
    with pytest.raises(StatusListError, match="ZLIB"):
        decode_lst(b64url(raw))


def test_gzip_is_refused() -> None:
    with pytest.raises(StatusListError):
        decode_lst(b64url(gzip.compress(TWO_BIT_BYTES)))


def test_a_truncated_zlib_stream_is_refused() -> None:
    with pytest.raises(StatusListError, match="truncated"):
        decode_lst(b64url(zlib.compress(bytes(range(256)) * 4)[:-6]))


def test_data_after_the_zlib_stream_is_refused() -> None:
    with pytest.raises(StatusListError, match="follows"):
        decode_lst(b64url(zlib.compress(TWO_BIT_BYTES) + b"\x00"))


def test_a_stream_needing_a_preset_dictionary_is_refused() -> None:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 15, zdict=b"\x00" * 32)
    data = compressor.compress(TWO_BIT_BYTES) + compressor.flush()
    with pytest.raises(StatusListError):
        decode_lst(b64url(data))


def test_an_empty_list_is_refused() -> None:
    with pytest.raises(StatusListError, match="empty"):
        decode_lst(b64url(zlib.compress(b"")))


def test_a_zip_bomb_is_refused_without_expanding_it() -> None:
    # 64 MiB of zeros compress to about 64 KB; decoding stops at the cap.
    bomb = zlib.compress(bytes(64 << 20), 9)
    assert len(bomb) < 100_000
    with pytest.raises(StatusListError) as refused:
        decode_lst(b64url(bomb))
    assert refused.value.code == "status_list_too_large"


def test_a_list_exactly_at_the_cap_is_accepted_and_one_byte_more_is_not() -> None:
    assert len(decode_lst(encode_lst(bytes(1000)), max_bytes=1000)) == 1000
    with pytest.raises(StatusListError) as refused:
        decode_lst(encode_lst(bytes(1001)), max_bytes=1000)
    assert refused.value.code == "status_list_too_large"


def test_an_lst_longer_than_any_allowed_list_is_refused_before_decoding() -> None:
    with pytest.raises(StatusListError) as refused:
        decode_lst("A" * (MAX_STATUS_LIST_BYTES * 2))
    assert refused.value.code == "status_list_too_large"


@pytest.mark.parametrize("bits", [0, 3, 16, -1, True, 2.0, "2", None])
def test_bit_sizes_other_than_1_2_4_8_are_refused(bits: object) -> None:
    with pytest.raises(StatusListError):
        pack(b"\x00", bits)  # type: ignore[arg-type]
    with pytest.raises(StatusListError):
        unpack(b"\x00", bits)  # type: ignore[arg-type]


def test_a_status_too_big_for_the_bit_size_is_refused() -> None:
    with pytest.raises(StatusListError, match="fit"):
        pack(bytes([0, 4]), 2)


# --- Status List Tokens ---------------------------------------------------------------------------

ISSUER = "https://identity.ketenpas.example"
URI = status_list_uri(ISSUER, 7)
NOW = 1_900_000_000


@pytest.fixture(scope="module")
def key() -> OKPKey:
    return jose.generate_key()


def resolver(key: OKPKey) -> Callable[[str], Key | None]:
    public = jose.import_key(jose.public_jwk(key))
    kid = jose.thumbprint(public)
    return lambda k: public if k == kid else None


def token_with(key: OKPKey, claims: dict[str, object], typ: str = "statuslist+jwt") -> str:
    return jose.sign(claims, key, typ=typ)


def good_claims() -> dict[str, object]:
    return {
        "iss": ISSUER,
        "sub": URI,
        "iat": NOW,
        "exp": NOW + 300,
        "ttl": 300,
        "status_list": {"bits": 2, "lst": TWO_BIT_LST},
    }


def test_an_issued_status_list_token_decodes_to_its_statuses(key: OKPKey) -> None:
    statuses = bytes([0, 1, 2, 0, 2]) + bytes(LIST_SIZE - 5)
    token = sign_status_list(statuses, issuer=ISSUER, uri=URI, now=NOW, ttl=300, key=key)
    header, claims = jose.peek(token)
    assert header["typ"] == "statuslist+jwt"
    assert claims["exp"] == claims["iat"] + claims["ttl"] == NOW + 300
    view = decode_status_list_token(
        token,
        resolve_key=resolver(key),
        issuer=ISSUER,
        now=NOW,
    )
    assert view.uri == URI
    assert view.bits == BITS
    assert view.statuses == statuses
    assert (view.status(1), view.status(2), view.status(3)) == (1, 2, 0)
    assert view.ttl == 300
    assert view.expires_at == NOW + 300


def test_a_full_list_of_the_worst_statuses_still_fits_in_a_token(key: OKPKey) -> None:
    # Every entry INVALID or SUSPENDED in a pattern that compresses badly: the token must
    # stay under the verifier's size limit, or mass revocation would break verification.
    rng = random.Random(7)
    statuses = bytes(rng.choice((0, 1, 2, 3)) for _ in range(LIST_SIZE))
    long_issuer = "https://identity." + "x" * 80 + ".example"
    token = sign_status_list(
        statuses,
        issuer=long_issuer,
        uri=status_list_uri(long_issuer, 2**31 - 1),
        now=NOW,
        ttl=300,
        key=key,
    )
    assert len(token) <= jose.MAX_TOKEN_LENGTH
    view = decode_status_list_token(
        token,
        resolve_key=resolver(key),
        issuer=long_issuer,
        now=NOW,
    )
    assert view.statuses == statuses


def test_the_draft_example_list_in_a_token_is_read_at_every_index(key: OKPKey) -> None:
    view = decode_status_list_token(
        token_with(key, good_claims()),
        resolve_key=resolver(key),
        issuer=ISSUER,
        now=NOW,
    )
    assert [view.status(i) for i in range(12)] == TWO_BIT_STATUSES
    with pytest.raises(CredentialError) as refused:
        view.status(view.size)
    assert refused.value.code == "status_index_out_of_range"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"iss": "https://elsewhere.example"}, "token_wrong_issuer"),
        ({"iss": None}, "token_wrong_issuer"),
        ({"sub": None}, "status_list_malformed"),
        ({"sub": ""}, "status_list_malformed"),
        ({"sub": 7}, "status_list_malformed"),
        ({"iat": None}, "status_list_malformed"),
        ({"iat": "yesterday"}, "token_claims_invalid"),
        ({"exp": None}, "token_claims_invalid"),
        ({"exp": NOW - 31}, "token_expired"),
        ({"exp": 10**400}, "token_claims_invalid"),
        ({"iat": -(10**400)}, "token_claims_invalid"),
        ({"iat": NOW + 120, "exp": NOW + 400}, "token_not_yet_valid"),
        ({"ttl": 0}, "status_list_malformed"),
        ({"ttl": -5}, "status_list_malformed"),
        ({"ttl": "300"}, "status_list_malformed"),
        ({"ttl": True}, "status_list_malformed"),
        ({"status_list": None}, "status_list_malformed"),
        ({"status_list": "eNo76fITAAPfAgc"}, "status_list_malformed"),
        ({"status_list": {"bits": 3, "lst": TWO_BIT_LST}}, "status_list_malformed"),
        ({"status_list": {"bits": True, "lst": TWO_BIT_LST}}, "status_list_malformed"),
        ({"status_list": {"bits": 2}}, "status_list_malformed"),
        ({"status_list": {"bits": 2, "lst": "not base64!"}}, "status_list_malformed"),
        (
            {"status_list": {"bits": 2, "lst": b64url(zlib.compress(bytes(2 << 20)))}},
            "status_list_too_large",
        ),
    ],
)
def test_a_bad_status_list_token_is_refused_with_its_code(
    key: OKPKey, change: dict[str, object], code: str
) -> None:
    claims = {**good_claims(), **change}
    claims = {name: value for name, value in claims.items() if value is not None}
    with pytest.raises(CredentialError) as refused:
        decode_status_list_token(
            token_with(key, claims),
            resolve_key=resolver(key),
            issuer=ISSUER,
            now=NOW,
        )
    assert refused.value.code == code


def test_a_status_list_token_of_another_type_is_refused(key: OKPKey) -> None:
    with pytest.raises(CredentialError) as refused:
        decode_status_list_token(
            token_with(key, good_claims(), typ="ketenpas-credential+jwt"),
            resolve_key=resolver(key),
            issuer=ISSUER,
            now=NOW,
        )
    assert refused.value.code == "token_bad_type"


def test_a_status_list_token_signed_by_an_unknown_key_is_refused(key: OKPKey) -> None:
    with pytest.raises(CredentialError) as refused:
        decode_status_list_token(
            token_with(jose.generate_key(), good_claims()),
            resolve_key=resolver(key),
            issuer=ISSUER,
            now=NOW,
        )
    assert refused.value.code == "token_kid_unknown"


def test_a_status_list_token_with_a_changed_list_fails_its_signature(key: OKPKey) -> None:
    token = token_with(key, good_claims())
    header, _, signature = token.split(".")
    forged = b64url(
        json.dumps(
            {**good_claims(), "status_list": {"bits": 2, "lst": encode_lst(bytes(3))}}
        ).encode()
    )
    with pytest.raises(CredentialError) as refused:
        decode_status_list_token(
            f"{header}.{forged}.{signature}",
            resolve_key=resolver(key),
            issuer=ISSUER,
            now=NOW,
        )
    assert refused.value.code == "token_bad_signature"


def test_an_unsigned_status_list_token_is_refused(key: OKPKey) -> None:
    header = b64url(b'{"alg":"none","typ":"statuslist+jwt","kid":"x"}')
    payload = b64url(json.dumps(good_claims()).encode())
    with pytest.raises(CredentialError) as refused:
        decode_status_list_token(
            f"{header}.{payload}.",
            resolve_key=resolver(key),
            issuer=ISSUER,
            now=NOW,
        )
    assert refused.value.code == "token_alg_refused"


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["bits", "lst", "x"]), inner, max_size=3)
    ),
    max_leaves=6,
)
_PROPERTY_KEY = jose.generate_key()


@given(st.dictionaries(st.sampled_from(["sub", "iat", "ttl", "status_list"]), _json, max_size=3))
def test_any_signed_status_list_claims_decode_or_are_refused_with_a_code(
    changes: dict[str, object],
) -> None:
    key = _PROPERTY_KEY
    try:
        decode_status_list_token(
            token_with(key, {**good_claims(), **changes}),
            resolve_key=resolver(key),
            issuer=ISSUER,
            now=NOW,
        )
    except CredentialError as exc:
        assert exc.code
