"""Verifying the access log against its seals in the audit log.

`verify_access_log` recomputes every `access_log.sealed` event from the rows that name it and
reports each difference as a problem with the range of row ids it concerns:

- `seal_differs`: a seal's rows no longer hash to its digest, or are more or fewer than it
  counted (a row edited, deleted, or inserted with that seal's marker);
- `seal_rows_missing`: a seal whose rows are all gone;
- `seal_unknown`: rows marked as held by a seal no audit event records (a forged marker);
- `row_sealed_late`: a row sealed although an earlier seal, made well after the row's time
  (`late_margin` later, longer than any transaction), had passed it by: a row inserted
  after the fact with an old time;
- `row_unsealed`: a row still unsealed that such a seal passed by;
- `purge_too_early`: an `access_log.purged` event that purged a month still within the
  retention (only when the retention is given).

Seals of months up to the latest `access_log.purged` event's `up_to_month` are skipped:
their rows were deleted on purpose, and the purge is itself in the audit log.

The audit log itself (that no seal or purge event was removed or changed) is what
`ketenpas log verify` checks; this check trusts the events it reads and checks the rows.
"""

import bisect
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import RowMapping
from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.access import repository
from services.release.access.seals import PURGED, SEALED, Digest, month_of

DEFAULT_LATE_MARGIN = timedelta(minutes=10)


@dataclass(frozen=True)
class AccessLogProblem:
    """One difference between the access log and its seals."""

    code: str
    detail: str
    first_id: int | None = None
    last_id: int | None = None
    month: str | None = None

    def __str__(self) -> str:
        where = f"rows {self.first_id}..{self.last_id}" if self.first_id is not None else "log"
        month = f" ({self.month})" if self.month else ""
        return f"{self.code}: {where}{month}: {self.detail}"


def _month_index(month: str) -> int:
    year, number = month.split("-")
    return int(year) * 12 + int(number) - 1


class _Group:
    """The rows of one seal as they stream past."""

    def __init__(self, seal_id: int) -> None:
        self.seal_id = seal_id
        self.digest = Digest()
        self.first_id: int | None = None
        self.last_id: int | None = None

    def add(self, row: Mapping[Any, Any]) -> None:
        row_id = int(row["id"])
        self.first_id = row_id if self.first_id is None else self.first_id
        self.last_id = row_id
        self.digest.add(row)


async def verify_access_log(
    session: AsyncSession,
    *,
    late_margin: timedelta = DEFAULT_LATE_MARGIN,
    retention_months: int | None = None,
    since_month: str | None = None,
) -> list[AccessLogProblem]:
    """Every difference between the access log's rows and its seals, lowest row id first
    (empty: the log is as sealed). With `since_month` (`YYYY-MM`) only the seals and rows of
    that month and later are checked: a scheduled run can check the recent months often and
    the whole log seldom."""
    every_seal = {
        int(event["first_id"]): event for event in await repository.logged(session, SEALED)
    }
    seals = {
        seal_id: event
        for seal_id, event in every_seal.items()
        if since_month is None or str(event["month"]) >= since_month
    }
    since = datetime.strptime(since_month, "%Y-%m").replace(tzinfo=UTC) if since_month else None
    purges = await repository.logged(session, PURGED)
    problems = _check_purges(purges, retention_months)
    purged_up_to = max((str(event["up_to_month"]) for event in purges), default=None)

    def purged(month: str) -> bool:
        return purged_up_to is not None and month <= purged_up_to

    sealed_at = {
        seal_id: datetime.fromisoformat(event["at"]) for seal_id, event in every_seal.items()
    }
    times = sorted(sealed_at.values())

    def passed_by(row: RowMapping, before: datetime | None) -> bool:
        """Whether a seal made `late_margin` after the row (and before `before`) left it out."""
        after = bisect.bisect_right(times, row["at"] + late_margin)
        return after < len(times) and (before is None or times[after] < before)

    seen: set[int] = set()
    group: _Group | None = None

    def close(current: _Group) -> None:
        seen.add(current.seal_id)
        event = seals.get(current.seal_id)
        if event is None and current.seal_id in every_seal:
            return  # a seal of a month before `since_month`: a full run checks it
        if event is None:
            problems.append(
                AccessLogProblem(
                    "seal_unknown",
                    f"{current.digest.count} rows name seal {current.seal_id}, which no "
                    "access_log.sealed event records",
                    current.first_id,
                    current.last_id,
                )
            )
            return
        if purged(str(event["month"])):
            return
        if (
            current.digest.count != int(event["count"])
            or current.digest.value() != event["digest"]
            or current.first_id != int(event["first_id"])
            or current.last_id != int(event["last_id"])
        ):
            problems.append(
                AccessLogProblem(
                    "seal_differs",
                    f"the seal counted {event['count']} rows ({event['first_id']}.."
                    f"{event['last_id']}); {current.digest.count} rows hold it now "
                    f"({current.first_id}..{current.last_id}), "
                    + (
                        "and they hash differently"
                        if current.digest.value() != event["digest"]
                        else "with the same hash"
                    ),
                    int(event["first_id"]),
                    int(event["last_id"]),
                    str(event["month"]),
                )
            )

    async for seal_id, row in repository.sealed_rows(session, since):
        if seal_id is None:
            if passed_by(row, None) and not purged(month_of(row["at"])):
                problems.append(
                    AccessLogProblem(
                        "row_unsealed",
                        "a seal made well after this row's time left it out: it was inserted later",
                        int(row["id"]),
                        int(row["id"]),
                        month_of(row["at"]),
                    )
                )
            continue
        if group is None or group.seal_id != seal_id:
            if group is not None:
                close(group)
            group = _Group(int(seal_id))
        group.add(row)
        if int(seal_id) in sealed_at and passed_by(row, sealed_at[int(seal_id)]):
            problems.append(
                AccessLogProblem(
                    "row_sealed_late",
                    "an earlier seal, made well after this row's time, left it out: it was "
                    "inserted later",
                    int(row["id"]),
                    int(row["id"]),
                    month_of(row["at"]),
                )
            )
    if group is not None:
        close(group)
    for seal_id, event in seals.items():
        if seal_id not in seen and not purged(str(event["month"])):
            problems.append(
                AccessLogProblem(
                    "seal_rows_missing",
                    f"all {event['count']} rows of the seal are gone",
                    seal_id,
                    int(event["last_id"]),
                    str(event["month"]),
                )
            )
    return sorted(problems, key=lambda p: (p.first_id is not None, p.first_id or 0))


def _check_purges(
    purges: list[dict[str, Any]], retention_months: int | None
) -> list[AccessLogProblem]:
    """A purge may only take months the retention no longer keeps."""
    if retention_months is None:
        return []
    problems = []
    for event in purges:
        at = datetime.fromisoformat(event["at"])
        newest_allowed = _month_index(month_of(at)) - retention_months - 1
        if _month_index(str(event["up_to_month"])) > newest_allowed:
            problems.append(
                AccessLogProblem(
                    "purge_too_early",
                    f"purged up to {event['up_to_month']} on {at.date()}, within the "
                    f"retention of {retention_months} months",
                    month=str(event["up_to_month"]),
                )
            )
    return problems
