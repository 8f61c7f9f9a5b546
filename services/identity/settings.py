"""Settings of the identity service (environment prefix `KETENPAS_IDENTITY_`)."""

import base64
import binascii
import ipaddress
import json
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from shared.demo import DEMO_IDENTITY_KEK, DEMO_IDENTITY_LOG_KEY, is_demo_secret
from shared.monitoring.settings import MonitoringSettings
from shared.settings import ServiceSettings

ProxyNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# DEMO ONLY: the HMAC-SHA256 key (base64 of 32 bytes) of integrity screening, under which
# identity documents are hashed (docs/screening.md). It is public (it is in the repository),
# so anyone holding it could test guesses of a document against a stored hash: refused
# outside development, in any base64 spelling, like the demo secrets of shared.demo.
DEMO_SCREENING_KEY = "7rwR3b7ySRP0s9VciNac8ScbWKtZaZFs04IVkYk2vxQ="


class IdentitySettings(ServiceSettings, MonitoringSettings):
    """The identity service's settings; demo defaults are refused outside development."""

    model_config = SettingsConfigDict(
        env_prefix="KETENPAS_IDENTITY_", extra="ignore", validate_default=True
    )

    service_name: str = "identity"
    port: int = Field(default=8001, ge=1, le=65535)
    log_signing_key: SecretStr = SecretStr(DEMO_IDENTITY_LOG_KEY)

    # The issuer id: `iss` of everything this service signs and the one `aud` of client
    # assertions. Defaults to the public URL.
    issuer: str = ""
    key_encryption_key: SecretStr = SecretStr(DEMO_IDENTITY_KEK)
    # Integrity screening (docs/screening.md): the HMAC key that hashes new identity
    # documents, and keys retired from that but still compared with (comma-separated).
    screening_key: SecretStr = SecretStr(DEMO_SCREENING_KEY)
    screening_retired_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)

    access_token_lifetime_seconds: int = Field(default=3600, ge=60, le=3600)
    person_token_lifetime_seconds: int = Field(default=3600, ge=60, le=3600)
    credential_lifetime_days: int = Field(default=365, ge=1, le=3 * 365)
    status_list_ttl_seconds: int = Field(default=300, ge=10, le=86400)
    gate_pass_lifetime_seconds: int = Field(default=120, ge=10, le=120)
    second_factor_window_seconds: int = Field(default=900, ge=60, le=86400)
    # A new service signing key is published this long before it signs, so that every
    # verifier's cached JWKS already holds it.
    signing_key_propagation_seconds: int = Field(default=600, ge=0, le=7 * 86400)
    # Used client assertions are kept until they could no longer be replayed anyway, then
    # deleted by a background task this often (0: never in this process; `ketenpas
    # housekeeping purge` does it once).
    housekeeping_interval_seconds: float = Field(default=3600.0, ge=0)

    # Wrong passwords or TOTP codes in the window (docs/rate-limits.md): at most this many
    # at one person from one address or kiosk, from one address, from one kiosk (a
    # terminal's client and operators asking gate passes for drivers), and at one person
    # from anywhere; each further failure doubles the lock-out.
    sign_in_failures_per_person: int = Field(default=5, ge=1)
    sign_in_failures_per_address: int = Field(default=20, ge=1)
    sign_in_failures_per_kiosk: int = Field(default=100, ge=1)
    sign_in_failures_per_person_total: int = Field(default=50, ge=1)
    sign_in_failure_window_seconds: int = Field(default=900, ge=10)
    # The load balancers / reverse proxies in front of the service (addresses or networks,
    # comma-separated or a JSON list). Only from these peers is the forwarded client address
    # believed, read from the header they write (`proxy_header`); default: none, the peer
    # is the client.
    trusted_proxies: Annotated[list[ProxyNetwork], NoDecode] = Field(default_factory=list)
    proxy_header: Literal["x-forwarded-for", "forwarded"] = "x-forwarded-for"

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: Any) -> Any:
        # From the environment: "10.0.0.0/8, 192.0.2.7" or a JSON list.
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                return json.loads(value)
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("screening_retired_keys", mode="before")
    @classmethod
    def _split_screening_keys(cls, value: Any) -> Any:
        # From the environment: "key1,key2" (base64 has no commas).
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("proxy_header", mode="before")
    @classmethod
    def _lower_header(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check_identity_secrets(self) -> "IdentitySettings":
        if not self.issuer:
            self.issuer = self.public_url
        # Demo secrets (in any spelling) are refused by ServiceSettings for every secret.
        self.kek_bytes()
        demo_screening = _screening_key_bytes(DEMO_SCREENING_KEY, "the demo screening key")
        for (name, raw), key in zip(
            self.screening_key_bytes(),
            [self.screening_key, *self.screening_retired_keys],
            strict=True,
        ):
            public = raw == demo_screening or is_demo_secret(key.get_secret_value())
            if public and self.environment != "development":
                raise ValueError(f"{name}: a demo secret is refused outside development mode")
        return self

    def screening_key_bytes(self) -> list[tuple[str, bytes]]:
        """The screening keys as (setting name, 32 bytes), the current one first."""
        named = [("screening_key", self.screening_key)] + [
            ("screening_retired_keys", key) for key in self.screening_retired_keys
        ]
        return [(name, _screening_key_bytes(key.get_secret_value(), name)) for name, key in named]

    def kek_bytes(self) -> bytes:
        """The 32-byte key-encryption key."""
        try:
            raw = base64.b64decode(self.key_encryption_key.get_secret_value(), validate=True)
        except binascii.Error as exc:
            raise ValueError("key_encryption_key must be base64 of 32 bytes") from exc
        if len(raw) != 32:
            raise ValueError("key_encryption_key must be base64 of 32 bytes")
        return raw


def _screening_key_bytes(value: str, name: str) -> bytes:
    # Strict base64 only: one key, one spelling, so that the demo key is recognised by its
    # bytes whatever the unused low bits of its last character say.
    try:
        raw = base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"{name} must be base64 of 32 bytes") from exc
    if len(raw) != 32:
        raise ValueError(f"{name} must be base64 of 32 bytes")
    return raw
