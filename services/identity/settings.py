"""Settings of the identity service (environment prefix `KETENPAS_IDENTITY_`)."""

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from shared.demo import DEMO_IDENTITY_LOG_KEY
from shared.settings import ServiceSettings


class IdentitySettings(ServiceSettings):
    """The identity service's settings; demo defaults are refused outside development."""

    model_config = SettingsConfigDict(
        env_prefix="KETENPAS_IDENTITY_", extra="ignore", validate_default=True
    )

    service_name: str = "identity"
    port: int = Field(default=8001, ge=1, le=65535)
    log_signing_key: SecretStr = SecretStr(DEMO_IDENTITY_LOG_KEY)
