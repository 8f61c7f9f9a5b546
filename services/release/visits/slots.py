"""Slot arithmetic: slots are whole multiples of their length since the Unix epoch (UTC),
so that every process, and the verifier, cuts time at the same moments."""

from datetime import UTC, datetime, timedelta


def slot_floor(moment: datetime, slot_seconds: int) -> datetime:
    """The start of the slot `moment` lies in."""
    seconds = int(moment.timestamp()) // slot_seconds * slot_seconds
    return datetime.fromtimestamp(seconds, UTC)


def slot_ceil(moment: datetime, slot_seconds: int) -> datetime:
    """The first slot start at or after `moment`."""
    floor = slot_floor(moment, slot_seconds)
    return floor if floor == moment else floor + timedelta(seconds=slot_seconds)


def slot_name(slot_start: datetime) -> str:
    """A slot start as a draw's subject names it: ISO 8601 UTC, e.g. 2026-12-06T10:05:00Z."""
    return slot_start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
