"""The witness: cosigns checkpoints that extend what it saw before (C2SP tlog-witness)."""
