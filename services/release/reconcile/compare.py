"""Differences between what the log implies and what the tables hold, named by row.

A difference names the table, the row's primary key and the problem: `missing` (the log
implies the row, the table lacks it), `unknown` (the table holds a row the log never
wrote) or `differs` (both hold it, these fields differ: `log` and `stored` give each side).
A gate-out the log records while it shows a hold on the release, or the release closed, is
`out_when_not_allowed` (`log` gives the holds and status then): the service refuses such a
gate-out, so the rows were changed around it, even if they were put back since.
The log's own integrity failures are differences of `audit_events` (an event altered or
missing, the stored commitments not making the signed root) and of `audit_checkpoints`.
"""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from services.release.reconcile.replay import ExpectedRelease
from services.release.reconcile.repository import ReleaseRow


@dataclass(frozen=True)
class Difference:
    """One row on which the tables and the log disagree."""

    table: str
    key: dict[str, Any]
    problem: str
    log: dict[str, Any] | None = None
    stored: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        """The difference as alert facts and the CLI's output carry it."""
        found: dict[str, Any] = {"table": self.table, "key": self.key, "problem": self.problem}
        if self.log is not None:
            found["log"] = self.log
        if self.stored is not None:
            found["stored"] = self.stored
        return found

    def sort_key(self) -> tuple[str, str, str]:
        """A stable order, so that the same differences make the same digest."""
        return self.table, repr(sorted(self.key.items())), self.problem

    def describe(self) -> str:
        """One line for people: `release_holds (release_id=…, kind=customs): missing`."""
        key = ", ".join(f"{name}={value}" for name, value in self.key.items())
        line = f"{self.table} ({key}): {self.problem}"
        if self.problem == "differs" and self.log is not None and self.stored is not None:
            fields = "; ".join(
                f"{name} log={self.log[name]!r} table={self.stored.get(name)!r}"
                for name in self.log
            )
            line += f" ({fields})"
        elif self.stored is not None:
            line += f" (table: {self.stored})"
        elif self.log is not None:
            line += f" (log: {self.log})"
        return line


def _stored(row: ReleaseRow) -> dict[str, Any]:
    return {
        "container": row.container,
        "terminal_id": row.terminal_id,
        "shipping_line_id": row.shipping_line_id,
        "first_party_id": row.first_party_id,
        "valid_until": int(row.valid_until.timestamp()),
        "status": row.status,
    }


async def releases(
    expected: dict[uuid.UUID, ExpectedRelease], rows: AsyncIterator[ReleaseRow]
) -> list[Difference]:
    """The `releases` table against the log: terms (container, terminal, parties,
    `valid_until`) and the stored status."""
    found: list[Difference] = []
    seen: set[uuid.UUID] = set()
    async for row in rows:
        key = {"id": str(row.id)}
        stored = _stored(row)
        release = expected.get(row.id)
        if release is None or not release.created:
            found.append(Difference("releases", key, "unknown", stored=stored))
            continue
        seen.add(row.id)
        implied = release.row()
        changed = [name for name in implied if implied[name] != stored[name]]
        if changed:
            found.append(
                Difference(
                    "releases",
                    key,
                    "differs",
                    log={name: implied[name] for name in changed},
                    stored={name: stored[name] for name in changed},
                )
            )
    for release_id, release in expected.items():
        if release.created and release_id not in seen:
            found.append(
                Difference("releases", {"id": str(release_id)}, "missing", log=release.row())
            )
    return found


async def holds(
    expected: dict[uuid.UUID, ExpectedRelease], rows: AsyncIterator[tuple[uuid.UUID, str]]
) -> list[Difference]:
    """The `release_holds` table against the holds the log leaves placed."""
    stored: dict[uuid.UUID, set[str]] = {}
    async for release_id, kind in rows:
        stored.setdefault(release_id, set()).add(kind)
    found: list[Difference] = []
    for release_id in expected.keys() | stored.keys():
        release = expected.get(release_id)
        implied = release.holds if release is not None else set()
        held = stored.get(release_id, set())
        for kind in sorted(implied - held):
            key = {"release_id": str(release_id), "kind": kind}
            found.append(Difference("release_holds", key, "missing"))
        for kind in sorted(held - implied):
            key = {"release_id": str(release_id), "kind": kind}
            found.append(Difference("release_holds", key, "unknown"))
    return found


async def gate_outs(
    expected: dict[uuid.UUID, ExpectedRelease], rows: AsyncIterator[tuple[uuid.UUID, uuid.UUID]]
) -> list[Difference]:
    """The `gate_outs` table against the gate-outs the log records (one per release)."""
    found: list[Difference] = []
    seen: set[uuid.UUID] = set()
    async for release_id, decision_id in rows:
        key = {"release_id": str(release_id)}
        release = expected.get(release_id)
        implied = release.gate_out if release is not None else None
        if implied is None:
            found.append(
                Difference("gate_outs", key, "unknown", stored={"decision_id": str(decision_id)})
            )
            continue
        seen.add(release_id)
        if implied != str(decision_id):
            found.append(
                Difference(
                    "gate_outs",
                    key,
                    "differs",
                    log={"decision_id": implied},
                    stored={"decision_id": str(decision_id)},
                )
            )
    for release_id, release in expected.items():
        if release.gate_out is not None and release_id not in seen:
            key = {"release_id": str(release_id)}
            found.append(
                Difference("gate_outs", key, "missing", log={"decision_id": release.gate_out})
            )
    return found
