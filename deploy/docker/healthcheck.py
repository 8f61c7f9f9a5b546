"""The container image's HEALTHCHECK: is the process this container runs alive?

One image runs every Ketenpas process, so the check reads the container's command (PID 1's
arguments, `tini -- ketenpas serve identity` and the like) to learn which service it is and
asks that service's `/healthz` on the port its settings name (`KETENPAS_IDENTITY_PORT`, ...,
with the services' defaults). A command that answers no request (`db upgrade`, `webhooks
run`) is healthy while it runs. Kubernetes ignores HEALTHCHECK and uses its own probes
(deploy/kubernetes); Docker and docker-compose use this.

Standard library only: it runs with the image's Python before anything else is imported,
and must not pay the services' import time every 30 seconds.
"""

import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

# The port each served target listens on unless its settings say otherwise.
DEFAULT_PORTS = {"identity": 8001, "release": 8002, "web": 8000}
ENV_PREFIXES = {
    "identity": "KETENPAS_IDENTITY_",
    "release": "KETENPAS_RELEASE_",
    "web": "KETENPAS_WEB_",
}


def served_target(argv: Sequence[str]) -> str | None:
    """The service a `ketenpas serve TARGET` command line runs, or None for other commands."""
    args = list(argv)
    if "serve" not in args:
        return None
    rest = args[args.index("serve") + 1 :]
    target = rest[0] if rest else "all"
    return target if target in DEFAULT_PORTS else None


def health_url(target: str, environ: Mapping[str, str]) -> str:
    """Where `target` answers `/healthz` inside this container."""
    port = environ.get(ENV_PREFIXES[target] + "PORT", str(DEFAULT_PORTS[target]))
    return f"http://127.0.0.1:{int(port)}/healthz"


def check(argv: Sequence[str], environ: Mapping[str, str], timeout: float = 4.0) -> bool:
    """True when the process is healthy: its `/healthz` answers 200, or it serves nothing."""
    target = served_target(argv)
    if target is None:
        return True
    try:
        with urllib.request.urlopen(health_url(target, environ), timeout=timeout) as answer:  # noqa: S310 (a fixed http://127.0.0.1 URL)
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def container_command(proc: Path = Path("/proc/1/cmdline")) -> list[str]:
    """The arguments of the container's first process."""
    return [part for part in proc.read_bytes().decode().split("\0") if part]


if __name__ == "__main__":
    sys.exit(0 if check(container_command(), os.environ) else 1)
