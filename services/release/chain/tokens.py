"""Peeking into link and acknowledgement tokens before (or apart from) their verification.

What a token's header and claims say, read without checking its signature: the kid that
names the key to fetch, the claims a row is built from, the jti that must be unique. The
chain verification (`verify.py`) is what judges them; these only read.
"""

from datetime import UTC, datetime
from typing import Any

from shared import jose
from shared.problems import InvalidInput


def kid_of(token: str | None) -> str | None:
    """The kid of a token's header, unverified; None if there is none."""
    if token is None:
        return None
    try:
        header, _ = jose.peek(token)
    except jose.TokenError:
        return None
    kid = header.get("kid")
    return kid if isinstance(kid, str) else None


def claims_of(token: str) -> dict[str, Any]:
    """A token's claims, unverified (the chain verification judges them); 422 if unreadable."""
    try:
        _, claims = jose.peek(token)
    except jose.TokenError as exc:
        raise InvalidInput(exc.code, exc.detail) from exc
    return claims


def epoch_of(claims: dict[str, Any], name: str) -> datetime:
    """A NumericDate claim as a moment; 422 `link_claims_invalid` if it is not one."""
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput("link_claims_invalid", f"{name} must be a NumericDate")
    return datetime.fromtimestamp(value, UTC)


def jti_of(claims: dict[str, Any]) -> str:
    """The jti claim; 422 `link_claims_invalid` unless it is a string of 1 to 200 characters."""
    jti = claims.get("jti")
    if not isinstance(jti, str) or not 0 < len(jti) <= 200:
        raise InvalidInput("link_claims_invalid", "jti must be a string of 1 to 200 characters")
    return jti
