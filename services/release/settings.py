"""Settings of the release service (environment prefix `KETENPAS_RELEASE_`)."""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from shared.demo import DEMO_RELEASE_LOG_KEY, DEMO_RELEASE_VRF_KEY, DEMO_WEBHOOK_SECRET_KEY
from shared.monitoring.settings import MonitoringSettings
from shared.settings import Environment, ServiceSettings, decode_seed


class IdentityClientSettings(BaseModel):
    """How the identity service is reached and its documents held: a part of the release
    service's settings, and of the webhook dispatcher's (`DispatcherSettings`)."""

    environment: Environment = "development"
    # The identity service: where to reach it and the issuer id it signs with (defaults to
    # its URL). Its keys, credentials and status lists are re-fetched beside the requests
    # once older than `identity_refresh_seconds`, and before answering once older than twice
    # that (so a revocation reaches the gate within twice that time); while it is away, what
    # is held is trusted until `identity_max_staleness_seconds` old, then the gate fails
    # closed.
    identity_url: str = "http://127.0.0.1:8001"
    identity_issuer: str = ""
    identity_refresh_seconds: float = Field(default=15.0, ge=0)
    identity_max_staleness_seconds: float = Field(default=300.0, gt=0)
    identity_timeout_seconds: float = Field(default=5.0, gt=0)
    # A kid no held copy knows (a key certified or rotated since) makes us fetch that
    # document again at most once per this time: a burst of made-up kids costs one request.
    identity_recheck_seconds: float = Field(default=10.0, ge=0)
    # At most this many documents (party credentials, status lists, keys) are held; the
    # least recently used goes first, so made-up party ids cannot grow the cache for ever.
    identity_cache_entries: int = Field(default=10_000, ge=16)

    @model_validator(mode="after")
    def _check_identity_url(self) -> "IdentityClientSettings":
        self.identity_url = self.identity_url.rstrip("/")
        # Keys, status lists and credentials decide the gate: fetched over plain HTTP, anyone
        # on the path could serve his own keys or hide a revocation.
        if self.environment != "development" and not self.identity_url.lower().startswith(
            "https://"
        ):
            raise ValueError("identity_url must be https:// outside development mode")
        if not self.identity_issuer:
            self.identity_issuer = self.identity_url
        return self


