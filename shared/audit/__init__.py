"""The tamper-evident audit log embedded in each service (see `events` for the leaf encoding)."""
