"""The browser tests' stack and helpers: real processes, demo people, fresh TOTP codes.

The stack is what `ketenpas serve` runs (identity, release and web, each its own process,
`python -m services.cli serve ...`) on free ports in a temporary directory, on SQLite
databases of its own, migrated and seeded with the demo port (`ketenpas db upgrade`,
`ketenpas demo seed`) before they start. Nothing here imports the services: the browser
and the tests see them only over HTTP, as a person would.
"""

import ctypes
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyotp

from shared import iso6346

ROOT = Path(__file__).resolve().parents[3]

# A command that must finish (migrate, seed) gets this long; a busy 2-core machine seeds the
# demo port in about 10 s (argon2 for every demo person).
COMMAND_SECONDS = 180.0
# From the start of the three processes to every /healthz answering: about 15 s seen on a
# busy 2-core machine (the imports); the deadline leaves room for a slower one.
START_SECONDS = 120.0
STOP_SECONDS = 15.0
HTTP_SECONDS = 30.0

TOTP_STEP = 30
PR_SET_PDEATHSIG = 1


def free_port() -> int:
    """A port nobody listens on now (the OS's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _clean_environment() -> dict[str, str]:
    """The caller's environment without any Ketenpas setting: the stack is hermetic."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("KETENPAS_")}
    # The working tree's code, whatever the current directory (the stack runs elsewhere).
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def stack_environment(workdir: Path, ports: dict[str, int]) -> dict[str, str]:
    """Every setting the three processes and the CLI need, pointing at each other."""
    identity = f"http://127.0.0.1:{ports['identity']}"
    release = f"http://127.0.0.1:{ports['release']}"
    web = f"http://127.0.0.1:{ports['web']}"
    env = _clean_environment()
    env.update(
        {
            "KETENPAS_IDENTITY_PORT": str(ports["identity"]),
            "KETENPAS_IDENTITY_PUBLIC_URL": identity,
            "KETENPAS_IDENTITY_DATABASE_URL": f"sqlite:///{workdir / 'identity.sqlite3'}",
            "KETENPAS_RELEASE_PORT": str(ports["release"]),
            "KETENPAS_RELEASE_PUBLIC_URL": release,
            "KETENPAS_RELEASE_DATABASE_URL": f"sqlite:///{workdir / 'release.sqlite3'}",
            "KETENPAS_RELEASE_IDENTITY_URL": identity,
            # A device key registered in a test is known to the release service at once
            # (its first acknowledgement names a kid the service has not yet fetched).
            "KETENPAS_RELEASE_IDENTITY_RECHECK_SECONDS": "0",
            # No background schedulers: nothing the pages show depends on them, and the
            # CPU goes to the browser instead.
            "KETENPAS_RELEASE_VISIT_TICK_SECONDS": "0",
            # No random selections (2% by default): the whole path expects the gate to
            # release, and a draw that selected failed it now and then.
            "KETENPAS_RELEASE_INSPECT_PROBABILITY": "0",
            "KETENPAS_RELEASE_HOUSEKEEPING_INTERVAL_SECONDS": "0",
            "KETENPAS_IDENTITY_HOUSEKEEPING_INTERVAL_SECONDS": "0",
            "KETENPAS_WEB_PORT": str(ports["web"]),
            "KETENPAS_WEB_PUBLIC_URL": web,
            "KETENPAS_WEB_IDENTITY_URL": identity,
            "KETENPAS_WEB_RELEASE_URL": release,
            "KETENPAS_IDENTITY_LOG_LEVEL": "WARNING",
            "KETENPAS_RELEASE_LOG_LEVEL": "WARNING",
            "KETENPAS_WEB_LOG_LEVEL": "WARNING",
        }
    )
    return env


def run_cli(workdir: Path, env: dict[str, str], *args: str) -> None:
    """One `ketenpas` command in the stack's directory; its output in the error if it fails."""
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_SECONDS,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"ketenpas {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")


@dataclass
class Process:
    """One served process and the file its output goes to."""

    name: str
    url: str
    popen: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 30) -> str:
        """The end of its output, for a failure message."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def start(
    name: str, url: str, workdir: Path, env: dict[str, str], module: str = "services.cli"
) -> Process:
    """`ketenpas serve <name>` (or another module's main) in the background."""
    log = workdir / f"{name}.log"
    args = ["serve", name] if module == "services.cli" else []
    with log.open("wb") as out:
        popen = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=workdir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_end_with_parent,
        )
    return Process(name, url, popen, log)


