"""Settings shared by both services: pydantic-settings, one env prefix per service."""

import base64
import binascii
import json
from pathlib import Path
from typing import Annotated, Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.demo import is_demo_secret
from shared.tlog.cosignature import CosignatureVerifier, parse_cosigner_key

Environment = Literal["development", "production"]

VAR_DIR = Path("var")

# Caches every replica shares (see shared.cache.cache_from_url).
_SHARED_CACHE_SCHEMES = frozenset({"redis", "rediss", "unix"})


class DatabaseSettings(BaseSettings):
    """A service's database, and nothing else: what `ketenpas db upgrade` reads, so that a
    migration job is given the database and none of the service's keys."""

    model_config = SettingsConfigDict(extra="ignore", validate_default=True)

    service_name: str = "service"
    database_url: str = ""
    # PostgreSQL schema that holds this service's tables (production may share one database
    # between both services, one schema each); ignored on SQLite.
    database_schema: str | None = Field(default=None, pattern=r"^[a-z_][a-z0-9_]{0,62}$")

    @model_validator(mode="after")
    def _default_database(self) -> "DatabaseSettings":
        if not self.database_url:
            self.database_url = f"sqlite:///{VAR_DIR / (self.service_name + '.sqlite3')}"
        return self


class AddressSettings(BaseModel):
    """Where a service listens, and the URL it is known by (`public_url`, by default its
    address): a part of a settings class, as the process that runs apart from the service
    (the webhook dispatcher) names the service by the same URL."""

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_url: str = ""

    @model_validator(mode="after")
    def _default_public_url(self) -> "AddressSettings":
        if not self.public_url:
            self.public_url = f"http://{self.host}:{self.port}"
        return self


