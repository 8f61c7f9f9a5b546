"""Settings of the release service (environment prefix `KETENPAS_RELEASE_`)."""

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from shared.demo import DEMO_RELEASE_LOG_KEY
from shared.settings import ServiceSettings


class ReleaseSettings(ServiceSettings):
    """The release service's settings; demo defaults are refused outside development."""

    model_config = SettingsConfigDict(
        env_prefix="KETENPAS_RELEASE_", extra="ignore", validate_default=True
    )

    service_name: str = "release"
    port: int = Field(default=8002, ge=1, le=65535)
    log_signing_key: SecretStr = SecretStr(DEMO_RELEASE_LOG_KEY)
