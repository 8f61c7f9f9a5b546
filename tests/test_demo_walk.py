"""`ketenpas demo walk`: the newcomer's tour runs end to end on a freshly seeded demo port.

Both services are served by uvicorn on free local ports (the walk talks HTTP to real
servers, as it does after `make run`), with every decision selecting its container, so
the walk shows the whole path: the chain, the gate, the inspection cleared by the customs
officer, the gate-out, port security recomputing the draw, and the chain in the web front end.
"""

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from services.demo_walk import walk
from services.identity import demo
from services.identity.demo import write_credentials
from services.identity.settings import IdentitySettings
from services.registry import SERVICES
from services.web.app import create_app as create_web_app
from services.web.settings import WebSettings
from services.witness.app import create_app as create_witness_app
from services.witness.settings import WitnessSettings
from shared.audit.service import AuditLog
from shared.db import create_engine, session_factory, transaction
from shared.models import utcnow
from shared.settings import ServiceSettings
from tests.conftest import SettingsFactory

STARTUP_SECONDS = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def serving(app: FastAPI, port: int) -> Iterator[None]:
    """Serve the app with uvicorn in a thread until the block ends."""
    server = uvicorn.Server(
        # log_config=None: leave the process's logging as it is (uvicorn would rewire its loggers).
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_SECONDS
    # Waiting for a condition (the server says it serves), bounded, not for a time.
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the server on port {port} did not start")
        time.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_SECONDS)


def log_key(settings: ServiceSettings) -> str:
    """The verifier key of a service's audit log."""
    return AuditLog(origin=settings.log_origin, private_key=settings.log_private_key()).verifier_key


async def seed(settings: IdentitySettings) -> dict[str, Any]:
    """The demo port in the identity database, as `ketenpas demo seed` makes it."""
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    try:
        async with transaction(session_factory(engine)) as session:
            return await demo.seed(session, settings, utcnow())
    finally:
        await engine.dispose()


async def test_the_demo_walk_goes_from_yard_to_gate_out_through_an_inspection(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    identity_url = f"http://127.0.0.1:{(identity_port := free_port())}"
    release_url = f"http://127.0.0.1:{(release_port := free_port())}"
    web_url = f"http://127.0.0.1:{(web_port := free_port())}"
    witness_url = f"http://127.0.0.1:{(witness_port := free_port())}"
    witness_key = WitnessSettings(database_path=tmp_path / "witness.sqlite3")
    witnesses = f"{witness_url},{witness_key.signer().verifier().vkey}"
    identity_settings = make_settings("identity", public_url=identity_url, issuer=identity_url)
    release_settings = make_settings(
        "release",
        public_url=release_url,
        identity_url=identity_url,
        identity_issuer=identity_url,
        run_sequencer=True,  # draws need the log's signed checkpoints, as when served
        inspect_probability=1.0,
        audit_witnesses=[witnesses],
        webhook_allow_private=True,  # the walk's receiver listens on 127.0.0.1
    )
    assert isinstance(identity_settings, IdentitySettings)
    # The witness watches both logs of this port (their keys are the tests' own).
    witness_settings = WitnessSettings(
        port=witness_port,
        database_path=tmp_path / "witness.sqlite3",
        logs=[log_key(identity_settings), log_key(release_settings)],
    )
    document = await seed(identity_settings)
    document["release_url"] = release_url
    document["web_url"] = web_url
    credentials = tmp_path / "credentials.json"
    write_credentials(credentials, document)

    said: list[str] = []
    with (
        serving(create_witness_app(witness_settings), witness_port),
        serving(SERVICES["identity"].create_app(identity_settings), identity_port),
        serving(SERVICES["release"].create_app(release_settings), release_port),
        serving(
            create_web_app(
                WebSettings(identity_url=identity_url, release_url=release_url, public_url=web_url)
            ),
            web_port,
        ),
    ):
        decision = await asyncio.to_thread(walk, credentials, said.append)

    assert decision["decision"] == "release", said
    story = "\n".join(said)
    for step in (
        "announces",
        "releases",
        "accepts on his phone",
        "weighs containers declared from CO",
        "'declared_origin'",
        "decision: inspect",
        "douane.officer inspects",
        "decision: release",
        "gate-out",
        "maasvlakte.admin subscribes",
        "told: nl.ketenpas.release.nomination_received",
        "told: nl.ketenpas.gate.completed",
        "deliveries delivered",
        "proof verified under key",
        "reads the site's dispatch",
        "none earlier",
        "asks who knew of",
        "before the pickup",
        "alert for port security",
        "closes it as unfounded",
        "reads the exposure report",
        "is cosigned by witness.ketenpas.localhost",
        "signs in to the web front end",
        "every link verified; open",
    ):
        assert step in story, story
    # Every request of the walk succeeded (the web's sign-in form answers 303 to the page).
    assert all(line.startswith(("2", "303", "     ")) for line in said), story
    # Every delivery the carrier's system received held its signature.
    told = [line for line in said if "told: " in line]
    assert told and all(line.endswith("signature verified") for line in told), story
