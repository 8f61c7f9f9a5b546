"""The memo of verified access tokens: a hit needs the same token, the same key, unexpired."""

import time

from joserfc.jwk import OKPKey

from services.release.deps import VerifiedTokens
from shared import jose
from shared.auth import Principal, issue_access_token, verify_access_token

ISSUER = "https://identity.example"


def token_and_principal(lifetime: int = 600) -> tuple[str, Principal, OKPKey]:
    key = jose.generate_key()
    now = int(time.time())
    token = issue_access_token(
        key,
        issuer=ISSUER,
        party_id="EU.EORI.NL100000007",
        party_roles=["terminal"],
        scopes=["gate"],
        now=now,
        lifetime=lifetime,
    )
    principal = verify_access_token(token, issuer=ISSUER, resolve_key=lambda _: key, now=now)
    return token, principal, key


def test_a_token_verified_under_a_key_is_known_while_that_key_is_published() -> None:
    memo = VerifiedTokens()
    token, principal, key = token_and_principal()
    memo.remember(token, principal, key)
    now = time.time()
    assert memo.get(token, key, now) is principal
    assert memo.get(token, jose.generate_key(), now) is None  # the key was replaced
    assert memo.get(token, None, now) is None  # the key is no longer published
    assert memo.get(token + "x", key, now) is None


def test_an_expired_token_is_not_known() -> None:
    memo = VerifiedTokens()
    token, principal, key = token_and_principal(lifetime=60)
    memo.remember(token, principal, key)
    assert memo.get(token, key, time.time() + 61) is None


def test_the_memo_is_bounded() -> None:
    memo = VerifiedTokens()
    token, principal, key = token_and_principal()
    for n in range(VerifiedTokens.LIMIT + 1):
        memo.remember(f"{token}{n}", principal, key)
    assert memo.get(f"{token}0", key, time.time()) is None  # forgotten when it filled up
    assert memo.get(f"{token}{VerifiedTokens.LIMIT}", key, time.time()) is principal
    assert len(memo) <= VerifiedTokens.LIMIT


def test_the_memo_can_be_reset() -> None:
    memo = VerifiedTokens()
    token, principal, key = token_and_principal()
    memo.remember(token, principal, key)
    memo.clear()
    assert len(memo) == 0
    assert memo.get(token, key, time.time()) is None
