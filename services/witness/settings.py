"""Settings of the witness (environment prefix `KETENPAS_WITNESS_`).

The witness is meant to be run by an outside body (the port authority, the police), so it
shares nothing with the services but the formats: its own key, its own SQLite file, and the
verifier keys of the logs it watches, given to it by whoever runs it.
"""

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.demo import (
    DEMO_IDENTITY_LOG_KEY,
    DEMO_RELEASE_LOG_KEY,
    DEMO_WITNESS_KEY,
    is_demo_secret,
)
from shared.settings import decode_seed
from shared.tlog.cosignature import CosignatureSigner
from shared.tlog.note import Verifier, parse_verifier_key, verifier_key

DEMO_LOG_ORIGINS = {
    "ketenpas.localhost/identity-log": DEMO_IDENTITY_LOG_KEY,
    "ketenpas.localhost/release-log": DEMO_RELEASE_LOG_KEY,
}


def demo_log_keys() -> list[str]:
    """The verifier keys of the demo services' logs (what `make run` signs with)."""
    keys = []
    for origin, seed in DEMO_LOG_ORIGINS.items():
        public = Ed25519PrivateKey.from_private_bytes(decode_seed(seed, origin)).public_key()
        keys.append(verifier_key(origin, public.public_bytes_raw()))
    return keys


class WitnessSettings(BaseSettings):
    """Where the witness listens and stores, its key, and the logs it watches."""

    model_config = SettingsConfigDict(
        env_prefix="KETENPAS_WITNESS_", extra="ignore", validate_default=True
    )

    environment: Literal["development", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = Field(default=8003, ge=1, le=65535)
    log_level: str = "INFO"
    # The cosigner name: a schema-less URL naming this witness (C2SP tlog-cosignature).
    name: str = "witness.ketenpas.localhost"
    # The Ed25519 seed (base64) of the cosigning key; the demo key only in development.
    signing_key: SecretStr = SecretStr(DEMO_WITNESS_KEY)
    # The latest checkpoint of each log; written atomically on every accepted checkpoint.
    database_path: Path = Path("var/witness.sqlite3")
    # The logs watched: signed-note verifier keys whose key name is the log's origin
    # (comma-separated or a JSON list). Default in development: the demo services' logs.
    logs: Annotated[list[str], NoDecode] = Field(default_factory=list)
    max_body_bytes: int = Field(default=16 * 1024, ge=1024)

    @field_validator("logs", mode="before")
    @classmethod
    def _split_logs(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                return json.loads(value)
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @model_validator(mode="after")
    def _check(self) -> "WitnessSettings":
        seed = self.signing_key.get_secret_value()
        if self.environment != "development":
            if is_demo_secret(seed):
                raise ValueError("signing_key: a demo secret is refused outside development mode")
            if not self.logs:
                raise ValueError("logs: name the logs to watch outside development mode")
        if not self.logs and self.environment == "development":
            self.logs = demo_log_keys()
        decode_seed(seed, "signing_key")
        for key in self.logs:
            parse_verifier_key(key)
        self.signer()  # the name must be a valid key name
        return self

    def signer(self) -> CosignatureSigner:
        """The witness's cosigner."""
        seed = decode_seed(self.signing_key.get_secret_value(), "signing_key")
        return CosignatureSigner(self.name, Ed25519PrivateKey.from_private_bytes(seed))

    def watched(self) -> dict[str, Verifier]:
        """Origin -> the verifier of its checkpoints."""
        verifiers = [parse_verifier_key(key) for key in self.logs]
        return {verifier.name: verifier for verifier in verifiers}
