"""The access log sealed into the audit log, and partitioned by month on PostgreSQL.

Two columns: `endpoint` (the route a read came through) and `sealed_in` (the seal that
committed the row to the audit log). On PostgreSQL the table becomes `PARTITION BY RANGE
(at)`: its primary key becomes `(id, at)` (a partitioned table's key must hold the partition
key), ids keep coming from the same sequence, the rows are copied over, a partition is made
for each month from the oldest row's to three months ahead, and a default partition takes a
row of a month nobody made a partition for (an insert never fails for want of one). On
SQLite the table stays one table and gains the columns.

The partitions' SQL is written out here, not imported from the service: a migration must do
tomorrow what it does today.

Revision ID: release_0012_access_log
Revises: release_0011_monitoring
Create Date: 2026-12-06
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "release_0012_access_log"
down_revision: str | None = "release_0011_monitoring"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXED = ("actor", "at", "container", "party_id", "person_id", "release_id")
COLUMNS = "id, at, actor, party_id, person_id, action, release_id, container, outcome, results"
MONTHS_AHEAD = 3


def _month_start(moment: datetime) -> datetime:
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


def _next_month(month: datetime) -> datetime:
    return month.replace(year=month.year + month.month // 12, month=month.month % 12 + 1)


def _create_partition(month: datetime) -> None:
    name = f"access_log_y{month.year:04d}m{month.month:02d}"
    op.execute(
        f"CREATE TABLE {name} PARTITION OF access_log "
        f"FOR VALUES FROM ('{month.isoformat()}') TO ('{_next_month(month).isoformat()}')"
    )


def _indexes() -> None:
    for column in INDEXED:
        op.create_index(f"ix_access_log_{column}", "access_log", [column], unique=False)
    op.create_index("ix_access_log_sealed_in_id", "access_log", ["sealed_in", "id"], unique=False)


def _upgrade_postgres() -> None:
    bind = op.get_bind()
    sequence = bind.execute(sa.text("SELECT pg_get_serial_sequence('access_log', 'id')")).scalar()
    oldest = bind.execute(sa.text("SELECT min(at) FROM access_log")).scalar()
    for column in INDEXED:
        op.drop_index(f"ix_access_log_{column}", table_name="access_log")
    op.execute("ALTER TABLE access_log RENAME CONSTRAINT pk_access_log TO pk_access_log_old")
    op.execute("ALTER TABLE access_log RENAME TO access_log_old")
    # The ids go on from the same sequence: a row sealed before keeps its id.
    op.execute(f"ALTER SEQUENCE {sequence} OWNED BY NONE")
    op.execute(
        "CREATE TABLE access_log ("
        f" id BIGINT NOT NULL DEFAULT nextval('{sequence}'),"
        " at TIMESTAMP WITH TIME ZONE NOT NULL,"
        " actor VARCHAR(100) NOT NULL,"
        " party_id VARCHAR(40) NOT NULL,"
        " person_id UUID,"
        " action VARCHAR(40) NOT NULL,"
        " release_id UUID,"
        " container VARCHAR(11),"
        " outcome VARCHAR(16) NOT NULL,"
        " results INTEGER NOT NULL,"
        " endpoint VARCHAR(200),"
        " sealed_in BIGINT,"
        " CONSTRAINT pk_access_log PRIMARY KEY (id, at)"
        ") PARTITION BY RANGE (at)"
    )
    op.execute(f"ALTER SEQUENCE {sequence} OWNED BY access_log.id")
    op.execute("CREATE TABLE access_log_default PARTITION OF access_log DEFAULT")
    now = datetime.now(UTC)
    month = _month_start(min(oldest, now) if oldest is not None else now)
    last = _month_start(now)
    for _ in range(MONTHS_AHEAD):
        last = _next_month(last)
    while month <= last:
        _create_partition(month)
        month = _next_month(month)
    op.execute(f"INSERT INTO access_log ({COLUMNS}) SELECT {COLUMNS} FROM access_log_old")  # noqa: S608
    op.execute("DROP TABLE access_log_old")
    _indexes()


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _upgrade_postgres()
        return
    with op.batch_alter_table("access_log") as batch:
        batch.add_column(sa.Column("endpoint", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("sealed_in", sa.BigInteger(), nullable=True))
    op.create_index("ix_access_log_sealed_in_id", "access_log", ["sealed_in", "id"], unique=False)


def _downgrade_postgres() -> None:
    bind = op.get_bind()
    sequence = bind.execute(sa.text("SELECT pg_get_serial_sequence('access_log', 'id')")).scalar()
    op.execute("ALTER TABLE access_log RENAME CONSTRAINT pk_access_log TO pk_access_log_new")
    op.execute("ALTER TABLE access_log RENAME TO access_log_new")
    for column in (*INDEXED, "sealed_in_id"):
        op.execute(f"DROP INDEX IF EXISTS ix_access_log_{column}")
    op.execute(f"ALTER SEQUENCE {sequence} OWNED BY NONE")
    op.execute(
        "CREATE TABLE access_log ("
        f" id BIGINT NOT NULL DEFAULT nextval('{sequence}'),"
        " at TIMESTAMP WITH TIME ZONE NOT NULL,"
        " actor VARCHAR(100) NOT NULL,"
        " party_id VARCHAR(40) NOT NULL,"
        " person_id UUID,"
        " action VARCHAR(40) NOT NULL,"
        " release_id UUID,"
        " container VARCHAR(11),"
        " outcome VARCHAR(16) NOT NULL,"
        " results INTEGER NOT NULL,"
        " CONSTRAINT pk_access_log PRIMARY KEY (id))"
    )
    op.execute(f"ALTER SEQUENCE {sequence} OWNED BY access_log.id")
    op.execute(f"INSERT INTO access_log ({COLUMNS}) SELECT {COLUMNS} FROM access_log_new")  # noqa: S608
    op.execute("DROP TABLE access_log_new CASCADE")
    for column in INDEXED:
        op.create_index(f"ix_access_log_{column}", "access_log", [column], unique=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _downgrade_postgres()
        return
    op.drop_index("ix_access_log_sealed_in_id", table_name="access_log")
    with op.batch_alter_table("access_log") as batch:
        batch.drop_column("sealed_in")
        batch.drop_column("endpoint")