def _end_with_parent() -> None:
    """In the child: SIGTERM when pytest goes, however it goes (killed by a CI timeout too),
    so that no served process outlives the run (Linux's PR_SET_PDEATHSIG; elsewhere the
    fixture's own stop is all there is)."""
    if sys.platform != "linux":
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def wait_healthy(processes: list[Process], deadline_seconds: float = START_SECONDS) -> None:
    """Poll each /healthz until all answer 200; fail at the deadline or when one exits."""
    deadline = time.monotonic() + deadline_seconds
    waiting = list(processes)
    with httpx.Client(timeout=2.0) as client:
        while waiting:
            for process in list(waiting):
                if process.popen.poll() is not None:
                    raise RuntimeError(
                        f"{process.name} exited ({process.popen.returncode}):\n{process.tail()}"
                    )
                try:
                    if client.get(f"{process.url}/healthz").status_code == 200:
                        waiting.remove(process)
                except httpx.TransportError:
                    pass
            if not waiting:
                return
            if time.monotonic() > deadline:
                names = ", ".join(p.name for p in waiting)
                tails = "\n".join(f"--- {p.name}\n{p.tail()}" for p in waiting)
                raise RuntimeError(f"no /healthz within {deadline_seconds:.0f} s: {names}\n{tails}")
            # A poll interval, not a wait for something to happen: the loop ends on an answer.
            time.sleep(0.2)


def stop(processes: list[Process]) -> None:
    """SIGINT (uvicorn's graceful stop) to each, then kill what is still there."""
    for process in processes:
        if process.popen.poll() is None:
            process.popen.send_signal(signal.SIGINT)
    for process in processes:
        try:
            process.popen.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.popen.kill()
            process.popen.wait(timeout=STOP_SECONDS)


