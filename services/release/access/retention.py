"""The access log's months: partitions made ahead, and the months past retention dropped.

On PostgreSQL the table is `PARTITION BY RANGE (at)`, one partition per UTC month named
`access_log_yYYYYmMM`, and a default partition `access_log_default` that takes a row of a
month nobody made a partition for, so an insert never fails for want of one. `maintain`
makes the partitions of this month and the next `months_ahead` (moving any rows of such a
month out of the default partition first), and `purge` drops the months older than the
retention: a whole partition at once, and the old rows of the default partition by range. On
SQLite the table is one table and `purge` deletes by range.

A purge that deleted anything appends `access_log.purged` {"up_to_month", "rows"} to the
audit log, in the same transaction: the verifier then skips the seals of those months
instead of reporting their rows missing, and checks that the purge kept the retention.
Both run under the sealer's lock (`seals.lock`), so two replicas never make one partition
twice or purge beside a seal.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.access import repository
from services.release.access.seals import PURGED, lock
from shared.audit import events

PARENT = "access_log"
DEFAULT_PARTITION = "access_log_default"
COLUMNS = (
    "id, at, actor, party_id, person_id, action, release_id, container, outcome, results,"
    " endpoint, sealed_in"
)


def month_start(moment: datetime) -> datetime:
    """The first instant of the moment's UTC month."""
    moment = moment.astimezone(UTC)
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


def add_months(month: datetime, months: int) -> datetime:
    """The first instant of the month `months` after (or before) `month`'s."""
    index = month.year * 12 + month.month - 1 + months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def partition_name(month: datetime) -> str:
    """`access_log_yYYYYmMM`."""
    return f"{PARENT}_y{month.year:04d}m{month.month:02d}"


def _month_of_partition(name: str) -> datetime | None:
    if not name.startswith(f"{PARENT}_y") or len(name) != len("access_log_y2026m12"):
        return None
    try:
        return datetime(int(name[-7:-3]), int(name[-2:]), 1, tzinfo=UTC)
    except ValueError:
        return None


def _on_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


async def partitions(session: AsyncSession) -> dict[str, datetime | None]:
    """The partitions of the access log by name, with their months (None: the default)."""
    if not _on_postgres(session):
        return {}
    result = await (await session.connection()).execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = CAST(:parent AS regclass)"
        ),
        {"parent": PARENT},
    )
    return {str(name): _month_of_partition(str(name)) for name in result.scalars()}


async def _make_partition(session: AsyncSession, month: datetime) -> None:
    name = partition_name(month)
    start, end = month.isoformat(), add_months(month, 1).isoformat()
    within = f"at >= '{start}' AND at < '{end}'"
    # Rows of this month that went to the default partition move into the new one, or the
    # attach would refuse (it checks the default partition holds none of its range). Every
    # name and moment here is made by this module (DDL takes no bound parameters).
    moved = f"SELECT {COLUMNS} FROM {DEFAULT_PARTITION} WHERE {within}"  # noqa: S608
    for statement in (
        f"CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)",
        f"INSERT INTO {name} ({COLUMNS}) {moved}",
        f"DELETE FROM {DEFAULT_PARTITION} WHERE {within}",  # noqa: S608
        f"ALTER TABLE {PARENT} ATTACH PARTITION {name} FOR VALUES FROM ('{start}') TO ('{end}')",
    ):
        await (await session.connection()).execute(text(statement))


async def maintain(session: AsyncSession, *, now: datetime, months_ahead: int) -> list[str]:
    """Make the partitions of this month and the next `months_ahead`; the names made.
    Nothing on SQLite, or while another replica holds the lock. The caller owns the
    transaction."""
    if not _on_postgres(session) or not await lock(session):
        return []
    have = await partitions(session)
    made = []
    current = month_start(now)
    for ahead in range(months_ahead + 1):
        month = add_months(current, ahead)
        if partition_name(month) not in have:
            await _make_partition(session, month)
            made.append(partition_name(month))
    return made


@dataclass(frozen=True)
class Purge:
    """What one purge deleted."""

    up_to_month: str
    rows: int
    dropped: tuple[str, ...]


async def purge(session: AsyncSession, *, now: datetime, retention_months: int) -> Purge | None:
    """Delete the months before the retention's first (this month and the `retention_months`
    before it are kept); None if nothing was there. The caller owns the transaction."""
    if not await lock(session):
        return None
    cutoff = add_months(month_start(now), -retention_months)
    rows = 0
    dropped: list[str] = []
    if _on_postgres(session):
        for name, month in (await partitions(session)).items():
            if month is not None and add_months(month, 1) <= cutoff:
                # `name` is one of ours: it parsed as `access_log_yYYYYmMM`.
                count = f"SELECT count(*) FROM {name}"  # noqa: S608
                counted = await (await session.connection()).execute(text(count))
                rows += int(counted.scalar_one())
                await (await session.connection()).execute(text(f"DROP TABLE {name}"))
                dropped.append(name)
    rows += await repository.delete_before(session, cutoff)
    if not rows and not dropped:
        return None
    done = Purge(
        up_to_month=add_months(cutoff, -1).strftime("%Y-%m"), rows=rows, dropped=tuple(dropped)
    )
    await events.append(session, PURGED, {"up_to_month": done.up_to_month, "rows": done.rows})
    return done
