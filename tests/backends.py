"""Which test backends can run; `python -m tests.backends` decides the PostgreSQL run.

Exit 0: PostgreSQL and Redis answer. Exit 3: one does not and we may skip. Exit 1: one does
not and CI=true, where skipping would hide a broken machine.
"""

import asyncio
import os
import sys

import asyncpg
import redis.asyncio as redis

POSTGRES_URL = os.environ.get(
    "KETENPAS_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("KETENPAS_TEST_REDIS_URL", "redis://127.0.0.1:6379")


async def postgres_answers() -> str | None:
    """None if PostgreSQL answers, else why not."""
    try:
        connection = await asyncpg.connect(POSTGRES_URL, timeout=5)
    except Exception as exc:
        return f"PostgreSQL at {POSTGRES_URL}: {exc}"
    await connection.close()
    return None


async def redis_answers() -> str | None:
    """None if Redis answers, else why not."""
    client = redis.from_url(REDIS_URL, socket_connect_timeout=5)
    try:
        await client.ping()
    except Exception as exc:
        return f"Redis at {REDIS_URL}: {exc}"
    finally:
        await client.aclose()
    return None


def main() -> int:
    """Report reachability; the exit code tells the Makefile what to do."""
    problems = [p for p in asyncio.run(_both()) if p]
    if not problems:
        return 0
    for problem in problems:
        print(f"unreachable: {problem}", file=sys.stderr)
    return 1 if os.environ.get("CI", "").lower() == "true" else 3


async def _both() -> list[str | None]:
    return list(await asyncio.gather(postgres_answers(), redis_answers()))


if __name__ == "__main__":
    sys.exit(main())
