"""One process of the concurrent gate-out test: its own apps, its own connections, many
completions of the same decision at once (run under `multiprocessing` with spawn)."""

import asyncio
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier

import httpx

from services.identity.app import create_app as create_identity_app
from services.identity.settings import IdentitySettings
from services.release.app import create_app as create_release_app
from services.release.settings import ReleaseSettings
from tests.conftest import running

_SMALL_POOL = {"database_pool_size": 2, "database_pool_overflow": 2}


async def _complete_many(
    identity_settings: IdentitySettings,
    release_settings: ReleaseSettings,
    path: str,
    headers: dict[str, str],
    requests: int,
    barrier: Barrier,
) -> list[int]:
    # Small pools: five processes with the default pools (two apps, up to 20 connections
    # each) can exceed PostgreSQL's max_connections, and a refused connection is a 503, not
    # the 409 under test. Requests wait for a pooled connection instead.
    identity_settings = identity_settings.model_copy(update=_SMALL_POOL)
    release_settings = release_settings.model_copy(update=_SMALL_POOL)
    identity = create_identity_app(identity_settings)
    async with running(identity):
        release = create_release_app(
            release_settings, identity_transport=httpx.ASGITransport(app=identity)
        )
        async with running(release) as client:
            # Warm up (keys, credentials, connections) before the start line.
            await client.get("/readyz")
            await asyncio.to_thread(barrier.wait, 60)
            responses = await asyncio.gather(
                *(client.post(path, headers=headers) for _ in range(requests))
            )
    return [response.status_code for response in responses]


def complete_many(
    identity_settings: IdentitySettings,
    release_settings: ReleaseSettings,
    path: str,
    headers: dict[str, str],
    requests: int,
    barrier: Barrier,
    results: "Queue[list[int]]",
) -> None:
    """Entry point of a worker process: put the status codes it saw on `results`."""
    results.put(
        asyncio.run(
            _complete_many(identity_settings, release_settings, path, headers, requests, barrier)
        )
    )