class WebhookSettings(BaseModel):
    """How webhooks are sealed, sent, retried and given up: a part of the release service's
    settings, and of the webhook dispatcher's (`DispatcherSettings`)."""

    environment: Environment = "development"
    # Webhooks (docs/webhooks.md). The key that seals subscriptions' secrets at rest (base64
    # of 32 bytes): unset, the demo key in development, and no webhooks at all elsewhere
    # (subscribing answers 503 `webhooks_not_configured`); the demo key itself is refused
    # outside development. Endpoints on private, loopback or link-local addresses only in
    # development (`webhook_allow_private`, for local receivers). Each delivery connects
    # within `webhook_connect_timeout_seconds`, ends within `webhook_timeout_seconds` and
    # reads at most `webhook_max_response_bytes` of the answer. A failed delivery is tried
    # again after `webhook_retry_base_seconds`, doubling up to `webhook_retry_cap_seconds`
    # (each wait between half and all of that, at random, so that many retries do not
    # arrive together), and given up `webhook_give_up_seconds` after it was made; the
    # subscription is then `failing`. The dispatcher looks every `webhook_poll_seconds`,
    # sends at most `webhook_concurrency` at once and at most `webhook_per_subscription` to
    # one subscription (one while its latest send failed: a slow subscriber never holds up
    # another), and holds a claimed delivery for `webhook_lease_seconds` (then another
    # process may take it).
    webhook_secret_key: SecretStr = SecretStr("")
    webhook_allow_private: bool = False
    webhook_connect_timeout_seconds: float = Field(default=2.0, gt=0, le=30)
    webhook_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    webhook_max_response_bytes: int = Field(default=4096, ge=0, le=1_048_576)
    webhook_retry_base_seconds: float = Field(default=5.0, gt=0, le=3600)
    webhook_retry_cap_seconds: float = Field(default=3600.0, gt=0, le=86400)
    webhook_give_up_seconds: float = Field(default=86400.0, gt=0, le=30 * 86400)
    webhook_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    webhook_concurrency: int = Field(default=64, ge=1, le=1000)
    webhook_per_subscription: int = Field(default=2, ge=1, le=100)
    webhook_lease_seconds: float = Field(default=60.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _check_webhooks(self) -> "WebhookSettings":
        key = self.webhook_key()  # refused at start, not at the first subscription
        if self.environment != "development":
            if key == decode_seed(DEMO_WEBHOOK_SECRET_KEY, "webhook_secret_key"):
                raise ValueError(
                    "webhook_secret_key: a demo secret is refused outside development mode"
                )
            if self.webhook_allow_private:
                raise ValueError("webhook_allow_private is refused outside development mode")
        if self.webhook_lease_seconds <= self.webhook_timeout_seconds:
            raise ValueError("webhook_lease_seconds must be longer than webhook_timeout_seconds")
        return self

    def webhook_key(self) -> bytes | None:
        """The AES-256-GCM key that seals subscriptions' secrets; None: no webhooks here."""
        value = self.webhook_secret_key.get_secret_value()
        if not value and self.environment == "development":
            value = DEMO_WEBHOOK_SECRET_KEY
        return decode_seed(value, "webhook_secret_key") if value else None


# The service's own checks (demo secrets first) run before its parts' (pydantic runs the
# validators of the later bases first).
class ReleaseSettings(IdentityClientSettings, WebhookSettings, ServiceSettings, MonitoringSettings):
    """The release service's settings; demo defaults are refused outside development."""

    model_config = SettingsConfigDict(
        env_prefix="KETENPAS_RELEASE_", extra="ignore", validate_default=True
    )

    service_name: str = "release"
    port: int = Field(default=8002, ge=1, le=65535)
    log_signing_key: SecretStr = SecretStr(DEMO_RELEASE_LOG_KEY)

    # The chain: how many links at most (real chains run longer than three parties); the
    # longest a link may live (`exp - iat`; a custodial link lives that long unless the
    # release ends sooner); and how long before its receipt a link may say it was signed
    # (its signer's clock and the way here): a link is judged at its receipt, not at the
    # `iat` its signer chose.
    max_chain_links: int = Field(default=8, ge=2, le=64)
    link_lifetime_days: int = Field(default=30, ge=1, le=366)
    link_max_age_at_receipt_seconds: int = Field(default=120, ge=30, le=3600)
    # The longest a release may be valid (docs/design.md, Domain): a line cannot block its
    # container for ever; a yard entry's own end may bound it sooner.
    release_max_days: int = Field(default=30, ge=1, le=366)

    # Inspections (docs/inspections.md). The VRF secret key that draws them: the release
    # service's alone (base64 of a 32-byte Ed25519 seed; the demo key is refused outside
    # development). Rotating it is changing it: the old public key stays published, and
    # each draw names the key it was made with.
    inspection_vrf_key: SecretStr = SecretStr(DEMO_RELEASE_VRF_KEY)
    # The chance that a gate decision which would release selects the container instead
    # (until risk factors apply). Zero only in development (tests that must not be
    # interrupted): anywhere else every container must be selectable.
    inspect_probability: float = Field(default=0.02, ge=0.0, le=1.0)
    # The least selection probability a terminal's policy may set as its floor (port
    # security's risk weights can raise the probability, never take it below this).
    inspect_floor_minimum: float = Field(default=0.001, ge=0.0, le=1.0)
    # The port's time zone: a terminal's daily inspection capacity is counted per local day.
    port_timezone: str = "Europe/Amsterdam"
    # A `release` decision is completed (gate-out) within this time, or asked again.
    gate_decision_valid_seconds: int = Field(default=900, ge=30, le=86400)

    # Drug-dog and patrol visits (docs/inspections.md#drug-dog-and-patrol-visits). Each slot
    # of `visit_slot_seconds` (a divisor of a day; a site keeps the one it was made with) is
    # drawn `visit_lead_seconds` before it starts and not earlier, by a scheduler that looks
    # every `visit_tick_seconds` (0: none in this process); a visit lasts at most
    # `visit_max_seconds`, and port security sees a period's slots once that long has
    # passed; a visit with no outcome `visit_report_grace_seconds` after its end is
    # recorded missed; a scheduler catches up at most `visit_catch_up_slots` per look.
    visit_slot_seconds: int = Field(default=300, ge=60, le=3600)
    visit_lead_seconds: int = Field(default=600, ge=0, le=3600)
    visit_tick_seconds: float = Field(default=15.0, ge=0)
    visit_max_seconds: int = Field(default=7200, ge=60, le=86400)
    visit_report_grace_seconds: int = Field(default=3600, ge=0, le=7 * 86400)
    visit_catch_up_slots: int = Field(default=500, ge=1, le=100_000)

    # Spent gate passes are kept until they could no longer be presented anyway, then
    # deleted by a background task this often (0: never in this process; `ketenpas
    # housekeeping purge` does it once).
    housekeeping_interval_seconds: float = Field(default=3600.0, ge=0)

    # The reconciliation (docs/reconcile.md) replays the signed audit log and compares it
    # with the holds, release statuses and gate-outs in the tables this often (0: never in
    # this process; `ketenpas reconcile` runs it once). It waits one interval after start.
    reconcile_interval_seconds: float = Field(default=900.0, ge=0)

    # The access log (docs/access-log.md): kept this many whole months before the current
    # one, then dropped a month at a time; sealed into the audit log every
    # `access_log_seal_interval_seconds` (0: never in this process) by each process that runs
    # the sequencer, which also makes the partitions of the next
    # `access_log_partitions_ahead` months on PostgreSQL. The verifier reports a row as
    # inserted later when a seal made `access_log_seal_late_seconds` after its time left it
    # out (longer than any request's transaction).
    access_log_retention_months: int = Field(default=24, ge=1, le=240)
    access_log_seal_interval_seconds: float = Field(default=60.0, ge=0)
    access_log_partitions_ahead: int = Field(default=3, ge=1, le=24)
    access_log_seal_late_seconds: int = Field(default=600, ge=60, le=86400)

    # The webhook dispatcher runs where the sequencer runs unless this says otherwise.
    run_webhooks: bool | None = None

    @model_validator(mode="after")
    def _check_inspections(self) -> "ReleaseSettings":
        self.inspection_vrf_seed()  # refused at start, not at the first gate decision
        if 86400 % self.visit_slot_seconds:
            raise ValueError("visit_slot_seconds must divide a day (86400) evenly")
        if self.environment != "development" and self.inspect_probability <= 0.0:
            raise ValueError("inspect_probability must be above zero outside development mode")
        if self.environment != "development" and self.inspect_floor_minimum <= 0.0:
            raise ValueError("inspect_floor_minimum must be above zero outside development mode")
        try:
            ZoneInfo(self.port_timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"port_timezone {self.port_timezone!r} is not a time zone") from None
        return self

    def inspection_vrf_seed(self) -> bytes:
        """The inspection VRF's secret key (an Ed25519 seed)."""
        return decode_seed(self.inspection_vrf_key.get_secret_value(), "inspection_vrf_key")
