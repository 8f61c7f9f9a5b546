"""What the audit log says the tables must hold: releases, their holds and gate-outs.

The release service writes each of these rows in the transaction that appends the event
saying so (`release.created`, `release.cancelled`, `release.expired`, `hold.placed`,
`hold.lifted`, `gate.completed`), so replaying the events in log order gives the rows back:
its status and terms for every release, the kinds of hold on it, and its gate-out. No other
event changes these tables.

`expired` is the one status a release can show without an event: an open release past its
`valid_until` is shown expired (`releases.service.effective_status`) while its row stays
`open` until a new release of the container makes room for itself, which writes `expired`
and logs `release.expired`. The replay therefore keeps the stored status, never the shown
one: a stored `open` past its validity agrees with a log that has no `release.expired`.

Memory is one small object per release, whatever the number of events.
"""

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from services.release.releases.models import ReleaseStatus

# The events that change the compared tables, and the one the reconciliation itself logs
# (its last digest decides whether an unchanged difference is alerted again).
RELEASE_EVENTS = frozenset(
    {
        "release.created",
        "release.cancelled",
        "release.expired",
        "hold.placed",
        "hold.lifted",
        "gate.completed",
    }
)
COMPLETED_EVENT = "reconcile.completed"

# RFC 8785 writes a top-level `"type":"hold.placed"` exactly so (no spaces, no escapes), so
# an event without this text cannot be one of these types; one that has it is parsed and its
# top-level `type` decides (the text might sit in a nested value). Parsing only these keeps a
# replay of a million events cheap: most events are gate decisions, reads, draws.
_CANDIDATE = re.compile(
    '"type":"(?:'
    + "|".join(re.escape(name) for name in sorted(RELEASE_EVENTS | {COMPLETED_EVENT}))
    + ')"'
)


def may_matter(event_text: str) -> bool:
    """Whether the canonical JSON of an event may be one the replay applies."""
    return _CANDIDATE.search(event_text) is not None


@dataclass(slots=True)
class ExpectedRelease:
    """One release as the log implies its rows: terms and status, holds, gate-out."""

    created: bool = False  # False: the log names the release only in later events
    container: str | None = None
    terminal_id: str | None = None
    shipping_line_id: str | None = None
    first_party_id: str | None = None
    valid_until: int | None = None  # NumericDate seconds, as `release.created` carries it
    status: str | None = None
    holds: set[str] = field(default_factory=set)
    gate_out: str | None = None  # the decision id of its gate-out

    def row(self) -> dict[str, Any]:
        """The compared fields of the `releases` row, as the log implies them."""
        return {
            "container": self.container,
            "terminal_id": self.terminal_id,
            "shipping_line_id": self.shipping_line_id,
            "first_party_id": self.first_party_id,
            "valid_until": self.valid_until,
            "status": self.status,
        }


@dataclass
class Replay:
    """Applies release events in log order; `releases` is what they imply."""

    releases: dict[uuid.UUID, ExpectedRelease] = field(default_factory=dict)
    applied: int = 0
    # The last `reconcile.completed` event seen (the previous run's digest and alert).
    last_completed: dict[str, Any] | None = None
    # Gate-outs the service could not have made: under a hold, or of a release no longer
    # open (release id, what the log held then). Rows put back after the container left
    # make the tables agree with the log again; the log's order still shows it.
    impossible: list[tuple[uuid.UUID, dict[str, Any]]] = field(default_factory=list)

    def _release(self, release_id: uuid.UUID) -> ExpectedRelease:
        found = self.releases.get(release_id)
        if found is None:
            found = self.releases[release_id] = ExpectedRelease()
        return found

    def apply(self, event: dict[str, Any]) -> uuid.UUID | None:
        """Apply one parsed event; the release it changed, if any."""
        kind = event.get("type")
        if kind == COMPLETED_EVENT:
            self.last_completed = event
            return None
        if kind not in RELEASE_EVENTS:
            return None
        release_id = uuid.UUID(str(event["release_id"]))
        release = self._release(release_id)
        if kind == "release.created":
            release.created = True
            release.container = event.get("container")
            release.terminal_id = event.get("terminal")
            release.shipping_line_id = event.get("shipping_line")
            release.first_party_id = event.get("release_to")
            release.valid_until = event.get("valid_until")
            release.status = ReleaseStatus.open
        elif kind == "release.cancelled":
            release.status = ReleaseStatus.cancelled
        elif kind == "release.expired":
            release.status = ReleaseStatus.expired
        elif kind == "gate.completed":
            if release.holds or (release.created and release.status != ReleaseStatus.open):
                then = {"holds": sorted(release.holds), "status": release.status}
                self.impossible.append((release_id, then))
            release.status = ReleaseStatus.picked_up
            release.gate_out = str(event["decision_id"])
        elif kind == "hold.placed":
            release.holds.add(str(event["kind"]))
        elif kind == "hold.lifted":
            release.holds.discard(str(event["kind"]))
        self.applied += 1
        return release_id
