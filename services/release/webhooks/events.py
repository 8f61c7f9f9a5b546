"""The catalogue of webhook events: their CloudEvents `type`, and who may be told of each.

Every event is about one release, but `alert.raised`. Who is told follows the reads
(docs/webhooks.md, Who is told what):

- `readers`: the parties that may read the release now (`releases.repository.visible_to`),
  as a party's API client, but not in their overseer role: customs and port security may
  look up every release, yet a feed of every release in the port would be a bulk export no
  read offers (the work list refuses them for the same reason). A party that is both
  terminal and customs is told as the terminal.
- `terminal`: the release's terminal only: the gate's decisions are answers to the terminal
  that asked (`GET /v1/gate/decisions/{id}` is the terminal's alone).
- `inspection`: those who may read the inspection (docs/inspections.md: its terminal,
  customs and port security); never a carrier, a forwarder, a shipping line or a driver.
- `port_security`: port security only (alerts).
"""

from dataclasses import dataclass
from enum import StrEnum

PREFIX = "nl.ketenpas."


class Audience(StrEnum):
    """Which parties an event may go to (see the module docstring)."""

    readers = "readers"
    terminal = "terminal"
    inspection = "inspection"
    port_security = "port_security"


@dataclass(frozen=True)
class EventKind:
    """One type of event: its CloudEvents type, its audience, and what it says."""

    type: str
    audience: Audience
    summary: str


def _kind(name: str, audience: Audience, summary: str) -> EventKind:
    return EventKind(PREFIX + name, audience, summary)


NOMINATION_RECEIVED = _kind(
    "release.nomination_received",
    Audience.readers,
    "a link (release, handover or assignment) was made and waits for its receiver",
)
LINK_ACCEPTED = _kind("release.link_accepted", Audience.readers, "a link was accepted")
LINK_DECLINED = _kind("release.link_declined", Audience.readers, "a link was declined")
LINK_WITHDRAWN = _kind(
    "release.link_withdrawn", Audience.readers, "a link was withdrawn, with every later one"
)
RELEASE_CANCELLED = _kind("release.cancelled", Audience.readers, "the release was cancelled")
RELEASE_EXPIRED = _kind("release.expired", Audience.readers, "the release passed its end")
HOLD_PLACED = _kind("release.hold_placed", Audience.readers, "a customs or terminal hold")
HOLD_LIFTED = _kind("release.hold_lifted", Audience.readers, "a hold was lifted")
GATE_DECIDED = _kind("gate.decided", Audience.terminal, "the gate decided for the release")
GATE_OUT = _kind("gate.completed", Audience.readers, "the container left: picked up")
INSPECTION_SELECTED = _kind(
    "inspection.selected", Audience.inspection, "a draw selected the container for inspection"
)
ALERT_RAISED = _kind(
    "alert.raised", Audience.port_security, "protective monitoring raised an alert"
)

CATALOGUE: dict[str, EventKind] = {
    kind.type: kind
    for kind in (
        NOMINATION_RECEIVED,
        LINK_ACCEPTED,
        LINK_DECLINED,
        LINK_WITHDRAWN,
        RELEASE_CANCELLED,
        RELEASE_EXPIRED,
        HOLD_PLACED,
        HOLD_LIFTED,
        GATE_DECIDED,
        GATE_OUT,
        INSPECTION_SELECTED,
        ALERT_RAISED,
    )
}
