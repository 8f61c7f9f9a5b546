"""The app-owned verifier cache (shared.verifier_cache): what it remembers replaces no check."""

from collections.abc import Callable
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from joserfc.jwk import Key, OKPKey

from shared import jose
from shared.verifier_cache import BoundedMemo, VerifierCache, signature_bytes

TYP = "ketenpas-link+jwt"
KEY = jose.generate_key()
KID = jose.thumbprint(KEY)


def resolving(key: Key) -> Callable[[str], Key | None]:
    return lambda kid: key if kid == KID else None


def public_copy(key: OKPKey) -> OKPKey:
    """The same key material in a new object, as a refetched JWKS gives it."""
    return jose.import_key(jose.public_jwk(key))


PUBLIC = public_copy(KEY)


def token(**claims: object) -> str:
    return jose.sign({"n": 1, **claims}, KEY, typ=TYP)


def test_the_first_sight_returns_the_claims_and_the_next_takes_the_remembered_path() -> None:
    cache = VerifierCache()
    first = token(n=2)
    assert cache.verify(first, typ=TYP, resolve_key=resolving(PUBLIC)) == {"n": 2}
    # Another token with the same header and the same key object: signature check only.
    assert cache.verify(token(n=3), typ=TYP, resolve_key=resolving(PUBLIC)) is None


def test_another_key_object_gets_the_full_check_again() -> None:
    cache = VerifierCache()
    cache.verify(token(), typ=TYP, resolve_key=resolving(PUBLIC))
    fresh = public_copy(KEY)
    assert cache.verify(token(), typ=TYP, resolve_key=resolving(fresh)) == {"n": 1}
    # ... and the header is now remembered with the new object.
    assert cache.verify(token(), typ=TYP, resolve_key=resolving(fresh)) is None


def test_a_remembered_header_under_another_typ_is_judged_afresh() -> None:
    cache = VerifierCache()
    cache.verify(token(), typ=TYP, resolve_key=resolving(PUBLIC))
    with pytest.raises(jose.TokenError) as caught:
        cache.verify(token(), typ="ketenpas-ack+jwt", resolve_key=resolving(PUBLIC))
    assert caught.value.code == "token_bad_type"


def test_the_remembered_path_still_checks_every_signature() -> None:
    cache = VerifierCache()
    good = token()
    cache.verify(good, typ=TYP, resolve_key=resolving(PUBLIC))
    head, _, _ = good.rpartition(".")
    other_signature = token(n=99).rpartition(".")[2]
    with pytest.raises(jose.TokenError) as caught:
        cache.verify(f"{head}.{other_signature}", typ=TYP, resolve_key=resolving(PUBLIC))
    assert caught.value.code == "token_bad_signature"


def test_a_withdrawn_key_stops_the_remembered_path() -> None:
    cache = VerifierCache()
    cache.verify(token(), typ=TYP, resolve_key=resolving(PUBLIC))
    with pytest.raises(jose.TokenError) as caught:
        cache.verify(token(), typ=TYP, resolve_key=lambda kid: None)
    assert caught.value.code == "token_kid_unknown"


def test_two_apps_caches_share_nothing() -> None:
    one, other = VerifierCache(), VerifierCache()
    one.verify(token(), typ=TYP, resolve_key=resolving(PUBLIC))
    assert other.verify(token(), typ=TYP, resolve_key=resolving(PUBLIC)) == {"n": 1}


def test_clear_forgets_every_judgement() -> None:
    cache = VerifierCache()
    cache.verify(token(), typ=TYP, resolve_key=resolving(PUBLIC))
    cache.clear()
    assert cache.verify(token(), typ=TYP, resolve_key=resolving(PUBLIC)) == {"n": 1}


@given(position=st.integers(min_value=0), char=st.sampled_from("A_-0z=+/.~é"))
def test_a_changed_token_gets_the_same_answer_warm_and_cold(position: int, char: str) -> None:
    good = token()
    position %= len(good)
    mutated = good[:position] + char + good[position + 1 :]

    def answer(cache: VerifierCache) -> str:
        try:
            cache.verify(mutated, typ=TYP, resolve_key=resolving(PUBLIC))
        except jose.TokenError as exc:
            return exc.code
        return "accepted"

    warm = VerifierCache()
    warm.verify(good, typ=TYP, resolve_key=resolving(PUBLIC))
    expected = "accepted" if mutated == good else answer(VerifierCache())
    assert answer(warm) == expected
    if mutated != good:
        assert expected != "accepted"


