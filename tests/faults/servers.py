"""Private PostgreSQL and Redis servers that a fault test may stop, kill and restart.

The suite's shared servers (127.0.0.1:5432 and :6379) are never touched: each fault test
module starts its own cluster and Redis on free loopback ports under a temporary folder,
from the same Debian binaries, and removes them afterwards.
"""

import glob
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"
START_TIMEOUT_SECONDS = 60


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL's bin folder, or None."""
    found = sorted(glob.glob(PG_BIN_GLOB), key=lambda p: int(Path(p).parent.name))
    return Path(found[-1]) if found else None


def servers_available() -> str | None:
    """None when private servers can be started here; otherwise why not."""
    if postgres_bin() is None:
        return "no PostgreSQL server binaries (/usr/lib/postgresql/*/bin)"
    if shutil.which("redis-server") is None:
        return "no redis-server"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser (initdb refuses root)"
    return None


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_for_port(port: int, *, up: bool) -> None:
    """Wait until the port accepts (or refuses) connections; a bounded wait, not a timing test."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.5)
            accepting = sock.connect_ex(("127.0.0.1", port)) == 0
        if accepting == up:
            return
        time.sleep(0.05)
    raise TimeoutError(f"port {port} still {'closed' if up else 'open'}")


@dataclass
class PrivatePostgres:
    """A PostgreSQL cluster of its own, owned by the `postgres` user when run as root."""

    folder: Path
    port: int

    @property
    def url(self) -> str:
        """The connection URL of its `test` database."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/test"

    def _run(self, *args: str) -> None:
        command = [str(postgres_bin() / args[0]), *args[1:]]  # type: ignore[operator]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    @classmethod
    def create(cls, parent: Path) -> "PrivatePostgres":
        """initdb and start a cluster with a `test` database."""
        folder = parent / "pg"
        folder.mkdir()
        if os.geteuid() == 0:
            shutil.chown(parent, "postgres")
            shutil.chown(folder, "postgres")
        server = cls(folder, free_port())
        server._run("initdb", "-D", str(folder / "data"), "-U", "postgres", "-A", "trust")
        server.start()
        server._run("createdb", "-h", "127.0.0.1", "-p", str(server.port), "-U", "postgres", "test")
        return server

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
        self._run(
            "pg_ctl", "-D", str(self.folder / "data"), "-o", options,
            "-l", str(self.folder / "server.log"), "-w", "start",
        )  # fmt: skip
        _wait_for_port(self.port, up=True)

    def crash(self) -> None:
        """Stop at once, as a crash would: no checkpoint, open connections cut."""
        self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop")
        _wait_for_port(self.port, up=False)

    def stop(self) -> None:
        """Stop cleanly (used at the end)."""
        self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", "fast", "-w", "stop")


@dataclass
class PrivateRedis:
    """A Redis server of its own that keeps nothing on disk."""

    folder: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Its URL."""
        return f"redis://127.0.0.1:{self.port}/0"

    @classmethod
    def create(cls, parent: Path) -> "PrivateRedis":
        """Start a Redis server on a free port."""
        folder = parent / "redis"
        folder.mkdir()
        server = cls(folder, free_port())
        server.start()
        return server

    def start(self) -> None:
        """Start it and wait until it accepts connections."""
        self.process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        _wait_for_port(self.port, up=True)

    def stop(self) -> None:
        """Kill it and wait until the port is closed."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=30)
            self.process = None
        _wait_for_port(self.port, up=False)
