"""Async engine and session factory for SQLite (aiosqlite) and PostgreSQL (asyncpg)."""

import functools
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Table, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
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
        kwargs.update(pool_size=pool_size, max_overflow=pool_overflow, pool_pre_ping=True)
        return create_async_engine(url, **kwargs)
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, connect_args={"timeout": 30})
    event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    event.listen(engine.sync_engine, "begin", _sqlite_begin_immediate)
    return engine


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
