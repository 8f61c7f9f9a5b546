"""The web front end's settings (`KETENPAS_WEB_*`)."""

import base64
import binascii
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.demo import DEMO_WEB_SESSION_KEY, is_demo_secret
from shared.tlog.note import NoteError, parse_verifier_key

Language = Literal["en", "nl"]
LANGUAGES: tuple[Language, ...] = ("en", "nl")


class WebSettings(BaseSettings):
    """Where the front end listens, which services it calls, and how sessions behave."""

    model_config = SettingsConfigDict(env_prefix="KETENPAS_WEB_", extra="ignore")

    environment: Literal["development", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_url: str = ""
    identity_url: str = "http://127.0.0.1:8001"
    release_url: str = "http://127.0.0.1:8002"
    # Seals the session cookie (AES-256-GCM); the demo key is refused outside development.
    session_key: SecretStr = SecretStr(DEMO_WEB_SESSION_KEY)
    # Where signed-out sessions are remembered until their tokens expire (Redis outside
    # development, so that every replica knows; the front end keeps nothing else).
    cache_url: str = "memory://"
    cache_prefix: str = "ketenpas:web:"
    # A session ends after this long without a request, whatever its token's lifetime.
    session_idle_seconds: int = Field(default=15 * 60, ge=60, le=12 * 3600)
    # Seconds the front end waits for a service before it shows "try again".
    api_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # The release service's audit-log verifier key (a C2SP note key, public): what port
    # security's "verify the log" trusts. Required outside development; in development the
    # key the service publishes is taken, and the page says so.
    release_log_key: str = ""
    default_language: Language = "en"
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _check(self) -> "WebSettings":
        if not self.public_url:
            self.public_url = f"http://{self.host}:{self.port}"
        key = self.session_key.get_secret_value()
        if self.environment != "development":
            if is_demo_secret(key):
                raise ValueError("session_key: a demo secret is refused outside development mode")
            if not self.release_log_key:
                raise ValueError("release_log_key must be set outside development mode")
            if self.cache_url.partition("://")[0].lower() not in ("redis", "rediss", "unix"):
                raise ValueError(
                    "cache_url must be Redis outside development mode, so that a session "
                    "signed out on one replica is signed out on all"
                )
        self.session_key_bytes()
        if self.release_log_key:
            try:
                parse_verifier_key(self.release_log_key)
            except NoteError as exc:
                raise ValueError(f"release_log_key is not a note verifier key: {exc}") from None
        return self

    @property
    def secure_cookies(self) -> bool:
        """Cookies only over HTTPS outside development (the demo runs on plain http)."""
        return self.environment != "development"

    def session_key_bytes(self) -> bytes:
        """The 32-byte AES key of the session cookie."""
        try:
            raw = base64.b64decode(self.session_key.get_secret_value(), validate=True)
        except binascii.Error as exc:
            raise ValueError("session_key must be base64 of 32 bytes") from exc
        if len(raw) != 32:
            raise ValueError("session_key must be base64 of 32 bytes")
        return raw