class Codes:
    """Fresh TOTP codes: the identity service takes each time step of a person once, and only
    a step later than his last, within one step of now; so codes are handed out here in
    rising steps, per person, for the browser and the API alike."""

    def __init__(self) -> None:
        self._last: dict[str, int] = {}

    def next(self, username: str, secret: str) -> str:
        """A code of the earliest step still usable for this person (no waiting while one is)."""
        now = time.time()
        current = int(now // TOTP_STEP)
        # The previous step is still accepted, but only in the first half of this one: on a
        # busy machine the code may take seconds to be checked (typing, argon2), and by then
        # the service's clock may be a step further.
        earliest = current - 1 if now % TOTP_STEP < TOTP_STEP / 2 else current
        step = max(earliest, self._last.get(username, -1) + 1)
        if step > current + 1:
            raise RuntimeError(
                f"{username} has used every code this minute: give the test another person"
            )
        self._last[username] = step
        return pyotp.TOTP(secret).at(step * TOTP_STEP)


@dataclass
class Stack:
    """The running stack: its addresses and the demo port's people."""

    web: str
    identity: str
    release: str
    document: dict[str, Any]
    workdir: Path
    env: dict[str, str]
    codes: Codes = field(default_factory=Codes)
    _tokens: dict[str, str] = field(default_factory=dict)

    def person(self, username: str) -> dict[str, Any]:
        """A demo person (username, password, totp_secret, person_id, party_id, role)."""
        person: dict[str, Any] = next(
            p for p in self.document["people"] if p["username"] == username
        )
        return person

    def code(self, username: str) -> str:
        """A TOTP code the identity service will take now for this person."""
        return self.codes.next(username, self.person(username)["totp_secret"])

    def token(self, username: str) -> str:
        """The person's API token: signed in once (password and a fresh code), then kept."""
        if username not in self._tokens:
            self._tokens[username] = self._sign_in(username)
        return self._tokens[username]

    def _sign_in(self, username: str) -> str:
        person = self.person(username)
        answer = api_call(
            "post",
            f"{self.identity}/v1/sessions",
            json={
                "username": username,
                "password": person["password"],
                "otp": self.code(username),
            },
        )
        return str(answer["access_token"])


@contextmanager
def serving(workdir: Path) -> Iterator[Stack]:
    """Migrate, seed and serve the stack in `workdir`; stop it on the way out."""
    ports = {name: free_port() for name in ("identity", "release", "web")}
    env = stack_environment(workdir, ports)
    run_cli(workdir, env, "db", "upgrade")
    run_cli(workdir, env, "demo", "seed")
    document = json.loads((workdir / "var" / "demo" / "credentials.json").read_text())
    processes = [
        start(name, f"http://127.0.0.1:{ports[name]}", workdir, env)
        for name in ("identity", "release", "web")
    ]
    try:
        wait_healthy(processes)
        urls = {p.name: p.url for p in processes}
        yield Stack(urls["web"], urls["identity"], urls["release"], document, workdir, env)
    finally:
        stop(processes)


def api_call(
    method: str, url: str, *, token: str | None = None, json: Any = None
) -> dict[str, Any]:
    """One request to a service; the answer's JSON, or an error with its body."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.request(method, url, json=json, headers=headers, timeout=HTTP_SECONDS)
    if response.status_code >= 400:
        raise AssertionError(f"{method.upper()} {url}: {response.status_code} {response.text}")
    body: dict[str, Any] = response.json() if response.content else {}
    return body


def fresh_container() -> str:
    """An ISO 6346 container number no other test uses."""
    body = f"KTPU{secrets.randbelow(10**6):06d}"
    return body + str(iso6346.check_digit(body))


def release_to(stack: Stack, receiver: str) -> tuple[str, str]:
    """A fresh container, announced by the terminal and released by the shipping line to
    the party of the demo person `receiver`; (the release's id, the container)."""
    gate, line = "ect.gate", "noordzee.planner"
    container = fresh_container()
    until = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    api_call(
        "post",
        f"{stack.release}/v1/yard/entries",
        token=stack.token(gate),
        json={
            "container": container,
            "shipping_line": stack.person(line)["party_id"],
            "state": "in_yard",
        },
    )
    release = api_call(
        "post",
        f"{stack.release}/v1/releases",
        token=stack.token(line),
        json={
            "container": container,
            "terminal": stack.person(gate)["party_id"],
            "release_to": stack.person(receiver)["party_id"],
            "valid_until": until.isoformat(),
            "reference": "BL-BROWSER-1",
        },
    )
    return str(release["release_id"]), container


def assign_to_driver(stack: Stack, *, carrier: str, driver: str) -> str:
    """A container released to the carrier and assigned by its dispatcher to the driver,
    through the APIs with custodial signing (as the dispatcher's own screens would do it);
    the release's id."""
    release_id, _ = release_to(stack, carrier)
    links = f"{stack.release}/v1/releases/{release_id}/links"
    dispatcher = stack.token(carrier)
    api_call("post", f"{links}/0/accept", token=dispatcher)
    api_call(
        "post",
        links,
        token=dispatcher,
        json={"kind": "assignment", "to": stack.person(driver)["person_id"]},
    )
    return release_id


def container_of(stack: Stack, release_id: str, reader: str) -> str:
    """The container a release is for, as `reader` (a person who may read it) sees it."""
    release = api_call(
        "get", f"{stack.release}/v1/releases/{release_id}", token=stack.token(reader)
    )
    return str(release["container"])


# The shortest idle time a session may have (WebSettings.session_idle_seconds).
IDLE_SECONDS = 60


@contextmanager
def start_clocked_web(stack: Stack) -> Iterator[str]:
    """A second web process on the stack's services, on a clock `set_clock` moves, with
    sessions that idle out after IDLE_SECONDS; its address."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **stack.env,
        "KETENPAS_WEB_PORT": str(port),
        "KETENPAS_WEB_PUBLIC_URL": url,
        "KETENPAS_WEB_SESSION_IDLE_SECONDS": str(IDLE_SECONDS),
        "KETENPAS_TEST_CLOCK_FILE": str(clock_file(stack)),
    }
    set_clock(stack, 0)
    process = start("clocked-web", url, stack.workdir, env, module="tests.web.browser.clocked_web")
    try:
        wait_healthy([process])
        yield url
    finally:
        stop([process])


def clock_file(stack: Stack) -> Path:
    """The file holding the clocked web's offset from the wall clock, in seconds."""
    return stack.workdir / "web-clock-offset"


def set_clock(stack: Stack, offset_seconds: float) -> None:
    """Move the clocked web's time to the wall clock plus `offset_seconds`."""
    clock_file(stack).write_text(str(offset_seconds))
