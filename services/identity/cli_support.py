"""Running identity-service work from the command line, in one transaction."""

import asyncio
import getpass
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlmodel.ext.asyncio.session import AsyncSession

from services.identity.settings import IdentitySettings
from shared.db import create_engine, session_factory, transaction

T = TypeVar("T")


def cli_actor() -> str:
    """How the audit log names whoever runs a CLI command (it has database access)."""
    return f"cli:{getpass.getuser()}"


def run_in_transaction(work: Callable[[AsyncSession, IdentitySettings], Awaitable[T]]) -> T:
    """Run `work` in one transaction against the configured identity database."""
    settings = IdentitySettings()

    async def main() -> T:
        engine = create_engine(settings.database_url, schema=settings.database_schema)
        try:
            async with transaction(session_factory(engine)) as session:
                return await work(session, settings)
        finally:
            await engine.dispose()

    return asyncio.run(main())
