"""The metrics port: `/metrics` for Prometheus, apart from the service's public port.

The public port answers terminals, carriers' apps and drivers' phones; `/metrics` is not
theirs (it tells, among other things, when gates decide `inspect`). It is served by
prometheus-client's own small HTTP server on `METRICS_PORT` (0, the default: none), bound
to `METRICS_HOST` (default the loopback): the deployment exposes it to Prometheus alone
(docs/observability.md). The public app has no `/metrics` route at all.

Several worker processes (`WORKERS` > 1) are one service to Prometheus: prometheus-client's
multiprocess mode. Each worker writes its values to files in one directory
(`PROMETHEUS_MULTIPROC_DIR`, which must be set before a worker imports the library, so the
supervising process sets it before it starts them); the supervising process serves the
metrics port and adds the files up at each scrape. Files of a run before are removed at
start; the live-only gauges of a worker that died are dropped at the next scrape.
"""

import atexit
import glob
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from wsgiref.simple_server import WSGIServer

import structlog
from prometheus_client import REGISTRY, CollectorRegistry, start_http_server
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

logger = structlog.get_logger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_LIVE_FILE = re.compile(r"^gauge_live[a-z]+_(\d+)\.db$")


class MetricsPlace(Protocol):
    """What serving `/metrics` needs of a process's settings (a service's, or the webhook
    dispatcher's)."""

    service_name: str
    metrics_port: int
    metrics_host: str
    metrics_multiprocess_dir: str

    @property
    def workers(self) -> int:
        """Processes that serve (more than one: their values are added up)."""
        ...


@dataclass
class MetricsServer:
    """The metrics port's server and its thread; `close` stops it."""

    server: WSGIServer
    thread: threading.Thread
    multiprocess_dir: str | None

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self.server.server_address[1])

    def close(self) -> None:
        """Stop serving and release the port."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class _LiveWorkers:
    """The workers' files added up, without the live-only gauges of workers that died."""

    def __init__(self, path: str) -> None:
        self._path = path
        # prometheus-client's multiprocess module has no type hints.
        self._files = MultiProcessCollector(None, path=path)  # type: ignore[no-untyped-call]

    def collect(self) -> Iterable[Metric]:
        """Each metric, its values summed over the workers' files."""
        for name in os.listdir(self._path):
            found = _LIVE_FILE.match(name)
            if found and not _alive(int(found.group(1))):
                mark_process_dead(int(found.group(1)), self._path)  # type: ignore[no-untyped-call]
        metrics: Iterable[Metric] = self._files.collect()  # type: ignore[no-untyped-call]
        return metrics


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process with that id: alive
        return True
    return True


def prepare_workers(settings: MetricsPlace) -> str:
    """Make the directory the worker processes write their values to, and name it in the
    environment they inherit; returns it. Call before starting the workers."""
    directory = settings.metrics_multiprocess_dir
    if not directory:
        directory = tempfile.mkdtemp(prefix="ketenpas-metrics-")
        atexit.register(shutil.rmtree, directory, ignore_errors=True)  # ours: gone at exit
    Path(directory).mkdir(parents=True, exist_ok=True)
    # A run before left its values there: counted again, they would jump every counter.
    for stale in glob.glob(os.path.join(directory, "*.db")):
        os.remove(stale)
    os.environ[MULTIPROC_ENV] = directory
    return directory


def serve_metrics(settings: MetricsPlace) -> MetricsServer | None:
    """Serve `/metrics` on the metrics port, if one is configured (None otherwise).

    With several workers, call it in the supervising process before they start: it
    prepares the multiprocess directory and serves the sum of the workers' values.
    """
    if not settings.metrics_port:
        return None
    registry: CollectorRegistry = REGISTRY
    directory = None
    if settings.workers > 1:
        directory = prepare_workers(settings)
        registry = CollectorRegistry()
        registry.register(_LiveWorkers(directory))
    server, thread = start_http_server(
        settings.metrics_port, addr=settings.metrics_host, registry=registry
    )
    logger.info(
        "metrics_serving",
        service=settings.service_name,
        address=f"{settings.metrics_host}:{settings.metrics_port}",
        multiprocess_dir=directory,
    )
    return MetricsServer(server, thread, directory)
