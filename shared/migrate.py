"""Alembic migrations, one history per service, run programmatically on the async engine."""

from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import create_engine, is_sqlite
from shared.settings import DatabaseSettings


def alembic_config(script_location: Path) -> Config:
    """An Alembic configuration for one service's migration folder (no alembic.ini)."""
    config = Config()
    config.set_main_option("script_location", str(script_location))
    return config


def run_migrations_in_env() -> None:
    """Body of each service's `env.py`: migrate on the connection handed over by `upgrade`."""
    connection = context.config.attributes["connection"]
    context.configure(connection=connection, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


async def upgrade_engine(engine: AsyncEngine, script_location: Path, *, schema: str | None) -> None:
    """Bring the database behind `engine` to the newest revision."""
    if schema and not is_sqlite(engine):
        async with engine.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    config = alembic_config(script_location)

    def _upgrade(connection: Connection) -> None:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

    async with engine.begin() as conn:
        await conn.run_sync(_upgrade)


async def upgrade(settings: DatabaseSettings, script_location: Path) -> None:
    """Bring the service's database to the newest revision."""
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    try:
        await upgrade_engine(engine, script_location, schema=settings.database_schema)
    finally:
        await engine.dispose()
