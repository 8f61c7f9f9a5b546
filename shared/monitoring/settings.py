"""The monitoring settings both services have (each in its own settings class)."""

from pydantic import BaseModel, Field


class MonitoringSettings(BaseModel):
    """Protective monitoring's settings; a service's settings class derives from this too.

    - `monitoring_poll_seconds`: the rule runner looks at the logs at least this often
      (sooner when woken through the cache);
    - `monitoring_sweep_seconds`: every rule judges its whole window this often (0: never);
    - `monitoring_stream_poll_seconds`, `monitoring_stream_heartbeat_seconds`: an alert
      stream looks at the database at least this often, and says `: keepalive` after this
      much silence, and ends after `monitoring_stream_max_seconds` (the client reconnects);
    - `run_monitoring`: whether this process runs the rule runner; unset, it does where the
      audit log's sequencer runs (`run_sequencer`), the process that does background work.
    """

    monitoring_poll_seconds: float = Field(default=2.0, gt=0, le=3600)
    monitoring_sweep_seconds: float = Field(default=300.0, ge=0, le=86400)
    monitoring_stream_poll_seconds: float = Field(default=2.0, gt=0, le=60)
    monitoring_stream_heartbeat_seconds: float = Field(default=15.0, gt=0, le=300)
    monitoring_stream_max_seconds: float = Field(default=900.0, gt=0, le=86400)
    run_monitoring: bool | None = None
