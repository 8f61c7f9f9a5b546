"""Load tests and benchmarks: scripts that print their figures, never timed assertions."""
