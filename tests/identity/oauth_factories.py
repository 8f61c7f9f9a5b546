"""Client assertions and token requests for the token-endpoint tests, honest and hostile."""

import hashlib
import hmac
import json
import uuid
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from joserfc.jwk import OKPKey

from shared import jose
from tests.helpers import b64url, b64url_json

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_TYP = "client-authentication+jwt"


def raw_ed25519(key: OKPKey) -> Ed25519PrivateKey:
    """The cryptography private key behind a joserfc OKP key."""
    private = key.private_key
    assert isinstance(private, Ed25519PrivateKey)
    return private


def compact(header: dict[str, Any], claims: dict[str, Any], key: OKPKey) -> str:
    """A compact JWS with any header, signed with cryptography directly (not shared.jose)."""
    signing_input = f"{b64url_json(header)}.{b64url_json(claims)}"
    return f"{signing_input}.{b64url(raw_ed25519(key).sign(signing_input.encode()))}"


def hs256_with_public_key(header: dict[str, Any], claims: dict[str, Any], key: OKPKey) -> str:
    """The classic confusion attack: HMAC-SHA256 keyed with the victim's public key."""
    signing_input = f"{b64url_json(header)}.{b64url_json(claims)}"
    secret = json.dumps(jose.public_jwk(key), separators=(",", ":")).encode()
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def assertion_claims(party_id: str, audience: str, now: int, **overrides: Any) -> dict[str, Any]:
    """Honest assertion claims; an override of None removes the claim."""
    claims: dict[str, Any] = {
        "iss": party_id,
        "sub": party_id,
        "aud": audience,
        "iat": now,
        "exp": now + 30,
        "jti": str(uuid.uuid4()),
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def sign_assertion(
    key: OKPKey, party_id: str, audience: str, now: int, *, typ: str = ASSERTION_TYP, **claims: Any
) -> str:
    """A client assertion signed the honest way (shared.jose)."""
    return jose.sign(assertion_claims(party_id, audience, now, **claims), key, typ=typ)


def token_form(assertion: str | None, **params: str | None) -> dict[str, str]:
    """Token request parameters; a parameter given as None is left out."""
    form: dict[str, str | None] = {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
        **params,
    }
    return {name: value for name, value in form.items() if value is not None}


async def request_token(
    client: httpx.AsyncClient, assertion: str | None, **params: str | None
) -> httpx.Response:
    """POST a form-encoded token request."""
    return await client.post("/v1/token", data=token_form(assertion, **params))
