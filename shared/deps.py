"""FastAPI dependencies shared by both services (typed aliases, as the house style asks)."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.audit.service import AuditLog
from shared.cache import Cache
from shared.db import SessionFactory


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A session whose transaction commits once, at the edge of the request."""
    sessions: SessionFactory = request.app.state.sessions
    async with sessions() as session, session.begin():
        yield session


async def get_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A session for requests that only read (on SQLite it never takes the write lock)."""
    sessions: SessionFactory = request.app.state.read_sessions
    async with sessions() as session, session.begin():
        yield session


async def get_audit_log(request: Request) -> AuditLog:
    """The service's audit log."""
    log: AuditLog = request.app.state.audit_log
    return log


async def get_cache(request: Request) -> Cache:
    """The service's cache (Redis, or in-process when embedded)."""
    cache: Cache = request.app.state.cache
    return cache


# scope="function": the transaction commits when the endpoint returns, BEFORE the response is
# sent, so a commit that fails is answered as a failure and never acknowledged as success.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session, scope="function")]
AuditLogDep = Annotated[AuditLog, Depends(get_audit_log)]
CacheDep = Annotated[Cache, Depends(get_cache)]
