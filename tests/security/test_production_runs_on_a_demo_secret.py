"""Threat: an operator (or an insider preparing a later forgery) runs production on a demo key.

The demo secrets are in the repository, so anyone can sign audit-log checkpoints or open
sealed custodial keys and TOTP secrets with them. Production refuses every one of them, in
every setting and in every base64 spelling that decodes to the same bytes.
"""

import base64

import pytest
from pydantic import ValidationError

from services.identity.settings import IdentitySettings
from services.release.settings import ReleaseSettings
from shared.demo import (
    DEMO_IDENTITY_KEK,
    DEMO_IDENTITY_LOG_KEY,
    DEMO_RELEASE_LOG_KEY,
    DEMO_RELEASE_VRF_KEY,
)

REAL_KEY = base64.b64encode(bytes(range(32))).decode()
REAL_VRF_KEY = base64.b64encode(bytes(range(32, 64))).decode()
REDIS = "redis://127.0.0.1:6379/0"
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def same_key_other_spelling(secret: str) -> str:
    """The secret with the unused low bits of its last character set: other text, same bytes."""
    body = secret.rstrip("=")
    last = ALPHABET.index(body[-1])
    spelled = body[:-1] + ALPHABET[last | 0b11] + secret[len(body) :]
    assert spelled != secret
    assert base64.b64decode(spelled, validate=True) == base64.b64decode(secret, validate=True)
    return spelled


def identity(**values: str) -> IdentitySettings:
    base = {
        "environment": "production",
        "log_signing_key": REAL_KEY,
        "key_encryption_key": REAL_KEY,
        "screening_key": REAL_KEY,
        "cache_url": REDIS,
    }
    return IdentitySettings(**{**base, **values})  # type: ignore[arg-type]


def release(**values: str) -> ReleaseSettings:
    base = {
        "environment": "production",
        "log_signing_key": REAL_KEY,
        "inspection_vrf_key": REAL_VRF_KEY,
        "cache_url": REDIS,
        "identity_url": "https://identity.port.example",
    }
    return ReleaseSettings(**{**base, **values})  # type: ignore[arg-type]


def test_a_demo_log_key_spelled_with_other_padding_bits_is_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="demo secret"):
        identity(log_signing_key=same_key_other_spelling(DEMO_IDENTITY_LOG_KEY))
    with pytest.raises(ValidationError, match="demo secret"):
        release(log_signing_key=same_key_other_spelling(DEMO_RELEASE_LOG_KEY))


def test_the_demo_key_encryption_key_spelled_otherwise_is_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="demo secret"):
        identity(key_encryption_key=same_key_other_spelling(DEMO_IDENTITY_KEK))


def test_a_demo_secret_moved_to_another_setting_is_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="demo secret"):
        identity(key_encryption_key=DEMO_RELEASE_LOG_KEY)
    with pytest.raises(ValidationError, match="demo secret"):
        release(log_signing_key=same_key_other_spelling(DEMO_IDENTITY_KEK))


def test_a_demo_secret_in_url_safe_or_unpadded_base64_is_recognised() -> None:
    from shared.demo import is_demo_secret

    url_safe = DEMO_IDENTITY_KEK.replace("+", "-").replace("/", "_")
    assert is_demo_secret(url_safe)
    assert is_demo_secret(DEMO_IDENTITY_KEK.rstrip("="))
    assert is_demo_secret(f" {DEMO_RELEASE_LOG_KEY}\n")
    assert not is_demo_secret(REAL_KEY)


def test_production_accepts_real_secrets() -> None:
    assert identity().kek_bytes() == bytes(range(32))
    assert release().log_private_key().private_bytes_raw() == bytes(range(32))


def test_the_demo_inspection_key_is_refused_in_production_in_any_spelling() -> None:
    # With the demo VRF key anyone could compute every draw, and know every selection first.
    for spelling in (DEMO_RELEASE_VRF_KEY, same_key_other_spelling(DEMO_RELEASE_VRF_KEY)):
        with pytest.raises(ValidationError, match="demo secret"):
            release(inspection_vrf_key=spelling)
    with pytest.raises(ValidationError, match="inspection_vrf_key: a demo secret"):
        ReleaseSettings(  # not set: the demo default stands, and is refused
            environment="production",
            log_signing_key=REAL_KEY,
            cache_url=REDIS,
            identity_url="https://identity.port.example",
        )


def test_production_refuses_to_switch_inspections_off() -> None:
    with pytest.raises(ValidationError, match="inspect_probability"):
        release(inspect_probability="0")
    assert release(inspect_probability="0.01").inspect_probability == 0.01