def test_a_signature_has_one_spelling() -> None:
    signature = token().rpartition(".")[2]
    assert len(signature_bytes(signature)) == 64
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    respelled = signature[:-1] + alphabet[alphabet.index(signature[-1]) | 1]
    for spelling, code in (
        (respelled, "token_malformed"),
        (signature.replace("-", "+").replace("_", "/") + "+", "token_malformed"),
        (signature + "A", "token_bad_signature"),
        (signature[:-2], "token_bad_signature"),
    ):
        with pytest.raises(jose.TokenError) as caught:
            signature_bytes(spelling)
        assert caught.value.code == code, spelling


def test_a_memo_forgets_everything_when_full_and_never_grows_beyond_its_limit() -> None:
    memo: BoundedMemo[int, int] = BoundedMemo(limit=3)
    for n in range(3):
        memo.put(n, n)
    assert len(memo) == 3 and memo.get(0) == 0
    memo.put(3, 3)
    assert len(memo) == 1 and memo.get(0) is None and memo.get(3) == 3
    with pytest.raises(ValueError):
        BoundedMemo(limit=0)


def test_the_header_table_is_bounded() -> None:
    cache = VerifierCache(limit=4)
    for n in range(20):  # a new key each time: a new kid, so a new header
        key = jose.generate_key()
        signed = jose.sign({"n": n}, key, typ=TYP)
        cache.verify(signed, typ=TYP, resolve_key={jose.thumbprint(key): key}.get)
    assert len(cache._headers) <= 4


def test_a_holder_key_is_one_object_per_jwk() -> None:
    cache = VerifierCache()
    jwk = {**jose.public_jwk(KEY), "kid": KID}
    assert cache.holder_key(jwk) is None
    remembered = cache.remember_holder_key(jwk, public_copy(KEY))
    assert cache.holder_key(dict(jwk)) is remembered
    assert cache.holder_key({**jwk, "extra": ["unhashable"]}) is None


def test_peek_reads_as_strictly_as_jose_and_parses_a_header_once() -> None:
    cache = VerifierCache()
    good = token(n=5)
    header, claims = cache.peek(good)
    assert (dict(header), claims) == jose.peek(good)
    again, _ = cache.peek(token(n=6))
    assert again is header  # the same header segment: parsed once
    with pytest.raises(TypeError):
        header["kid"] = "another"  # type: ignore[index]
    head, payload, signature = good.split(".")
    for bad in (f"{head}.{payload}=.{signature}", f"{head}..{signature}", f"{head}.{payload}"):
        with pytest.raises(jose.TokenError) as ours:
            cache.peek(bad)
        with pytest.raises(jose.TokenError) as theirs:
            jose.peek(bad)
        assert ours.value.code == theirs.value.code


def test_verify_under_a_held_key_checks_what_verify_checks() -> None:
    cache = VerifierCache()
    good = token()
    cache.verify_under(good, typ=TYP, kid=KID, key=PUBLIC)  # first sight: the full check
    cache.verify_under(token(n=2), typ=TYP, kid=KID, key=PUBLIC)  # remembered path
    head, _, signature = good.rpartition(".")
    for bad, code in (
        (f"{head}.{token(n=99).rpartition('.')[2]}", "token_bad_signature"),
        (f"{good.partition('.')[0]}..{signature}", "token_malformed"),
        (good + ".x", "token_malformed"),
    ):
        with pytest.raises(jose.TokenError) as caught:
            cache.verify_under(bad, typ=TYP, kid=KID, key=PUBLIC)
        assert caught.value.code == code, bad
    with pytest.raises(jose.TokenError) as caught:
        cache.verify_under(good, typ=TYP, kid="another kid", key=PUBLIC)
    assert caught.value.code == "token_kid_unknown"
    with pytest.raises(jose.TokenError) as caught:
        cache.verify_under(good, typ=TYP, kid=KID, key=None)
    assert caught.value.code == "token_kid_unknown"


