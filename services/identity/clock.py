"""The identity service's one clock for requests.

Every handler takes the time from `current_time` through `services.identity.deps.NowDep`
(seconds) or `UtcNowDep` (a UTC datetime), so that one request sees one instant and tests
move time for the whole service with `app.dependency_overrides[current_time]`. CLI
commands and startup, which have no request, use `shared.models.utcnow()`.
"""

import time


async def current_time() -> float:
    """Now, as seconds since the epoch."""
    return time.time()
