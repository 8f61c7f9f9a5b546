"""Threat: a witness is run in production on the demo key that is in the repository, so
anyone can cosign any fork in its name; or it watches no log at all.

The witness refuses the demo key outside development, in any base64 spelling that decodes
to the same bytes, and refuses to start in production without the logs it must watch.
"""

import base64
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from services.witness.settings import WitnessSettings
from shared.demo import DEMO_RELEASE_LOG_KEY, DEMO_WITNESS_KEY
from shared.tlog.note import verifier_key
from tests.security.test_production_runs_on_a_demo_secret import same_key_other_spelling

REAL_KEY = base64.b64encode(bytes(range(32))).decode()


def production(tmp_path: Path, **values: object) -> WitnessSettings:
    base: dict[str, object] = {
        "environment": "production",
        "signing_key": REAL_KEY,
        "logs": [],
        "database_path": tmp_path / "w.sqlite3",
    }
    base.update(values)
    return WitnessSettings(**base)  # type: ignore[arg-type]


def real_log_key() -> str:
    public = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33))).public_key()
    return verifier_key("example.test/log", public.public_bytes_raw())


@pytest.mark.parametrize(
    "key",
    [
        DEMO_WITNESS_KEY,
        same_key_other_spelling(DEMO_WITNESS_KEY),
        DEMO_RELEASE_LOG_KEY,
    ],
)
def test_a_demo_key_is_refused_in_production(tmp_path: Path, key: str) -> None:
    with pytest.raises(ValidationError, match="demo secret"):
        production(tmp_path, signing_key=key, logs=[real_log_key()])


def test_production_must_name_the_logs_it_watches(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="logs"):
        production(tmp_path)
    assert production(tmp_path, logs=[real_log_key()]).watched()


def test_development_runs_on_the_demo_key_watching_the_demo_logs(tmp_path: Path) -> None:
    settings = WitnessSettings(database_path=tmp_path / "w.sqlite3")
    assert settings.signing_key.get_secret_value() == DEMO_WITNESS_KEY
    assert sorted(settings.watched()) == [
        "ketenpas.localhost/identity-log",
        "ketenpas.localhost/release-log",
    ]