class CountingPublic:
    """Stands in for a remembered header's Ed25519 public key: counts the checks it makes."""

    def __init__(self, real: object) -> None:
        self.real = real
        self.checks = 0

    def verify(self, signature: bytes, data: bytes) -> None:
        self.checks += 1
        self.real.verify(signature, data)  # type: ignore[attr-defined]


def test_a_token_verified_under_a_key_object_is_not_checked_again_under_it() -> None:
    cache = VerifierCache()
    cache.verify_under(token(n=1), typ=TYP, kid=KID, key=PUBLIC)  # judges the header
    header = token(n=2).partition(".")[0]
    judged = cache._headers.get((TYP, header))
    assert judged is not None
    counting = CountingPublic(judged.public)
    cache._headers.put((TYP, header), replace(judged, public=counting))  # type: ignore[arg-type]
    second = token(n=2)
    cache.verify_under(second, typ=TYP, kid=KID, key=PUBLIC)
    assert counting.checks == 1  # a new text: its signature is checked
    cache.verify_under(second, typ=TYP, kid=KID, key=PUBLIC)
    cache.verify_under(second, typ=TYP, kid=KID, key=PUBLIC)
    assert counting.checks == 1  # the same text under the same object: remembered
    cache.verify_under(token(n=3), typ=TYP, kid=KID, key=PUBLIC)
    assert counting.checks == 2


def test_a_remembered_token_is_judged_afresh_under_another_key_kid_or_typ() -> None:
    cache = VerifierCache()
    good = token()
    cache.verify_under(good, typ=TYP, kid=KID, key=PUBLIC)
    other = public_copy(jose.generate_key())
    with pytest.raises(jose.TokenError) as caught:
        cache.verify_under(good, typ=TYP, kid=KID, key=other)  # the same kid, another key
    with pytest.raises(jose.TokenError) as cold:
        VerifierCache().verify_under(good, typ=TYP, kid=KID, key=other)
    assert caught.value.code == cold.value.code
    with pytest.raises(jose.TokenError) as caught:
        cache.verify_under(good, typ=TYP, kid="another kid", key=PUBLIC)
    assert caught.value.code == "token_kid_unknown"
    with pytest.raises(jose.TokenError) as caught:
        cache.verify_under(good, typ="another+jwt", kid=KID, key=PUBLIC)
    assert caught.value.code == "token_bad_type"
    with pytest.raises(jose.TokenError) as caught:
        cache.verify_under(good, typ=TYP, kid=KID, key=None)
    assert caught.value.code == "token_kid_unknown"


def test_a_kid_that_is_no_string_is_refused_and_never_remembered() -> None:
    cache = VerifierCache()
    for kid in (["a", "list"], {"an": "object"}, 7, None):
        with pytest.raises(jose.TokenError) as caught:
            cache.verify_under(token(), typ=TYP, kid=kid, key=PUBLIC)
        assert caught.value.code == "token_kid_unknown"
    assert len(cache._verified) == 0


@given(position=st.integers(min_value=0), char=st.sampled_from("A_-0z=+/.~é"))
def test_a_changed_token_is_refused_under_a_key_that_verified_the_original(
    position: int, char: str
) -> None:
    good = token()
    position %= len(good)
    mutated = good[:position] + char + good[position + 1 :]
    warm = VerifierCache()
    warm.verify_under(good, typ=TYP, kid=KID, key=PUBLIC)
    if mutated == good:
        warm.verify_under(mutated, typ=TYP, kid=KID, key=PUBLIC)
        return
    with pytest.raises(jose.TokenError):
        warm.verify_under(mutated, typ=TYP, kid=KID, key=PUBLIC)


def test_the_verified_table_is_bounded() -> None:
    cache = VerifierCache(limit=3)
    for n in range(10):
        cache.verify_under(token(n=n), typ=TYP, kid=KID, key=PUBLIC)
        assert len(cache._verified) <= 3
