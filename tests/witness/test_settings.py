"""The services' witness settings: how they are written, and what is refused at start-up."""

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from services.release.settings import ReleaseSettings
from shared.tlog.cosignature import CosignatureVerifier


def cosigner_key(name: str, seed: int) -> str:
    public = Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32).public_key()
    return CosignatureVerifier(name, public.public_bytes_raw()).vkey


def test_witnesses_from_the_environment_in_both_spellings(monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = cosigner_key("witness.test/a", 1), cosigner_key("witness.test/b", 2)
    monkeypatch.setenv("KETENPAS_RELEASE_AUDIT_WITNESSES", f"http://a:8003,{a}; https://b/w,{b}")
    monkeypatch.setenv("KETENPAS_RELEASE_AUDIT_MIN_WITNESSES", "2")
    settings = ReleaseSettings()
    assert [(url, c.name) for url, c in settings.witnesses()] == [
        ("http://a:8003", "witness.test/a"),
        ("https://b/w", "witness.test/b"),
    ]
    monkeypatch.setenv("KETENPAS_RELEASE_AUDIT_WITNESSES", json.dumps([f"http://a:8003,{a}"]))
    monkeypatch.setenv("KETENPAS_RELEASE_AUDIT_MIN_WITNESSES", "1")
    assert len(ReleaseSettings().witnesses()) == 1


@pytest.mark.parametrize(
    ("witnesses", "minimum"),
    [
        ("http://a:8003,not-a-key", 0),
        ("a:8003,{a}", 0),  # no scheme
        ("{a}", 0),  # no URL
        ("http://a:8003,{a}", 2),  # more required than configured
    ],
)
def test_a_bad_witness_setting_is_refused_at_start_up(
    monkeypatch: pytest.MonkeyPatch, witnesses: str, minimum: int
) -> None:
    monkeypatch.setenv(
        "KETENPAS_RELEASE_AUDIT_WITNESSES", witnesses.format(a=cosigner_key("witness.test/a", 1))
    )
    monkeypatch.setenv("KETENPAS_RELEASE_AUDIT_MIN_WITNESSES", str(minimum))
    with pytest.raises(ValidationError):
        ReleaseSettings()


def test_no_witnesses_by_default() -> None:
    settings = ReleaseSettings()
    assert settings.witnesses() == [] and settings.audit_min_witnesses == 0
    assert settings.log_guard_state_file == ""