class MetricsSettings(BaseModel):
    """Where `/metrics` is served (docs/observability.md): a port of its own, never the
    public one; 0: not served. A part of a settings class."""

    metrics_port: int = Field(default=0, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"
    # Where worker processes (`workers` > 1) write their values for the metrics port to add
    # up; empty: a fresh temporary directory at each start.
    metrics_multiprocess_dir: str = ""


class ServiceSettings(DatabaseSettings, AddressSettings, MetricsSettings):
    """What every Ketenpas service needs: where it listens, stores, caches and logs."""

    model_config = SettingsConfigDict(extra="ignore", validate_default=True)

    environment: Environment = "development"
    # Processes serving requests: one per core the service may use (the services keep no
    # state of their own but caches; one audit-log sequencer integrates at a time anyway).
    workers: int = Field(default=1, ge=1, le=64)
    # PostgreSQL connections per process: `database_pool_size` kept open (and opened at
    # startup when `database_pool_warm`, so the first busy second pays no connection setup),
    # up to `database_pool_overflow` more for a burst, closed again when returned.
    database_pool_size: int = Field(default=10, ge=1, le=200)
    database_pool_overflow: int = Field(default=10, ge=0, le=200)
    database_pool_warm: bool = True
    cache_url: str = "memory://"
    cache_prefix: str = ""
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    log_level: str = "INFO"

    # The audit log: its origin line, the seed of its checkpoint key, and its rhythm.
    log_origin: str = ""
    log_signing_key: SecretStr = SecretStr("")
    log_checkpoint_interval_seconds: float = Field(default=1.0, gt=0)
    log_sequencer_interval_seconds: float = Field(default=0.2, gt=0)
    log_sequencer_batch_size: int = Field(default=2000, ge=1, le=100_000)
    run_sequencer: bool = True
    # Where the sequencer remembers the last checkpoint it signed, outside the database, so
    # that a database rolled back or rewritten under it is noticed before it signs again
    # (docs/witness.md). Empty: remembered in memory only, for the life of the process.
    log_guard_state_file: str = ""
    # Witnesses each new checkpoint is pushed to (C2SP tlog-witness), each "<submission URL>,
    # <cosigner key>", separated by ";" or as a JSON list; default none. A witness that is
    # down or slow delays nothing: pushes run in the background, each bounded by the timeout.
    audit_witnesses: Annotated[list[str], NoDecode] = Field(default_factory=list)
    audit_witness_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    # How many of them must have cosigned a checkpoint before evidence relies on it.
    audit_min_witnesses: int = Field(default=0, ge=0)

    # Traces (docs/observability.md): an OpenTelemetry collector's OTLP/HTTP base URL;
    # empty: no tracing, at no cost.
    otlp_endpoint: str = ""
    otlp_sample_ratio: float = Field(default=1.0, ge=0.0, le=1.0)

    @field_validator("audit_witnesses", mode="before")
    @classmethod
    def _split_witnesses(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                return json.loads(value)
            return [item.strip() for item in value.split(";") if item.strip()]
        return value

    def witnesses(self) -> list[tuple[str, CosignatureVerifier]]:
        """(submission URL, cosigner) of each configured witness."""
        found = []
        for item in self.audit_witnesses:
            url, sep, key = item.partition(",")
            if not sep or not url.strip().startswith(("http://", "https://")):
                raise ValueError(f"audit_witnesses: {item!r} is not '<URL>,<cosigner key>'")
            found.append((url.strip(), parse_cosigner_key(key.strip())))
        return found

    @model_validator(mode="after")
    def _fill_defaults_and_refuse_demo_secrets(self) -> "ServiceSettings":
        if not self.cache_prefix:
            self.cache_prefix = f"ketenpas:{self.service_name}"
        if not self.log_origin:
            self.log_origin = f"ketenpas.localhost/{self.service_name}-log"
        seed = self.log_signing_key.get_secret_value()
        if self.environment != "development":
            if not seed:
                raise ValueError("log_signing_key must be set outside development mode")
            self._refuse_demo_secrets()
            self._require_shared_cache()
        if seed:
            _decode_seed(seed)
        if self.metrics_port and self.metrics_port == self.port:
            raise ValueError("metrics_port must not be the public port: /metrics is not public")
        if self.otlp_endpoint and not self.otlp_endpoint.startswith(("http://", "https://")):
            raise ValueError("otlp_endpoint must be an http:// or https:// URL")
        if self.audit_min_witnesses > len(self.witnesses()):
            raise ValueError("audit_min_witnesses is more than the witnesses configured")
        return self

    def _refuse_demo_secrets(self) -> None:
        # Every secret setting, of this class and of the service's subclass, in any spelling:
        # a demo secret is public, whichever setting it is put in.
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr) and is_demo_secret(value.get_secret_value()):
                raise ValueError(f"{name}: a demo secret is refused outside development mode")

    def _require_shared_cache(self) -> None:
        # Rate limits, replay guards and one-time checks in an in-process cache hold per
        # replica only: with N replicas an attacker gets N times the guesses.
        scheme = self.cache_url.partition("://")[0].lower()
        if scheme not in _SHARED_CACHE_SCHEMES:
            raise ValueError(
                "cache_url must be Redis (redis://, rediss:// or unix://) outside development "
                "mode, so that limits and replay guards hold across replicas"
            )

    def log_private_key(self) -> Ed25519PrivateKey:
        """The Ed25519 key that signs this service's checkpoints."""
        return Ed25519PrivateKey.from_private_bytes(
            _decode_seed(self.log_signing_key.get_secret_value())
        )


def _decode_seed(seed: str, name: str = "log_signing_key") -> bytes:
    try:
        raw = base64.b64decode(seed, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"{name} must be base64 of a 32-byte Ed25519 seed") from exc
    if len(raw) != 32:
        raise ValueError(f"{name} must be base64 of a 32-byte Ed25519 seed")
    return raw


def decode_seed(seed: str, name: str) -> bytes:
    """A 32-byte Ed25519 seed from its base64 setting; ValueError naming the setting."""
    return _decode_seed(seed, name)
