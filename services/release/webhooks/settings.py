"""What the webhook dispatcher run apart (`ketenpas webhooks run`) reads of the release
service's settings (environment prefix `KETENPAS_RELEASE_`): its database, the identity
service, the webhook settings and key, the URL its events name as their source, and its
metrics port.

Not the log's signing key, the inspection VRF key or the cache: the dispatcher is the one
process that opens connections to the Internet, to addresses its subscribers chose, and a
process that holds no key gives none away (docs/deployment.md, the dispatcher's secrets).
The release service's own settings (`ReleaseSettings`) are made of the same parts.
"""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.release.settings import IdentityClientSettings, WebhookSettings
from shared.settings import AddressSettings, DatabaseSettings, MetricsSettings


class DispatcherSettings(
    DatabaseSettings, AddressSettings, MetricsSettings, IdentityClientSettings, WebhookSettings
):
    """The dispatcher's settings, from the release service's environment."""

    model_config = SettingsConfigDict(
        env_prefix="KETENPAS_RELEASE_", extra="ignore", validate_default=True
    )

    service_name: str = "release"
    # The release service's address: its default public URL is the events' source.
    port: int = Field(default=8002, ge=1, le=65535)
    log_level: str = "INFO"

    @property
    def workers(self) -> int:
        """One process, whatever WORKERS the release service runs with (metrics add up no
        worker files here)."""
        return 1
