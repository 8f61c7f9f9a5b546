"""Async engine and session factory for SQLite (aiosqlite) and PostgreSQL (asyncpg)."""

import functools
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Table, bindparam, event, insert, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import IdentifierPreparer
from sqlmodel.ext.asyncio.session import AsyncSession

SessionFactory = async_sessionmaker[AsyncSession]
READ_ONLY_OPTION = "ketenpas_read_only"


def async_url(database_url: str) -> URL:
    """Map a plain `postgresql://` or `sqlite:///` URL onto its async driver."""
    url = make_url(database_url)
    if url.drivername in ("postgresql", "postgres", "postgresql+asyncpg"):
        return url.set(drivername="postgresql+asyncpg")
    if url.drivername in ("sqlite", "sqlite+aiosqlite"):
        return url.set(drivername="sqlite+aiosqlite")
    raise ValueError(f"unsupported database URL scheme {url.drivername!r}")


def is_sqlite(engine: AsyncEngine) -> bool:
    """Whether the engine talks to SQLite (the embedded default)."""
    return engine.dialect.name == "sqlite"


def create_engine(
    database_url: str,
    *,
    schema: str | None = None,
    pool_size: int = 10,
    pool_overflow: int = 10,
) -> AsyncEngine:
    """An async engine; on PostgreSQL `schema` becomes the search path."""
    url = async_url(database_url)
    kwargs: dict[str, Any] = {}
    if url.drivername == "postgresql+asyncpg":
        if schema:
            kwargs["connect_args"] = {"server_settings": {"search_path": schema}}
        kwargs.update(pool_size=pool_size, max_overflow=pool_overflow)
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "checkout", _discard_if_closed)
        return engine
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, connect_args={"timeout": 30})
    event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    event.listen(engine.sync_engine, "begin", _sqlite_begin_immediate)
    return engine


def _discard_if_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """A pooled connection the server has closed is replaced before it is used.

    SQLAlchemy's `pool_pre_ping` asks the server at every checkout: on asyncpg a BEGIN, a
    ping and a ROLLBACK, three round trips before each transaction (6 of a pickup's 25 at
    the gate: docs/benchmarks.md, "Fewer round trips at the gate"). The driver already
    knows a connection the server closed, a restart or a failover included: its socket read
    the end of the stream and `is_closed()` says so, at no cost. A connection lost without
    a word (a network partition) is still found by its first statement, which fails and
    makes SQLAlchemy throw away the whole pool: that request gets a 503 and the next ones
    fresh connections.
    """
    driver_connection = getattr(dbapi_connection, "driver_connection", None)
    if driver_connection is not None and driver_connection.is_closed():
        raise DisconnectionError("the server closed this connection")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own implicit BEGIN is switched off so that `_sqlite_begin_immediate`
    # decides how a transaction starts.
    dbapi_connection.isolation_level = None
    # WAL keeps the file consistent on a crash; the busy timeout makes a second writer wait
    # instead of failing at once.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin_immediate(connection: Any) -> None:
    # A deferred transaction that reads and then writes fails with "database is locked" when
    # another connection wrote in between; taking the write lock up front serialises
    # writing transactions instead. Read-only work (see `read_only`) begins deferred, so a
    # long read never holds the write lock.
    if connection.get_execution_options().get(READ_ONLY_OPTION):
        connection.exec_driver_sql("BEGIN DEFERRED")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


async def warm_pool(engine: AsyncEngine) -> int:
    """Open the pool's connections now (PostgreSQL); returns how many were opened.

    A new connection costs a backend process on the server and, here, the driver's setup
    and every statement prepared again: paid by the first requests of a busy moment, it
    made them slow enough that more connections were opened (measured at the gate: one
    slow second at the start of a load of 100 pickups/s).
    """
    if is_sqlite(engine):
        return 0
    size: int = engine.pool.size()  # type: ignore[attr-defined]  # QueuePool on PostgreSQL
    async with AsyncExitStack() as opened:  # back to the pool, even if one fails to open
        for _ in range(size):
            await opened.enter_async_context(engine.connect())
    return size


def read_only(engine: AsyncEngine) -> AsyncEngine:
    """The same engine (and pool) for transactions that only read."""
    return engine.execution_options(**{READ_ONLY_OPTION: True})


def session_factory(engine: AsyncEngine) -> SessionFactory:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


@asynccontextmanager
async def transaction(factory: SessionFactory) -> AsyncIterator[AsyncSession]:
    """A unit of work: commits when the block ends normally, rolls back otherwise."""
    async with factory() as session, session.begin():
        yield session


def table_of(model: Any) -> Table:
    """The table of a SQLModel table model, for Core statements (no ORM bookkeeping)."""
    table: Table = model.__table__
    return table


