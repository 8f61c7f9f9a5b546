"""Alembic environment: the connection comes from `shared.migrate.upgrade`."""

from shared.migrate import run_migrations_in_env

run_migrations_in_env()