async def insert_once(session: AsyncSession, model: Any, **values: Any) -> bool:
    """Insert a row unless its key is taken; True if this call inserted it.

    One statement (`INSERT … ON CONFLICT DO NOTHING RETURNING`) where a savepoint and a
    caught IntegrityError would cost three round trips: for what must happen once (a
    spent gate pass, a gate-out), on the hot path of the gate.
    """
    dialect = session.get_bind().dialect.name
    statement = _insert_once_statement(table_of(model), dialect)
    return (await session.exec(statement, params=values)).first() is not None


@functools.cache
def _insert_once_statement(table: Table, dialect: str) -> Any:
    # Built once per table, values bound at execution: SQLAlchemy then reuses its compiled
    # form without walking the values for a cache key on every call.
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    key = next(iter(table.primary_key.columns))
    return insert(table).on_conflict_do_nothing().returning(key)


_AT_COMMIT = "ketenpas_inserts_at_commit"


def insert_at_commit(session: AsyncSession, table: Table, values: dict[str, Any]) -> None:
    """Insert a row when the session's transaction commits, with the other rows queued so.

    For rows the transaction writes and never reads back (the gate's audit events, decision
    and outbox event): on PostgreSQL all of them go in one statement just before the COMMIT,
    one `INSERT` per table and set of columns chained in a `WITH`, instead of a round trip
    each. A row whose insert may fail on a unique key the caller must answer for (a draw's
    visit) is not for this: the failure would come at the commit. A round trip
    costs the service more CPU than most statements' own work (measured at the gate: the
    driver's send and the wake-up after it; docs/benchmarks.md, "Fewer round trips at the
    gate"). A rolled-back transaction writes none of them. Rows of one table are written in
    the order they were queued (their ids follow it: the outbox's order per release).
    On SQLite, where a statement costs no round trip, they are inserted one by one.
    """
    session.info.setdefault(_AT_COMMIT, []).append((table, values))


@event.listens_for(Session, "before_commit")
def _write_queued(session: Session) -> None:
    # Runs inside the commit, on the greenlet that drives the async session: the sync API
    # reaches the async driver from here. A savepoint's commit leaves them to the outer one.
    if _AT_COMMIT not in session.info or session.in_nested_transaction():
        return
    pending: list[tuple[Table, dict[str, Any]]] = session.info.pop(_AT_COMMIT)
    if session.get_bind().dialect.name != "postgresql":
        for table, values in pending:
            session.execute(insert(table), values)
        return
    # One INSERT per table and set of columns (the callers give each table one set).
    groups: dict[tuple[Table, tuple[str, ...]], list[dict[str, Any]]] = {}
    for table, values in pending:
        groups.setdefault((table, tuple(values)), []).append(values)
    shape = tuple((table, columns, len(rows)) for (table, columns), rows in groups.items())
    params = {
        f"r{t}_{n}_{column}": value
        for t, rows in enumerate(groups.values())
        for n, row in enumerate(rows)
        for column, value in row.items()
    }
    preparer = session.get_bind().dialect.identifier_preparer
    session.execute(_combined_insert(shape, preparer), params)


@event.listens_for(Session, "after_transaction_end")
def _forget_queued(session: Session, transaction: Any) -> None:
    # A rolled-back transaction writes none of its queued rows (a savepoint's end keeps them).
    if transaction.parent is None:
        session.info.pop(_AT_COMMIT, None)


@functools.lru_cache(maxsize=64)
def _combined_insert(
    shape: tuple[tuple[Table, tuple[str, ...], int], ...], quote: IdentifierPreparer
) -> Any:
    """`WITH t0 AS (INSERT …), t1 AS (INSERT …) SELECT 1` for these tables, columns and
    row counts, values bound by name and typed by their columns: built once per shape.

    Text, not `insert(table).values([...])` in CTEs: SQLAlchemy does not cache the compiled
    form of a multi-row VALUES ("no key"), and compiling it again at every commit cost 7% of
    the release service's CPU at the gate (py-spy); a text statement is compiled once.
    """
    ctes, params = [], []
    for t, (table, columns, count) in enumerate(shape):
        names = ", ".join(quote.quote(column) for column in columns)
        rows = []
        for n in range(count):
            row = [f"r{t}_{n}_{column}" for column in columns]
            params += [
                bindparam(name, type_=table.c[column].type)
                for name, column in zip(row, columns, strict=True)
            ]
            rows.append("(" + ", ".join(f":{name}" for name in row) + ")")
        # Only the tables' and columns' own names, quoted by the dialect; values are bound.
        insert_rows = f"INSERT INTO {quote.format_table(table)} ({names}) VALUES {', '.join(rows)}"  # noqa: S608
        ctes.append(f"t{t} AS ({insert_rows})")
    return text(f"WITH {', '.join(ctes)} SELECT 1").bindparams(*params)
